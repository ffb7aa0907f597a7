"""Model checkpoints: one torch.save'd dict that is enough to rebuild the network without the training code's config.

    {
      "format": "ppocr_edge.checkpoint", "format_version": 1,
      "arch": {"factory": "train.models.cls.cls_mobilenet_v3_small", "kwargs": {"scale": 0.35}},
      "state_dict": {...},            # model.state_dict(): parameters and BN running statistics
      "dictionary": [...] or None,    # rec only: the dictionary file's lines (CTC class i -> dictionary[i - 1];
                                      # a trailing space class is added when the model has one more output)
      "metadata": {...},              # free-form JSON-like: epoch, metrics, data, notes
      "training": {...} or absent,    # trainer state for exact resume (optimizer, step, RNG, extra models)
    }

The factory is a dotted name of a function under ``train.models`` (short names such as ``cls_mobilenet_v3_small``
are accepted, see FACTORIES); kwargs must be plain Python values. Everything in the dict is a tensor, string, number,
list or dict, so checkpoints load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT_NAME = "ppocr_edge.checkpoint"
FORMAT_VERSION = 1
ALLOWED_PREFIX = "train.models."
FACTORIES = {  # short name -> dotted name
    "det_student": "train.models.det.det_student",
    "det_teacher": "train.models.det.det_teacher",
    "det_teacher_small": "train.models.det.det_teacher_small",
    "rec_svtr_lcnet": "train.models.rec.rec_svtr_lcnet",
    "cls_mobilenet_v3_small": "train.models.cls.cls_mobilenet_v3_small",
    "rotnet_pplcnet": "train.models.rotnet.rotnet_pplcnet",
}


@dataclass
class Checkpoint:
    model: nn.Module  # rebuilt, weights loaded, in eval mode
    factory: str
    kwargs: dict[str, Any]
    dictionary: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def resolve_factory(name: str) -> Callable[..., nn.Module]:
    """The model factory for a short or dotted name (only functions under train.models are allowed)."""
    dotted = FACTORIES.get(name, name)
    module_name, _, attr = dotted.rpartition(".")
    if not dotted.startswith(ALLOWED_PREFIX) or not module_name:
        raise ValueError(f"model factory {name!r} is not a function under {ALLOWED_PREFIX}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"model factory {dotted!r} not found ({e})") from e
    if not callable(factory):
        raise ValueError(f"model factory {dotted!r} is not callable")
    return factory


def build_model(factory: str, kwargs: dict[str, Any] | None = None) -> nn.Module:
    return resolve_factory(factory)(**(kwargs or {}))


def save_checkpoint(path: str | Path, model: nn.Module, factory: str, kwargs: dict[str, Any] | None = None, *,
                    dictionary: list[str] | None = None, metadata: dict[str, Any] | None = None,
                    training: dict[str, Any] | None = None) -> Path:
    """Write model's weights with the factory call that rebuilds it. factory(**kwargs) must build the same
    architecture (checked here by loading the state dict into a fresh instance). `training` (optional) is the
    trainer's resume state; it is written to a temporary file first, so an interrupted save never leaves a
    truncated checkpoint behind."""
    path = Path(path)
    dotted = FACTORIES.get(factory, factory)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with torch.random.fork_rng(devices=[]):  # building the check model must not advance the caller's RNG
        build_model(dotted, kwargs).load_state_dict(state)  # fails now rather than at export time
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "arch": {"factory": dotted, "kwargs": dict(kwargs or {})}, "state_dict": state,
            "dictionary": list(dictionary) if dictionary is not None else None, "metadata": dict(metadata or {})}
    if training is not None:
        data["training"] = training
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    tmp.replace(path)
    return path


def load_training_state(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The trainer state saved with a checkpoint (KeyError when the file has none)."""
    data = torch.load(Path(path), map_location=map_location, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: not a {FORMAT_NAME} file")
    if "training" not in data:
        raise KeyError(f"{path}: no training state (written without one, e.g. an exported best checkpoint)")
    return data["training"]


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model of a checkpoint written by save_checkpoint (eval mode)."""
    data = torch.load(Path(path), map_location=map_location, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: not a {FORMAT_NAME} file")
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {data.get('format_version')!r} is not supported")
    arch = data["arch"]
    model = build_model(arch["factory"], arch.get("kwargs"))
    model.load_state_dict(data["state_dict"])
    return Checkpoint(model.eval(), arch["factory"], dict(arch.get("kwargs") or {}), data.get("dictionary"),
                      dict(data.get("metadata") or {}))
