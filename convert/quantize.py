"""INT8 post-training quantization of a bundle's det / rec / cls models with NNCF (OpenVINO backend).

    python -m convert.quantize --bundle SRC --calib CALIB --val VAL_LABELS --out DST [--max-drop 0.01]

CALIB: a folder of images, or a PaddleOCR label file (detection: images and line quads; recognition: line crops).
Calibrate on images the project makes (`python -m train.synth`) or that you own, never on evaluation data.
Line crops for rec/cls calibration come from the label quads, or from the source bundle's detector when CALIB is a
folder. Every model input is made by the SDK's own preprocessing (ppocr_edge.preprocess).

VAL_LABELS: a PaddleOCR detection label file with transcriptions. With it, each model goes through
nncf.quantize_with_accuracy_control: layers are returned to float until the metric (det hmean, rec line accuracy,
cls accuracy on upright + flipped crops) is within --max-drop of FP32. A report (FP32 vs INT8 metrics, end-to-end
line accuracy of the whole pipeline, benchmark_app latency, file sizes) is written to DST/quantization_report.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import openvino as ov

from ppocr_edge.bundle import Bundle, load_bundle, write_manifest
from ppocr_edge.ctc import ctc_greedy_decode
from ppocr_edge.datasets import TextRegion, read_det_labels, read_rec_labels
from ppocr_edge.db_postprocess import DBParams, detect_quads
from ppocr_edge.geometry import crop_quad
from ppocr_edge.image_io import load_image
from ppocr_edge.metrics import DetCounter, normalized_edit_distance
from ppocr_edge.preprocess import DetInput, bucket_width, prepare_det, prepare_line_batch, rec_needed_width

log = logging.getLogger("ppocr_edge.quantize")
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
F32 = {"INFERENCE_PRECISION_HINT": "f32"}


# ------------------------------------------------------------------------------------------------ data


@dataclass
class LabeledPage:
    image: np.ndarray
    regions: list[TextRegion] = field(default_factory=list)


def read_pages(source: Path, limit: int | None = None) -> tuple[list[LabeledPage], list[np.ndarray]]:
    """Pages (with quads when labelled) and bare line crops from a folder or a PaddleOCR label file."""
    pages: list[LabeledPage] = []
    crops: list[np.ndarray] = []
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_EXT)[:limit]
        pages = [LabeledPage(load_image(p)) for p in files]
    else:
        first = source.read_text(encoding="utf-8").split("\n", 1)[0].split("\t", 1)[-1].lstrip()
        if first.startswith("["):
            for s in read_det_labels(source)[:limit]:
                pages.append(LabeledPage(load_image(s.image_path), list(s.regions)))
        else:
            crops = [load_image(s.image_path) for s in read_rec_labels(source)[:limit]]
    if not pages and not crops:
        raise SystemExit(f"{source}: no images found")
    return pages, crops


def page_crops(pages: Sequence[LabeledPage]) -> list[tuple[np.ndarray, str]]:
    """Line crops (with their text) cut from the labelled quads with the SDK's crop geometry."""
    return [(crop_quad(p.image, r.points.astype(np.float32)).image, r.text)
            for p in pages for r in p.regions if not r.ignore and len(r.points) == 4]


def detected_crops(bundle: Bundle, pages: Sequence[LabeledPage]) -> list[np.ndarray]:
    """Line crops found by the source bundle's detector (for unlabelled calibration folders)."""
    det = ov.Core().compile_model(str(bundle.det.xml), "CPU", F32)
    params = DBParams.from_dict(bundle.det.postprocess)
    crops = []
    for p in pages:
        inp = prepare_det(p.image, bundle.det.preprocess)
        crops += [crop_quad(p.image, q).image for q in detect_quads(det(inp.tensor)[0], inp, params)]
    return crops


def rec_input(crop: np.ndarray, pre: dict) -> np.ndarray:
    """A 1-line rec batch at the width bucket the pipeline would choose for this crop."""
    buckets = sorted(int(b) for b in pre["width_buckets"])
    need = rec_needed_width(crop.shape[0], crop.shape[1], int(pre["height"]), int(pre.get("min_width", buckets[0])),
                            buckets[-1])
    return prepare_line_batch([crop], pre, bucket_width(need, buckets))[0]


def cls_input(crop: np.ndarray, pre: dict) -> np.ndarray:
    return prepare_line_batch([crop], pre, int(pre["width"]))[0]


