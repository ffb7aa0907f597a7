"""How close INT8 recognizers stay to their FP32 reference, without labels: agreement of the per-frame distributions.

    python benchmarks/rec_fidelity.py --ref FP32_BUNDLE --lines data/qsel_lines/labels.txt CANDIDATE [...]

Every line crop (of a PaddleOCR recognition label file, whose labels are not read, or a folder of crops) goes through
the reference bundle's recognizer input (`convert.quantize.rec_input`, OpenVINO f32) and each candidate's recognizer.
Per line: the weakest frame's overlap of the two softmax distributions (sum of the element-wise minimum: 1 when
equal, 0 when disjoint), and whether the greedy CTC readings are equal. INT8 flips the readings whose FP32 margin is
small; rendered lines rarely have such frames, so their readings barely move, but the overlap still measures how far
each candidate's distributions moved. Used to choose a recognizer's INT8 recipe on rendered lines
(benchmarks/results/named_bundles.md); the detector's counterpart is benchmarks/det_fidelity.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import openvino as ov

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from convert.quantize import IMAGE_EXT, rec_input  # noqa: E402
from ppocr_edge.bundle import load_bundle  # noqa: E402
from ppocr_edge.ctc import ctc_greedy_decode  # noqa: E402
from ppocr_edge.datasets import read_rec_labels  # noqa: E402
from ppocr_edge.image_io import load_image  # noqa: E402


def line_paths(source: Path, limit: int | None) -> list[Path]:
    """Crops of a folder, or those of a PaddleOCR recognition label file."""
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_EXT)
    else:
        paths = [s.image_path for s in read_rec_labels(source)]
    return paths[:limit]


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax (the exported heads may end in logits or probabilities; both become probabilities)."""
    if np.all(x >= 0) and np.allclose(x.sum(-1), 1.0, atol=1e-3):
        return x
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def fidelity(ref: str, candidates: list[str], lines: list[Path]) -> dict[str, dict[str, float]]:
    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": "f32"}
    ref_bundle = load_bundle(ref)
    compile_rec = lambda b: core.compile_model(core.read_model(str(b.rec.xml)), "CPU", config)  # noqa: E731
    ref_model = compile_rec(ref_bundle)
    models = {c: compile_rec(load_bundle(c)) for c in candidates}
    chars = ref_bundle.characters
    weakest: dict[str, list[float]] = {c: [] for c in candidates}
    same: dict[str, list[float]] = {c: [] for c in candidates}
    for path in lines:
        x = rec_input(load_image(str(path)), ref_bundle.rec.preprocess)
        p = softmax(ref_model(x)[0][0])
        want = ctc_greedy_decode(p[None], chars)[0].text
        for c, model in models.items():
            q = softmax(model(x)[0][0])
            weakest[c].append(float(np.minimum(p, q).sum(-1).min()))
            same[c].append(float(ctc_greedy_decode(q[None], chars)[0].text == want))
    return {c: {"weakest_frame_overlap": float(np.mean(weakest[c])), "same_reading": float(np.mean(same[c]))}
            for c in candidates}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref", required=True, help="FP32 bundle (directory or embedded name)")
    p.add_argument("--lines", type=Path, required=True, help="folder of line crops or PaddleOCR rec label file")
    p.add_argument("--limit", type=int, default=None, help="first N lines only")
    p.add_argument("candidates", nargs="+", help="bundles whose recognizers are compared with the reference")
    a = p.parse_args(argv)
    lines = line_paths(a.lines, a.limit)
    scores = fidelity(a.ref, a.candidates, lines)
    print(f"| recognizer ({len(lines)} lines of {a.lines}) | weakest-frame overlap, mean | same reading |")
    print("|---|---|---|")
    for c, s in scores.items():
        print(f"| {c} | {s['weakest_frame_overlap']:.4f} | {100 * s['same_reading']:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
