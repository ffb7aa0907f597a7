"""DB training targets (PP-OCRv3's MakeShrinkMap / MakeBorderMap; brief section 2.3).

    targets = db_targets(item.image.shape[:2], item.polys, item.ignore)
    targets.shrink_map, targets.shrink_mask, targets.threshold_map, targets.threshold_mask   # HxW float32

Shrink map: each valid polygon offset inward by D = A (1 - r^2) / L (r = 0.4, area A, perimeter L) and filled with 1;
ignored polygons, polygons whose box is under min_text_size pixels and polygons that vanish when shrunk are
masked out (mask 0). Threshold map: inside each non-ignored polygon dilated by D, 1 - dist/D to the nearest
polygon edge (clipped to [0, 1]), max over polygons, then scaled to [thresh_min, thresh_max] = [0.3, 0.7]; its mask
is the union of the dilated polygons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pyclipper

SHRINK_RATIOS = (0.4, 0.8)  # the official retry list: arange(0.4, 1, 0.4)


@dataclass(frozen=True)
class DBTargets:
    shrink_map: np.ndarray  # HxW float32, 1 inside the shrunk text polygons
    shrink_mask: np.ndarray  # HxW float32, 0 over ignored / too small text
    threshold_map: np.ndarray  # HxW float32 in [thresh_min, thresh_max]
    threshold_mask: np.ndarray  # HxW float32, 1 inside the dilated text polygons
    ignore: tuple[bool, ...]  # per polygon, after validation and the size rule


def polygon_area(poly: np.ndarray) -> float:
    return abs(float(cv2.contourArea(poly.astype(np.float32))))


def polygon_perimeter(poly: np.ndarray) -> float:
    return float(cv2.arcLength(poly.astype(np.float32).reshape(-1, 1, 2), True))


def offset_distance(poly: np.ndarray, ratio: float) -> float:
    """D = A (1 - r^2) / L."""
    length = polygon_perimeter(poly)
    return polygon_area(poly) * (1 - ratio ** 2) / length if length > 0 else 0.0


def offset_polygon(poly: np.ndarray, distance: float) -> list[np.ndarray]:
    """The polygon offset by `distance` pixels (negative: inward), round joins; may split or vanish."""
    pco = pyclipper.PyclipperOffset()
    pco.AddPath([tuple(p) for p in np.round(poly).astype(np.int64).tolist()], pyclipper.JT_ROUND,
                pyclipper.ET_CLOSEDPOLYGON)
    return [np.array(p, dtype=np.float32).reshape(-1, 2) for p in pco.Execute(distance)]


def validate_polygons(polys: Sequence[np.ndarray], ignore: Sequence[bool], h: int, w: int
                      ) -> tuple[list[np.ndarray], list[bool]]:
    """Clip to the image, mark polygons of area < 1 ignored, orient them all the same way (negative shoelace
    sum in image coordinates, as the official code)."""
    out, flags = [], []
    for poly, ign in zip(polys, ignore):
        p = np.asarray(poly, dtype=np.float32).reshape(-1, 2).copy()
        p[:, 0] = np.clip(p[:, 0], 0, w - 1)
        p[:, 1] = np.clip(p[:, 1], 0, h - 1)
        shoelace = float(np.sum((np.roll(p[:, 0], -1) - p[:, 0]) * (np.roll(p[:, 1], -1) + p[:, 1]))) / 2
        if abs(shoelace) < 1:
            ign = True
        if shoelace > 0:
            p = p[::-1].copy()
        out.append(p)
        flags.append(bool(ign))
    return out, flags


def shrink_targets(h: int, w: int, polys: Sequence[np.ndarray], ignore: Sequence[bool], *,
                   ratio: float = 0.4, min_text_size: int = 8) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    """(shrink map, shrink mask, ignore flags) for validated polygons."""
    gt = np.zeros((h, w), np.float32)
    mask = np.ones((h, w), np.float32)
    flags = list(ignore)
    ratios = [ratio] + [r for r in SHRINK_RATIOS if r > ratio]
    for i, poly in enumerate(polys):
        size = min(np.ptp(poly[:, 1]), np.ptp(poly[:, 0]))
        if flags[i] or size < min_text_size:
            cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 0.0)
            flags[i] = True
            continue
        shrunk: list[np.ndarray] = []
        for r in ratios:
            shrunk = offset_polygon(poly, -offset_distance(poly, r))
            if len(shrunk) == 1:
                break
        if not shrunk:
            cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 0.0)
            flags[i] = True
            continue
        cv2.fillPoly(gt, [np.round(s).astype(np.int32) for s in shrunk], 1.0)
    return gt, mask, flags


def edge_distances(xs: np.ndarray, ys: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Distance from each grid point (xs, ys broadcastable) to the nearest edge of a closed polygon: to the
    perpendicular foot where it lies on the edge, otherwise to the nearer end point."""
    best = np.full(np.broadcast(xs, ys).shape, np.inf, np.float32)
    for (ax, ay), (bx, by) in zip(poly, np.roll(poly, -1, axis=0)):
        dx, dy = bx - ax, by - ay
        seg2 = dx * dx + dy * dy
        t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / seg2, 0.0, 1.0) if seg2 > 0 else np.zeros_like(best)
        d = np.hypot(xs - (ax + t * dx), ys - (ay + t * dy))
        np.minimum(best, d, out=best)
    return best


def border_targets(h: int, w: int, polys: Sequence[np.ndarray], ignore: Sequence[bool], *, ratio: float = 0.4,
                   thresh_min: float = 0.3, thresh_max: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """(threshold map, threshold mask) for validated polygons; ignored ones contribute nothing."""
    canvas = np.zeros((h, w), np.float32)
    mask = np.zeros((h, w), np.float32)
    for poly, ign in zip(polys, ignore):
        if ign:
            continue
        distance = offset_distance(poly, ratio)
        if distance <= 0:
            continue
        padded = offset_polygon(poly, distance)
        if not padded:
            continue
        padded_poly = padded[0]
        cv2.fillPoly(mask, [np.round(padded_poly).astype(np.int32)], 1.0)
        x0, y0 = np.floor(padded_poly.min(0)).astype(int)
        x1, y1 = np.ceil(padded_poly.max(0)).astype(int)
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
        if cx1 < cx0 or cy1 < cy0:
            continue
        xs = np.arange(cx0, cx1 + 1, dtype=np.float32)[None, :]
        ys = np.arange(cy0, cy1 + 1, dtype=np.float32)[:, None]
        closeness = 1.0 - np.clip(edge_distances(xs, ys, poly) / distance, 0.0, 1.0)
        region = canvas[cy0:cy1 + 1, cx0:cx1 + 1]
        np.maximum(region, closeness, out=region)
    return canvas * (thresh_max - thresh_min) + thresh_min, mask


def db_targets(hw: tuple[int, int], polys: Sequence[np.ndarray], ignore: Sequence[bool], *, shrink_ratio: float = 0.4,
               min_text_size: int = 8, thresh_min: float = 0.3, thresh_max: float = 0.7) -> DBTargets:
    """All four DB maps for an image of size hw. The border map uses the label's ignore flags (it runs before the
    shrink map's size rule in PP-OCR's transform order)."""
    h, w = hw
    valid, flags = validate_polygons(polys, ignore, h, w)
    tmap, tmask = border_targets(h, w, valid, flags, ratio=shrink_ratio, thresh_min=thresh_min, thresh_max=thresh_max)
    gt, mask, flags = shrink_targets(h, w, valid, flags, ratio=shrink_ratio, min_text_size=min_text_size)
    return DBTargets(gt, mask, tmap, tmask, tuple(flags))
