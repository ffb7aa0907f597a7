"""The embedded bundle is exactly what `python -m convert.official_v3` produces from the official ONNX models,
and its IR computes what the official models compute."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import openvino as ov

from ppocr_edge.bundle import FP32_BUNDLE, load_bundle
from ppocr_edge.image_io import load_image
from ppocr_edge.preprocess import prepare_det, prepare_line_batch

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "receipt.png"


def test_conversion_reproduces_embedded_bundle(official, tmp_path):
    # a fresh process, as the README runs it: OpenVINO numbers auto-named nodes with a process-wide counter
    out = tmp_path / "bundle"
    subprocess.run([sys.executable, "-m", "convert.official_v3", "--out", str(out), "--download-dir",
                    str(official["det"].parent)], cwd=REPO, check=True, capture_output=True)
    ours = json.loads((FP32_BUNDLE / "manifest.json").read_text())
    new = json.loads((out / "manifest.json").read_text())
    assert new["files"] == ours["files"]  # same IR bytes, same dictionary
    assert new["models"] == ours["models"]
    assert new["source"] == ours["source"]
    assert len(load_bundle(out).characters) == 6624  # 6623 dictionary entries + space


def test_ir_matches_official_onnx(official):
    core = ov.Core()
    bundle = load_bundle(FP32_BUNDLE)
    cfg = {"INFERENCE_PRECISION_HINT": "f32"}
    img = load_image(SAMPLE)
    det_in = prepare_det(img, bundle.det.preprocess).tensor
    crops = [img[40:90, 30:520], img[110:150, 30:400]]
    rec_in, _ = prepare_line_batch(crops, bundle.rec.preprocess, 640)
    cls_in, _ = prepare_line_batch(crops, bundle.cls.preprocess, 192)
    for role, x in (("det", det_in), ("rec", rec_in), ("cls", cls_in)):
        ref = core.compile_model(str(official[role]), "CPU", cfg)(x)[0]
        got = core.compile_model(str(getattr(bundle, role).xml), "CPU", cfg)(x)[0]
        assert got.shape == ref.shape
        # BatchNorm folded into the convs by the conversion API reorders float sums: ~2e-5 on the det map
        assert np.abs(got - ref).max() < 1e-4, role


def test_conversion_takes_a_models_own_settings(official, tmp_path):
    """convert.paddle_onnx --settings: a release's own pre/post-processing replaces the PP-OCRv3 defaults in the
    manifest and in the pipeline; unknown roles, sections or keys are errors."""
    import pytest

    from convert.paddle_onnx import main, read_settings, role_settings
    from ppocr_edge import OCRPipeline

    settings = tmp_path / "v4.yaml"
    settings.write_text("det:\n  preprocess: {limit_side_len: 736, limit_type: min}\n"
                        "  postprocess: {box_thresh: 0.5, unclip_ratio: 1.6, use_dilation: true}\n", encoding="utf-8")
    out = tmp_path / "bundle"
    main(["--det", str(official["det"]), "--rec", str(official["rec"]), "--out", str(out),
          "--settings", str(settings)])
    b = load_bundle(out)
    assert b.det.preprocess["limit_side_len"] == 736 and b.det.preprocess["limit_type"] == "min"
    assert b.det.postprocess["unclip_ratio"] == 1.6 and b.det.postprocess["use_dilation"] is True
    assert b.det.postprocess["thresh"] == 0.3 and b.rec.preprocess == load_bundle(FP32_BUNDLE).rec.preprocess
    with OCRPipeline(out) as ocr:
        assert "TOTAL EUR 16.20" in [line.text for line in ocr(SAMPLE).lines]
    with pytest.raises(ValueError, match="unknown keys \\['unclip_ratoi'\\]"):
        role_settings({"det": {"postprocess": {"unclip_ratoi": 2.0}}}, "det", {}, {"unclip_ratio": 1.5})
    settings.write_text("detector: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown roles"):
        read_settings(settings)
