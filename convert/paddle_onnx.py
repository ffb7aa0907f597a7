"""Import official PaddleOCR inference models (ONNX, as paddle2onnx writes them) into a ppocr_edge bundle.

    python -m convert.paddle_onnx --det det.onnx --rec rec.onnx [--cls cls.onnx] [--dict keys.txt] --out DIR

The recognition dictionary is read from the ONNX metadata key ``character`` when --dict is not given.
Pre/post-processing parameters are the PP-OCRv3 inference defaults (tools/infer/utility.py); a model released with
other ones takes `--settings FILE` (YAML or JSON: role -> preprocess / postprocess keys that replace the defaults),
e.g. ``{det: {preprocess: {limit_side_len: 736, limit_type: min}, postprocess: {unclip_ratio: 1.6}}}``. The
written bundle is loaded back, so a setting the runtime does not accept fails here, not at OCR time.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import openvino as ov

from ppocr_edge.bundle import has_space_class, load_bundle, read_dictionary, sha256_of, write_manifest

DET_PRE = {"limit_side_len": 960, "limit_type": "max", "max_side": 4000, "size_step": 128,
           "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "channel_order": "BGR"}
DET_POST = {"thresh": 0.3, "box_thresh": 0.6, "unclip_ratio": 1.5, "max_candidates": 1000, "use_dilation": False,
            "score_mode": "fast", "min_size": 3}
# PP-OCR pads every batch to at least 320 px; half of real crops need < 180 px, and padding them to 160 instead
# gave the same accuracy on the dev sets for ~25% less recognition time (benchmarks/results/accuracy_*.md). Steps of
# 1/8 to 1/4 between buckets (15 buckets instead of 9) pad less: ~5% less end-to-end time on receipts.
# batch_size 8: with batches planned by padded compute, 8 lines per call ran receipts ~4% faster than 6 (alternating
# A/B, benchmarks/results/cpu_path.md) at the same accuracy.
REC_PRE = {"height": 48, "min_width": 160,
           "width_buckets": [160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 960, 1280, 1600, 1920, 2560],
           "batch_size": 8, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "channel_order": "BGR"}
REC_POST = {"drop_score": 0.5}  # CTC blank is class 0; class i is dictionary entry i - 1
CLS_PRE = {"height": 48, "width": 192, "batch_size": 6, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
           "channel_order": "BGR"}
CLS_POST = {"labels": ["0", "180"], "thresh": 0.9}


def role_settings(settings: Mapping[str, Any] | None, role: str, pre: Mapping[str, Any], post: Mapping[str, Any]
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The defaults of one role with the overrides of `settings[role]` ({"preprocess": {...}, "postprocess": {...}})."""
    over = dict((settings or {}).get(role) or {})
    unknown = set(over) - {"preprocess", "postprocess"}
    if unknown:
        raise ValueError(f"settings.{role}: unknown sections {sorted(unknown)} (preprocess, postprocess)")
    for section, defaults in (("preprocess", pre), ("postprocess", post)):
        typos = set(over.get(section) or {}) - set(defaults)
        if typos:
            raise ValueError(f"settings.{role}.{section}: unknown keys {sorted(typos)}; known: {sorted(defaults)}")
    return {**pre, **(over.get("preprocess") or {})}, {**post, **(over.get("postprocess") or {})}


