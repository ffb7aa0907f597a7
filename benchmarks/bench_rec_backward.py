"""fwd + bwd + update of the full v3 recognizer (48x320, batch 64, channels-last, 2 threads) on the CPU: PyTorch's
depthwise backward vs train/fast_depthwise.py, fp32 vs bf16 autocast; gradients compared first (same dropout seed).
    python benchmarks/bench_rec_backward.py
"""
import sys, time, statistics, copy, torch
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from train.models import rec_svtr_lcnet
from train.fast_depthwise import enable_fast_depthwise
torch.set_num_threads(2)
base = rec_svtr_lcnet(num_classes=97, use_sar=False, neck_options={"use_guide": False}); base.train()
base.to(memory_format=torch.channels_last)
fast = copy.deepcopy(base); print("switched", enable_fast_depthwise(fast))
B = 64
x = torch.randn(B, 3, 48, 320).contiguous(memory_format=torch.channels_last)
opts = {"aten": torch.optim.SGD(base.parameters(), 0.0), "fast": torch.optim.SGD(fast.parameters(), 0.0)}
def step(name, m, amp):
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        out = m(x)["ctc"]
    loss = out.float().logsumexp(-1).mean()
    opts[name].zero_grad(); loss.backward(); opts[name].step()
    return time.perf_counter() - t0
t0 = time.perf_counter()
for amp in (False, True):
    step("fast", fast, amp)
print("first fast steps incl compile", round(time.perf_counter() - t0, 1))
# gradients equal?
for amp in (False, True):
    for name, m in (("aten", base), ("fast", fast)):
        opts[name].zero_grad(); torch.manual_seed(0)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            m(x)["ctc"].float().logsumexp(-1).mean().backward()
    errs = [((a.grad - b.grad).abs().max() / (a.grad.abs().max() + 1e-12)).item() for a, b in zip(base.parameters(), fast.parameters()) if a.grad is not None]
    print("amp", amp, "max rel grad diff", max(errs))
res = {}
for r in range(5):
    for amp in (False, True):
        for name, m in (("aten", base), ("fast", fast)):
            res.setdefault((name, amp), []).append(step(name, m, amp))
for k, v in res.items():
    print(k, "lines/s", round(B / statistics.median(v), 1))
