"""ppocr_edge: PP-OCRv3 text detection and recognition on OpenVINO for Intel CPUs."""

from .bundle import Bundle, load_bundle
from .errors import BundleError, ImageError, OCRError
from .pipeline import OCRPipeline
from .results import OCRResult, TextLine, Word

__all__ = ["OCRPipeline", "OCRResult", "TextLine", "Word", "Bundle", "load_bundle", "OCRError", "ImageError",
           "BundleError"]
__version__ = "0.1.0"
