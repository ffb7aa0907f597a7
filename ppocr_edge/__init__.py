"""ppocr_edge: PP-OCRv3 text detection and recognition on OpenVINO for Intel CPUs.

The public names are imported lazily, so that the OpenVINO-free modules (preprocess, ctc, metrics, datasets) can be
used by training code on machines without OpenVINO.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bundle import Bundle, load_bundle
    from .errors import BundleError, ImageError, MissingDependencyError, OCRError
    from .pipeline import OCRPipeline, ocr_document
    from .results import OCRResult, TextLine, Word

_EXPORTS = {"OCRPipeline": "pipeline", "ocr_document": "pipeline", "OCRResult": "results", "TextLine": "results",
            "Word": "results", "Bundle": "bundle", "load_bundle": "bundle", "OCRError": "errors",
            "ImageError": "errors", "BundleError": "errors", "MissingDependencyError": "errors"}
__all__ = list(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ppocr_edge' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
