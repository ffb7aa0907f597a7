"""Recognition training throughput: the data side alone (rendering, augmentation, SDK resize) and whole training steps.

    python benchmarks/bench_rec_train.py --config rec_en_finetune [--set KEY=VALUE ...] [--device cpu|cuda]
        [--data-seconds 20] [--train-steps 30] [--workers N] [--out results.md]

Data: batches/s from the config's DataLoader (its workers) for --data-seconds, reported as lines/s. Train: whole
steps (data + forward + backward + update) for --train-steps after 5 warm-up steps, median step time -> lines/s,
with the peak RSS of this process and its workers. Name the machine with the numbers (the CPU is printed).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train.config import load_config  # noqa: E402
from train.rec import RecTask  # noqa: E402
from train.trainer import Trainer, pick_device  # noqa: E402


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def peak_rss_gib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 2**20  # KiB -> GiB (children: the largest finished worker)


def bench_data(task: RecTask, seconds: float) -> float:
    it = task.batches(0, 0, 0, 1)
    next(it)  # workers started
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += len(next(it)["text"])
    return n / (time.perf_counter() - t0)


def bench_train(task: RecTask, device: torch.device, steps: int, out: Path) -> tuple[float, float]:
    trainer = Trainer(task, out, device)
    task.set_train_mode(trainer.models)
    it = task.batches(0, 0, 0, 1)
    times = []
    for i in range(steps + 5):
        t0 = time.perf_counter()
        batch = next(it)
        trainer._train_one(batch)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 5:
            times.append(time.perf_counter() - t0)
    bs = len(batch["text"])
    return bs / statistics.median(times), peak_rss_gib()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="rec_en_finetune")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--device", default=None)
    p.add_argument("--data-seconds", type=float, default=20)
    p.add_argument("--train-steps", type=int, default=30)
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    cfg = load_config(a.config, a.overrides + ["eval.sets=[]", "eval.best=null"])
    dev = pick_device(a.device)
    if cfg.get("train", {}).get("threads") and dev.type == "cpu":
        torch.set_num_threads(int(cfg["train"]["threads"]))
    task = RecTask(cfg, dev)
    workers, bs = cfg["data"].get("workers", 0), cfg["data"]["batch_size"]
    machine = cpu_name() + (f", {torch.cuda.get_device_name()}" if dev.type == "cuda" else "")
    data = bench_data(task, a.data_seconds) if a.data_seconds > 0 else float("nan")
    train, rss = bench_train(task, dev, a.train_steps, Path("/tmp/bench_rec_train")) if a.train_steps else \
        (float("nan"), peak_rss_gib())
    lines = [f"## {a.config} on {dev.type}: {machine}, {os.cpu_count()} CPUs",
             "", f"command: `python benchmarks/bench_rec_train.py {' '.join(argv or sys.argv[1:])}`", "",
             "| measure | value |", "|---|---|",
             f"| data side alone, {workers} workers, batch {bs} | {data:.0f} lines/s |",
             f"| training steps (data + fwd + bwd + update), median of {a.train_steps} | {train:.1f} lines/s |",
             f"| peak RSS (process + largest worker) | {rss:.2f} GiB |", ""]
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "a", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
