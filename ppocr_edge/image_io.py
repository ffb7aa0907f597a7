"""Decode and validate input images into BGR uint8 HxWx3 arrays, the layout every PP-OCR model expects."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import cv2
import numpy as np

from .errors import ImageError

ImageInput = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]


def _png_with_alpha(data: bytes) -> bool:
    # PNG signature, then the IHDR chunk; byte 25 is the colour type: 4 = gray+alpha, 6 = RGBA
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 25 and data[25] in (4, 6)


def _decode_bytes(data: bytes, source: str) -> np.ndarray:
    if len(data) == 0:
        raise ImageError(f"{source}: empty file")
    buf = np.frombuffer(data, dtype=np.uint8)
    # ANYDEPTH|ANYCOLOR keeps gray and 16-bit pixels and applies the EXIF orientation; UNCHANGED (which ignores EXIF)
    # is needed only to keep a PNG's alpha channel
    flags = cv2.IMREAD_UNCHANGED if _png_with_alpha(data) else cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    img = cv2.imdecode(buf, flags)
    if img is None:
        raise ImageError(f"{source}: not a decodable image")
    return img


def read_image_bytes(image: ImageInput) -> tuple[np.ndarray, str]:
    """Decode a path or encoded bytes without normalising; returns (raw array, description)."""
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise ImageError(f"{path}: no such file")
        return _decode_bytes(path.read_bytes(), str(path)), str(path)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _decode_bytes(bytes(image), "image bytes"), "image bytes"
    raise ImageError(f"unsupported image type {type(image).__name__}")


def to_bgr(img: np.ndarray, source: str = "image") -> np.ndarray:
    """Convert a decoded or user array to contiguous BGR uint8 HxWx3.

    Accepts HxW (gray), HxWx1, HxWx3 (BGR) and HxWx4 (BGRA, composited on white) arrays of uint8 or uint16
    (scaled to 8 bits). Anything else raises ImageError.
    """
    if not isinstance(img, np.ndarray):
        raise ImageError(f"{source}: expected a numpy array, got {type(img).__name__}")
    if img.dtype == np.uint16:
        img = (img.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageError(f"{source}: dtype {img.dtype} is not supported; pass uint8 (or uint16) pixels")
    if img.size == 0:
        raise ImageError(f"{source}: empty image (shape {img.shape})")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.ndim == 3 and img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        img = (img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    elif not (img.ndim == 3 and img.shape[2] == 3):
        raise ImageError(f"{source}: shape {img.shape} is not HxW, HxWx1, HxWx3 or HxWx4")
    return np.ascontiguousarray(img)


def load_image(image: ImageInput) -> np.ndarray:
    """Any supported input (path, bytes, array) -> BGR uint8 HxWx3."""
    if isinstance(image, np.ndarray):
        return to_bgr(image, "array")
    raw, source = read_image_bytes(image)
    return to_bgr(raw, source)
