"""Quadrilateral geometry: point ordering, reading order, perspective crops and mapping crop x back to the image."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def order_clockwise(pts: np.ndarray) -> np.ndarray:
    """Order 4 points as top-left, top-right, bottom-right, bottom-left (clockwise in image coordinates)."""
    pts = np.asarray(pts, dtype=np.float32).reshape(4, 2)
    by_x = pts[np.argsort(pts[:, 0], kind="stable")]
    left, right = by_x[:2], by_x[2:]
    tl, bl = left[np.argsort(left[:, 1], kind="stable")]
    tr, br = right[np.argsort(right[:, 1], kind="stable")]
    return np.array([tl, tr, br, bl], dtype=np.float32)


def sort_reading_order(quads: list[np.ndarray], same_line: float = 0.5) -> list[int]:
    """Reading order: group boxes into lines along their baseline, lines top to bottom, boxes left to right.

    A box joins a line when its centre lies within same_line x (the smaller box height) of the line's nearest box's
    centre line, extended along that box's slope; so skewed pages keep their lines together (PP-OCR's fixed
    10-pixel tolerance on the top-left y splits a line of a page skewed by a degree or two).
    Returns the permutation (indices into quads).
    """
    if not quads:
        return []
    q = np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2)
    cx, cy = q[:, :, 0].mean(axis=1), q[:, :, 1].mean(axis=1)
    height = (np.linalg.norm(q[:, 3] - q[:, 0], axis=1) + np.linalg.norm(q[:, 2] - q[:, 1], axis=1)) / 2
    dx = (q[:, 1, 0] - q[:, 0, 0]) + (q[:, 2, 0] - q[:, 3, 0])
    dy = (q[:, 1, 1] - q[:, 0, 1]) + (q[:, 2, 1] - q[:, 3, 1])
    slope = np.where(np.abs(dx) > 1e-6, dy / np.where(np.abs(dx) > 1e-6, dx, 1.0), 0.0)
    slope = np.clip(slope, -1.0, 1.0)  # steeper than 45 degrees: treat as its own line
    lines: list[list[int]] = []
    for i in np.argsort(cy, kind="stable"):
        best, best_err = None, None
        for line in lines:
            j = min(line, key=lambda k: abs(cx[k] - cx[i]))
            err = abs(cy[i] - (cy[j] + slope[j] * (cx[i] - cx[j])))
            if err < same_line * min(height[i], height[j]) and (best_err is None or err < best_err):
                best, best_err = line, err
        if best is None:
            lines.append([int(i)])
        else:
            best.append(int(i))
    # order lines by where they cross x = 0 (their intercept), which is robust to page skew
    lines.sort(key=lambda line: float(np.mean([cy[k] - slope[k] * cx[k] for k in line])))
    return [k for line in lines for k in sorted(line, key=lambda k: cx[k])]


@dataclass(frozen=True)
class Crop:
    """A rectified text-line image and the transform that maps crop pixels back to the source image."""

    image: np.ndarray  # BGR, as fed to recognition (after any 90/180 degree rotation)
    inverse: np.ndarray  # 3x3 homography: rectified (unrotated) crop coords -> source image coords
    width: int  # rectified crop size before rotation
    height: int
    rotated90: bool  # tall crop rotated counter-clockwise so text runs left to right
    source_size: tuple[int, int]  # (height, width) of the source image
    flipped: bool = False  # turned 180 degrees by the direction classifier

    def to_image(self, x0: float, x1: float) -> np.ndarray:
        """Quad (4x2, clockwise from top-left) in source pixels covering displayed crop columns x0..x1."""
        w, h = (self.height, self.width) if self.rotated90 else (self.width, self.height)
        if self.flipped:
            x0, x1 = w - x1, w - x0
        # corners of the span in the displayed crop, clockwise from its top-left
        span = np.array([[x0, 0], [x1, 0], [x1, h], [x0, h]], dtype=np.float64)
        if self.rotated90:
            # displayed (u, v) came from np.rot90 (counter-clockwise): rectified x = width - v, y = u
            span = np.stack([self.width - span[:, 1], span[:, 0]], axis=1)
        ones = np.ones((4, 1))
        mapped = (self.inverse @ np.hstack([span, ones]).T).T
        return order_clockwise(mapped[:, :2] / mapped[:, 2:3])

    def with_flip(self) -> "Crop":
        return Crop(cv2.rotate(self.image, cv2.ROTATE_180), self.inverse, self.width, self.height, self.rotated90,
                    self.source_size, True)


def crop_quad(img: np.ndarray, quad: np.ndarray, rotate_ratio: float = 1.5) -> Crop:
    """PP-OCR get_rotate_crop_image: perspective-warp the quad to an upright rectangle (cubic, replicate border).

    A crop at least rotate_ratio times taller than wide is rotated 90 degrees counter-clockwise.
    """
    q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    w = int(max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[2] - q[3])))
    h = int(max(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2])))
    w, h = max(w, 1), max(h, 1)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(q, dst)
    out = cv2.warpPerspective(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    rotated = h / w >= rotate_ratio
    if rotated:
        out = np.ascontiguousarray(np.rot90(out))
    return Crop(out, np.linalg.inv(m.astype(np.float64)), w, h, rotated, (img.shape[0], img.shape[1]))


def whole_image_crop(img: np.ndarray, rotate_ratio: float = 1.5) -> Crop:
    """The whole image as one text line (no detection); a tall image is rotated as crop_quad rotates tall crops."""
    h, w = img.shape[:2]
    rotated = h / w >= rotate_ratio
    out = np.ascontiguousarray(np.rot90(img)) if rotated else img
    return Crop(out, np.eye(3), w, h, rotated, (h, w))