# ------------------------------------------------------------------------------------------------ metrics


def det_metric(compiled: ov.CompiledModel, items: Iterable[tuple[Any, LabeledPage]], pre: dict, params: DBParams
               ) -> tuple[float, list[float]]:
    """Detection hmean (IoU 0.5) over the pages, and a per-page hmean for NNCF's layer ranking."""
    total, per = DetCounter(), []
    for inp, page in items:  # (DetInput, LabeledPage)
        preds = [TextRegion.from_points(q) for q in detect_quads(compiled(inp.tensor)[0], inp, params)]
        one = DetCounter()
        one.add(page.regions, preds)
        total.add(page.regions, preds)
        per.append(one.scores().hmean)
    return total.scores().hmean, per


def rec_metric(compiled: ov.CompiledModel, items: Iterable[tuple[np.ndarray, str]], characters: Sequence[str]
               ) -> tuple[float, list[float]]:
    """Mean 1 - normalised edit distance per line (smoother than exact match, so NNCF can rank layers by it)."""
    per = [1.0 - normalized_edit_distance(ctc_greedy_decode(compiled(x)[0], characters)[0].text, text)
           for x, text in items]
    return (float(np.mean(per)) if per else 0.0), per


def cls_metric(compiled: ov.CompiledModel, items: Iterable[tuple[np.ndarray, int]]) -> tuple[float, list[float]]:
    per = [float(int(compiled(x)[0][0].argmax()) == label) for x, label in items]
    return (float(np.mean(per)) if per else 0.0), per


# ------------------------------------------------------------------------------------------------ quantization


@dataclass
class ModelPlan:
    role: str
    calib: list[Any]
    transform: Callable[[Any], np.ndarray]
    val: list[Any]
    metric: Callable[[ov.CompiledModel, Iterable[Any]], tuple[float, list[float]]]
    model_type: Any = None
    ignored_types: list[str] = field(default_factory=list)
    float_first_convs: int = 0  # keep the first N (non-grouped) convs in execution order in float: the stem
    float_depthwise: int = 0  # keep the first N depthwise convs (the highest-resolution ones) in float


def first_convs(model: ov.Model, n: int) -> list[str]:
    """Names of the first n (non-grouped) convolutions in execution order; the first one is fed by the image."""
    names = [op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() == "Convolution"][:n]
    if n and not names:
        raise ValueError("model has no Convolution")
    return names


def first_depthwise(model: ov.Model, n: int) -> list[str]:
    """Names of the first n depthwise (GroupConvolution) ops in execution order."""
    return [op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() == "GroupConvolution"][:n]


def quantize_model(model: ov.Model, plan: ModelPlan, max_drop: float, preset: str, qac: bool) -> ov.Model:
    import nncf

    kwargs: dict[str, Any] = {"subset_size": len(plan.calib), "preset": getattr(nncf.QuantizationPreset, preset.upper())}
    if plan.model_type is not None:
        kwargs["model_type"] = plan.model_type
    names = first_convs(model, plan.float_first_convs)
    names += first_depthwise(model, plan.float_depthwise)
    if plan.ignored_types or names:
        kwargs["ignored_scope"] = nncf.IgnoredScope(types=plan.ignored_types, names=names)
    calib = nncf.Dataset(plan.calib, plan.transform)
    if not qac or not plan.val:
        return nncf.quantize(model, calib, **kwargs)
    val = nncf.Dataset(plan.val, plan.transform)
    return nncf.quantize_with_accuracy_control(
        model, calib, val, validation_fn=plan.metric, max_drop=max_drop, drop_type=nncf.DropType.ABSOLUTE,
        advanced_accuracy_restorer_parameters=nncf.AdvancedAccuracyRestorerParameters(max_num_iterations=20),
        **kwargs)


def _first(item: tuple[np.ndarray, Any]) -> np.ndarray:
    return item[0]


def _det_tensor(item: tuple[DetInput, Any]) -> np.ndarray:
    return item[0].tensor


def read_lines(label_file: Path, limit: int | None = None) -> list[tuple[np.ndarray, str]]:
    """Line crops and their texts from a PaddleOCR recognition label file (e.g. `python -m train.line_synth`)."""
    return [(load_image(s.image_path), s.label) for s in read_rec_labels(label_file)[:limit]]


