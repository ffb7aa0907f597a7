"""Faster depthwise-convolution training on the CPU.

oneDNN's weight gradient for depthwise convolutions is the slowest part of training the recognizer on the CPU: for
the v3 recognizer's 5x5 depthwise layers (64 x 256 x 6 x 160) it takes 83 ms in fp32 and 156 ms in bf16 (channels-last), against
4.5 ms for the bf16 forward pass (benchmarks/results/rec_train.md). Written as one reduction per kernel tap and
compiled by TorchInductor, the same gradient takes 16 ms (bf16 inputs, fp32 accumulation) — the taps share one loop
over the batch.

`enable_fast_depthwise(model)` switches a model's depthwise `nn.Conv2d` layers to that backward pass; the forward
pass, the input gradient, the parameters and the state dict are unchanged. It needs TorchInductor's C++ compiler;
where none is found, `fast_depthwise_available()` says so and the trainer keeps PyTorch's own backward.
Opt-in (`train.fast_depthwise: true`): gradients equal PyTorch's within fp32 rounding, yet a from-scratch run's
escape from the CTC plateau is chaotic in such rounding: rec_smoke, synthetic accuracy at step 900 for seeds 0 / 1 / 2,
PyTorch's backward 70.5 / 59.0 / 49.5, this one 5.0 / 82.5 / 23.0 (benchmarks/results/rec_train.md).
"""

from __future__ import annotations

import functools
import shutil
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FastDepthwiseConv2d", "enable_fast_depthwise", "fast_depthwise_available", "depthwise_weight_grad"]


def depthwise_weight_grad(grad_out: torch.Tensor, x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
                          padding: tuple[int, int]) -> torch.Tensor:
    """d loss / d weight of a depthwise conv (dilation 1) as one sum per kernel tap: [C, 1, kh, kw], fp32."""
    kh, kw = kernel
    xp = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    ho, wo = grad_out.shape[2], grad_out.shape[3]
    g = grad_out.float()
    taps = []
    for i in range(kh):
        for j in range(kw):
            v = xp[:, :, i:i + (ho - 1) * stride[0] + 1:stride[0], j:j + (wo - 1) * stride[1] + 1:stride[1]]
            taps.append((g * v.float()).sum((0, 2, 3)))
    return torch.stack(taps, 1).view(-1, 1, kh, kw)


@functools.cache
def _compiled() -> Any:
    import torch._dynamo.config as dynamo_config

    # one compiled kernel per (shape, dtype, kernel, stride, padding): a recognizer has ~10 such layers, a detector ~15
    dynamo_config.recompile_limit = max(int(dynamo_config.recompile_limit), 64)
    return torch.compile(depthwise_weight_grad, dynamic=False)


@functools.cache
def fast_depthwise_available() -> bool:
    """TorchInductor compiles C++ kernels on the CPU: a C++ compiler must be on PATH."""
    return any(shutil.which(c) for c in ("g++", "c++", "clang++"))


_compile_error: list[str] = []


def _aten_grads(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, stride: tuple[int, int],
                padding: tuple[int, int], groups: int, which: int) -> torch.Tensor:
    """PyTorch's own convolution backward for one gradient: which = 0 (input) or 1 (weight)."""
    mask = [which == 0, which == 1, False]
    return torch.ops.aten.convolution_backward(grad_out, x, weight, None, list(stride), list(padding), [1, 1], False,
                                               [0, 0], groups, mask)[which]


def _weight_grad(grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, kernel: tuple[int, int],
                 stride: tuple[int, int], padding: tuple[int, int], groups: int) -> torch.Tensor:
    if not _compile_error:
        try:
            return _compiled()(grad_out, x, kernel, stride, padding)
        except Exception as e:  # no working compiler after all: PyTorch's own kernel, said once
            _compile_error.append(f"{type(e).__name__}: {e}")
            warnings.warn(f"fast depthwise backward unavailable ({_compile_error[0][:200]}); using PyTorch's",
                          stacklevel=2)
    return _aten_grads(grad_out, x, weight, stride, padding, groups, 1)


class _DepthwiseConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:  # type: ignore[override]
        if torch.is_autocast_enabled("cpu"):  # cast as autocast would, then run (and save) in that dtype
            dtype = torch.get_autocast_dtype("cpu")
            x, weight = x.to(dtype), weight.to(dtype)
        with torch.autocast("cpu", enabled=False):
            y = F.conv2d(x, weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
        ctx.save_for_backward(x, weight)
        ctx.geometry = (tuple(conv.kernel_size), tuple(conv.stride), tuple(conv.padding), conv.groups)
        return y

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:  # type: ignore[override]
        x, weight = ctx.saved_tensors
        kernel, stride, padding, groups = ctx.geometry
        grad_out = grad_out.to(x.dtype)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = _aten_grads(grad_out, x, weight, stride, padding, groups, 0)
        if ctx.needs_input_grad[1]:
            grad_w = _weight_grad(grad_out, x, weight, kernel, stride, padding, groups)
        return grad_x, grad_w, None


class FastDepthwiseConv2d(nn.Conv2d):
    """A depthwise nn.Conv2d (no bias, dilation 1, zero padding) whose weight gradient is compiled (see module doc);
    evaluation, export and no-grad calls take nn.Conv2d's path."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and torch.is_grad_enabled() and self.weight.requires_grad:
            return _DepthwiseConv.apply(x, self.weight, self)
        return super().forward(x)


def _is_plain_depthwise(m: nn.Module) -> bool:
    return (type(m) is nn.Conv2d and m.groups > 1 and m.groups == m.in_channels == m.out_channels
            and m.bias is None and tuple(m.dilation) == (1, 1) and m.padding_mode == "zeros"
            and isinstance(m.padding, tuple))


def enable_fast_depthwise(model: nn.Module) -> int:
    """Switch the model's depthwise convolutions to FastDepthwiseConv2d in place; returns how many were switched."""
    n = 0
    for m in model.modules():
        if _is_plain_depthwise(m):
            m.__class__ = FastDepthwiseConv2d
            n += 1
    return n
