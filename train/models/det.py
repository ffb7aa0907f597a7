"""PP-OCRv3 text detection networks (DB) in PyTorch: the deployed student and the distillation teachers.

Student (= the released ch_PP-OCRv3_det):  MobileNetV3-large x0.5 without SE -> RSEFPN(96) -> DBHead(k=50, [3,2,2]).
Teacher (CML, frozen):                     ResNet50_vd -> LKPAN(256) -> DBHead(k=50, [7,2,2]).
Small teacher (this project, CPU budget):  ResNet18_vd at half width -> LKPAN(64) -> DBHead(k=50, [7,2,2]).

Head output contract (DBHead, and so DBDetector):
  * eval():  the probability (shrink) map P = sigmoid(...), a tensor [N, 1, H, W] at input resolution. This is
    exactly what the official inference model computes; the threshold branch exists but is not run.
  * train(): {"maps": [N, 3, H, W]} with channel 0 = P (shrink map), 1 = T (threshold map),
    2 = B_hat = sigmoid(k * (P - T)) (approximate binary map), the PaddleOCR layout the DB loss slices.

`load_official_det(det_student(), onnx_path)` copies the weights of the official ONNX export into the student.
Facts: shared/reference/ppocrv3.md sections 2.1, 2.2 and 9, checked against the official ONNX graph.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvBNAct, ResidualUnit, SEModule, make_divisible
from .onnx_weights import attach_folded_biases

__all__ = [
    "LKPAN",
    "RSEFPN",
    "DBDetector",
    "DBHead",
    "MobileNetV3Det",
    "RSELayer",
    "ResNetVd",
    "attach_folded_biases",
    "det_student",
    "det_teacher",
    "det_teacher_small",
    "inference_parameters",
    "load_official_det",
]

# ----------------------------------------------------------------------------------------------------------------------
# Backbones
# ----------------------------------------------------------------------------------------------------------------------

# MobileNetV3 block tables at scale 1.0 (MobileNetV3 paper, Tables 1 and 2):
# kernel, expansion (mid) channels, output channels, SE, activation, stride
_MV3_CFG = {
    "large": [
        (3, 16, 16, False, "relu", 1),
        (3, 64, 24, False, "relu", 2),
        (3, 72, 24, False, "relu", 1),
        (5, 72, 40, True, "relu", 2),
        (5, 120, 40, True, "relu", 1),
        (5, 120, 40, True, "relu", 1),
        (3, 240, 80, False, "hardswish", 2),
        (3, 200, 80, False, "hardswish", 1),
        (3, 184, 80, False, "hardswish", 1),
        (3, 184, 80, False, "hardswish", 1),
        (3, 480, 112, True, "hardswish", 1),
        (3, 672, 112, True, "hardswish", 1),
        (5, 672, 160, True, "hardswish", 2),
        (5, 960, 160, True, "hardswish", 1),
        (5, 960, 160, True, "hardswish", 1),
    ],
    "small": [
        (3, 16, 16, True, "relu", 2),
        (3, 72, 24, False, "relu", 2),
        (3, 88, 24, False, "relu", 1),
        (5, 96, 40, True, "hardswish", 2),
        (5, 240, 40, True, "hardswish", 1),
        (5, 240, 40, True, "hardswish", 1),
        (5, 120, 48, True, "hardswish", 1),
        (5, 144, 48, True, "hardswish", 1),
        (5, 288, 96, True, "hardswish", 2),
        (5, 576, 96, True, "hardswish", 1),
        (5, 576, 96, True, "hardswish", 1),
    ],
}
_MV3_LAST = {"large": 960, "small": 576}  # 1x1 conv closing the last stage (before scaling)
# a stride-2 block with an index above this one closes the running stage (large: blocks 0-2 form stage 0)
_MV3_STAGE_START = {"large": 2, "small": 0}


class MobileNetV3Det(nn.Module):
    """MobileNetV3 backbone of PaddleOCR's DB detectors, returning [C2, C3, C4, C5] at strides 4, 8, 16, 32.

    large x0.5 gives out_channels [16, 24, 56, 480]; small x0.5 gives [8, 16, 24, 288].
    With disable_se the SE flags of the table are ignored (PP-OCRv3 det). SE, when on, uses hard-sigmoid slope 0.2.
    """

    def __init__(self, scale: float = 0.5, model_name: str = "large", disable_se: bool = True,
                 in_channels: int = 3) -> None:
        super().__init__()
        if model_name not in _MV3_CFG:
            raise ValueError(f"model_name must be one of {sorted(_MV3_CFG)}, got {model_name!r}")
        cfg = _MV3_CFG[model_name]
        start = _MV3_STAGE_START[model_name]
        ch = make_divisible(16 * scale)
        self.stem = ConvBNAct(in_channels, ch, 3, stride=2, act="hardswish")
        stages: list[nn.Sequential] = []
        self.out_channels: list[int] = []
        blocks: list[nn.Module] = []
        for i, (k, exp, c, se, act, s) in enumerate(cfg):
            if s == 2 and i > start:
                stages.append(nn.Sequential(*blocks))
                self.out_channels.append(ch)
                blocks = []
            out = make_divisible(scale * c)
            blocks.append(ResidualUnit(ch, make_divisible(scale * exp), out, k, s, use_se=se and not disable_se,
                                       act=act, se_slope=0.2))
            ch = out
        last = make_divisible(scale * _MV3_LAST[model_name])
        blocks.append(ConvBNAct(ch, last, 1, act="hardswish"))
        stages.append(nn.Sequential(*blocks))
        self.out_channels.append(last)
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


class _Shortcut(nn.Module):
    """ResNet-vd projection: [AvgPool 2x2 s2 ceil] + 1x1 conv + BN. The pool replaces a strided 1x1 conv."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, vd: bool) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2, 2, ceil_mode=True) if (vd and stride == 2) else None
        self.conv = ConvBNAct(in_ch, out_ch, 1, stride=1 if vd else stride, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        return self.conv(x)


class _BasicBlockVd(nn.Module):
    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int, project: bool, first: bool) -> None:
        super().__init__()
        self.conv0 = ConvBNAct(in_ch, width, 3, stride=stride, act="relu")
        self.conv1 = ConvBNAct(width, width, 3, act=None)
        self.short = _Shortcut(in_ch, width, stride, vd=not first) if project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.conv0(x))
        return F.relu(y + (x if self.short is None else self.short(x)))


