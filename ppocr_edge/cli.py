"""Command line: ``ppocr-edge ocr IMAGE... [--bundle DIR] [--json] [--vis OUT_DIR] [--no-cls] [--no-det]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from tqdm import tqdm

from .errors import OCRError
from .image_io import load_image
from .results import OCRResult

if TYPE_CHECKING:
    from .pipeline import OCRPipeline


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ppocr-edge", description="PP-OCRv3 OCR on OpenVINO (CPU).")
    sub = p.add_subparsers(dest="command", required=True)
    o = sub.add_parser("ocr", help="recognise text in images")
    o.add_argument("images", nargs="+", type=Path, help="image files")
    o.add_argument("--bundle", type=Path, help="model bundle directory (default: embedded PP-OCRv3)")
    o.add_argument("--json", action="store_true", help="one JSON object per image per line")
    o.add_argument("--vis", type=Path, metavar="OUT_DIR", help="write images with boxes and texts drawn")
    o.add_argument("--no-cls", action="store_true", help="skip the 0/180 degree direction classifier")
    o.add_argument("--no-det", action="store_true", help="each image is one text line or word, recognised whole")
    o.add_argument("--drop-score", type=float, help="drop lines below this confidence (default: the bundle's)")
    o.add_argument("--precision", choices=["f32", "bf16", "f16", "auto"], default="f32",
                   help="OpenVINO inference precision (default f32)")
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
    if args.vis:
        args.vis.mkdir(parents=True, exist_ok=True)
    failed = 0
    many = len(args.images) > 1
    results = _results(ocr, args.images, not args.no_det)
    for path, item in tqdm(zip(args.images, results), total=len(args.images), disable=not many, file=sys.stderr,
                           unit="img"):
        if many and not args.json:
            print(f"==> {path} <==")
        _emit(path, item, args.json)
        if isinstance(item, OCRError):
            failed += 1
        elif args.vis:
            _write_vis(path, item, args.vis)
    return 1 if failed else 0


def _results(ocr: "OCRPipeline", paths: list[Path], use_det: bool) -> Iterator[OCRResult | OCRError]:
    """Many images go through the pipelined map(); a single one through a latency-optimised call."""
    if len(paths) > 1:
        yield from ocr.map(paths, use_det=use_det, return_exceptions=True)
        return
    try:
        yield ocr(paths[0], use_det=use_det)
    except OCRError as e:
        yield e


def _write_vis(path: Path, result: OCRResult, out_dir: Path) -> None:
    import cv2

    from .visualize import draw_result

    cv2.imwrite(str(out_dir / f"{path.stem}_ocr.png"), draw_result(load_image(path), result))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _ocr(args)
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stdout = open(os.devnull, "w")
        return 1


if __name__ == "__main__":
    sys.exit(main())
