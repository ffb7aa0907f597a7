"""Pages of documents: PDFs (rendered by pypdfium2, the optional `pdf` extra) and multi-page TIFFs (OpenCV).

iter_pages yields one BGR uint8 page at a time and keeps nothing of the pages already yielded, so a document of
any length is held in memory one page at a time. Any other image is a document of one page.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import ImageError, MissingDependencyError
from .image_io import TIFF_SIGNATURES, ImageInput, load_image, to_bgr

DEFAULT_DPI = 200.0
"""PDF render resolution. 200 dpi gives 10-point text ~28 px per em; the recognizer works at 48 px line height and the
detector scales a page to 960 px anyway, so more pixels buy little: on vector Helvetica lines (25 per size, measured
once) 7- to 12-point text read 24-25/25 at 150, 200 and 300 dpi, 5-point text 11/25 at 100 dpi but 20-22/25 from 150
up, 4-point 2, 8 and 11/25 at 150, 200 and 300. 200 keeps a margin above where small print fails, at 44% of the
pixels (render time, memory, crops) of 300."""

MAX_PAGE_PIXELS = 40_000_000
"""A PDF page whose rendering at the requested dpi would exceed this many pixels (e.g. a poster-sized page) is
rendered at the lower resolution that fits: an A4 page at 200 dpi has 3.9 M pixels, A1 31 M."""

_PDFIUM_LOCK = threading.Lock()  # PDFium is not thread-safe, even across documents: every call holds this lock


def document_kind(source: ImageInput) -> str | None:
    """'pdf' or 'tiff' from the leading bytes of a path or encoded bytes; None for anything else (arrays too)."""
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                head = f.read(1024)
        except OSError:
            return None  # missing or unreadable: load_image reports it
    elif isinstance(source, (bytes, bytearray, memoryview)):
        head = bytes(source[:1024])
    else:
        return None
    if b"%PDF-" in head:  # readers accept the header anywhere in the first 1024 bytes
        return "pdf"
    if head[:4] in TIFF_SIGNATURES:
        return "tiff"
    return None


def iter_pages(source: ImageInput, dpi: float = DEFAULT_DPI, password: str | None = None) -> Iterator[np.ndarray]:
    """Yield each page of a PDF, a (multi-page) TIFF or an image as a BGR uint8 HxWx3 array, in page order.

    dpi applies to PDF pages (see DEFAULT_DPI and MAX_PAGE_PIXELS); password opens an encrypted PDF. A PDF needs
    pypdfium2 (`pip install 'ppocr_edge[pdf]'`, else MissingDependencyError). An unreadable, truncated or
    encrypted document raises ImageError, when the iteration reaches it.
    """
    if not dpi > 0:
        raise ValueError(f"dpi must be positive, got {dpi}")
    kind = document_kind(source)
    if kind == "pdf":
        yield from _pdf_pages(source, dpi, password)
    elif kind == "tiff":
        yield from _tiff_pages(source)
    else:
        yield load_image(source)


def _describe(source: ImageInput) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else "document bytes"


# ------------------------------------------------------------------------------------------------ PDF
def _import_pdfium(name: str) -> Any:
    try:
        import pypdfium2
    except ImportError as e:
        raise MissingDependencyError(f"{name}: reading PDF files needs pypdfium2, which is not installed: "
                                     "pip install 'ppocr_edge[pdf]'") from e
    return pypdfium2


def _open_failure(pdfium: Any, error: Exception, name: str, password: str | None) -> ImageError:
    """Called under the lock, right after the failure: pypdfium2 < 5 has no err_code, PDFium's last error is it."""
    code = getattr(error, "err_code", None) or pdfium.raw.FPDF_GetLastError()
    if code == pdfium.raw.FPDF_ERR_PASSWORD:
        reason = ("encrypted PDF (password-protected): pass its password to open it" if not password else
                  "encrypted PDF, and the password given does not open it")
    elif code == pdfium.raw.FPDF_ERR_SECURITY:
        reason = "PDF protected by a security handler that PDFium does not support"
    elif code == pdfium.raw.FPDF_ERR_FORMAT:
        reason = "not a valid PDF: corrupt or truncated"
    else:
        reason = f"cannot be opened as a PDF ({error})"
    return ImageError(f"{name}: {reason}")


