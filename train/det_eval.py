"""Detector evaluation during training, through the SDK's own resize (ppocr_edge.preprocess.prepare_det), DB
post-processing (ppocr_edge.db_postprocess.detect_quads) and metrics (ppocr_edge.metrics.DetCounter: IoU 0.5,
'###' ignored) — the numbers `ppocr-edge eval --task det` gives for the exported model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ppocr_edge.datasets import TextRegion
from ppocr_edge.db_postprocess import DBParams, detect_quads
from ppocr_edge.metrics import DetCounter
from ppocr_edge.preprocess import prepare_det

from .det_data import DetEvalSet


@torch.no_grad()
def detect(model: nn.Module, image: np.ndarray, pre: Mapping[str, Any], params: DBParams,
           device: torch.device) -> list[np.ndarray]:
    """Text quads (source pixels, reading order) of one BGR image, as OCRPipeline's detection stage finds them."""
    was_training = model.training
    model.eval()
    try:
        inp = prepare_det(image, dict(pre))
        prob = model(torch.from_numpy(inp.tensor).to(device))
        return detect_quads(prob.float().cpu().numpy(), inp, params)
    finally:
        model.train(was_training)


def evaluate_det_set(model: nn.Module, data: DetEvalSet, pre: Mapping[str, Any], params: DBParams,
                     device: torch.device) -> dict[str, float]:
    counter = DetCounter()
    for image, gts in zip(data.images, data.regions):
        counter.add(gts, [TextRegion.from_points(q) for q in detect(model, image, pre, params, device)])
    s = counter.scores()
    return {"precision": s.precision, "recall": s.recall, "hmean": s.hmean}