def read_settings(path: Path) -> dict[str, Any]:
    """A settings file (YAML, or JSON which YAML also reads): role -> {preprocess, postprocess}."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(data) - {"det", "rec", "cls"} if isinstance(data, dict) else {"<not a mapping>"}
    if unknown:
        raise ValueError(f"{path}: unknown roles {sorted(unknown)} (det, rec, cls)")
    return data


def onnx_dictionary(model: ov.Model) -> list[str] | None:
    """The CTC dictionary stored by PaddleOCR/RapidOCR exports in the ONNX metadata key 'character'."""
    if not model.has_rt_info(["framework", "character"]):
        return None
    text = model.get_rt_info(["framework", "character"]).astype(str)
    return text.split("\n") if text else None


def _read(path: Path) -> ov.Model:
    """ONNX -> ov.Model through the model conversion API, which also runs OpenVINO's graph fusions (BatchNorm into
    conv, HSwish, MVN): NNCF then places its quantizers where the CPU plugin can fuse them (on the raw graph the
    decomposed hard-swish left every depthwise conv of the INT8 detector in f32)."""
    return ov.convert_model(str(path))


def _save(model: ov.Model, shape: list[int], out: Path, stem: str) -> dict[str, str]:
    model.reshape({model.inputs[0]: ov.PartialShape(shape)})
    ov.save_model(model, str(out / f"{stem}.xml"), compress_to_fp16=False)
    return {"xml": f"{stem}.xml", "bin": f"{stem}.bin"}


def finish_bundle(out: Path, models: dict[str, Any], sources: dict[str, Any], *, name: str, license: str,
                  source: str, notice: Path | None) -> Path:
    """Copy the NOTICE and write the manifest (with file hashes) of a bundle whose model files are in place."""
    manifest: dict[str, Any] = {"name": name, "license": license, "source": {"origin": source, "models": sources},
                                "models": models}
    if notice is not None:
        shutil.copyfile(notice, out / "NOTICE")
        manifest["notice"] = "NOTICE"
    return write_manifest(out, manifest)


def convert(det: Path | None, rec: Path, cls: Path | None, out: Path, dict_path: Path | None = None,
            name: str = "PP-OCRv3 (official PaddleOCR models)", source: str = "", license: str = "Apache-2.0",
            notice: Path | None = None, settings: Mapping[str, Any] | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    models: dict[str, Any] = {}
    sources = {}
    det_pre, det_post = role_settings(settings, "det", DET_PRE, DET_POST)
    rec_pre, rec_post = role_settings(settings, "rec", REC_PRE, REC_POST)
    cls_pre, cls_post = role_settings(settings, "cls", CLS_PRE, CLS_POST)
    if det is not None:
        models["det"] = {**_save(_read(det), [-1, 3, -1, -1], out, "det"),
                         "preprocess": det_pre, "postprocess": det_post}
        sources["det"] = {"file": det.name, "sha256": sha256_of(det)}
    rec_model = _read(rec)
    chars = read_dictionary(dict_path) if dict_path else onnx_dictionary(rec_model)
    if not chars:
        raise SystemExit(f"{rec}: no dictionary in its metadata; pass --dict")
    n_classes = rec_model.outputs[0].get_partial_shape()[-1].get_length()
    use_space = has_space_class(n_classes, len(chars), str(rec))
    (out / "dict.txt").write_text("\n".join(chars) + "\n", encoding="utf-8")
    models["rec"] = {**_save(rec_model, [-1, 3, rec_pre["height"], -1], out, "rec"), "dictionary": "dict.txt",
                     "use_space_char": use_space, "preprocess": rec_pre, "postprocess": rec_post}
    sources["rec"] = {"file": rec.name, "sha256": sha256_of(rec)}
    if cls is not None:
        models["cls"] = {**_save(_read(cls), [-1, 3, cls_pre["height"], cls_pre["width"]], out, "cls"),
                         "preprocess": cls_pre, "postprocess": cls_post}
        sources["cls"] = {"file": cls.name, "sha256": sha256_of(cls)}
    path = finish_bundle(out, models, sources, name=name, license=license, source=source, notice=notice)
    load_bundle(out)  # the runtime's own checks of every setting (a typo fails here, as a BundleError)
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--det", type=Path)
    p.add_argument("--rec", type=Path, required=True)
    p.add_argument("--cls", type=Path)
    p.add_argument("--dict", type=Path, help="dictionary file (one character per line)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--name", default="PP-OCRv3 (official PaddleOCR models)")
    p.add_argument("--source", default="", help="where the models came from (recorded in the manifest)")
    p.add_argument("--notice", type=Path, help="licence/attribution file copied into the bundle")
    p.add_argument("--settings", type=Path, help="YAML/JSON: role -> preprocess/postprocess keys replacing the "
                   "PP-OCRv3 defaults (the model's own release settings)")
    a = p.parse_args(argv)
    path = convert(a.det, a.rec, a.cls, a.out, a.dict, a.name, a.source, notice=a.notice,
                   settings=read_settings(a.settings) if a.settings else None)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
