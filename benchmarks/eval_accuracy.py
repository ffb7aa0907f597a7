"""Accuracy of an OCR engine on the real-image dev sets (detection, end-to-end and recognition).

    python benchmarks/eval_accuracy.py [--data ../shared/data/real_dev] [--bundle DIR] [--no-cls] [--limit N]
                                       [--det-option KEY=VALUE ...] [--out results.md] [--json results.json]
                                       [--details errors.jsonl]

``--det-option`` (repeatable) overrides one detection setting of the pipeline (``OCRPipeline(det_options=...)``):
the resize keys limit_side_len, limit_type (max / min / resize_long), max_side, size_step and the DB
post-processing keys thresh, box_thresh, unclip_ratio, max_candidates, use_dilation, score_mode, min_size.
Values are parsed as int, float or bool (true/false) where they look like one, else kept as strings, e.g.
``--det-option limit_side_len=736 --det-option limit_type=min --det-option use_dilation=true``.

Sets (PaddleOCR label format, see ppocr_edge.datasets):

* det/ic15_sample: ICDAR 2015 scene images, word-level quads. Scored with our line boxes and, because the GT is
  per word, also with our word boxes (every ``Word`` of every line is one prediction).
* det/sroie_dev: SROIE receipts, line boxes; labels are mostly uppercase, texts are compared case-insensitively.
* rec/ic15_test_2077: ICDAR 2015 word crops, recognised without detection (``use_det=False``); the prediction is
  the text of the returned lines joined by spaces.

Metrics are those of ppocr_edge.metrics: detection precision / recall / hmean at IoU >= 0.5 with one-to-one
matching and ICDAR "###" don't-care handling; end-to-end is the same matching where a pair counts only when the
normalised texts are equal (``--normalize``, default: case-insensitive, whitespace collapsed); recognition is
exact-match accuracy (case-sensitive, and ICDAR 2015 lowercase-alphanumeric) and 1 - normalised edit distance.

The evaluation itself (engines, matching, scoring) is ppocr_edge.evaluate, the code behind ``ppocr-edge eval``;
this script runs it over the three sets and writes the reports. Other engines plug in through the ``Engine``
callable: ``engine(image_path, use_det=True) -> list[EngineLine]`` (see benchmarks/eval_peers.py);
``PPOCREdgeEngine`` is the adapter for this project's OCRPipeline. An engine that sets the attribute
``last_elapsed_ms`` after each call (as ``PPOCREdgeEngine`` does, from ``OCRResult.elapsed_ms``) also gets its own
per-image time reported (mean ms/img); otherwise that column is empty.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from ppocr_edge.evaluate import DATASETS, PPOCREdgeEngine, SetResult, evaluate, progress_bar

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / ".." / "shared" / "data" / "real_dev"


# ---------------------------------------------------------------------------------------------- report


def _f(x: float) -> str:
    return f"{100 * x:.1f}"


def _ms(r: SetResult) -> str:
    ms = r.mean_elapsed_ms
    return "" if ms is None else f"{ms:.0f}"


def markdown_report(results: Sequence[SetResult], *, title: str, command: str, meta: dict[str, str]) -> str:
    out = [f"# {title}", "", "```", command, "```", ""]
    out += [f"- {k}: {v}" for k, v in meta.items()]
    det = [r for r in results if r.kind == "det"]
    rec = [r for r in results if r.kind == "rec"]
    if det:
        out += ["", "## Detection and end-to-end (IoU >= 0.5, one-to-one, `###` regions ignored)", "",
                "| set | boxes | images | GT (ignored) | preds (ignored) | det P | det R | det H | "
                "e2e P | e2e R | e2e H | img/s | ms/img |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in det:
            for level, s in r.scores.items():
                out.append(f"| {r.name} | {level} | {s['images']} | {s['gt']} ({s['gt_ignored']}) | "
                           f"{s['pred']} ({s['pred_ignored']}) | {_f(s['precision'])} | {_f(s['recall'])} | "
                           f"{_f(s['hmean'])} | {_f(s['e2e_precision'])} | {_f(s['e2e_recall'])} | "
                           f"{_f(s['e2e_hmean'])} | {r.images_per_s:.2f} | {_ms(r)} |")
    if rec:
        out += ["", "## Recognition (no detection)", "",
                "| set | crops | acc (case-sensitive) | acc (IC15: lowercase alnum) | 1-NED | 1-NED (alnum) | "
                "empty preds | crops/s | ms/crop |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rec:
            s = r.scores["rec"]
            out.append(f"| {r.name} | {s['samples']} | {_f(s['accuracy'])} | {_f(s['accuracy_alnum'])} | "
                       f"{_f(s['one_minus_ned'])} | {_f(s['one_minus_ned_alnum'])} | {s['empty_predictions']} | "
                       f"{r.images_per_s:.1f} | {_ms(r)} |")
            d = r.scores.get("rec_with_drop_score")
            if d:
                out.append(f"| {r.name}, results < drop_score {d['drop_score']:g} dropped | {d['samples']} | "
                           f"{_f(d['accuracy'])} | {_f(d['accuracy_alnum'])} | {_f(d['one_minus_ned'])} | "
                           f"{_f(d['one_minus_ned_alnum'])} | {d['below_drop_score']} dropped | | |")
    out += ["", "Scores in %. P / R / H: precision / recall / harmonic mean, counted over the whole set. "
            "A prediction more than half inside an ignore region is discarded; e2e counts a match only when the "
            f"texts are equal after normalisation ({meta.get('e2e text normalisation', 'default')}). "
            "`words`: every recognised word with its own box is one prediction (the IC15 GT is per word). "
            "1-NED: mean of 1 - edit distance / max length. img/s: sequential single-image calls, engine time "
            "only (image decoding included, model loading excluded), on a shared machine: indicative only. "
            "ms/img (ms/crop): mean of the engine's own per-image time (OCRResult.elapsed_ms: from the decoded "
            "image to the result, so image decoding excluded); noisy on a shared machine, compare runs only "
            "relative to each other.", ""]
    return "\n".join(out)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def parse_value(text: str) -> Any:
    """'736' -> 736, '1.6' -> 1.6, 'true'/'false' (yes/no, on/off) -> bool, anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def parse_options(items: Sequence[str] | None, flag: str = "--det-option") -> dict[str, Any]:
    """['limit_side_len=736', 'use_dilation=true'] -> {'limit_side_len': 736, 'use_dilation': True}.

    A value with commas becomes a list (``width_buckets=96,128,160``)."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"{flag} expects KEY=VALUE, got {item!r}")
        value = value.strip()
        out[key] = [parse_value(v.strip()) for v in value.split(",")] if "," in value else parse_value(value)
    return out


def _write(path: Path | None, text: str) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="root of real_dev (default: %(default)s)")
    p.add_argument("--bundle", help="model bundle directory or embedded bundle name (default: ch_pp_ocrv3_int8)")
    p.add_argument("--no-cls", action="store_true", help="disable the text direction classifier")
    p.add_argument("--limit", type=int, help="evaluate only the first N samples of each set")
    p.add_argument("--det-option", action="append", metavar="KEY=VALUE", default=[],
                   help="detection setting override, repeatable (e.g. limit_side_len=736, limit_type=min, "
                        "box_thresh=0.5, unclip_ratio=1.6, use_dilation=true); passed as OCRPipeline det_options")
    p.add_argument("--rec-option", action="append", metavar="KEY=VALUE", default=[],
                   help="recognition setting override, repeatable (batch_size, min_width, width_buckets=a,b,c); "
                        "passed as OCRPipeline rec_options")
    p.add_argument("--sets", nargs="+", choices=[d.name for d in DATASETS], help="sets to run (default: all)")
    p.add_argument("--normalize", choices=["exact", "default", "alnum"], default="default",
                   help="e2e text comparison: default = case-insensitive, whitespace collapsed")
    p.add_argument("--rec-drop-score", type=float, default=0.0,
                   help="drop_score for the recognition-only set (default 0: score every crop)")
    p.add_argument("--out", type=Path, help="also write the Markdown report here")
    p.add_argument("--json", type=Path, help="write the scores as JSON here")
    p.add_argument("--details", type=Path, help="write per-image matches / recognition errors as JSON lines here")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)

    try:
        det_options = parse_options(a.det_option)
        rec_options = parse_options(a.rec_option, "--rec-option")
    except argparse.ArgumentTypeError as e:
        p.error(str(e))
    t0 = time.perf_counter()
    try:
        engine = PPOCREdgeEngine(a.bundle, use_cls=not a.no_cls, rec_drop_score=a.rec_drop_score,
                                 det_options=det_options, rec_options=rec_options)
    except ValueError as e:
        p.error(str(e))
    load_s = time.perf_counter() - t0
    results = []
    for ds in DATASETS:
        if a.sets and ds.name not in a.sets:
            continue
        results += evaluate(engine, a.data, sets=[ds.name], limit=a.limit, normalize=a.normalize,
                            drop_score=engine.drop_score, progress=progress_bar(ds.name, a.quiet))
    total_s = time.perf_counter() - t0

    import openvino

    argv_list = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join(["python", "benchmarks/eval_accuracy.py", *argv_list])
    meta = {
        "engine": engine.description,
        "data": str(Path(a.data).resolve()),
        "e2e text normalisation": {"default": "case-insensitive, whitespace collapsed", "exact": "exact",
                                   "alnum": "lowercase [a-z0-9] only"}[a.normalize],
        "det options": (", ".join(f"{k}={v}" for k, v in det_options.items()) or "none (bundle defaults)"),
        "rec options": (", ".join(f"{k}={v}" for k, v in rec_options.items()) or "none (bundle defaults)"),
        "det settings in effect": ", ".join(f"{k}={v}" for k, v in engine.det_settings.items()),
        "detection drop_score": f"{engine.drop_score:g}",
        "limit": str(a.limit) if a.limit else "none (full sets)",
        "runtime": f"openvino {openvino.__version__}, python {platform.python_version()}, "
                   f"{_cpu_name()}, {os.cpu_count()} CPUs",
        "wall time": f"{total_s:.1f} s (model load {load_s:.1f} s)",
    }
    report = markdown_report(results, title="Accuracy on real_dev", command=command, meta=meta)
    print(report)
    _write(a.out, report)
    if a.json:
        doc = {"command": command, "meta": meta, "sets": [r.to_dict() for r in results]}
        _write(a.json, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if a.details:
        rows = [json.dumps({"set": r.name, **d}, ensure_ascii=False) for r in results for d in r.details]
        _write(a.details, "\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
