"""Model size and compute: parameter counts and multiply-accumulates (MACs) of one forward pass.

MACs are counted with forward hooks on the layers that dominate the cost: Conv1d/2d, ConvTranspose1d/2d and Linear
(bias adds, BN, activations, pooling, resizes and attention matmuls outside Linear layers are not counted).
FLOPs are usually quoted as 2 x MACs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

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