def build_plans(bundle: Bundle, calib_src: Path, val_src: Path | None, limit: int | None, rng_seed: int = 0,
                line_calib: Path | None = None, line_val: Path | None = None,
                rec_calib_size: int = 300) -> dict[str, ModelPlan]:
    pages, bare = read_pages(calib_src, limit)
    if line_calib is not None:  # rec / cls calibrated on these lines instead of crops of the calibration pages
        calib_crops = [c for c, _ in read_lines(line_calib, limit)]
    else:
        calib_crops = [c for c, _ in page_crops(pages)] if pages and pages[0].regions else []
        if pages and not calib_crops and bundle.det is not None:
            calib_crops = detected_crops(bundle, pages)
        calib_crops += bare
    rng = np.random.default_rng(rng_seed)
    if len(calib_crops) > rec_calib_size:
        calib_crops = [calib_crops[i] for i in sorted(rng.choice(len(calib_crops), rec_calib_size, replace=False))]
    val_pages = read_pages(val_src)[0] if val_src else []
    val_lines = read_lines(line_val) if line_val is not None else page_crops(val_pages)

    plans: dict[str, ModelPlan] = {}
    if bundle.det is not None and pages:
        pre, params = bundle.det.preprocess, DBParams.from_dict(bundle.det.postprocess)
        plans["det"] = ModelPlan("det", [(prepare_det(p.image, pre), None) for p in pages], _det_tensor,
                                 [(prepare_det(p.image, pre), p) for p in val_pages],
                                 lambda compiled, items: det_metric(compiled, items, pre, params))
    rpre = bundle.rec.preprocess
    plans["rec"] = ModelPlan("rec", [(rec_input(c, rpre), None) for c in calib_crops], _first,
                             [(rec_input(c, rpre), t) for c, t in val_lines],
                             lambda compiled, items: rec_metric(compiled, items, bundle.characters))
    if bundle.cls is not None:
        cpre = bundle.cls.preprocess
        flip = [cv2.rotate(c, cv2.ROTATE_180) for c in calib_crops]
        plans["cls"] = ModelPlan("cls", [(cls_input(c, cpre), None) for c in calib_crops + flip], _first,
                                 [(cls_input(c, cpre), 0) for c, _ in val_lines]
                                 + [(cls_input(cv2.rotate(c, cv2.ROTATE_180), cpre), 1) for c, _ in val_lines],
                                 cls_metric)
    return plans


