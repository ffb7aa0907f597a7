"""DB (Differentiable Binarization) post-processing: probability map -> text quads, as PP-OCR does it."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pyclipper

from .geometry import order_clockwise, sort_reading_order
from .preprocess import DetInput


@dataclass(frozen=True)
class DBParams:
    thresh: float = 0.3
    box_thresh: float = 0.6
    unclip_ratio: float = 1.5
    max_candidates: int = 1000
    use_dilation: bool = False
    score_mode: str = "fast"  # "fast": mean prob inside the box; "slow": inside the contour polygon
    min_size: float = 3.0

    @classmethod
    def from_dict(cls, d: dict) -> "DBParams":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        params = cls(**known)
        if params.score_mode not in ("fast", "slow"):
            raise ValueError(f"score_mode must be 'fast' or 'slow', not {params.score_mode!r}")
        return params


def _min_box(points: np.ndarray) -> tuple[np.ndarray, float]:
    rect = cv2.minAreaRect(points.astype(np.float32))
    return order_clockwise(cv2.boxPoints(rect)), float(min(rect[1]))


def _box_score(prob: np.ndarray, poly: np.ndarray) -> float:
    """Mean probability inside a polygon, computed within its clipped bounding box."""
    h, w = prob.shape
    xmin = int(np.clip(np.floor(poly[:, 0].min()), 0, w - 1))
    xmax = int(np.clip(np.ceil(poly[:, 0].max()), 0, w - 1))
    ymin = int(np.clip(np.floor(poly[:, 1].min()), 0, h - 1))
    ymax = int(np.clip(np.ceil(poly[:, 1].max()), 0, h - 1))
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    shifted = (poly - np.array([xmin, ymin], dtype=np.float32)).astype(np.int32)
    cv2.fillPoly(mask, [shifted.reshape(-1, 1, 2)], 1)
    return float(cv2.mean(prob[ymin : ymax + 1, xmin : xmax + 1], mask)[0])


def _unclip(box: np.ndarray, ratio: float) -> list[np.ndarray]:
    poly = box.astype(np.float64)
    area = abs(cv2.contourArea(poly.astype(np.float32)))
    length = cv2.arcLength(poly.astype(np.float32), True)
    if length <= 0:
        return []
    distance = area * ratio / length
    offset = pyclipper.PyclipperOffset()
    offset.AddPath([tuple(p) for p in poly.tolist()], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return [np.array(p, dtype=np.float32) for p in offset.Execute(distance)]


def db_boxes(prob: np.ndarray, params: DBParams, scale_xy: tuple[float, float], clip_wh: tuple[int, int]
             ) -> list[tuple[np.ndarray, float]]:
    """Quads (clockwise, float32 4x2, source pixels) and their scores from a HxW probability map.

    scale_xy maps map pixels to source pixels; clip_wh is the source size (boxes are clipped to it).
    """
    seg = (prob > params.thresh).astype(np.uint8)
    if params.use_dilation:
        seg = cv2.dilate(seg, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(seg * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    sx, sy = scale_xy
    out: list[tuple[np.ndarray, float]] = []
    for contour in contours[: params.max_candidates]:
        pts = contour.reshape(-1, 2)
        box, short = _min_box(pts)
        if short < params.min_size:
            continue
        poly = pts.astype(np.float32) if params.score_mode == "slow" else box
        score = _box_score(prob, poly)
        if score < params.box_thresh:
            continue
        expanded = _unclip(box, params.unclip_ratio)
        if len(expanded) != 1:
            continue
        box, short = _min_box(expanded[0])
        if short < params.min_size + 2:
            continue
        box = box * np.array([sx, sy], dtype=np.float32)
        box[:, 0] = np.clip(np.round(box[:, 0]), 0, clip_wh[0])
        box[:, 1] = np.clip(np.round(box[:, 1]), 0, clip_wh[1])
        out.append((box, score))
    return out


def detect_quads(prob_map: np.ndarray, inp: DetInput, params: DBParams) -> list[np.ndarray]:
    """Text quads (clockwise, source pixels, reading order) from the detector's output for one prepared image.

    prob_map: the model output (1x1xHpxWp or HpxWp, padded like inp.tensor). Boxes are clipped to the image and
    those whose rectified width or height is <= 3 px are dropped, as PP-OCR does."""
    rh, rw = inp.resized_hw
    h, w = inp.source_hw
    prob = prob_map.reshape(prob_map.shape[-2:])[:rh, :rw]
    quads = []
    for box, _score in db_boxes(prob, params, (w / rw, h / rh), (w, h)):
        q = order_clockwise(box)
        q[:, 0] = np.clip(q[:, 0], 0, w - 1)
        q[:, 1] = np.clip(q[:, 1], 0, h - 1)
        if int(np.linalg.norm(q[0] - q[1])) > 3 and int(np.linalg.norm(q[0] - q[3])) > 3:
            quads.append(q)
    return [quads[i] for i in sort_reading_order(quads)]
