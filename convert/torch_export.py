"""Export PyTorch PP-OCR networks (train/models) into a ppocr_edge bundle: OpenVINO IR + dict.txt + manifest.json.

    python -m convert.torch_export --det det.pt --rec rec.pt [--cls cls.pt] --out DIR
    python -m convert.torch_export --from-official --out DIR     # torch modules with the official PP-OCRv3 weights

Checkpoints are train/checkpoint.py files. A rec checkpoint carries its dictionary (--dict overrides it). The
pre/post-processing settings are copied from a bundle (--settings-from, default: the embedded PP-OCRv3 bundle),
laid out exactly as convert.paddle_onnx writes them. Each network is traced in eval mode under torch.no_grad() with
ov.convert_model and saved as f32 IR.
"""

from __future__ import annotations

import argparse
import inspect
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import openvino as ov
import torch
from torch import nn

from ppocr_edge.bundle import FP32_BUNDLE, MANIFEST, has_space_class, load_bundle, read_dictionary, sha256_of

from .paddle_onnx import CLS_POST, CLS_PRE, DET_POST, DET_PRE, REC_POST, REC_PRE, _save, finish_bundle, onnx_dictionary

ROLES = ("det", "rec", "cls")
# the PP-OCRv3 inference settings of convert.paddle_onnx, per role (settings_from=None)
PADDLE_SETTINGS = {"det": {"preprocess": DET_PRE, "postprocess": DET_POST},
                   "rec": {"preprocess": REC_PRE, "postprocess": REC_POST},
                   "cls": {"preprocess": CLS_PRE, "postprocess": CLS_POST}}
OUTPUT_NAMES = {"det": "det_prob", "rec": "rec_probs", "cls": "cls_probs"}
OUTPUT_RANKS = {"det": 4, "rec": 3, "cls": 2}  # [N,1,H,W] prob map, [N,T,classes], [N,labels]
INPUT_NAME = "x"
REPO = Path(__file__).resolve().parents[1]

Settings = Mapping[str, Mapping[str, Mapping[str, Any]]]  # role -> {"preprocess": {...}, "postprocess": {...}}


def bundle_settings(settings_from: str | Path | Settings | None = FP32_BUNDLE) -> dict[str, dict[str, dict]]:
    """Pre/post-processing settings per role: from a bundle directory, an explicit mapping, or (None) the
    PP-OCRv3 defaults of convert.paddle_onnx."""
    if settings_from is None:
        source: Settings = PADDLE_SETTINGS
    elif isinstance(settings_from, Mapping):
        source = settings_from
    else:
        b = load_bundle(settings_from)
        source = {e.role: {"preprocess": e.preprocess, "postprocess": e.postprocess}
                  for e in (b.det, b.rec, b.cls) if e is not None}
    return {role: {"preprocess": dict(s.get("preprocess", {})), "postprocess": dict(s.get("postprocess", {}))}
            for role, s in source.items()}


def _settings_dictionary(settings_from: str | Path | Settings | None) -> list[str]:
    """The dictionary file (without the optional space class) of the settings bundle, or of the default bundle."""
    root = Path(settings_from) if isinstance(settings_from, (str, Path)) else FP32_BUNDLE
    b = load_bundle(root)
    return read_dictionary(root / b.manifest["models"]["rec"]["dictionary"])


def input_shape(role: str, pre: Mapping[str, Any]) -> list[int]:
    """The IR input shape: det [-1,3,-1,-1], rec [-1,3,height,-1], cls [-1,3,height,width]."""
    if role == "det":
        return [-1, 3, -1, -1]
    if role == "rec":
        return [-1, 3, int(pre["height"]), -1]
    return [-1, 3, int(pre["height"]), int(pre["width"])]


def example_hw(role: str, pre: Mapping[str, Any], det_size: int = 320) -> tuple[int, int]:
    if role == "det":
        return det_size, det_size
    if role == "rec":
        return int(pre["height"]), int(pre.get("min_width", 320))
    return int(pre["height"]), int(pre["width"])


