"""Inference precision option: bf16 reads the sample like f32; unknown values are rejected before compiling."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppocr_edge import OCRPipeline
from ppocr_edge.bundle import FP32_BUNDLE

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "receipt.png"


def test_bf16_reads_like_f32(ocr_fp32, ov_cache_dir):
    # bf16 execution of the FP32 models (the INT8 default has little float compute left to speed up)
    f32 = ocr_fp32(SAMPLE)
    bf16 = OCRPipeline(FP32_BUNDLE, precision="bf16", cache_dir=str(ov_cache_dir))(SAMPLE)
    assert len(f32.lines) >= 10
    same = sum(a.text == b.text for a, b in zip(f32.lines, bf16.lines))
    assert len(bf16.lines) == len(f32.lines) and same >= 0.9 * len(f32.lines)


def test_unknown_precision_is_rejected():
    with pytest.raises(ValueError, match="precision"):
        OCRPipeline(precision="int4")
