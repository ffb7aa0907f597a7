"""Model size and compute: parameter counts and multiply-accumulates (MACs) of one forward pass.

MACs are counted with forward hooks on the layers that dominate the cost: Conv1d/2d, ConvTranspose1d/2d and Linear
(bias adds, BN, activations, pooling, resizes and attention matmuls outside Linear layers are not counted).
FLOPs are usually quoted as 2 x MACs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .onnx_weights import modules_in_call_order

__all__ = ["count_macs", "count_params", "layer_macs"]


def layer_macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    """MACs of one call of a supported layer (0 for other modules)."""
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        # each output element: (in_channels / groups) * prod(kernel) products
        return output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        # each input element is scattered into (out_channels / groups) * prod(kernel) outputs
        return inputs[0].numel() * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def count_macs(model: nn.Module, x: torch.Tensor | tuple, per_module: bool = False) -> int | dict[str, int]:
    """MACs of model(x) (x a tensor, or a tuple of positional args) under torch.no_grad(), in the model's current
    train/eval mode (so eval mode counts the deployed graph only). With per_module, a dict module name -> MACs
    (summed over calls) plus the key "total"."""
    names = {m: n for n, m in model.named_modules()}
    totals: dict[str, int] = {}

    def hook(mod: nn.Module, inputs: tuple, output) -> None:
        if isinstance(output, torch.Tensor):
            key = names.get(mod, type(mod).__name__)
            totals[key] = totals.get(key, 0) + layer_macs(mod, inputs, output)

    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    try:
        with torch.no_grad():
            model(*x) if isinstance(x, tuple) else model(x)
    finally:
        for h in handles:
            h.remove()
    total = sum(totals.values())
    if per_module:
        return {**totals, "total": total}
    return total


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _inference_params(model: nn.Module, x: torch.Tensor) -> int:
    """Parameters of the layers an eval-mode forward pass actually calls (e.g. not the DB threshold branch)."""
    called = modules_in_call_order(model, x, (nn.Module,))
    return sum(p.numel() for m in called if not list(m.children()) for p in m.parameters())


def size_table() -> str:
    """Markdown: parameters and MACs of each PP-OCRv3 network at its usual input size (python -m train.models.profile)."""
    from .cls import cls_mobilenet_v3_small
    from .det import det_student, det_teacher, det_teacher_small
    from .rec import rec_svtr_lcnet

    rows = [("det student (MobileNetV3-L x0.5 + RSE-FPN 96 + DB head)", det_student, (1, 3, 960, 960),
             "3.6M (\"model size\"; inference file 3.8 MB)"),
            ("det teacher (ResNet50_vd + LK-PAN 256 + DB head 7,2,2)", det_teacher, (1, 3, 960, 960), "124M (size)"),
            ("det small teacher (ResNet18_vd x0.5 + LK-PAN 64)", det_teacher_small, (1, 3, 960, 960), "-"),
            ("rec SVTR_LCNet, 6625 classes (CTC branch)", rec_svtr_lcnet, (1, 3, 48, 320),
             "12M (\"model size\"; inference file 12.4 MB)"),
            ("cls MobileNetV3-small x0.35", cls_mobilenet_v3_small, (1, 3, 48, 192), "inference file 1.38 MB")]
    out = ["| network | input | params, inference graph | params, whole module | GMACs (eval) | paper / docs |",
           "|---|---|---|---|---|---|"]
    for name, factory, shape, paper in rows:
        model = factory().eval()
        x = torch.zeros(shape)
        out.append(f"| {name} | {'x'.join(map(str, shape))} | {_inference_params(model, x) / 1e6:.3f}M | "
                   f"{count_params(model) / 1e6:.3f}M | {count_macs(model, x) / 1e9:.3f} | {paper} |")
    sar = rec_svtr_lcnet(use_sar=True)
    out.append(f"| rec SAR (GTC) branch, training only | - | - | "
               f"{(count_params(sar) - count_params(rec_svtr_lcnet())) / 1e6:.3f}M | - | - |")
    return "\n".join(out)


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(size_table())
