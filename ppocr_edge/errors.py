"""Exception types raised by ppocr_edge. Every error the SDK raises on bad input derives from OCRError."""

from __future__ import annotations


class OCRError(Exception):
    """Base class of every error raised by ppocr_edge."""


class ImageError(OCRError, ValueError):
    """An input image cannot be used: unreadable file, not an image, empty, or an unsupported dtype/shape."""


class BundleError(OCRError):
    """A model bundle is missing, corrupt, or its files do not match each other or the manifest."""


class MissingDependencyError(OCRError, ImportError):
    """An optional dependency needed for this input is not installed (the message names the pip extra)."""
