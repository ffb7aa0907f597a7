"""Command line.

    ppocr-edge ocr IMAGE|PDF|TIFF... [--bundle DIR|NAME] [--json] [--vis OUT_DIR] [--dpi N] [--no-cls] [--no-det] ...
    ppocr-edge eval LABELS --task rec|det|e2e [--bundle DIR|NAME] [--json] [--limit N] [--no-cls] [--normalize M]
    ppocr-edge bundles [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from .documents import DEFAULT_DPI, document_kind, iter_pages
from .errors import OCRError
from .image_io import load_image
from .results import OCRResult

if TYPE_CHECKING:
    from .pipeline import OCRPipeline

_Output = tuple[Path, np.ndarray | None, OCRResult | OCRError]  # input, page image (documents), result


BUNDLE_HELP = "model bundle directory or embedded bundle name (see `ppocr-edge bundles`; default: ch_pp_ocrv3_int8)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ppocr-edge", description="PP-OCRv3 OCR on OpenVINO (CPU).")
    sub = p.add_subparsers(dest="command", required=True)
    o = sub.add_parser("ocr", help="recognise text in images and documents (PDF, multi-page TIFF)")
    o.add_argument("images", nargs="+", type=Path, help="image files, PDFs (needs ppocr_edge[pdf]) and TIFFs")
    o.add_argument("--bundle", metavar="DIR|NAME", help=BUNDLE_HELP)
    o.add_argument("--json", action="store_true",
                   help="one JSON object per image (per page of a PDF or TIFF, with \"page\" from 1) per line")
    o.add_argument("--vis", type=Path, metavar="OUT_DIR", help="write images with boxes and texts drawn")
    o.add_argument("--dpi", type=float, default=DEFAULT_DPI,
                   help=f"resolution PDF pages are rendered at (default {DEFAULT_DPI:g})")
    o.add_argument("--no-cls", action="store_true", help="skip the 0/180 degree direction classifier")
    o.add_argument("--no-det", action="store_true", help="each image is one text line or word, recognised whole")
    o.add_argument("--drop-score", type=float, help="drop lines below this confidence (default: the bundle's)")
    o.add_argument("--precision", choices=["f32", "bf16", "f16", "auto"], default="f32",
                   help="OpenVINO inference precision (default f32)")
    e = sub.add_parser("eval", help="accuracy of a bundle on a PaddleOCR label file",
                       description="Accuracy of a bundle on a PaddleOCR label file. rec: 'path<TAB>label' lines, "
                                   "each crop recognised without detection (drop_score 0): word accuracy (exact; "
                                   "IC15 lowercase alphanumeric) and 1 - normalised edit distance. det / e2e: "
                                   "'path<TAB>[{\"transcription\", \"points\"}...]' lines: precision / recall / "
                                   "hmean at IoU 0.5, '###' regions ignored (e2e: also the text must match). Bad "
                                   "lines and missing images are reported on stderr with their line number and "
                                   "skipped. Exit code 2 when the label file is missing or has no usable line, or "
                                   "the bundle cannot be loaded.")
    e.add_argument("labels", type=Path, help="label file (image paths relative to its folder)")
    e.add_argument("--task", choices=["rec", "det", "e2e"], required=True,
                   help="rec: recognition of crops; det: detection; e2e: detection and end-to-end")
    e.add_argument("--bundle", metavar="DIR|NAME", help=BUNDLE_HELP)
    e.add_argument("--json", action="store_true", help="print one JSON object with the counts and scores")
    e.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N usable samples")
    e.add_argument("--no-cls", action="store_true", help="skip the 0/180 degree direction classifier")
    e.add_argument("--normalize", choices=["default", "alnum", "exact"], default="default",
                   help="e2e text comparison: default = case-insensitive, whitespace collapsed; alnum = lowercase "
                        "[a-z0-9] only; exact (rec always reports exact and alnum accuracy)")
    b = sub.add_parser("bundles", help="list the embedded model bundles")
    b.add_argument("--json", action="store_true", help="one JSON object per bundle per line")
    return p


def _emit(path: Path, item: OCRResult | OCRError, as_json: bool) -> None:
    if isinstance(item, OCRError):
        if as_json:
            print(json.dumps({"image": str(path), "error": str(item), "error_type": type(item).__name__}))
        else:
            print(f"error: {item}", file=sys.stderr)
        return
    if as_json:
        print(json.dumps({"image": str(path), **item.to_dict()}, ensure_ascii=False))
    else:
        print("\n".join(line.text for line in item.lines))


def _ocr(args: argparse.Namespace) -> int:
    from .pipeline import OCRPipeline  # deferred: argument errors should not pay for loading OpenVINO

    try:
        ocr = OCRPipeline(args.bundle, use_cls=not args.no_cls, drop_score=args.drop_score, precision=args.precision)
    except OCRError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.dpi > 0:
        print("error: --dpi must be positive", file=sys.stderr)
        return 2
    if args.vis:
        args.vis.mkdir(parents=True, exist_ok=True)
    failed = 0
    many = len(args.images) > 1
    documents = any(document_kind(path) for path in args.images)
    outputs = _outputs(ocr, args.images, not args.no_det, args.dpi)
    for path, page_image, item in tqdm(outputs, total=None if documents else len(args.images), file=sys.stderr,
                                       disable=not (many or documents), unit="page" if documents else "img"):
        page = item.page if isinstance(item, OCRResult) else None
        if (many or page is not None) and not args.json:
            print(f"==> {path} <==" if page is None else f"==> {path} (page {page}) <==")
        _emit(path, item, args.json)
        if isinstance(item, OCRError):
            failed += 1
        elif args.vis:
            _write_vis(path, item, args.vis, page_image)
    return 1 if failed else 0


def _outputs(ocr: OCRPipeline, paths: list[Path], use_det: bool, dpi: float) -> Iterator[_Output]:
    """Results in input order: consecutive images together (_image_results), each document page by page."""
    images: list[Path] = []
    for path in paths:
        if document_kind(path) is None:
            images.append(path)
            continue
        yield from _image_results(ocr, images, use_det)
        images = []
        yield from _page_results(ocr, path, use_det, dpi)
    yield from _image_results(ocr, images, use_det)


def _image_results(ocr: OCRPipeline, paths: list[Path], use_det: bool) -> Iterator[_Output]:
    """Many images go through the pipelined map(); a single one through a latency-optimised call."""
    if len(paths) > 1:
        for path, item in zip(paths, ocr.map(paths, use_det=use_det, return_exceptions=True)):
            yield path, None, item
    elif paths:
        try:
            yield paths[0], None, ocr(paths[0], use_det=use_det)
        except OCRError as e:
            yield paths[0], None, e


def _page_results(ocr: OCRPipeline, path: Path, use_det: bool, dpi: float) -> Iterator[_Output]:
    """One result per page (as OCRPipeline.pages), with the page image for --vis; an error ends the document."""
    try:
        for number, image in enumerate(iter_pages(path, dpi), start=1):
            yield path, image, replace(ocr(image, use_det=use_det), page=number)
    except OCRError as e:
        yield path, None, e


def _write_vis(path: Path, result: OCRResult, out_dir: Path, image: np.ndarray | None = None) -> None:
    """NAME_ocr.png for an image, NAME_ocr_pN.png for page N of a document."""
    import cv2

    from .visualize import draw_result

    name = f"{path.stem}_ocr.png" if result.page is None else f"{path.stem}_ocr_p{result.page}.png"
    cv2.imwrite(str(out_dir / name), draw_result(load_image(path) if image is None else image, result))


def _eval(args: argparse.Namespace) -> int:
    from .evaluate import PPOCREdgeEngine, evaluate_labels, progress_bar, read_labels, summarize

    if args.limit is not None and args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        labels = read_labels(args.labels, "rec" if args.task == "rec" else "det")
    except OSError as e:
        print(f"error: cannot read label file {args.labels}: {e.strerror or e}", file=sys.stderr)
        return 2
    if not labels.nonblank_lines:
        print(f"error: label file {args.labels} is empty", file=sys.stderr)
        return 2
    if not labels.samples:
        for p in labels.problems:
            print(f"skipped: {p}", file=sys.stderr)
        print(f"error: no usable line in {args.labels} ({len(labels.problems)} skipped)", file=sys.stderr)
        return 2
    try:  # rec measures the recognizer: no confidence filter
        drop = 0.0 if args.task == "rec" else None
        engine = PPOCREdgeEngine(args.bundle, use_cls=not args.no_cls, drop_score=drop, rec_drop_score=drop)
    except OCRError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result = evaluate_labels(engine, labels, args.task, limit=args.limit, normalize=args.normalize,
                             progress=progress_bar(args.task),
                             report=lambda p: tqdm.write(f"skipped: {p}", file=sys.stderr))  # above the bar
    if not result.samples:
        print(f"error: no sample of {args.labels} could be evaluated ({result.skipped} skipped)", file=sys.stderr)
        return 2
    bundle = engine.ocr.bundle
    doc = {"task": args.task, "labels": str(args.labels), "bundle": str(bundle.root), "bundle_name": bundle.name,
           "use_cls": engine.ocr.use_cls, "normalize": args.normalize, "limit": args.limit,
           **summarize(result, args.task), "seconds": round(result.seconds, 3)}
    print(json.dumps(doc, ensure_ascii=False) if args.json else _eval_text(doc))
    return 0


def _eval_text(doc: dict) -> str:
    c, s = doc["counts"], doc["scores"]
    head = f"{doc['task']} on {doc['labels']} with bundle {Path(doc['bundle']).name}"
    if doc["task"] == "rec":
        out = [f"{head}: {c['samples']} crops, {c['skipped']} skipped, {c['empty_predictions']} read as empty",
               f"  accuracy, exact (case-sensitive)       {100 * s['accuracy']:6.2f} %",
               f"  accuracy, IC15 (lowercase a-z0-9)      {100 * s['accuracy_alnum']:6.2f} %",
               f"  1 - NED                                {100 * s['one_minus_ned']:6.2f} %",
               f"  1 - NED, IC15 (lowercase a-z0-9)       {100 * s['one_minus_ned_alnum']:6.2f} %"]
    else:
        out = [f"{head}: {c['images']} images, {c['skipped']} skipped; {c['gt']} GT regions ({c['gt_ignored']} "
               f"ignored), {c['pred']} predicted ({c['pred_ignored']} ignored), {c['matched']} matched"
               + (f", {c['e2e_matched']} with the right text" if "e2e_matched" in c else "")]
        out += [f"  {k:<4} precision {100 * v['precision']:6.2f} %  recall {100 * v['recall']:6.2f} %  "
                f"hmean {100 * v['hmean']:6.2f} %" for k, v in s.items()]
    return "\n".join(out)


def _bundles(args: argparse.Namespace) -> int:
    from .bundle import DEFAULT_BUNDLE, bundle_summary, embedded_bundles

    for name, root in embedded_bundles().items():
        info = {**bundle_summary(root), "default": root == DEFAULT_BUNDLE}
        if args.json:
            print(json.dumps(info, ensure_ascii=False))
            continue
        print(f"{name}{' (default)' if info['default'] else ''}\n  path    {info['path']}\n"
              f"  size    {info['size_bytes'] / 1e6:.1f} MB\n  models  {info['title'] or '?'}\n"
              f"  licence {info['license'] or '?'}\n  source  {info['source'] or '?'}")
        m = info["measured"]
        if m:
            acc, ms = m["accuracy_pct"], m["ms_per_image"]
            print(f"  accuracy (real_dev, %): receipts det H {acc['sroie_det_h']} e2e H {acc['sroie_e2e_h']}; scenes "
                  f"det H {acc['ic15_det_h_words']} e2e H {acc['ic15_e2e_h_words']} (word boxes); word crops "
                  f"{acc['ic15_crops_acc_alnum']}\n  speed   {ms['receipts']:.0f} ms/receipt, {ms['scenes']:.0f} "
                  f"ms/scene (median; {m['cpu']}, {m['date']})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"ocr": _ocr, "eval": _eval, "bundles": _bundles}[args.command](args)
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stdout = open(os.devnull, "w")
        return 1


if __name__ == "__main__":
    sys.exit(main())
