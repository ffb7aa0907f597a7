"""Model input preparation, faithful to PP-OCR: det resize (multiple of 32), normalisation, rec/cls resize.

These functions are the single source of truth for the SDK, the converters' calibration sets and training-time
evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np


@dataclass(frozen=True)
class DetInput:
    tensor: np.ndarray  # 1x3xHpxWp float32, normalised; padded to the shape bucket
    resized_hw: tuple[int, int]  # the region of the tensor holding the image
    source_hw: tuple[int, int]


def det_resize_shape(h: int, w: int, limit_side_len: int, limit_type: str, max_side: int) -> tuple[int, int]:
    """PP-OCR DetResizeForTest: scale by limit_type ('max', 'min', 'resize_long'), round each side to 32.

    max_side caps the longer side afterwards so that extreme aspect ratios cannot explode the input.
    """
    if limit_type == "max":
        ratio = limit_side_len / max(h, w) if max(h, w) > limit_side_len else 1.0
    elif limit_type == "min":
        ratio = limit_side_len / min(h, w) if min(h, w) < limit_side_len else 1.0
    elif limit_type == "resize_long":
        ratio = limit_side_len / max(h, w)
    else:
        raise ValueError(f"unknown limit_type {limit_type!r}")
    rh = max(int(round(h * ratio / 32)) * 32, 32)
    rw = max(int(round(w * ratio / 32)) * 32, 32)
    if max(rh, rw) > max_side:
        ratio = max_side / max(h, w)
        rh = max(int(h * ratio / 32) * 32, 32)
        rw = max(int(w * ratio / 32) * 32, 32)
    return rh, rw


def normalize_into(dst: np.ndarray, img: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> None:
    """Write (img/255 - mean)/std, channels in the image's own order (BGR), as CHW into dst (3xHxW float32)."""
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    for c in range(3):
        # (x/255 - m)/s == x * (1/(255 s)) - m/s
        np.multiply(f[:, :, c], 1.0 / (255.0 * std[c]), out=dst[c, :h, :w])
        dst[c, :h, :w] -= mean[c] / std[c]


def det_padded_side(side: int, step: int, largest: int) -> int:
    """A resized side padded up to a multiple of step, but never beyond the largest side the resize can produce
    (a 960 px side stays 960 rather than 1024): the shape buckets stay as few, with less padding computed."""
    return max(side, min(math.ceil(side / step) * step, largest))


def det_largest_side(limit_side_len: int, limit_type: str, max_side: int) -> int:
    """The longest side det_resize_shape can return."""
    cap = max(max_side // 32 * 32, 32)
    return cap if limit_type == "min" else min(max(int(round(limit_side_len / 32)) * 32, 32), cap)


def prepare_det(img: np.ndarray, pre: dict) -> DetInput:
    """Resize a BGR page for the DB detector and pad it (with normalised zeros) to a multiple of size_step, or to
    the largest side the resize can produce where that is smaller."""
    h, w = img.shape[:2]
    limit, kind, max_side = int(pre["limit_side_len"]), str(pre["limit_type"]), int(pre.get("max_side", 4000))
    rh, rw = det_resize_shape(h, w, limit, kind, max_side)
    step, largest = int(pre.get("size_step", 32)), det_largest_side(limit, kind, max_side)
    ph, pw = det_padded_side(rh, step, largest), det_padded_side(rw, step, largest)
    resized = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR) if (rh, rw) != (h, w) else img
    tensor = np.zeros((1, 3, ph, pw), dtype=np.float32)
    normalize_into(tensor[0], resized, pre["mean"], pre["std"])
    return DetInput(tensor, (rh, rw), (h, w))


def rec_resized_width(h: int, w: int, height: int, max_width: int) -> int:
    """Width of a crop resized to the model height keeping its aspect ratio (PP-OCR: ceil), within [1, max_width]."""
    return max(1, min(max_width, int(math.ceil(height * w / max(h, 1)))))


def rec_needed_width(h: int, w: int, height: int, min_width: int, max_width: int) -> int:
    """The width a crop of h x w pixels needs in a recognition batch: resized to the model height keeping its
    aspect ratio, at least min_width (short words read better with some padding), at most max_width."""
    return max(min_width, rec_resized_width(h, w, height, max_width))


def bucket_width(width: int, buckets: Sequence[int]) -> int:
    """Smallest bucket >= width (the largest bucket if none is)."""
    for b in buckets:
        if b >= width:
            return int(b)
    return int(buckets[-1])


def plan_rec_batches(widths: Sequence[int], buckets: Sequence[int], max_batch: int,
                     call_cost: float = 64.0) -> list[tuple[list[int], int]]:
    """Group text lines into recognition batches at the least padded compute.

    widths: each line's resized width (already raised to the minimum width). A batch runs at the bucket of its
    widest line, so every line in it costs that bucket's width. Lines are sorted by width and cut into consecutive
    batches of at most max_batch by dynamic programming, minimising sum(bucket x lines) + call_cost per batch
    (call_cost: the fixed cost of one inference call, in pixel columns; ~0.5-1 ms, i.e. ~64 columns of a 48 px
    line on a 2-core CPU). Returns (line indices, bucket width) per batch.
    """
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    n = len(order)
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        bucket = bucket_width(widths[order[j - 1]], buckets)
        for k in range(max(0, j - max_batch), j):
            cost = best[k] + bucket * (j - k) + call_cost
            if cost < best[j]:
                best[j], cut[j] = cost, k
    batches = []
    j = n
    while j > 0:
        k = cut[j]
        batches.append((order[k:j], bucket_width(widths[order[j - 1]], buckets)))
        j = k
    return batches[::-1]


def prepare_line_batch(crops: Sequence[np.ndarray], pre: dict, target_width: int) -> tuple[np.ndarray, list[int]]:
    """Resize crops to the model height, normalise to [-1, 1] (mean/std from the manifest) and right-pad with 0.

    Returns the NCHW batch and each crop's resized width (its valid region, needed to map time steps back).
    """
    height = int(pre["height"])
    mean, std = pre["mean"], pre["std"]
    batch = np.zeros((len(crops), 3, height, target_width), dtype=np.float32)
    widths = []
    for i, crop in enumerate(crops):
        rw = rec_resized_width(crop.shape[0], crop.shape[1], height, target_width)
        resized = cv2.resize(crop, (rw, height), interpolation=cv2.INTER_LINEAR)
        normalize_into(batch[i], resized, mean, std)
        widths.append(rw)
    return batch, widths
