"""Evaluate a torch recognizer the way the SDK runs it: ppocr_edge's crop rule for an image read without detection
(whole_image_crop: a crop 1.5x taller than wide is turned 90 degrees, and read both ways up, the more confident
reading kept), line batching, resize/normalisation and CTC
decoder, scored with ppocr_edge.evaluate.score_rec (RecCounter) (exact, case-insensitive alphanumeric, 1 - NED).
The numbers equal `ppocr-edge eval LABELS --task rec --no-cls` on the exported bundle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ppocr_edge.ctc import Decoded, ctc_greedy_decode
from ppocr_edge.evaluate import score_rec
from ppocr_edge.geometry import whole_image_crop
from ppocr_edge.preprocess import plan_rec_batches, prepare_line_batch, rec_needed_width


@dataclass
class EvalSet:
    name: str
    images: list[np.ndarray]  # BGR uint8 crops
    labels: list[str]


@torch.no_grad()
def recognize(model: nn.Module, crops: Sequence[np.ndarray], characters: Sequence[str], pre: Mapping[str, Any],
              device: torch.device | str = "cpu", batch_size: int | None = None) -> list[Decoded]:
    """Read crops with model (eval mode, softmax output [N, T, C]) as OCRPipeline(use_det=False, use_cls=False)
    reads images: tall crops turned and read both ways up, the pipeline's batching and decoding."""
    views = [whole_image_crop(c) for c in crops]
    tall = [i for i, v in enumerate(views) if v.rotated90]
    decoded = _read(model, [v.image for v in views] + [views[i].with_flip().image for i in tall], characters, pre,
                    device, batch_size)
    out = decoded[:len(views)]
    for i, flipped in zip(tall, decoded[len(views):]):
        if flipped.score > out[i].score:
            out[i] = flipped
    return out


def _read(model: nn.Module, crops: Sequence[np.ndarray], characters: Sequence[str], pre: Mapping[str, Any],
          device: torch.device | str, batch_size: int | None) -> list[Decoded]:
    height = int(pre["height"])
    buckets = [int(b) for b in pre["width_buckets"]]
    min_width = int(pre.get("min_width", buckets[0]))
    batch = int(batch_size or pre.get("batch_size", 8))
    needs = [rec_needed_width(c.shape[0], c.shape[1], height, min_width, buckets[-1]) for c in crops]
    out: list[Decoded | None] = [None] * len(crops)
    was_training = model.training
    model.eval()
    try:
        for idx, width in plan_rec_batches(needs, buckets, batch):
            x, _ = prepare_line_batch([crops[j] for j in idx], pre, width)
            probs = model(torch.from_numpy(x).to(device)).float().cpu().numpy()
            for j, dec in zip(idx, ctc_greedy_decode(probs, characters)):
                out[j] = dec
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]


def evaluate_set(model: nn.Module, data: EvalSet, characters: Sequence[str], pre: Mapping[str, Any],
                 device: torch.device | str = "cpu", batch_size: int | None = None) -> dict[str, float]:
    """acc (exact), acc_alnum (case-insensitive alphanumeric), one_minus_ned, n."""
    decoded = recognize(model, data.images, characters, pre, device, batch_size)
    s = score_rec([d.text.strip() for d in decoded], data.labels)
    return {"acc": s.accuracy, "acc_alnum": s.accuracy_alnum, "one_minus_ned": s.one_minus_ned, "n": s.samples}
