"""Text direction classifier (0 / 180 degrees), the network of PaddleOCR's ch_ppocr_mobile_v2.0_cls.

MobileNetV3 in its text-recognition variant (the four down-sampling blocks after the stem use stride (2, 1), so the
width keeps its resolution), a 1x1 conv, MaxPool 2x2 / 2, then ClsHead: global average pool -> FC -> softmax.
For ch_ppocr_mobile_v2.0_cls this is MobileNetV3-small x0.35 (last conv 200 channels) and an FC 200 -> 2 on
3x48x192 BGR crops normalised to [-1, 1] (reference: ppocrv3.md section 6).

    model = cls_mobilenet_v3_small()                      # scale 0.35, 2 classes
    load_official_cls(model, "ch_ppocr_mobile_v2.0_cls_infer.onnx")
    probs = model.eval()(x)                               # [N, 2] softmax, index 0 = '0', 1 = '180'

In training mode the head returns logits (for cross-entropy); in eval mode it returns the softmax like the official
inference model.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvBNAct, HardSigmoid, ResidualUnit, make_divisible
from .onnx_weights import OnnxGraph, attach_folded_biases, copy_param, load_bn, matmul_bias, modules_in_call_order

# One row per inverted residual block: kernel, expanded channels, output channels, SE, activation, stride, before
# scaling. Text variant: every down-sampling block halves the height only. Only "small" at scale 0.35 is checked
# against official weights (ch_ppocr_mobile_v2.0_cls); "large" follows the same rules with the MobileNetV3-large table.
_R, _HS = "relu", "hardswish"
MOBILENET_V3_REC_CONFIGS: dict[str, tuple[list[tuple[int, int, int, bool, str, tuple[int, int]]], int]] = {
    "small": ([
        (3, 16, 16, True, _R, (2, 1)),
        (3, 72, 24, False, _R, (2, 1)),
        (3, 88, 24, False, _R, (1, 1)),
        (5, 96, 40, True, _HS, (2, 1)),
        (5, 240, 40, True, _HS, (1, 1)),
        (5, 240, 40, True, _HS, (1, 1)),
        (5, 120, 48, True, _HS, (1, 1)),
        (5, 144, 48, True, _HS, (1, 1)),
        (5, 288, 96, True, _HS, (2, 1)),
        (5, 576, 96, True, _HS, (1, 1)),
        (5, 576, 96, True, _HS, (1, 1)),
    ], 576),
    "large": ([
        (3, 16, 16, False, _R, (1, 1)),
        (3, 64, 24, False, _R, (2, 1)),
        (3, 72, 24, False, _R, (1, 1)),
        (5, 72, 40, True, _R, (2, 1)),
        (5, 120, 40, True, _R, (1, 1)),
        (5, 120, 40, True, _R, (1, 1)),
        (3, 240, 80, False, _HS, (1, 1)),
        (3, 200, 80, False, _HS, (1, 1)),
        (3, 184, 80, False, _HS, (1, 1)),
        (3, 184, 80, False, _HS, (1, 1)),
        (3, 480, 112, True, _HS, (1, 1)),
        (3, 672, 112, True, _HS, (1, 1)),
        (5, 672, 160, True, _HS, (2, 1)),
        (5, 960, 160, True, _HS, (1, 1)),
        (5, 960, 160, True, _HS, (1, 1)),
    ], 960),
}
SUPPORTED_SCALES = (0.35, 0.5, 0.75, 1.0, 1.25)
CLS_INPUT_SHAPE = (3, 48, 192)  # C, H, W of the official classifier


class MobileNetV3Rec(nn.Module):
    """MobileNetV3 backbone for text lines: stem conv 3x3 / 2 (hard-swish) -> inverted residual blocks -> 1x1 conv
    (hard-swish) -> MaxPool 2x2 / 2. Output [N, out_channels, H/32, W/4]; 48x192 gives 1x48."""

    def __init__(self, in_channels: int = 3, model_name: str = "small", scale: float = 0.35,
                 disable_se: bool = False, se_slope: float = 0.2) -> None:
        super().__init__()
        if model_name not in MOBILENET_V3_REC_CONFIGS:
            raise ValueError(f"model_name must be one of {sorted(MOBILENET_V3_REC_CONFIGS)}, got {model_name!r}")
        if scale not in SUPPORTED_SCALES:
            raise ValueError(f"scale must be one of {SUPPORTED_SCALES}, got {scale}")
        cfg, squeeze = MOBILENET_V3_REC_CONFIGS[model_name]
        ch = make_divisible(16 * scale)
        self.stem = ConvBNAct(in_channels, ch, 3, 2, act="hardswish")
        blocks = []
        for k, mid, out, se, act, stride in cfg:
            mid_ch, out_ch = make_divisible(scale * mid), make_divisible(scale * out)
            blocks.append(ResidualUnit(ch, mid_ch, out_ch, k, stride, se and not disable_se, act, se_slope))
            ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = make_divisible(scale * squeeze)
        self.conv2 = ConvBNAct(ch, self.out_channels, 1, act="hardswish")
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv2(self.blocks(self.stem(x))))


class ClsHead(nn.Module):
    """Global average pool -> FC -> softmax (eval) / logits (training)."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
        return x if self.training else F.softmax(x, dim=1)


