"""Building blocks shared by the PP-OCRv3 networks (det MobileNetV3, cls MobileNetV3-small, rec PP-LCNet)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of divisor, never going below 90% of v (MobileNet rule)."""
    min_value = min_value or divisor
    new = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new < 0.9 * v:
        new += divisor
    return new


class HardSigmoid(nn.Module):
    """clip(slope * x + offset, 0, 1). PaddleOCR det/cls SE use slope 0.2; rec SE uses Paddle's default 1/6."""

    def __init__(self, slope: float = 0.2, offset: float = 0.5) -> None:
        super().__init__()
        self.slope, self.offset = slope, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x * self.slope + self.offset, 0.0, 1.0)

    def extra_repr(self) -> str:
        return f"slope={self.slope}, offset={self.offset}"


def activation(name: str | None) -> nn.Module:
    """'relu', 'hardswish', 'swish' or None (identity)."""
    if name is None:
        return nn.Identity()
    table = {"relu": nn.ReLU, "hardswish": nn.Hardswish, "hard_swish": nn.Hardswish, "swish": nn.SiLU,
             "silu": nn.SiLU}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}")
    return table[name]()


class ConvBNAct(nn.Module):
    """Conv2d (no bias) + BatchNorm2d (eps 1e-5, Paddle momentum 0.9 = torch 0.1) + activation."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                 groups: int = 1, act: str | None = "relu", padding: int | tuple[int, int] | None = None) -> None:
        super().__init__()
        if padding is None:
            k = (kernel, kernel) if isinstance(kernel, int) else kernel
            padding = (k[0] // 2, k[1] // 2)
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=1e-5, momentum=0.1)
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SEModule(nn.Module):
    """Squeeze-excitation: GAP -> 1x1 conv c->c/r (+bias) -> ReLU -> 1x1 conv c/r->c (+bias) -> hard-sigmoid -> scale."""

    def __init__(self, channels: int, reduction: int = 4, slope: float = 0.2) -> None:
        super().__init__()
        mid = channels // reduction
        self.conv1 = nn.Conv2d(channels, mid, 1)
        self.conv2 = nn.Conv2d(mid, channels, 1)
        self.gate = HardSigmoid(slope, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        s = self.gate(self.conv2(F.relu(self.conv1(s))))
        return x * s


class ResidualUnit(nn.Module):
    """MobileNetV3 inverted residual: 1x1 expand -> kxk depthwise (stride) -> [SE] -> 1x1 linear; add if shapes match.

    The expand conv always exists (PaddleOCR keeps it even when mid == in)."""

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int, kernel: int, stride: int | tuple[int, int],
                 use_se: bool, act: str, se_slope: float = 0.2) -> None:
        super().__init__()
        s = (stride, stride) if isinstance(stride, int) else tuple(stride)
        self.shortcut = s == (1, 1) and in_ch == out_ch
        self.expand = ConvBNAct(in_ch, mid_ch, 1, act=act)
        self.depthwise = ConvBNAct(mid_ch, mid_ch, kernel, s, groups=mid_ch, act=act)
        self.se = SEModule(mid_ch, slope=se_slope) if use_se else None
        self.linear = ConvBNAct(mid_ch, out_ch, 1, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.depthwise(self.expand(x))
        if self.se is not None:
            y = self.se(y)
        y = self.linear(y)
        return x + y if self.shortcut else y
