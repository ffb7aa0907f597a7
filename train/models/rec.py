"""PP-OCRv3 text recognizer (SVTR_LCNet) in PyTorch: PP-LCNet backbone with text strides, SVTR global-mixing neck,
CTC head, and the SAR attention head of GTC (guided training of CTC) that only exists during training.

Reference: ppocrv3.md sections 4.1-4.6 (architecture, SAR vocabulary) and 5 (PP-LCNet design choices).

    model = rec_svtr_lcnet()                                   # official ch_PP-OCRv3_rec configuration, 6625 classes
    load_official_rec(model, "ch_PP-OCRv3_rec_infer.onnx")     # every weight of the official inference model
    probs = model.eval()(x)                                    # x [N, 3, 48, W] BGR in [-1, 1] -> softmax [N, T, C]

T = floor(ceil(ceil(W / 2) / 2) / 2) (W / 8 for multiples of 8). Class 0 is the CTC blank, class i >= 1 is
dictionary[i - 1] (the dictionary already includes the appended space).

Training (GTC, ppocrv3.md 4.5): build with ``use_sar=True`` and call the model in train mode:

    out = model.train()(images, sar_targets=label_sar, valid_ratios=valid_ratio)
    loss = ctc_loss(out["ctc"], label_ctc, length) + sar_loss(out["sar"], label_sar, model.sar_head.pad_index)

``out`` holds "ctc" (CTC logits [N, T, C]), "backbone" (backbone output [N, 512, 1, T], the feature map U-DML
distils with an MSE), "neck" (SVTR neck sequence [N, T, 64]) and, when ``sar_targets`` are given and the model has a
SAR head, "sar" (SAR logits [N, L, C + 1], teacher forced). The neck detaches its input (use_guide), so the CTC loss
does not reach the backbone: the backbone learns from the SAR branch (and distillation losses) only.

SAR vocabulary for a model with C CTC classes (D = C - 1 dictionary entries, index 0 of CTC being the blank):
dictionary entry j -> j (no blank offset), unknown -> D, start = end -> D + 1, pad -> D + 2; the SAR head's
embedding has C + 2 rows, its prediction C + 1 outputs (pad is never predicted). SAR label = [start] + text + [end],
right padded with pad to max_text_length (25); ``sar_loss`` ignores pad.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvBNAct, SEModule, activation
from .onnx_weights import OnnxGraph, OnnxNode, copy_param, modules_in_call_order

NUM_DS_BLOCKS = 13

# MobileNetV1Enhance at scale 1.0: stem width and the 13 depthwise-separable blocks as (in, out, stride).
# Text strides: PP-LCNet's stride-2 blocks become (1, 1) (conv2_2) or (2, 1) (conv3_2, conv4_2, conv5_6); the last
# block's stride is the `last_conv_stride` option. Scale 0.5 gives PP-LCNet x1.0's widths (16, 32, 64, ..., 512).
_STEM_WIDTH = 32
_DS_BLOCKS: tuple[tuple[int, int, tuple[int, int]], ...] = (
    (32, 64, (1, 1)),      # conv2_1   = blocks2[0]
    (64, 128, (1, 1)),     # conv2_2   = blocks3[0] (stride 2 in PP-LCNet)
    (128, 128, (1, 1)),    # conv3_1   = blocks3[1]
    (128, 256, (2, 1)),    # conv3_2   = blocks4[0]
    (256, 256, (1, 1)),    # conv4_1   = blocks4[1]
    (256, 512, (2, 1)),    # conv4_2   = blocks5[0]
    (512, 512, (1, 1)),    # conv5_1.. = blocks5[1..5]
    (512, 512, (1, 1)),
    (512, 512, (1, 1)),
    (512, 512, (1, 1)),
    (512, 512, (1, 1)),
    (512, 1024, (2, 1)),   # conv5_6   = blocks6[0]
    (1024, 1024, (1, 1)),  # conv6     = blocks6[1] (stride = last_conv_stride)
)

# PP-LCNet defaults (paper section 3): SE in the last 2 blocks, 5x5 depthwise kernels in the last 7.
SE_PRESETS = {"tail": "0000000000011", "none": "0" * 13, "all": "1" * 13, "head": "1100000000000",
              "mid": "0000001100000"}


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _mask(spec: str | int | Sequence[bool | int], what: str, presets: dict[str, str] | None = None) -> list[bool]:
    """A 13-long block mask from a preset name, a '0'/'1' string, a sequence of flags or (int) a count at the tail."""
    if isinstance(spec, bool):
        raise TypeError(f"{what}: give a preset, a 13-long mask or a count, not {spec!r}")
    if isinstance(spec, int):
        if not 0 <= spec <= NUM_DS_BLOCKS:
            raise ValueError(f"{what}: count {spec} outside 0..{NUM_DS_BLOCKS}")
        return [i >= NUM_DS_BLOCKS - spec for i in range(NUM_DS_BLOCKS)]
    if isinstance(spec, str):
        if presets and spec in presets:
            spec = presets[spec]
        if len(spec) != NUM_DS_BLOCKS or set(spec) - {"0", "1"}:
            names = f" or one of {sorted(presets)}" if presets else ""
            raise ValueError(f"{what}: {spec!r} is not a 13-long 0/1 mask{names}")
        return [c == "1" for c in spec]
    flags = [bool(v) for v in spec]
    if len(flags) != NUM_DS_BLOCKS:
        raise ValueError(f"{what}: mask has {len(flags)} entries, expected {NUM_DS_BLOCKS}")
    return flags


class DepthwiseSeparable(nn.Module):
    """PP-LCNet block: kxk depthwise conv + BN + act (stride) -> [SE] -> 1x1 conv + BN + act. No residual."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: tuple[int, int], use_se: bool, act: str,
                 se_slope: float) -> None:
        super().__init__()
        self.dw = ConvBNAct(in_ch, in_ch, kernel, stride, groups=in_ch, act=act)
        self.se = SEModule(in_ch, reduction=4, slope=se_slope) if use_se else None
        self.pw = ConvBNAct(in_ch, out_ch, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dw(x)
        if self.se is not None:
            x = self.se(x)
        return self.pw(x)


class PPLCNetRec(nn.Module):
    """MobileNetV1Enhance (PaddleOCR's rec backbone); at scale 0.5 it is the PP-LCNet x1.0 body with text strides.

    Defaults are the ch_PP-OCRv3_rec configuration: output [N, 512, 1, W/8] for a [N, 3, 48, W] input.
    PP-LCNet design choices, exposed for the paper's ablations (ppocrv3.md section 5):
      act            'hardswish' (PP-LCNet) or 'relu' (in every conv; the SE keeps its inner ReLU)
      se             where SE sits: 'tail' (last 2 blocks, default), 'none', 'all', 'head' (first 2), 'mid'
                     (blocks 7-8), or a 13-long 0/1 mask over the depthwise-separable blocks
      large_kernels  5x5 depthwise kernels: a count at the tail (7, default; 0 = all 3x3, 13 = all 5x5) or a mask
      head_conv      channels of the 1x1 conv (no bias, no BN, + act + dropout) after global pooling, used only by
                     `embed` (classification / TextRotNet heads), never by the recognizer; None = off (default)
    Text-specific options: last_conv_stride (1, 2) halves the width once more in the last block; last_pool_type
    'avg' | 'max' with last_pool_kernel_size (2, 2) (stride = kernel) reduces the 3-row map to 1 row.
    TextRotNet pre-training (ppocrv3.md 4.8) used last_conv_stride 1 and last_pool_type 'max'.
    """

    def __init__(self, in_channels: int = 3, scale: float = 0.5, act: str = "hardswish",
                 se: str | Sequence[bool | int] = "tail", large_kernels: int | str | Sequence[bool | int] = 7,
                 last_conv_stride: int | Sequence[int] = (1, 2), last_pool_type: str = "avg",
                 last_pool_kernel_size: int | Sequence[int] = (2, 2), head_conv: int | None = None,
                 head_dropout: float = 0.2, se_slope: float = 1.0 / 6.0) -> None:
        super().__init__()
        se_mask = _mask(se, "se", SE_PRESETS)
        k5_mask = _mask(large_kernels, "large_kernels")
        self.act_name = act
        self.stem = ConvBNAct(in_channels, int(_STEM_WIDTH * scale), 3, 2, act=act)
        blocks = []
        for i, (cin, cout, stride) in enumerate(_DS_BLOCKS):
            if i == NUM_DS_BLOCKS - 1:
                stride = _pair(last_conv_stride)
            blocks.append(DepthwiseSeparable(int(cin * scale), int(cout * scale), 5 if k5_mask[i] else 3, stride,
                                             se_mask[i], act, se_slope))
        self.blocks = nn.Sequential(*blocks)
        kernel = _pair(last_pool_kernel_size)
        if last_pool_type == "avg":
            self.pool: nn.Module = nn.AvgPool2d(kernel, kernel)
        elif last_pool_type == "max":
            self.pool = nn.MaxPool2d(kernel, kernel)
        else:
            raise ValueError(f"last_pool_type must be 'avg' or 'max', not {last_pool_type!r}")
        self.out_channels = int(_DS_BLOCKS[-1][1] * scale)
        self.head_conv: nn.Module | None = None
        self.embed_dim = self.out_channels
        if head_conv:
            self.head_conv = nn.Sequential(nn.Conv2d(self.out_channels, head_conv, 1, bias=False),
                                           activation(act), nn.Dropout(head_dropout))
            self.embed_dim = head_conv
        self.se_mask, self.k5_mask = se_mask, k5_mask
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():  # Paddle: KaimingNormal convs (fan_in, gain sqrt 2); BN weight 1, bias 0
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.blocks(self.stem(x)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled features [N, embed_dim] for classification heads (through head_conv when set)."""
        y = F.adaptive_avg_pool2d(self(x), 1)
        if self.head_conv is not None:
            y = self.head_conv(y)
        return y.flatten(1)


MobileNetV1Enhance = PPLCNetRec


class LCNetClassifier(nn.Module):
    """Backbone + FC on the pooled features (TextRotNet's 4-way rotation task, or ImageNet-style ablations).

    Train mode returns logits, eval mode softmax."""

    def __init__(self, backbone: PPLCNetRec, num_classes: int = 4) -> None:
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(backbone.embed_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.fc(self.backbone.embed(x))
        return logits if self.training else F.softmax(logits, dim=1)


# ----------------------------------------------------------------------------------------------------------- neck


class GlobalAttention(nn.Module):
    """Multi-head self-attention over all tokens, with explicit matmuls (clean weight mapping and tracing).

    qkv Linear(dim, 3 dim) -> heads -> softmax(q k^T / sqrt(head_dim)) -> dropout -> @ v -> Linear(dim, dim) -> drop."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True, attn_drop: float = 0.1,
                 proj_drop: float = 0.1) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]  # each [N, heads, T, head_dim]
        attn = self.attn_drop(torch.matmul(q, k.transpose(-2, -1)).softmax(dim=-1))
        y = torch.matmul(attn, v).transpose(1, 2).reshape(b, t, c)
        return self.proj_drop(self.proj(y))

    def count_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        """MACs of the two attention matmuls (the Linear layers are counted on their own)."""
        b, t, c = inputs[0].shape
        return 2 * b * t * t * c


class MixingBlock(nn.Module):
    """SVTR global-mixing block, pre-LN: x + Attn(LN(x)), then x + MLP(LN(x)); MLP = Linear -> Swish -> Linear."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 2.0, drop: float = 0.1, attn_drop: float = 0.1,
                 eps: float = 1e-5) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.mixer = GlobalAttention(dim, num_heads, True, attn_drop, drop)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Dropout(drop), nn.Linear(hidden, dim),
                                 nn.Dropout(drop))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SVTRNeck(nn.Module):
    """EncoderWithSVTR + Im2Seq: [N, C_in, 1, T] backbone map -> [N, T, dims] sequence.

    conv1 3x3 C_in -> C_in/8, conv2 1x1 -> hidden, `depth` mixing blocks over the T tokens, LayerNorm (eps 1e-6),
    conv3 1x1 hidden -> C_in, concat with the (detached, when use_guide) input, conv4 3x3 2 C_in -> C_in/8,
    conv1x1 -> dims. Every conv = Conv (no bias) + BN + Swish."""

    def __init__(self, in_channels: int = 512, dims: int = 64, depth: int = 2, hidden_dims: int = 120,
                 num_heads: int = 8, mlp_ratio: float = 2.0, drop: float = 0.1, attn_drop: float = 0.1,
                 use_guide: bool = True, block_eps: float = 1e-5, norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.use_guide = use_guide
        mid = in_channels // 8
        self.conv1 = ConvBNAct(in_channels, mid, 3, act="swish")
        self.conv2 = ConvBNAct(mid, hidden_dims, 1, act="swish")
        self.blocks = nn.ModuleList([MixingBlock(hidden_dims, num_heads, mlp_ratio, drop, attn_drop, block_eps)
                                     for _ in range(depth)])
        self.norm = nn.LayerNorm(hidden_dims, eps=norm_eps)
        self.conv3 = ConvBNAct(hidden_dims, in_channels, 1, act="swish")
        self.conv4 = ConvBNAct(2 * in_channels, mid, 3, act="swish")
        self.conv1x1 = ConvBNAct(mid, dims, 1, act="swish")
        self.out_channels = dims
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # Paddle KaimingUniform: U(+-sqrt(6 / fan_in))
                nn.init.kaiming_uniform_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.detach() if self.use_guide else x
        shortcut = z
        z = self.conv2(self.conv1(z))
        b, c, h, w = z.shape
        z = z.flatten(2).transpose(1, 2)  # [N, H*W, hidden]
        for blk in self.blocks:
            z = blk(z)
        z = self.norm(z).transpose(1, 2).reshape(b, c, h, w)
        z = self.conv3(z)
        z = self.conv1x1(self.conv4(torch.cat([shortcut, z], dim=1)))
        if not torch.jit.is_tracing() and z.shape[2] != 1:
            raise ValueError(f"the SVTR neck needs a 1-row feature map, got height {z.shape[2]}")
        return z.squeeze(2).transpose(1, 2)  # Im2Seq: [N, T, dims]


# ---------------------------------------------------------------------------------------------------------- heads


class CTCHead(nn.Module):
    """Linear dims -> num_classes; logits in train mode, softmax over classes in eval mode (as exported)."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)
        bound = 1.0 / math.sqrt(in_channels)  # Paddle: U(+-1/sqrt(fan_in)) for weight and bias
        nn.init.uniform_(self.fc.weight, -bound, bound)
        nn.init.uniform_(self.fc.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.fc(x)
        return logits if self.training else F.softmax(logits, dim=2)


def _valid_widths(valid_ratios: torch.Tensor | Sequence[float] | None, batch: int, width: int,
                  device: torch.device) -> torch.Tensor:
    """Per sample, min(width, ceil(width * valid_ratio)) (width when no ratios are given)."""
    if valid_ratios is None:
        return torch.full((batch,), width, dtype=torch.long, device=device)
    r = torch.as_tensor(valid_ratios, dtype=torch.float64, device=device).reshape(-1)
    return torch.clamp(torch.ceil(r * width).long(), 1, width)


class SAREncoder(nn.Module):
    """Max-pool over height -> 2-layer LSTM -> hidden state at the last valid step -> Linear = holistic feature."""

    def __init__(self, in_channels: int = 512, enc_dim: int = 512, num_layers: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.rnn = nn.LSTM(in_channels, enc_dim, num_layers=num_layers, batch_first=True, dropout=dropout)
        self.linear = nn.Linear(enc_dim, enc_dim)

    def forward(self, feat: torch.Tensor, valid_ratios=None) -> torch.Tensor:
        v = feat.amax(dim=2).transpose(1, 2)  # [N, W, C]
        h, _ = self.rnn(v)
        last = _valid_widths(valid_ratios, h.shape[0], h.shape[1], h.device) - 1
        holistic = h[torch.arange(h.shape[0], device=h.device), last]
        return self.linear(holistic)  # [N, enc_dim]


class SARHead(nn.Module):
    """SAR (show, attend and read) branch of GTC with the parallel decoder and 2-D attention (ppocrv3.md 4.5).

    num_classes = C + 2 for a C-class CTC model (dictionary + unknown + start/end + pad). Input: the backbone map
    [N, C_in, H, W]. forward(feat, targets, valid_ratios): with targets [N, L] (teacher forcing) it returns logits
    [N, L, num_classes - 1]; without, greedy decoding of max_text_length steps returning softmax probabilities.
    """

    def __init__(self, in_channels: int, num_classes: int, enc_dim: int = 512, max_text_length: int = 25,
                 d_k: int = 512, enc_dropout: float = 0.1, dec_dropout: float = 0.0, pred_dropout: float = 0.1,
                 num_layers: int = 2) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.start_index = num_classes - 2  # = end index
        self.pad_index = num_classes - 1
        self.unknown_index = num_classes - 3
        self.max_text_length = max_text_length
        self.encoder = SAREncoder(in_channels, enc_dim, num_layers, enc_dropout)
        self.embedding = nn.Embedding(num_classes, enc_dim, padding_idx=self.pad_index)
        self.decoder_rnn = nn.LSTM(enc_dim, enc_dim, num_layers=num_layers, batch_first=True, dropout=dec_dropout)
        self.query = nn.Linear(enc_dim, d_k)
        self.key = nn.Conv2d(in_channels, d_k, 3, padding=1)
        self.score = nn.Linear(d_k, 1)
        self.pred_dropout = nn.Dropout(pred_dropout)
        self.prediction = nn.Linear(enc_dim + in_channels + enc_dim, num_classes - 1)

    def _attend(self, tokens: torch.Tensor, feat: torch.Tensor, holistic: torch.Tensor,
                widths: torch.Tensor) -> torch.Tensor:
        """tokens [N, S, enc_dim] -> logits [N, S, num_classes - 1]."""
        y, _ = self.decoder_rnn(tokens)
        n, c, h, w = feat.shape
        key = self.key(feat).permute(0, 2, 3, 1).unsqueeze(1)  # [N, 1, H, W, d_k]
        query = self.query(y)[:, :, None, None, :]  # [N, S, 1, 1, d_k]
        e = self.score(torch.tanh(key + query)).squeeze(-1)  # [N, S, H, W]
        cols = torch.arange(w, device=feat.device)
        masked = cols[None, :] >= widths[:, None]  # [N, W]
        e = e.masked_fill(masked[:, None, None, :], float("-inf"))
        attn = F.softmax(e.reshape(n, e.shape[1], h * w), dim=-1)  # over H*W
        glimpse = torch.matmul(attn, feat.reshape(n, c, h * w).transpose(1, 2))  # [N, S, C]
        hol = holistic.unsqueeze(1).expand(-1, y.shape[1], -1)
        return self.pred_dropout(self.prediction(torch.cat([y, glimpse, hol], dim=2)))

    def forward(self, feat: torch.Tensor, targets: torch.Tensor | None = None, valid_ratios=None) -> torch.Tensor:
        holistic = self.encoder(feat, valid_ratios)
        widths = _valid_widths(valid_ratios, feat.shape[0], feat.shape[3], feat.device)
        if targets is not None:
            tokens = torch.cat([holistic.unsqueeze(1), self.embedding(targets.long())], dim=1)
            return self._attend(tokens, feat, holistic, widths)[:, 1:]
        # greedy decoding: re-run the parallel decoder on the growing prefix
        n, steps = feat.shape[0], self.max_text_length
        start = torch.full((n,), self.start_index, dtype=torch.long, device=feat.device)
        tokens = torch.cat([holistic.unsqueeze(1), self.embedding(start).unsqueeze(1).expand(-1, steps, -1)], 1)
        outs = []
        for i in range(steps):
            probs = F.softmax(self._attend(tokens, feat, holistic, widths)[:, i + 1], dim=-1)
            outs.append(probs)
            if i + 2 <= steps:
                tokens = tokens.clone()
                tokens[:, i + 2] = self.embedding(probs.argmax(dim=-1))
        return torch.stack(outs, dim=1)


# ---------------------------------------------------------------------------------------------------------- model


class TextRecognizer(nn.Module):
    """backbone -> neck -> CTC head (+ SAR head on the backbone map in training). See the module docstring."""

    def __init__(self, backbone: nn.Module, neck: nn.Module, ctc_head: CTCHead, sar_head: SARHead | None = None
                 ) -> None:
        super().__init__()
        self.backbone, self.neck, self.ctc_head, self.sar_head = backbone, neck, ctc_head, sar_head

    def forward(self, x: torch.Tensor, sar_targets: torch.Tensor | None = None, valid_ratios=None):
        feat = self.backbone(x)
        seq = self.neck(feat)
        out = self.ctc_head(seq)
        if not self.training:
            return out  # softmax [N, T, C], like the official inference model
        result = {"ctc": out, "backbone": feat, "neck": seq}
        if self.sar_head is not None and sar_targets is not None:
            result["sar"] = self.sar_head(feat, sar_targets, valid_ratios)
        return result

    def inference_modules(self) -> nn.ModuleDict:
        """The exported part (backbone, neck, CTC head)."""
        return nn.ModuleDict({"backbone": self.backbone, "neck": self.neck, "ctc_head": self.ctc_head})


def rec_svtr_lcnet(num_classes: int = 6625, use_sar: bool = False, sar_max_text_length: int = 25,
                   neck_options: dict | None = None, **backbone_options) -> TextRecognizer:
    """SVTR_LCNet as in ch_PP-OCRv3_rec (backbone_options go to PPLCNetRec, neck_options to SVTRNeck)."""
    backbone = PPLCNetRec(**backbone_options)
    neck = SVTRNeck(backbone.out_channels, **(neck_options or {}))
    head = CTCHead(neck.out_channels, num_classes)
    sar = SARHead(backbone.out_channels, num_classes + 2, max_text_length=sar_max_text_length) if use_sar else None
    return TextRecognizer(backbone, neck, head, sar)


# ---------------------------------------------------------------------------------------------------------- losses


def ctc_loss(logits: torch.Tensor, targets: torch.Tensor, target_lengths: torch.Tensor,
             zero_infinity: bool = True) -> torch.Tensor:
    """PaddleOCR CTCLoss: blank 0 on [N, T, C] logits, per-sample loss averaged over the batch (no division by the
    target length). targets [N, S] padded CTC class indices (dictionary index + 1). zero_infinity: a sample whose
    label cannot be aligned to the T time steps contributes 0 (and no gradient) instead of turning weights to NaN."""
    log_probs = F.log_softmax(logits.float(), dim=2).transpose(0, 1)  # [T, N, C]
    n, t = logits.shape[0], logits.shape[1]
    input_lengths = torch.full((n,), t, dtype=torch.long, device=logits.device)
    per_sample = F.ctc_loss(log_probs, targets.long(), input_lengths, target_lengths.long(), blank=0,
                            reduction="none", zero_infinity=zero_infinity)
    return per_sample.mean()


def sar_loss(logits: torch.Tensor, targets: torch.Tensor, pad_index: int) -> torch.Tensor:
    """SARLoss: cross-entropy of predictions[:, :-1] against targets[:, 1:], ignoring pad."""
    pred = logits[:, :-1].reshape(-1, logits.shape[-1])
    return F.cross_entropy(pred, targets[:, 1:].reshape(-1).long(), ignore_index=pad_index)


# ------------------------------------------------------------------------------------------ official weight import


def _is_weight(arr: np.ndarray) -> bool:
    """paddle2onnx stores parameters as float Constants; scalars and shape tensors are the only other constants."""
    return arr.dtype.kind == "f" and arr.size > 1


def onnx_weight_count(onnx_path: str | Path | OnnxGraph) -> int:
    """Number of weight values in the official ONNX graph (BN running statistics included)."""
    graph = onnx_path if isinstance(onnx_path, OnnxGraph) else OnnxGraph(onnx_path)
    return int(sum(a.size for a in graph.consts.values() if _is_weight(a)))


def inference_weight_count(model: TextRecognizer) -> int:
    """Parameters plus BN running statistics of the exported part (the number the ONNX graph stores)."""
    part = model.inference_modules()
    n = sum(p.numel() for p in part.parameters())
    n += sum(b.numel() for name, b in part.named_buffers() if not name.endswith("num_batches_tracked"))
    return int(n)


class _GraphIndex:
    def __init__(self, graph: OnnxGraph) -> None:
        self.graph = graph
        self.producer: dict[str, OnnxNode] = {o: n for n in graph.nodes for o in n.outputs}
        self.consumers: dict[str, list[OnnxNode]] = {}
        for n in graph.nodes:
            for i in n.inputs:
                self.consumers.setdefault(i, []).append(n)
        self.used: set[str] = set()

    def const(self, name: str) -> np.ndarray | None:
        return self.graph.consts.get(name)

    def take(self, name: str) -> np.ndarray:
        self.used.add(name)
        return self.graph.consts[name]

    def reshaped_const(self, tensor: str) -> str | None:
        """Name of the weight constant behind `tensor` if it is a constant or Reshape(constant)."""
        if tensor in self.graph.consts and _is_weight(self.graph.consts[tensor]):
            return tensor
        node = self.producer.get(tensor)
        if node is not None and node.op_type == "Reshape" and node.inputs[0] in self.graph.consts:
            return node.inputs[0] if _is_weight(self.graph.consts[node.inputs[0]]) else None
        return None

    def added_bias(self, tensor: str) -> str | None:
        """The bias constant of an Add that directly follows `tensor` (Conv without bias input, MatMul)."""
        for c in self.consumers.get(tensor, []):
            if c.op_type == "Add":
                other = c.inputs[1] if c.inputs[0] == tensor else c.inputs[0]
                name = self.reshaped_const(other)
                if name is not None:
                    return name
        return None

    def scalar_added(self, tensor: str) -> float | None:
        node = self.producer.get(tensor)
        if node is None or node.op_type != "Add":
            return None
        for i in node.inputs:
            a = self.const(i)
            if a is not None and a.size == 1:
                return float(a.reshape(-1)[0])
        return None


def _onnx_layers(index: _GraphIndex) -> list[dict]:
    """The parametrised layers of the graph in order: conv, bn, linear (MatMul [+ Add]) and the decomposed
    LayerNorm (ReduceMean/Sub/Pow/ReduceMean/Add eps/Sqrt/Div, then Mul scale and Add bias)."""
    g = index.graph
    layers: list[dict] = []
    for n in g.nodes:
        if n.op_type == "Conv":
            bias = n.inputs[2] if len(n.inputs) > 2 and n.inputs[2] else index.added_bias(n.outputs[0])
            layers.append({"kind": "conv", "node": n, "weight": index.take(n.inputs[1]),
                           "bias": None if bias is None else index.take(bias).reshape(-1)})
        elif n.op_type == "BatchNormalization":
            arrays = [index.take(i) for i in n.inputs[1:5]]
            layers.append({"kind": "bn", "node": n, "arrays": arrays, "eps": float(n.attrs.get("epsilon", 1e-5))})
        elif n.op_type == "MatMul" and n.inputs[1] in g.consts:
            bias = index.added_bias(n.outputs[0])
            layers.append({"kind": "linear", "node": n, "weight": index.take(n.inputs[1]),
                           "bias": None if bias is None else index.take(bias)})
        elif n.op_type == "Div":
            num, den = (index.producer.get(i) for i in n.inputs)
            if not (num is not None and den is not None and num.op_type == "Sub" and den.op_type == "Sqrt"):
                continue
            eps = index.scalar_added(den.inputs[0])
            mul = next((c for c in index.consumers.get(n.outputs[0], []) if c.op_type == "Mul"), None)
            scale = None if mul is None else index.reshaped_const(
                mul.inputs[1] if mul.inputs[0] == n.outputs[0] else mul.inputs[0])
            bias = None if mul is None else index.added_bias(mul.outputs[0])
            if eps is None or scale is None or bias is None:
                raise ValueError(f"{n.name}: layer-norm pattern without epsilon, scale or bias")
            layers.append({"kind": "ln", "node": n, "weight": index.take(scale), "bias": index.take(bias),
                           "eps": eps})
    return layers


def _check_conv(node: OnnxNode, conv: nn.Conv2d) -> None:
    pads = node.attrs.get("pads", [0, 0, 0, 0])
    want = {"stride": tuple(node.attrs.get("strides", [1, 1])), "groups": int(node.attrs.get("group", 1)),
            "padding": (int(pads[0]), int(pads[1]))}
    got = {"stride": tuple(conv.stride), "groups": conv.groups, "padding": tuple(conv.padding)}
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise ValueError(f"{node.name}: asymmetric padding {pads}")
    if want != got:
        raise ValueError(f"{node.name}: ONNX {want}, torch {got}")


def load_official_rec(model: TextRecognizer, onnx_path: str | Path | OnnxGraph) -> TextRecognizer:
    """Copy every weight of the official ch_PP-OCRv3_rec ONNX export into `model` (built by rec_svtr_lcnet with
    the default backbone and neck options and the matching class count).

    Layers are paired in execution order: Conv (SE conv biases are separate Reshape+Add constants in the export),
    BatchNormalization, MatMul + Add (Paddle Linear weight [in, out], transposed here), decomposed LayerNorm.
    Conv strides/pads/groups, BN and LayerNorm epsilons, the SE hard-sigmoid slope and the pooling are checked too.
    Raises ValueError on any mismatch, on ONNX weights left over and on torch layers without an ONNX weight.
    `onnx_path` may also be an already parsed OnnxGraph (parsing takes a few seconds)."""
    graph = onnx_path if isinstance(onnx_path, OnnxGraph) else OnnxGraph(onnx_path)
    index = _GraphIndex(graph)
    layers = _onnx_layers(index)
    types = (nn.Conv2d, nn.BatchNorm2d, nn.Linear, nn.LayerNorm)
    was_training = model.training
    model.eval()
    try:
        mods = modules_in_call_order(model, torch.zeros(1, 3, 48, 64), types)
    finally:
        model.train(was_training)
    part = model.inference_modules()
    unused = [name for name, m in part.named_modules() if isinstance(m, types) and all(m is not x for x in mods)]
    if unused:
        raise ValueError(f"torch layers not used by the inference forward (no official weights): {unused}")
    if len(layers) != len(mods):
        raise ValueError(f"{len(layers)} parametrised layers in ONNX, {len(mods)} in torch")
    kinds = {"conv": nn.Conv2d, "bn": nn.BatchNorm2d, "linear": nn.Linear, "ln": nn.LayerNorm}
    for i, (layer, mod) in enumerate(zip(layers, mods)):
        name = layer["node"].name
        if type(mod) is not kinds[layer["kind"]]:
            raise ValueError(f"layer {i}: ONNX {layer['kind']} ({name}) vs torch {type(mod).__name__}")
        if layer["kind"] == "conv":
            _check_conv(layer["node"], mod)
            copy_param(mod.weight, layer["weight"], f"{name} weight")
            if (layer["bias"] is None) != (mod.bias is None):
                raise ValueError(f"{name}: bias present in {'torch' if layer['bias'] is None else 'ONNX'} only")
            if mod.bias is not None:
                copy_param(mod.bias, layer["bias"], f"{name} bias")
        elif layer["kind"] == "bn":
            for dst, src, what in zip((mod.weight, mod.bias, mod.running_mean, mod.running_var), layer["arrays"],
                                      ("scale", "bias", "mean", "var")):
                copy_param(dst, src, f"{name} {what}")
            if not math.isclose(mod.eps, layer["eps"], rel_tol=1e-3):
                raise ValueError(f"{name}: BN eps {layer['eps']} in ONNX, {mod.eps} in torch")
        elif layer["kind"] == "linear":
            copy_param(mod.weight, layer["weight"].T, f"{name} weight")
            if (layer["bias"] is None) != (mod.bias is None):
                raise ValueError(f"{name}: bias present in {'torch' if layer['bias'] is None else 'ONNX'} only")
            if mod.bias is not None:
                copy_param(mod.bias, layer["bias"], f"{name} bias")
        else:
            copy_param(mod.weight, layer["weight"], f"{name} LayerNorm scale")
            copy_param(mod.bias, layer["bias"], f"{name} LayerNorm bias")
            if not math.isclose(mod.eps, layer["eps"], rel_tol=1e-3):
                raise ValueError(f"{name}: LayerNorm eps {layer['eps']} in ONNX, {mod.eps} in torch")
    left = sorted(k for k, a in graph.consts.items() if _is_weight(a) and k not in index.used)
    if left:
        raise ValueError(f"official weights not copied: {left}")
    _check_structure(graph, model)
    return model


def _check_structure(graph: OnnxGraph, model: TextRecognizer) -> None:
    """Non-weight settings that change the numbers: SE hard-sigmoid slope and the last pooling."""
    slopes = {round(float(n.attrs.get("alpha", 0.2)), 5) for n in graph.ops("HardSigmoid")}
    ours = {round(float(m.gate.slope), 5) for m in model.backbone.modules() if isinstance(m, SEModule)}
    if slopes != ours:
        raise ValueError(f"SE hard-sigmoid slopes {sorted(slopes)} in ONNX, {sorted(ours)} in torch")
    pools = graph.ops("AveragePool", "MaxPool")
    pool = getattr(model.backbone, "pool", None)
    if len(pools) != 1 or pool is None:
        raise ValueError(f"expected one backbone pooling in ONNX, found {len(pools)}")
    p = pools[0]
    kind = nn.AvgPool2d if p.op_type == "AveragePool" else nn.MaxPool2d
    if type(pool) is not kind or _pair(pool.kernel_size) != tuple(p.attrs["kernel_shape"]) or \
            _pair(pool.stride) != tuple(p.attrs.get("strides", [1, 1])):
        raise ValueError(f"backbone pool {pool} vs ONNX {p.op_type} {p.attrs}")
