"""Shared fixtures: one OCRPipeline for the whole session (compiling the models is the expensive part)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
REAL_DEV = REPO_ROOT.parent / "shared" / "data" / "real_dev"

if str(TESTS_DIR) not in sys.path:  # the rendering helpers live next to the tests
    sys.path.insert(0, str(TESTS_DIR))

MARKERS = {
    "units": "pure-function tests of pre/post-processing and geometry (no model inference)",
    "recognition": "end-to-end OCR of rendered text with known content",
    "real_data": "end-to-end OCR of real photos/scans from shared/data/real_dev",
    "bundle": "model bundle loading, validation and input errors",
    "concurrency": "__call__ / submit / map / threads give the same results",
    "needs_fonts": "renders text with Pillow and the DejaVu fonts (skipped when either is missing)",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")


@pytest.fixture(scope="session")
def ov_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ov_cache")


@pytest.fixture(scope="session")
def ocr(ov_cache_dir: Path):
    """The default pipeline (embedded PP-OCRv3 bundle, classifier on), shared by every test that only reads it."""
    from ppocr_edge import OCRPipeline

    pipeline = OCRPipeline(cache_dir=str(ov_cache_dir))
    yield pipeline
    pipeline.close()


@pytest.fixture(scope="session")
def ocr_fp32(ov_cache_dir: Path):
    """A pipeline on the FP32 bundle of the official models (the INT8 default is quantized from it)."""
    from ppocr_edge import OCRPipeline
    from ppocr_edge.bundle import FP32_BUNDLE

    pipeline = OCRPipeline(FP32_BUNDLE, cache_dir=str(ov_cache_dir))
    yield pipeline
    pipeline.close()


@pytest.fixture(scope="session")
def official(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The official ONNX files (det, rec, cls) from the rapidocr_onnxruntime==1.2.3 wheel, fetched once per session."""
    import subprocess

    from convert.official_v3 import fetch_official_onnx

    try:
        return fetch_official_onnx(tmp_path_factory.mktemp("official"))
    except (subprocess.CalledProcessError, OSError) as e:  # no package registry reachable
        pytest.skip(f"cannot download rapidocr_onnxruntime==1.2.3 for the official ONNX models: {e}")


@pytest.fixture(scope="session")
def real_dev() -> Path:
    if not REAL_DEV.is_dir():
        pytest.skip(f"real data not available: {REAL_DEV} does not exist (shared/data/real_dev next to the repo)")
    return REAL_DEV


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need fonts are skipped (not failed) on machines without DejaVu."""
    from ocr_render import fonts_available

    if fonts_available():
        return
    skip = pytest.mark.skip(reason="Pillow or the DejaVu fonts (/usr/share/fonts/truetype/dejavu) are missing")
    for item in items:
        if "needs_fonts" in item.keywords:
            item.add_marker(skip)
