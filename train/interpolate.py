"""Weight interpolation between a fine-tune's starting weights and its result (WiSE-FT, Wortsman et al. 2022): a
forgetting guard applied after training. theta(alpha) = theta_start + alpha * (theta_tuned - theta_start); alpha 0
is the starting model, 1 the fine-tuned one. Each alpha is scored on the run's own evaluation sets (the trainer's
evaluation: the SDK's preprocessing and CTC decoder), and the chosen one is written as a checkpoint that
`convert.torch_export --rec` (or `--det`) exports like any other. Works for recognition and detection runs.

    python -m train.interpolate RUN_DIR [--checkpoint best.pt] [--alphas 0.25 0.5 0.75 1] [--save 0.5] [--json]

The starting weights are rebuilt from RUN_DIR/config.yaml by the trainer's own task (init.official or
init.checkpoint, with the same dictionary mapping), so RUN_DIR needs nothing else. BN statistics are interpolated
like the weights (with train.freeze_bn they are the starting ones at both ends).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import yaml

from .checkpoint import load_checkpoint, save_checkpoint


def interpolate(start: Mapping[str, torch.Tensor], tuned: Mapping[str, torch.Tensor], alpha: float
                ) -> dict[str, torch.Tensor]:
    """start + alpha * (tuned - start) for floating tensors; integer buffers (BN batch counters) from `tuned`."""
    if set(start) != set(tuned):
        raise ValueError(f"state dicts differ: {sorted(set(start) ^ set(tuned))[:5]}")
    out = {}
    for k, t in tuned.items():
        s = start[k].to(t.device)
        if s.shape != t.shape:
            raise ValueError(f"{k}: shape {tuple(s.shape)} vs {tuple(t.shape)}")
        out[k] = torch.lerp(s.float(), t.float(), float(alpha)).to(t.dtype) if t.is_floating_point() else t.clone()
    return out


def task_for(cfg: Mapping[str, object]) -> type:
    """The task class that trained a run's config: train.det for detector configs, else train.rec (imported here:
    building a task renders / loads its evaluation sets)."""
    model = cfg.get("model") or {}
    if "recipe" in cfg or str(model.get("factory", "") if isinstance(model, Mapping) else "").startswith("det"):
        from .det import DetTask

        return DetTask
    from .rec import RecTask

    return RecTask


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="a train.rec or train.det output directory (config.yaml + checkpoint)")
    p.add_argument("--checkpoint", default="best.pt", help="the fine-tuned checkpoint in RUN (default best.pt)")
    p.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    p.add_argument("--save", type=float, default=None, metavar="ALPHA",
                   help="write RUN/interpolated_ALPHA.pt for this alpha")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout instead of a table")
    a = p.parse_args(argv)

    cfg = yaml.safe_load((a.run / "config.yaml").read_text(encoding="utf-8"))
    ck = load_checkpoint(a.run / a.checkpoint)
    task = task_for(cfg)(cfg, torch.device(a.device))  # its student holds the starting weights, as in training
    if task.init_report is None:
        raise SystemExit(f"{a.run}: the run started from scratch (no init.official / init.checkpoint)")
    start = {k: v.detach().clone() for k, v in task.student.state_dict().items()}
    tuned = {k: v.detach().clone() for k, v in ck.model.state_dict().items()}  # the model is overwritten below
    model = ck.model.to(a.device)
    results: dict[str, dict[str, float]] = {}
    for alpha in a.alphas:
        model.load_state_dict(interpolate(start, tuned, alpha))
        results[f"{alpha:g}"] = task.evaluate(model, torch.device(a.device))
        print(f"alpha {alpha:g}: " + ", ".join(f"{k} {v:.4f}" for k, v in results[f"{alpha:g}"].items()
                                             if not k.endswith("/n")), file=sys.stderr)
    if a.save is not None:
        model.load_state_dict(interpolate(start, tuned, a.save))
        meta = dict(ck.metadata, interpolated={"alpha": a.save, "from": str(a.run / a.checkpoint),
                                               "start": cfg.get("init", {})})
        metrics = results.get(f"{a.save:g}") or task.evaluate(model, torch.device(a.device))
        meta["metrics"] = metrics
        out = save_checkpoint(a.run / f"interpolated_{a.save:g}.pt", model.cpu(), ck.factory, ck.kwargs,
                              dictionary=ck.dictionary, metadata=meta)
        print(f"wrote {out}", file=sys.stderr)
    if a.json:
        print(json.dumps(results))
    else:
        keys = [k for k in next(iter(results.values())) if not k.endswith("/n")]
        print("| alpha | " + " | ".join(keys) + " |")
        print("|---|" + "---|" * len(keys))
        for alpha, m in results.items():
            print(f"| {alpha} | " + " | ".join(f"{100 * m[k]:.1f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
