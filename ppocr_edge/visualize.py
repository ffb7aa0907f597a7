"""Draw OCR results onto an image (boxes, and the recognised text beside a copy of the page)."""

from __future__ import annotations

import cv2
import numpy as np

from .results import OCRResult


def _ascii(text: str) -> str:
    # cv2's Hershey fonts only draw ASCII; other characters become '?'
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)


def draw_result(img: np.ndarray, result: OCRResult) -> np.ndarray:
    """Side by side: the image with line (green) and word (blue) boxes, and a white panel with each line's text."""
    left = img.copy()
    right = np.full_like(img, 255)
    for line in result.lines:
        quad = np.array(line.box, dtype=np.int32).reshape(-1, 1, 2)
        for word in line.words:
            cv2.polylines(left, [np.array(word.box, dtype=np.int32).reshape(-1, 1, 2)], True, (255, 128, 0), 1)
        cv2.polylines(left, [quad], True, (0, 180, 0), 2)
        cv2.polylines(right, [quad], True, (200, 200, 200), 1)
        xs, ys = quad[:, 0, 0], quad[:, 0, 1]
        height = max(int(ys.max() - ys.min()), 8)
        text = _ascii(line.text)
        scale = 1.0
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        scale = min(height * 0.8 / max(th, 1), max(int(xs.max() - xs.min()), 8) / max(tw, 1))
        cv2.putText(right, text, (int(xs.min()), int(ys.max() - height * 0.15)), cv2.FONT_HERSHEY_SIMPLEX,
                    max(scale, 0.2), (0, 0, 0), 1, cv2.LINE_AA)
    return np.hstack([left, right])