def _pdf_pages(source: ImageInput, dpi: float, password: str | None) -> Iterator[np.ndarray]:
    name = _describe(source)
    pdfium = _import_pdfium(name)
    data = str(source) if isinstance(source, (str, os.PathLike)) else bytes(source)  # type: ignore[arg-type]
    with _PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(data, password=password)
        except pdfium.PdfiumError as e:
            raise _open_failure(pdfium, e, name, password) from e
    try:
        with _PDFIUM_LOCK:
            doc.init_forms()  # before any page is loaded, so that filled-in form fields are drawn
            count = len(doc)
        if count == 0:
            raise ImageError(f"{name}: the PDF has no pages")
        for index in range(count):  # yielded straight from the call: no reference stays in this frame
            yield _render_pdf_page(pdfium, doc, index, dpi, f"{name}: page {index + 1} of {count}")
    finally:
        with _PDFIUM_LOCK:
            doc.close()


def _render_pdf_page(pdfium: Any, doc: Any, index: int, dpi: float, name: str) -> np.ndarray:
    with _PDFIUM_LOCK:
        return _render_pdf_page_locked(pdfium, doc, index, dpi, name)


def _render_pdf_page_locked(pdfium: Any, doc: Any, index: int, dpi: float, name: str) -> np.ndarray:
    try:
        page = doc[index]
    except pdfium.PdfiumError as e:
        raise ImageError(f"{name} cannot be loaded ({e})") from e
    try:
        width, height = page.get_size()  # PDF points, 1/72 inch
        if not (width > 0 and height > 0):
            raise ImageError(f"{name} has an empty page box ({width} x {height} pt)")
        scale = min(dpi / 72.0, math.sqrt(MAX_PAGE_PIXELS / (width * height)))
        bitmap = page.render(scale=scale)  # BGR, on white
        try:
            return np.array(bitmap.to_numpy())  # a copy: the bitmap's buffer is freed when it is closed
        finally:
            bitmap.close()
    except pdfium.PdfiumError as e:
        raise ImageError(f"{name} cannot be rendered ({e})") from e
    finally:
        page.close()


# ------------------------------------------------------------------------------------------------ TIFF
def _tiff_pages(source: ImageInput) -> Iterator[np.ndarray]:
    """Pages decoded one at a time (UNCHANGED keeps alpha and 16-bit samples; to_bgr converts them)."""
    name = _describe(source)
    flags = cv2.IMREAD_UNCHANGED
    if isinstance(source, (str, os.PathLike)) and (os.name != "nt" or str(source).isascii()):
        path = str(Path(source))  # libtiff reads the file: only the page being decoded is in memory
        count = cv2.imcount(path, flags)
        if count < 1:
            raise ImageError(f"{name}: not a decodable TIFF")
        for index in range(count):  # yielded straight from the call: no reference stays in this frame
            yield _tiff_page(cv2.imreadmulti(path, start=index, count=1, flags=flags), name, index, count)
        return
    # encoded bytes (or a non-ASCII path, which OpenCV cannot open on Windows): decode from memory, page by page
    if isinstance(source, (str, os.PathLike)):
        buf = np.fromfile(source, np.uint8)
    else:
        buf = np.frombuffer(bytes(source), np.uint8)  # type: ignore[arg-type]
    index = 0
    while True:  # as many pages as the decoder finds
        ok, mats = cv2.imdecodemulti(buf, flags, range=(index, index + 1))
        if not ok or not mats:
            break
        page = to_bgr(mats[0], f"{name}: page {index + 1}")
        del mats
        yield page
        del page  # released before the next page is decoded
        index += 1
    if index == 0:
        raise ImageError(f"{name}: not a decodable TIFF")


def _tiff_page(decoded: tuple[bool, Any], name: str, index: int, count: int) -> np.ndarray:
    ok, mats = decoded
    if not ok or not mats:
        raise ImageError(f"{name}: page {index + 1} of {count} cannot be decoded")
    return to_bgr(mats[0], f"{name}: page {index + 1}")