class DirectionClassifier(nn.Module):
    """Backbone + ClsHead. Input [N, 3, 48, 192] BGR in [-1, 1]; output [N, num_classes]."""

    def __init__(self, backbone: MobileNetV3Rec, num_classes: int = 2) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = ClsHead(backbone.out_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def cls_mobilenet_v3_small(scale: float = 0.35, num_classes: int = 2, model_name: str = "small",
                           in_channels: int = 3) -> DirectionClassifier:
    """The ch_ppocr_mobile_v2.0_cls architecture (defaults); other scales / 'large' for experiments."""
    return DirectionClassifier(MobileNetV3Rec(in_channels, model_name, scale), num_classes)


# ------------------------------------------------------------------------------------------------ official weights
def onnx_weight_count(onnx_path: str | Path) -> int:
    """Number of weight values in a classifier ONNX: conv weights and biases, BN scale/offset/mean/variance, FC
    weight and bias (the count that parameters + BN running statistics of the torch model must reach)."""
    graph = OnnxGraph(onnx_path)
    attach_folded_biases(graph)
    total = 0
    for n in graph.ops("Conv", "BatchNormalization", "MatMul"):
        total += sum(graph.consts[i].size for i in n.inputs[1:] if i in graph.consts)
        if n.op_type == "MatMul":
            bias = matmul_bias(graph, n)
            total += 0 if bias is None else bias.size
    return total


def load_official_cls(model: DirectionClassifier, onnx_path: str | Path) -> DirectionClassifier:
    """Copy the weights of an official PaddleOCR direction classifier ONNX (paddle2onnx export of
    ch_ppocr_mobile_v2.0_cls or a model of the same family) into model, layer by layer in execution order.

    Raises ValueError when the layer count, a layer type, a shape, a bias or the SE hard-sigmoid slope differs."""
    graph = OnnxGraph(onnx_path)
    attach_folded_biases(graph)
    nodes = graph.ops("Conv", "BatchNormalization", "MatMul")
    was_training = model.training
    model.eval()
    try:
        mods = modules_in_call_order(model, torch.zeros(1, *CLS_INPUT_SHAPE), (nn.Conv2d, nn.BatchNorm2d, nn.Linear))
    finally:
        model.train(was_training)
    if len(nodes) != len(mods):
        raise ValueError(f"{onnx_path}: {len(nodes)} conv/bn/fc layers in ONNX, {len(mods)} in the torch model")
    kinds = {"Conv": nn.Conv2d, "BatchNormalization": nn.BatchNorm2d, "MatMul": nn.Linear}
    for i, (node, mod) in enumerate(zip(nodes, mods)):
        if type(mod) is not kinds[node.op_type]:
            raise ValueError(f"layer {i}: ONNX {node.op_type} {node.name} vs torch {type(mod).__name__}")
        if node.op_type == "BatchNormalization":
            load_bn(graph, node, mod)
            continue
        if node.op_type == "Conv":
            weight, bias = graph.conv_weights(node)
        else:  # MatMul: Paddle stores Linear weights as [in, out]
            weight, bias = graph.consts[node.inputs[1]].T, matmul_bias(graph, node)
        copy_param(mod.weight, weight, f"{node.name} weight")
        if (bias is None) != (mod.bias is None):
            raise ValueError(f"{node.name}: bias present in {'torch' if bias is None else 'ONNX'} only")
        if bias is not None:
            copy_param(mod.bias, bias, f"{node.name} bias")
    gates = [m for m in model.modules() if isinstance(m, HardSigmoid)]
    onnx_gates = graph.ops("HardSigmoid")
    if len(gates) != len(onnx_gates):
        raise ValueError(f"{onnx_path}: {len(onnx_gates)} hard-sigmoid gates in ONNX, {len(gates)} in torch")
    for node, gate in zip(onnx_gates, gates):
        alpha, beta = float(node.attrs.get("alpha", 0.2)), float(node.attrs.get("beta", 0.5))
        if abs(alpha - gate.slope) > 1e-6 or abs(beta - gate.offset) > 1e-6:
            raise ValueError(f"{node.name}: hard-sigmoid {alpha}x+{beta} in ONNX, {gate.slope}x+{gate.offset} in torch")
    return model
