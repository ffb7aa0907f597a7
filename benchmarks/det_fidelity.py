"""How close INT8 detectors stay to their FP32 reference, without labels: IoU of the thresholded probability maps.

    python benchmarks/det_fidelity.py --ref FP32_BUNDLE --images data/qsel_scenes/det_label.txt CANDIDATE [...]

For every image (a folder of images, or the images of a PaddleOCR det label file, whose labels are not read) each
bundle's detector runs on the same input tensor (the reference bundle's `prepare_det`, OpenVINO f32); both maps are
binarized at the reference's DB threshold and compared by IoU. Prints the mean and the minimum IoU per candidate.
Used to choose a detector's INT8 recipe on rendered pages (benchmarks/results/named_bundles.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import openvino as ov

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from convert.quantize import IMAGE_EXT  # noqa: E402
from ppocr_edge.bundle import load_bundle  # noqa: E402
from ppocr_edge.datasets import read_det_labels  # noqa: E402
from ppocr_edge.image_io import load_image  # noqa: E402
from ppocr_edge.preprocess import prepare_det  # noqa: E402


def image_paths(source: Path) -> list[Path]:
    """Images of a folder, or those of a PaddleOCR det label file."""
    if source.is_dir():
        return sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_EXT)
    return [s.image_path for s in read_det_labels(source)]


def map_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def fidelity(ref: str, candidates: list[str], images: list[Path]) -> dict[str, list[float]]:
    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": "f32"}
    ref_bundle = load_bundle(ref)
    thresh = float(ref_bundle.det.postprocess.get("thresh", 0.3))
    compile_det = lambda b: core.compile_model(core.read_model(str(b.det.xml)), "CPU", config)  # noqa: E731
    ref_model = compile_det(ref_bundle)
    models = {c: compile_det(load_bundle(c)) for c in candidates}
    ious: dict[str, list[float]] = {c: [] for c in candidates}
    for path in images:
        x = prepare_det(load_image(str(path)), ref_bundle.det.preprocess).tensor
        want = ref_model(x)[0] > thresh
        for c, model in models.items():
            ious[c].append(map_iou(want, model(x)[0] > thresh))
    return ious


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref", required=True, help="FP32 bundle (directory or embedded name)")
    p.add_argument("--images", type=Path, required=True, help="image folder or PaddleOCR det label file")
    p.add_argument("candidates", nargs="+", help="bundles whose detectors are compared with the reference")
    a = p.parse_args(argv)
    images = image_paths(a.images)
    ious = fidelity(a.ref, a.candidates, images)
    print(f"| detector ({len(images)} images of {a.images}) | mean map IoU | min |\n|---|---|---|")
    for c, v in ious.items():
        print(f"| {c} | {np.mean(v):.3f} | {np.min(v):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
