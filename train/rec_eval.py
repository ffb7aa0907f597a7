"""Evaluate a torch recognizer the way the SDK runs it: ppocr_edge's line batching, resize/normalisation and CTC
decoder, scored with ppocr_edge.evaluate.score_rec (RecCounter) (exact, case-insensitive alphanumeric, 1 - NED)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ppocr_edge.ctc import Decoded, ctc_greedy_decode
from ppocr_edge.evaluate import score_rec
from ppocr_edge.preprocess import plan_rec_batches, prepare_line_batch, rec_needed_width


@dataclass
class EvalSet:
    name: str
    images: list[np.ndarray]  # BGR uint8 crops
    labels: list[str]


@torch.no_grad()
def recognize(model: nn.Module, crops: Sequence[np.ndarray], characters: Sequence[str], pre: Mapping[str, Any],
              device: torch.device | str = "cpu", batch_size: int | None = None) -> list[Decoded]:
    """Read crops with model (eval mode, softmax output [N, T, C]) using the pipeline's batching and decoding."""
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
