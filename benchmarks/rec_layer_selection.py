"""Which recognizer layers to keep float in INT8, judged on held-out synthetic data instead of the real dev set.

    python -m train.synth --out data/synth_sel --pages 300 --seed 300     # held out: calibration uses seed 100
    python benchmarks/rec_layer_selection.py --float-depthwise 0,3,5,13

For each N, quantizes the FP32 bundle's recognizer (calibration: data/synth_calib, no accuracy control) keeping the
first conv and the first N depthwise convs float, then scores it on the held-out set: line-crop accuracy, agreement
of its crop readings with FP32's, and whole-pipeline det / e2e hmean (the detector stays FP32 in every variant).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from convert.quantize import pipeline_scores, quantize_bundle, read_pages  # noqa: E402
from ppocr_edge import OCRPipeline  # noqa: E402
from ppocr_edge.bundle import FP32_BUNDLE  # noqa: E402


def read_crops(folder: Path) -> list[tuple[object, str]]:
    """The line crops of a train.synth folder with their texts (PaddleOCR recognition labels)."""
    crops = []
    for line in (folder / "rec_label.txt").read_text(encoding="utf-8").splitlines():
        path, text = line.split("\t", 1)
        crops.append((cv2.imread(str(folder / path)), text))
    return crops


def read_lines(bundle: Path, crops: list) -> list[str]:
    ocr = OCRPipeline(bundle, cache_dir="")
    return [" ".join(line.text for line in ocr(img, use_det=False).lines) for img, _ in crops]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--float-depthwise", default="0,3,5,13", help="comma list of N to try")
    p.add_argument("--val", type=Path, default=Path("data/synth_sel"), help="held-out train.synth folder")
    p.add_argument("--calib", type=Path, default=Path("data/synth_calib/det_label.txt"))
    p.add_argument("--work", type=Path, default=Path("/tmp/rec_layer_selection"))
    a = p.parse_args(argv)

    pages, _ = read_pages(a.val / "det_label.txt")
    crops = read_crops(a.val)
    truth = [t for _, t in crops]
    reference = read_lines(Path(FP32_BUNDLE), crops)
    results = {}

    def score(name: str, bundle: Path, lines: list[str]) -> None:
        sc = pipeline_scores(bundle, pages)
        results[name] = {
            "crop_acc": round(100 * sum(x == t for x, t in zip(lines, truth)) / len(truth), 2),
            "agree_fp32": round(100 * sum(x == r for x, r in zip(lines, reference)) / len(truth), 2),
            **{k: round(100 * v, 2) for k, v in sc.items()}}
        print(f"{name}: {results[name]}", flush=True)

    score("FP32", Path(FP32_BUNDLE), reference)
    for n in (int(x) for x in a.float_depthwise.split(",")):
        out = a.work / f"float_dw{n}"
        quantize_bundle(Path(FP32_BUNDLE), a.calib, out, roles=("rec",), qac=False, rec_float_depthwise=n)
        score(f"rec INT8, first conv + {n} depthwise float", out, read_lines(out, crops))
    a.work.mkdir(parents=True, exist_ok=True)
    (a.work / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
