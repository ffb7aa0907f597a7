"""Decode and validate input images into BGR uint8 HxWx3 arrays, the layout every PP-OCR model expects."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import cv2
import numpy as np

from .errors import ImageError

ImageInput = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders


def _png_has_alpha(data: bytes) -> bool:
    """Colour type 4 (gray+alpha) or 6 (RGBA) in IHDR, or a tRNS chunk (a transparent palette entry or colour)."""
    if len(data) <= 25:
        return False
    if data[25] in (4, 6):
        return True
    pos = 8
    while pos + 8 <= len(data):
        length, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        if kind == b"tRNS":
            return True
        if kind == b"IDAT":  # tRNS must come before the image data
            return False
        pos += 12 + length
    return False


def _webp_has_alpha(data: bytes) -> bool:
    chunk = data[12:16]
    if chunk == b"VP8X":
        return len(data) > 20 and bool(data[20] & 0x10)  # the extended header's alpha flag
    if chunk == b"VP8L":  # lossless: 14-bit width, 14-bit height, then the alpha_is_used bit
        return len(data) >= 25 and bool(int.from_bytes(data[21:25], "little") >> 28 & 1)
    return False


def _keeps_alpha(data: bytes) -> bool:
    """Whether to decode with IMREAD_UNCHANGED: inputs that may carry transparency.

    ANYDEPTH|ANYCOLOR keeps gray and 16-bit pixels and applies a JPEG's EXIF orientation but drops alpha;
    UNCHANGED keeps alpha but ignores EXIF, so it is used only where alpha may matter. TIFF decoding applies the
    TIFF orientation tag under every flag, so TIFFs always keep their alpha.
    """
    if data[:8] == PNG_SIGNATURE:
        return _png_has_alpha(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_has_alpha(data)
    return data[:4] in TIFF_SIGNATURES


def _decode_bytes(data: bytes, source: str) -> np.ndarray:
    if len(data) == 0:
        raise ImageError(f"{source}: empty file")
    flags = cv2.IMREAD_UNCHANGED if _keeps_alpha(data) else cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if img is None:
        if b"%PDF-" in data[:1024]:
            raise ImageError(f"{source}: a PDF document, not an image: use OCRPipeline.pages() or ocr_document()")
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


def flatten_alpha(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite uint8 pixels (HxW gray or HxWx3 BGR) with their HxW alpha onto a plain background.

    The background is chosen so that the content stays visible: black under a light foreground (mean luminance
    under the alpha mask above mid-gray, e.g. white text on a transparent logo), white otherwise. Opaque pixels are
    kept exactly; a fully transparent image becomes plain white.
    """
    if alpha.min() == 255:
        return color
    a = alpha.astype(np.uint16)
    gray = color if color.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(color), cv2.COLOR_BGR2GRAY)
    weight = int(a.sum(dtype=np.uint64))
    light = weight > 0 and 2 * int((gray.astype(np.uint64) * a).sum()) > 255 * weight
    background = 0 if light else 255
    if color.ndim == 3:
        a = a[:, :, None]
    # color * a + background * (255 - a) <= 255 * 255: fits 16 bits; + 127 rounds the division
    return ((color.astype(np.uint16) * a + background * (255 - a) + 127) // 255).astype(np.uint8)


def to_bgr(img: np.ndarray, source: str = "image") -> np.ndarray:
    """Convert a decoded or user array to contiguous BGR uint8 HxWx3.

    Accepts HxW (gray), HxWx1, HxWx2 (gray + alpha), HxWx3 (BGR) and HxWx4 (BGRA) arrays of uint8 or uint16
    (scaled to 8 bits). Transparent images are flattened by flatten_alpha. Anything else raises ImageError.
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
    elif img.ndim == 3 and img.shape[2] == 2:
        img = flatten_alpha(img[:, :, 0], img[:, :, 1])
    elif img.ndim == 3 and img.shape[2] == 4:
        img = flatten_alpha(img[:, :, :3], img[:, :, 3])
    if img.ndim == 2:
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_GRAY2BGR)
    elif not (img.ndim == 3 and img.shape[2] == 3):
        raise ImageError(f"{source}: shape {img.shape} is not HxW, HxWx1, HxWx2 (gray + alpha), HxWx3 (BGR) or "
                         "HxWx4 (BGRA)")
    return np.ascontiguousarray(img)


def load_image(image: ImageInput) -> np.ndarray:
    """Any supported input (path, bytes, array) -> BGR uint8 HxWx3."""
    if isinstance(image, np.ndarray):
        return to_bgr(image, "array")
    raw, source = read_image_bytes(image)
    return to_bgr(raw, source)