class _BottleneckVd(nn.Module):
    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int, project: bool, first: bool) -> None:
        super().__init__()
        self.conv0 = ConvBNAct(in_ch, width, 1, act="relu")
        self.conv1 = ConvBNAct(width, width, 3, stride=stride, act="relu")
        self.conv2 = ConvBNAct(width, width * 4, 1, act=None)
        self.short = _Shortcut(in_ch, width * 4, stride, vd=not first) if project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(self.conv0(x)))
        return F.relu(y + (x if self.short is None else self.short(x)))


_RESNET_DEPTHS = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3],
                  200: [3, 12, 48, 3]}


class ResNetVd(nn.Module):
    """ResNet-vd backbone (PaddleOCR det_resnet_vd), returning the 4 stage outputs at strides 4, 8, 16, 32.

    vd stem: three 3x3 convs (s2; 32, 32, 64 channels) + MaxPool 3x3 s2. The stride sits on the 3x3 conv of each
    stage's first block; that block's projection shortcut is AvgPool 2x2 s2 (ceil) + 1x1 conv + BN, except in the
    very first block (plain 1x1 conv + BN). As in PaddleOCR, every stage's first block has a projection, even when
    the shapes already match (ResNet18/34 stage 1).
    layers 18/34 use basic blocks (out_channels [64,128,256,512] x width), 50+ bottlenecks ([256,...,2048] x width).
    `width` scales every channel count (1.0 = the standard network); used for a CPU-trainable teacher.
    """

    def __init__(self, layers: int = 50, in_channels: int = 3, width: float = 1.0) -> None:
        super().__init__()
        if layers not in _RESNET_DEPTHS:
            raise ValueError(f"layers must be one of {sorted(_RESNET_DEPTHS)}, got {layers}")
        block = _BottleneckVd if layers >= 50 else _BasicBlockVd

        def w(c: int) -> int:
            return max(8, round(c * width))

        self.stem = nn.Sequential(
            ConvBNAct(in_channels, w(32), 3, stride=2, act="relu"),
            ConvBNAct(w(32), w(32), 3, act="relu"),
            ConvBNAct(w(32), w(64), 3, act="relu"),
            nn.MaxPool2d(3, 2, 1),
        )
        ch = w(64)
        stages = []
        self.out_channels: list[int] = []
        for s, depth in enumerate(_RESNET_DEPTHS[layers]):
            width_s = w(64 * 2 ** s)
            blocks = []
            for i in range(depth):
                stride = 2 if (i == 0 and s > 0) else 1
                blocks.append(block(ch, width_s, stride, project=(i == 0), first=(s == 0 and i == 0)))
                ch = width_s * block.expansion
            stages.append(nn.Sequential(*blocks))
            self.out_channels.append(ch)
        self.stages = nn.ModuleList(stages)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


