"""Strict weight loading: every missing, unexpected or shape-mismatched tensor is listed, and is an error unless the
config names it as new (e.g. a new head). Nothing is skipped silently."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn


class WeightLoadError(ValueError):
    """The weights do not fit the model and the differences were not declared as new."""


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the model, not in the weights (kept as initialised)
    unexpected: list[str] = field(default_factory=list)  # in the weights, not in the model (ignored)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)  # name, ckpt, model

    def summary(self) -> str:
        parts = [f"{len(self.loaded)} tensors loaded"]
        if self.missing:
            parts.append(f"{len(self.missing)} new (kept as initialised): {_short(self.missing)}")
        if self.mismatched:
            parts.append(f"{len(self.mismatched)} re-initialised for a new shape: "
                         f"{_short([f'{n} {a}->{b}' for n, a, b in self.mismatched])}")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unused: {_short(self.unexpected)}")
        return "; ".join(parts)


def _short(names: Sequence[str], n: int = 6) -> str:
    return ", ".join(names[:n]) + (f", ... (+{len(names) - n})" if len(names) > n else "")


def _allowed(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) or name.startswith(p.rstrip("*").rstrip(".") + ".") for p in patterns)


def load_weights_strict(model: nn.Module, state: Mapping[str, torch.Tensor], new: Sequence[str] = (),
                        ignore_unused: Sequence[str] = ()) -> LoadReport:
    """Copy state into model. Tensors whose names match a pattern in `new` (fnmatch, or a module prefix such as
    'sar_head') may be missing from state or differ in shape (they keep the model's initialisation); tensors of
    state matching `ignore_unused` may be absent from the model. Anything else raises WeightLoadError listing
    every problem."""
    own = model.state_dict()
    report = LoadReport()
    to_load = {}
    for name, tensor in state.items():
        if name not in own:
            report.unexpected.append(name)
        elif tuple(tensor.shape) != tuple(own[name].shape):
            report.mismatched.append((name, tuple(tensor.shape), tuple(own[name].shape)))
        else:
            to_load[name] = tensor
            report.loaded.append(name)
    report.missing = [n for n in own if n not in state]
    errors = [f"missing: {n}" for n in report.missing if not _allowed(n, new)]
    errors += [f"shape: {n} checkpoint {a} vs model {b}" for n, a, b in report.mismatched if not _allowed(n, new)]
    errors += [f"unexpected: {n}" for n in report.unexpected if not _allowed(n, ignore_unused)]
    if errors:
        raise WeightLoadError(f"{len(errors)} weight problems (name new tensors in the config's init.new to allow "
                              f"them):\n  " + "\n  ".join(errors))
    model.load_state_dict(to_load, strict=False)
    return report