def quantize_bundle(src: Path, calib: Path, out: Path, *, val: Path | None = None, max_drop: float = 0.01,
                    roles: Sequence[str] = ("det", "rec", "cls"), limit: int | None = None, preset: str = "mixed",
                    qac: bool = True, rec_float_depthwise: int = 3, rec_float_convs: int = 1,
                    det_float_convs: int = 0, line_calib: Path | None = None,
                    line_val: Path | None = None, rec_max_drop: float | None = None,
                    rec_calib_size: int = 300) -> dict[str, Any]:
    """Quantize the chosen models of bundle src into a new bundle out; returns per-model metrics.

    line_calib / line_val: recognition label files whose line crops calibrate / validate rec and cls instead of the
    crops of the calib / val pages; rec_calib_size: at most this many of those crops calibrate rec (a seeded random
    subset where there are more); rec_float_convs / det_float_convs: the first N plain convs of the recognizer /
    detector kept float (their stems; rec_float_depthwise: its first N depthwise convs)."""
    import nncf

    bundle = load_bundle(src)
    plans = build_plans(bundle, calib, val, limit, line_calib=line_calib, line_val=line_val,
                        rec_calib_size=rec_calib_size)
    core = ov.Core()
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((bundle.root / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("files", None)
    manifest.pop("format", None)
    manifest.pop("format_version", None)
    results: dict[str, Any] = {}
    for role, spec in manifest["models"].items():
        entry = getattr(bundle, role)
        if role in roles and role in plans:
            plan = plans[role]
            if role == "rec":
                # SVTR neck: no quantizers on LayerNorm inputs and residual adds, SmoothQuant for the MatMuls.
                # Kept float, by measurement (benchmarks/results/int8.md): the first conv (accuracy control on
                # synthetic lines ranked it the most sensitive layer; PP-OCRv6 small: its first 3, the stem, chosen
                # with benchmarks/rec_fidelity.py, named_bundles.md) and the three depthwise convs at 24 px
                # height, whose per-tensor INT8 inputs cost 1.4 points of receipt e2e accuracy; ~0 latency cost.
                plan.model_type = nncf.ModelType.TRANSFORMER
                plan.float_first_convs = rec_float_convs
                plan.float_depthwise = rec_float_depthwise
            if role == "det":
                plan.float_first_convs = det_float_convs
            t0 = time.time()
            drop = rec_max_drop if role == "rec" and rec_max_drop is not None else max_drop
            q = quantize_model(core.read_model(str(entry.xml)), plan, drop, preset, qac)
            ov.save_model(q, str(out / spec["xml"]))
            results[role] = {"calibration_items": len(plan.calib), "seconds": round(time.time() - t0, 1)}
            log.info("%s: quantized in %.0f s", role, time.time() - t0)
        else:
            shutil.copyfile(entry.xml, out / spec["xml"])
            shutil.copyfile(entry.bin, out / spec["bin"])
    for name in {manifest["models"]["rec"]["dictionary"], manifest.get("notice")} - {None}:
        shutil.copyfile(bundle.root / name, out / name)
    manifest["name"] = f"{bundle.name} INT8"
    manifest["source"] = {**manifest.get("source", {}), "quantized_from": bundle.name,
                          "quantization": {"tool": f"NNCF {nncf.__version__}", "preset": preset,
                                           "accuracy_control": bool(qac and val), "max_drop": max_drop,
                                           **({"rec_max_drop": rec_max_drop} if rec_max_drop is not None else {}),
                                           "calibration": calib.name, "models": results,
                                           **({"line_calibration": line_calib.name} if line_calib else {}),
                                           **({"line_validation": line_val.name} if line_val else {})}}
    write_manifest(out, manifest)
    return {"plans": plans, "results": results, "bundle": bundle}


# ------------------------------------------------------------------------------------------------ report

BENCH_SHAPES = {"det": "[1,3,960,960]", "rec": "[6,3,48,320]", "cls": "[6,3,48,192]"}


def pipeline_scores(bundle_dir: Path, pages: Sequence[LabeledPage]) -> dict[str, float]:
    """Whole-pipeline detection and end-to-end line scores on labelled pages."""
    from ppocr_edge import OCRPipeline

    counter = DetCounter()
    with OCRPipeline(bundle_dir, cache_dir="") as ocr:
        for page in pages:
            res = ocr(page.image)
            counter.add(page.regions, [TextRegion.from_points(ln.box, ln.text) for ln in res.lines])
    sc = counter.scores()
    return {"det_hmean": sc.hmean, "e2e_hmean": sc.e2e_hmean}


def write_report(src: Path, out: Path, plans: dict[str, ModelPlan], val: Path | None, results: dict[str, Any],
                 command: str, seconds: int = 8, rounds: int = 2) -> Path:
    """out/quantization_report.md: FP32 vs INT8 per model (validation metric, benchmark_app latency, size) and the
    whole pipeline's scores on the validation pages."""
    from convert.benchmark_app import cpu_name, find_benchmark_app, run_one

    fp32, int8 = load_bundle(src), load_bundle(out)
    core = ov.Core()
    app = find_benchmark_app()
    metric_names = {"det": "hmean (IoU 0.5)", "rec": "1 - NED per line", "cls": "accuracy (upright + 180)"}
    rows = []
    for role in ("det", "rec", "cls"):
        a, b = getattr(fp32, role), getattr(int8, role)
        if a is None or b is None:
            continue
        plan = plans.get(role)
        m_a = m_b = float("nan")
        if plan is not None and plan.val:
            m_a = plan.metric(core.compile_model(str(a.xml), "CPU", F32), plan.val)[0]
            m_b = plan.metric(core.compile_model(str(b.xml), "CPU", F32), plan.val)[0]
        lat: dict[str, list[float]] = {"a": [], "b": []}
        for _ in range(rounds):  # alternate FP32 / INT8 so machine noise hits both alike
            for key, entry in (("a", a), ("b", b)):
                r = run_one(app, entry.xml, BENCH_SHAPES[role], "latency", seconds, False, [])
                lat[key].append(r.get("median", float("nan")))
        la, lb = float(np.median(lat["a"])), float(np.median(lat["b"]))
        rows.append(f"| {role} | {'int8' if role in results else 'float (kept)'} | {metric_names[role]} | {m_a:.4f} | "
                    f"{m_b:.4f} | {m_b - m_a:+.4f} | {BENCH_SHAPES[role]} | {la:.1f} | {lb:.1f} | {lb / la:.2f} | "
                    f"{a.bin.stat().st_size / 1e6:.2f} | {b.bin.stat().st_size / 1e6:.2f} |")
    lines = ["# INT8 quantization report", "", f"Command: `{command}`", "",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z')}; CPU: {cpu_name()}; OpenVINO {ov.__version__}",
             f"- FP32 bundle: `{src}`; INT8 bundle: `{out}`",
             f"- Quantized: {json.dumps(results)}",
             f"- Latency: benchmark_app -hint latency -infer_precision f32 -ip f32 -t {seconds}, median ms, "
             f"median of {rounds} alternating FP32/INT8 runs. Validation: `{val}`.", "",
             "| model | precision | metric | FP32 | INT8 | delta | input | FP32 ms | INT8 ms | ratio | FP32 MB | INT8 MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|", *rows]
    if val is not None:
        pages = read_pages(val)[0]
        s_a, s_b = pipeline_scores(src, pages), pipeline_scores(out, pages)
        lines += ["", f"Whole pipeline on the {len(pages)} validation pages (lines, IoU 0.5; e2e = box matched and "
                  "text equal, case-insensitive):", "", "| bundle | det hmean | e2e line hmean |", "|---|---|---|",
                  f"| FP32 | {s_a['det_hmean']:.4f} | {s_a['e2e_hmean']:.4f} |",
                  f"| INT8 | {s_b['det_hmean']:.4f} | {s_b['e2e_hmean']:.4f} |"]
    path = out / "quantization_report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", type=Path, required=True, help="FP32 source bundle")
    p.add_argument("--calib", type=Path, required=True, help="image folder or PaddleOCR label file")
    p.add_argument("--val", type=Path, help="PaddleOCR det label file with transcriptions (accuracy control)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--max-drop", type=float, default=0.01, help="absolute metric drop allowed per model")
    p.add_argument("--roles", default="det,rec", help="models to quantize; the others are copied in float "
                   "(the cls network is so small that INT8 does not make it faster)")
    p.add_argument("--rec-max-drop", type=float, help="max drop for the recognizer (default: --max-drop)")
    p.add_argument("--no-report", action="store_true")
    p.add_argument("--rec-float-depthwise", type=int, default=3, help="keep the recognizer's first N depthwise "
                   "convs in float (default: %(default)s)")
    p.add_argument("--rec-float-convs", type=int, default=1, help="keep the recognizer's first N (non-grouped) "
                   "convs in float (default: %(default)s; ppocrv6_small: 3)")
    p.add_argument("--det-float-convs", type=int, default=0, help="keep the detector's first N (non-grouped) convs "
                   "in float (default: %(default)s; ppocrv6_small: 3, its stem)")
    p.add_argument("--line-calib", type=Path, help="recognition label file whose line crops calibrate rec and cls "
                   "(e.g. `python -m train.line_synth --out data/qcalib_lines --count 300 --seed 555`); default: crops "
                   "of the CALIB pages")
    p.add_argument("--line-val", type=Path, help="recognition label file validating rec and cls (accuracy control); "
                   "default: crops of the VAL pages")
    p.add_argument("--rec-calib-size", type=int, default=300, help="at most this many crops or lines calibrate the "
                   "recognizer (default: %(default)s; the named bundles use 2000 rendered lines)")
    p.add_argument("--limit", type=int, help="use at most this many calibration pages/crops")
    p.add_argument("--preset", choices=["performance", "mixed"], default="mixed")
    p.add_argument("--no-accuracy-control", action="store_true", help="plain nncf.quantize even with --val")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    done = quantize_bundle(a.bundle, a.calib, a.out, val=a.val, max_drop=a.max_drop,
                           roles=[r.strip() for r in a.roles.split(",") if r.strip()], limit=a.limit,
                           preset=a.preset, qac=not a.no_accuracy_control, rec_float_depthwise=a.rec_float_depthwise,
                           rec_float_convs=a.rec_float_convs, det_float_convs=a.det_float_convs,
                           line_calib=a.line_calib, line_val=a.line_val, rec_max_drop=a.rec_max_drop,
                           rec_calib_size=a.rec_calib_size)
    print(f"wrote {a.out}")
    if not a.no_report:
        command = "python -m convert.quantize " + " ".join(argv if argv is not None else sys.argv[1:])
        print(f"wrote {write_report(a.bundle, a.out, done['plans'], a.val, done['results'], command)}")


if __name__ == "__main__":
    main()