def torch_to_openvino(model: nn.Module, role: str, shape: Sequence[int], hw: tuple[int, int]) -> ov.Model:
    """Trace model (eval mode, no grad) into an OpenVINO model with the given input shape; name its input 'x' and
    its single output OUTPUT_NAMES[role]. The module's train/eval mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            example = torch.rand(1, 3, *hw) * 2 - 1
            converted = ov.convert_model(model, example_input=example, input=list(shape))
    finally:
        model.train(was_training)
    if len(converted.inputs) != 1 or len(converted.outputs) != 1:
        raise ValueError(f"{role} model: expected one input and one output tensor in eval mode, got "
                         f"{len(converted.inputs)} inputs and {len(converted.outputs)} outputs")
    rank = converted.outputs[0].get_partial_shape().rank
    if rank.is_static and rank.get_length() != OUTPUT_RANKS[role]:
        raise ValueError(f"{role} model: output has rank {rank.get_length()}, expected {OUTPUT_RANKS[role]}")
    converted.inputs[0].get_tensor().set_names({INPUT_NAME})
    converted.outputs[0].get_tensor().set_names({OUTPUT_NAMES[role]})
    return converted


def _class_count(model: ov.Model) -> int | None:
    dim = model.outputs[0].get_partial_shape()[-1]
    return dim.get_length() if dim.is_static else None


def export_bundle(out_dir: str | Path, det: nn.Module | ov.Model | None = None, rec: nn.Module | ov.Model | None = None,
                  cls: nn.Module | ov.Model | None = None, dictionary: str | Path | Sequence[str] | None = None,
                  settings_from: str | Path | Settings | None = FP32_BUNDLE,
                  name: str = "PP-OCRv3 (PyTorch export)", source: str = "", license: str = "Apache-2.0",
                  notice: str | Path | None = None, model_sources: Mapping[str, Mapping[str, Any]] | None = None,
                  det_example_size: int = 320) -> Path:
    """Write a bundle to out_dir from torch modules (or already converted ov.Models) and return its manifest path.

    dictionary: a file (one character per line) or the list of characters; None takes the settings bundle's
    dictionary (the embedded one for explicit settings). Whether a space class follows it is decided, as in
    convert.paddle_onnx, by the rec output class count (dictionary + blank, or + blank + space).
    settings_from: a bundle directory, a mapping role -> {"preprocess", "postprocess"}, or None for the
    convert.paddle_onnx PP-OCRv3 defaults. model_sources: extra provenance per role for manifest source.models.
    """
    if rec is None:
        raise ValueError("a bundle needs a rec model")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = bundle_settings(settings_from)
    if dictionary is None:
        chars = _settings_dictionary(settings_from)
    elif isinstance(dictionary, (str, Path)):
        chars = read_dictionary(Path(dictionary))
    else:
        chars = list(dictionary)
    if not chars:
        raise ValueError("empty recognition dictionary")

    models: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    for role, module in (("det", det), ("rec", rec), ("cls", cls)):
        if module is None:
            continue
        if role not in settings or not settings[role]["preprocess"]:
            raise ValueError(f"no {role} settings in {settings_from}")
        pre, post = settings[role]["preprocess"], settings[role]["postprocess"]
        shape = input_shape(role, pre)
        if isinstance(module, ov.Model):
            converted = module
            sources[role] = {"openvino_model": converted.get_friendly_name()}
        else:
            converted = torch_to_openvino(module, role, shape, example_hw(role, pre, det_example_size))
            sources[role] = {"module": f"{type(module).__module__}.{type(module).__qualname__}"}
        sources[role].update((model_sources or {}).get(role, {}))
        entry: dict[str, Any] = dict(_save(converted, shape, out, role))
        if role == "rec":
            use_space = has_space_class(_class_count(converted), len(chars))
            (out / "dict.txt").write_text("\n".join(chars) + "\n", encoding="utf-8")
            entry.update(dictionary="dict.txt", use_space_char=use_space)
        elif role == "cls":
            n, labels = _class_count(converted), post.get("labels", [])
            if n != len(labels):
                raise ValueError(f"cls model outputs {n} classes but the settings list labels {labels}")
        models[role] = {**entry, "preprocess": pre, "postprocess": post}

    return finish_bundle(out, models, sources, name=name, license=license, source=source, notice=notice)


# ------------------------------------------------------------------------------------------------ model sources
def official_modules(onnx: Mapping[str, Path], roles: Sequence[str] = ROLES) -> dict[str, nn.Module]:
    """Torch modules (train/models) holding the weights of the official PP-OCRv3 ONNX files (role -> path)."""
    modules: dict[str, nn.Module] = {}
    if "det" in roles:
        from train.models.det import det_student, load_official_det

        modules["det"] = _loaded(det_student, load_official_det, onnx["det"])
    if "rec" in roles:
        from train.models.rec import load_official_rec, rec_svtr_lcnet

        modules["rec"] = _loaded(rec_svtr_lcnet, load_official_rec, onnx["rec"])
    if "cls" in roles:
        from train.models.cls import cls_mobilenet_v3_small, load_official_cls

        modules["cls"] = _loaded(cls_mobilenet_v3_small, load_official_cls, onnx["cls"])
    return modules


def _loaded(factory, loader, path: Path) -> nn.Module:
    """factory() (given the ONNX output class count when it takes one) with loader's weights, in eval mode."""
    kwargs = {}
    params = inspect.signature(factory).parameters
    for key in ("num_classes", "out_channels"):
        if key in params:
            dim = ov.Core().read_model(str(path)).outputs[0].get_partial_shape()[-1]
            if dim.is_static:
                kwargs[key] = dim.get_length()
            break
    model = factory(**kwargs)
    result = loader(model, path)
    return (result if isinstance(result, nn.Module) else model).eval()