# ----------------------------------------------------------------------------------------------------------------------
# Necks
# ----------------------------------------------------------------------------------------------------------------------

def _up(x: torch.Tensor, factor: int) -> torch.Tensor:
    # the official ONNX uses Resize(nearest, asymmetric, floor) with scales [1,1,f,f]: torch "nearest" is the same
    return F.interpolate(x, scale_factor=float(factor), mode="nearest")


def _kaiming_uniform(conv: nn.Conv2d) -> None:
    nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")  # Paddle KaimingUniform: gain sqrt(2), fan_in


class RSELayer(nn.Module):
    """Plain kxk conv (no bias, no BN, no activation) followed by SE; with shortcut y = x + SE(x) = x * (1 + s).
    se=False leaves the plain conv (the layers of PaddleOCR's DBFPN, the ablation's "plain FPN")."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, shortcut: bool = True, se: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=False)
        _kaiming_uniform(self.conv)
        self.se = SEModule(out_ch, reduction=4, slope=0.2) if se else None
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.se is None:
            return x
        return x + self.se(x) if self.shortcut else self.se(x)


def _top_down(laterals: nn.ModuleList, feats: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """FPN top-down path shared by RSE-FPN and LK-PAN: lateral convs (called C5 first, as the official graph does)
    and nearest x2 upsample-adds. Returns (in5, out4, out3, out2)."""
    c2, c3, c4, c5 = feats
    in5 = laterals[3](c5)
    in4 = laterals[2](c4)
    in3 = laterals[1](c3)
    in2 = laterals[0](c2)
    out4 = in4 + _up(in5, 2)
    out3 = in3 + _up(out4, 2)
    out2 = in2 + _up(out3, 2)
    return in5, out4, out3, out2


class RSEFPN(nn.Module):
    """Residual-SE FPN of PP-OCRv3 det: 1x1 RSE laterals to out_channels, nearest x2 top-down adds, 3x3 RSE output
    convs to out_channels/4, upsample to 1/4 and concat [p5, p4, p3, p2] -> out_channels at stride 4.

    Layers are called C5 first (in5, in4, in3, in2, then p5..p2), the order of the official graph."""

    def __init__(self, in_channels: list[int] | tuple[int, ...], out_channels: int = 96, shortcut: bool = True,
                 se: bool = True) -> None:
        super().__init__()
        if len(in_channels) != 4 or out_channels % 4:
            raise ValueError("RSEFPN needs 4 input levels and out_channels divisible by 4")
        self.out_channels = out_channels
        self.ins_conv = nn.ModuleList(RSELayer(c, out_channels, 1, shortcut, se) for c in in_channels)
        self.inp_conv = nn.ModuleList(RSELayer(out_channels, out_channels // 4, 3, shortcut, se) for _ in in_channels)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        in5, out4, out3, out2 = _top_down(self.ins_conv, feats)
        p5 = self.inp_conv[3](in5)
        p4 = self.inp_conv[2](out4)
        p3 = self.inp_conv[1](out3)
        p2 = self.inp_conv[0](out2)
        return torch.cat([_up(p5, 8), _up(p4, 4), _up(p3, 2), p2], dim=1)


class LKPAN(nn.Module):
    """Large-kernel PAN (PP-OCRv3 teacher neck, mode 'large'): plain convs without bias/BN/activation.

    1x1 laterals to out_channels, FPN top-down adds, 9x9 convs to out_channels/4 (f5..f2), bottom-up PAN with
    3x3 s2 convs (pan3 = f3 + down(f2), ...), 9x9 lateral convs, upsample to 1/4 and concat [p5, p4, p3, p2]."""

    def __init__(self, in_channels: list[int] | tuple[int, ...], out_channels: int = 256,
                 large_kernel: int = 9) -> None:
        super().__init__()
        if len(in_channels) != 4 or out_channels % 4:
            raise ValueError("LKPAN needs 4 input levels and out_channels divisible by 4")
        q = out_channels // 4
        k, p = large_kernel, large_kernel // 2
        self.out_channels = out_channels
        self.ins_conv = nn.ModuleList(nn.Conv2d(c, out_channels, 1, bias=False) for c in in_channels)
        self.inp_conv = nn.ModuleList(nn.Conv2d(out_channels, q, k, padding=p, bias=False) for _ in in_channels)
        self.pan_head_conv = nn.ModuleList(nn.Conv2d(q, q, 3, stride=2, padding=1, bias=False) for _ in range(3))
        self.pan_lat_conv = nn.ModuleList(nn.Conv2d(q, q, k, padding=p, bias=False) for _ in in_channels)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _kaiming_uniform(m)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        in5, out4, out3, out2 = _top_down(self.ins_conv, feats)
        f5 = self.inp_conv[3](in5)
        f4 = self.inp_conv[2](out4)
        f3 = self.inp_conv[1](out3)
        f2 = self.inp_conv[0](out2)
        pan3 = f3 + self.pan_head_conv[0](f2)
        pan4 = f4 + self.pan_head_conv[1](pan3)
        pan5 = f5 + self.pan_head_conv[2](pan4)
        p2 = self.pan_lat_conv[0](f2)
        p3 = self.pan_lat_conv[1](pan3)
        p4 = self.pan_lat_conv[2](pan4)
        p5 = self.pan_lat_conv[3](pan5)
        return torch.cat([_up(p5, 8), _up(p4, 4), _up(p3, 2), p2], dim=1)


# ----------------------------------------------------------------------------------------------------------------------
# Head and detector
# ----------------------------------------------------------------------------------------------------------------------

class _DBBranch(nn.Module):
    """conv kxk (no bias) + BN + ReLU -> ConvTranspose s2 + BN + ReLU -> ConvTranspose s2 to 1 channel -> sigmoid."""

    def __init__(self, in_ch: int, kernel_list: tuple[int, int, int]) -> None:
        super().__init__()
        mid = in_ch // 4
        k0, k1, k2 = kernel_list
        self.conv1 = nn.Conv2d(in_ch, mid, k0, padding=k0 // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(mid, eps=1e-5, momentum=0.1)
        self.conv2 = nn.ConvTranspose2d(mid, mid, k1, stride=2)
        self.bn2 = nn.BatchNorm2d(mid, eps=1e-5, momentum=0.1)
        self.conv3 = nn.ConvTranspose2d(mid, 1, k2, stride=2)
        bound = 1.0 / mid ** 0.5
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")
        for conv in (self.conv2, self.conv3):
            nn.init.uniform_(conv.bias, -bound, bound)
        for bn in (self.bn1, self.bn2):
            nn.init.ones_(bn.weight)
            nn.init.constant_(bn.bias, 1e-4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return torch.sigmoid(self.conv3(x))


class DBHead(nn.Module):
    """Differentiable-binarisation head: "binarize" branch -> P, "thresh" branch -> T, B_hat = sigmoid(k (P - T)).

    eval(): returns P [N,1,H,W] only. train(): returns {"maps": cat[P, T, B_hat]} ([N,3,H,W])."""

    def __init__(self, in_channels: int, k: float = 50, kernel_list: tuple[int, int, int] = (3, 2, 2)) -> None:
        super().__init__()
        if in_channels % 4:
            raise ValueError("DBHead in_channels must be divisible by 4")
        self.k = float(k)
        self.binarize = _DBBranch(in_channels, tuple(kernel_list))
        self.thresh = _DBBranch(in_channels, tuple(kernel_list))

    def step_function(self, p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.k * (p - t))  # = 1 / (1 + exp(-k (P - T)))

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        p = self.binarize(x)
        if not self.training:
            return p
        t = self.thresh(x)
        return {"maps": torch.cat([p, t, self.step_function(p, t)], dim=1)}


class DBDetector(nn.Module):
    """backbone -> neck -> DBHead. Input [N,3,H,W] (BGR, ImageNet-normalised, H and W multiples of 32)."""

    def __init__(self, backbone: nn.Module, neck: nn.Module, head: DBHead) -> None:
        super().__init__()
        self.backbone, self.neck, self.head = backbone, neck, head

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        return self.head(self.neck(self.backbone(x)))


def det_student(neck: str = "rse") -> DBDetector:
    """The PP-OCRv3 detector: MobileNetV3-large x0.5 (no SE) + RSEFPN(96, shortcut) + DBHead(k 50, [3,2,2]).
    neck="fpn": the same FPN without the SE of its layers (PaddleOCR's DBFPN, PP-OCRv2's neck)."""
    if neck not in ("rse", "fpn"):
        raise ValueError(f"neck must be 'rse' or 'fpn', not {neck!r}")
    backbone = MobileNetV3Det(scale=0.5, model_name="large", disable_se=True)
    neck_module = RSEFPN(backbone.out_channels, 96, shortcut=True, se=neck == "rse")
    return DBDetector(backbone, neck_module, DBHead(neck_module.out_channels, k=50, kernel_list=(3, 2, 2)))


def det_teacher(layers: int = 50, neck_channels: int = 256, width: float = 1.0) -> DBDetector:
    """The PP-OCRv3 CML teacher: ResNet50_vd + LKPAN(256) + DBHead(k 50, kernel_list [7,2,2])."""
    backbone = ResNetVd(layers=layers, width=width)
    neck = LKPAN(backbone.out_channels, neck_channels)
    return DBDetector(backbone, neck, DBHead(neck.out_channels, k=50, kernel_list=(7, 2, 2)))


def det_teacher_small(layers: int = 18, neck_channels: int = 64, width: float = 0.5) -> DBDetector:
    """A teacher sized for training on 2 CPU cores, with the official teacher's topology:
    ResNet18_vd at half width (out [32, 64, 128, 256]) + LKPAN(64) (9x9 convs, 16 channels per level) +
    DBHead(k 50, [7,2,2]).

    Sizes (train/models/profile.py): 3.36M parameters (3.31M in the eval graph) and 20.7 GMACs in eval at 960x960,
    against 32.9M / 261 GMACs for det_teacher() and 0.60M / 4.3 GMACs for det_student(); a training step costs about
    3x the student's on CPU. The backbone gives the extra capacity; the neck stays cheap because the 9x9 LKPAN convs
    run at 1/4 resolution and their cost grows with neck_channels squared (neck_channels=96, the student's neck
    width, costs 34.5 GMACs; width=1.0 and neck_channels=256 give ResNet18_vd + the full LKPAN, 215 GMACs)."""
    return det_teacher(layers=layers, neck_channels=neck_channels, width=width)


def inference_parameters(model: DBDetector) -> int:
    """Parameters the deployed graph uses: everything except the DBHead threshold branch (training only)."""
    return sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in model.head.thresh.parameters())


# ----------------------------------------------------------------------------------------------------------------------
# Official weights
# ----------------------------------------------------------------------------------------------------------------------

def _check_official_det_graph(graph) -> None:
    """The ops we reproduce with fixed choices must carry the attributes we assume."""
    for n in graph.ops("HardSigmoid"):
        alpha, beta = float(n.attrs.get("alpha", 0.2)), float(n.attrs.get("beta", 0.5))
        if abs(alpha - 0.2) > 1e-6 or abs(beta - 0.5) > 1e-6:
            raise ValueError(f"{n.name}: HardSigmoid alpha={alpha} beta={beta}, the model assumes 0.2 / 0.5")
    for n in graph.ops("Resize"):
        mode = n.attrs.get("mode", b"nearest")
        ctm = n.attrs.get("coordinate_transformation_mode", b"half_pixel")
        nearest = n.attrs.get("nearest_mode", b"round_prefer_floor")
        if (mode, ctm, nearest) != (b"nearest", b"asymmetric", b"floor"):
            raise ValueError(f"{n.name}: Resize {mode}/{ctm}/{nearest}, the model assumes nearest/asymmetric/floor")
    for n in graph.ops("BatchNormalization"):
        if abs(float(n.attrs.get("epsilon", 1e-5)) - 1e-5) > 1e-9:
            raise ValueError(f"{n.name}: BN epsilon {n.attrs.get('epsilon')} != 1e-5")


def load_official_det(model: DBDetector, onnx_path: str | Path) -> DBDetector:
    """Copy the official ch_PP-OCRv3_det ONNX weights into det_student() (in place; returns the model).

    The ONNX Conv/ConvTranspose/BatchNormalization nodes, in graph order, are matched one to one with the torch
    modules in the order the eval forward calls them (backbone, neck C5 first, head binarize branch; the threshold
    branch is not in the export and keeps its initial weights). Raises ValueError on any mismatch of count, type,
    shape or bias presence, or when the graph's HardSigmoid/Resize/BN attributes differ from what the model assumes.
    """
    from .onnx_weights import OnnxGraph, load_conv_bn_sequence, modules_in_call_order

    graph = OnnxGraph(onnx_path)
    _check_official_det_graph(graph)
    attach_folded_biases(graph)
    was_training = model.training
    model.eval()
    try:
        modules = modules_in_call_order(model, torch.zeros(1, 3, 64, 64),
                                        (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d))
        load_conv_bn_sequence(graph, modules)
    finally:
        model.train(was_training)
    return model