def _from_checkpoint(path: Path) -> tuple[nn.Module, list[str] | None, dict[str, Any]]:
    from train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    meta = ckpt.metadata
    training = {k: meta[k] for k in ("command", "step", "epoch", "metrics", "device", "world_size") if k in meta}
    if isinstance(meta.get("config"), dict):  # what the trainer recorded: data, init, losses, schedule
        training["config"] = {k: meta["config"][k] for k in ("dictionary", "init", "loss", "distill", "data",
                                                              "augment", "optim", "train") if k in meta["config"]}
    prov = {"file": path.name, "sha256": sha256_of(path), "factory": ckpt.factory, "kwargs": ckpt.kwargs}
    if training:
        prov["training"] = training
    return ckpt.model, ckpt.dictionary, prov


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--det", type=Path, help="det checkpoint (train/checkpoint.py format)")
    p.add_argument("--rec", type=Path, help="rec checkpoint (default: reuse the settings bundle's recognizer)")
    p.add_argument("--cls", type=Path, help="cls checkpoint")
    p.add_argument("--from-official", action="store_true",
                   help="build the torch networks from the official PP-OCRv3 ONNX models and export those")
    p.add_argument("--download-dir", type=Path, default=Path(tempfile.gettempdir()) / "ppocr_edge_official",
                   help="where --from-official finds (or downloads) the official ONNX files")
    p.add_argument("--dict", type=Path, help="dictionary file (default: the rec checkpoint's, else the settings')")
    p.add_argument("--settings-from", type=Path, default=FP32_BUNDLE,
                   help="bundle whose pre/post-processing settings are used (default: the embedded bundle)")
    p.add_argument("--no-det", action="store_true", help="without --det, leave det out (default: reuse the settings "
                   "bundle's detector)")
    p.add_argument("--no-cls", action="store_true", help="without --cls, leave cls out (default: reuse the settings "
                   "bundle's classifier)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--name", default=None)
    p.add_argument("--source", default=None, help="where the weights came from (recorded in the manifest)")
    p.add_argument("--license", default="Apache-2.0")
    p.add_argument("--notice", type=Path, help="licence/attribution file copied into the bundle")
    a = p.parse_args(argv)
    if not (a.settings_from / MANIFEST).is_file():
        p.error(f"--settings-from {a.settings_from}: not a bundle")

    modules: dict[str, nn.Module] = {}
    provenance: dict[str, dict[str, Any]] = {}
    dictionary: Path | list[str] | None = a.dict
    if a.from_official:
        if a.det or a.rec or a.cls:
            p.error("--from-official builds all three networks; do not combine it with --det/--rec/--cls")
        from convert.official_v3 import WHEEL, fetch_official_onnx

        onnx = fetch_official_onnx(a.download_dir)
        modules = official_modules(onnx)
        provenance = {role: {"file": path.name, "sha256": sha256_of(path)} for role, path in onnx.items()}
        if dictionary is None:
            dictionary = onnx_dictionary(ov.Core().read_model(str(onnx["rec"])))
        name = a.name or "PP-OCRv3 (official weights, PyTorch re-implementation)"
        source = a.source or f"official PP-OCRv3 ONNX from PyPI {WHEEL}, loaded into train/models and exported"
        notice = a.notice or (REPO / "NOTICE" if (REPO / "NOTICE").is_file() else None)
    else:
        if a.det is None and a.rec is None and a.cls is None:
            p.error("give at least one of --det / --rec / --cls (or use --from-official)")
        for role in ROLES:
            path = getattr(a, role)
            if path is not None:
                modules[role], chars, provenance[role] = _from_checkpoint(path)
                if role == "rec" and dictionary is None:
                    dictionary = chars
        settings_bundle = load_bundle(a.settings_from)
        for role in ROLES:  # a network not given is taken as it is from the settings bundle
            entry = getattr(settings_bundle, role)
            if role not in modules and entry is not None and not getattr(a, f"no_{role}", False):
                modules[role] = ov.Core().read_model(str(entry.xml))
                provenance[role] = {"from_bundle": settings_bundle.root.name, "xml": entry.xml.name}
        name = a.name or "PP-OCR (PyTorch checkpoints)"
        source = a.source or "train/ checkpoints: " + ", ".join(
            f"{r}={getattr(a, r).name}" if getattr(a, r) is not None else f"{r} from {a.settings_from.name}"
            for r in modules)
        notice = a.notice
    path = export_bundle(a.out, modules.get("det"), modules["rec"], modules.get("cls"), dictionary,
                         a.settings_from, name=name, source=source, license=a.license, notice=notice,
                         model_sources=provenance)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
