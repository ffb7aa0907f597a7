"""The training loop shared by recognition and detection: optimiser and schedule, AMP, DDP, gradient clipping,
evaluation every N steps (and before the first update), checkpoints (last / best) with exact resume, a progress bar,
a CSV log and a PNG of the curves.

A task (train.rec.RecTask, ...) supplies the models and data; see the `Task` protocol. Training is counted in steps;
an epoch is one pass over the task's training mixture, and step s is batch s % steps_per_epoch of epoch
s // steps_per_epoch, so a resumed run continues on exactly the batches the straight run would have seen.

Distributed: run under ``torchrun --nproc_per_node N python -m train.rec ...``; the backend is gloo on CPU and nccl on
CUDA. Each rank trains on its own shard of every epoch; rank 0 evaluates, logs and writes checkpoints.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch import nn

from .checkpoint import load_training_state, save_checkpoint
from .config import get
from .fast_depthwise import enable_fast_depthwise, fast_depthwise_available
from .run_log import RunLog


class Task(Protocol):
    config: dict[str, Any]

    def trainable(self) -> dict[str, nn.Module]:
        """The models the optimiser updates, by name; the first one is the deployed model."""

    def param_groups(self, models: Mapping[str, nn.Module]) -> list[dict[str, Any]]:
        """Optimiser parameter groups (each with its weight_decay)."""

    def steps_per_epoch(self, world_size: int) -> int: ...

    def batches(self, epoch: int, start_batch: int, rank: int, world_size: int) -> Iterator[Any]: ...

    def set_train_mode(self, models: Mapping[str, nn.Module]) -> None: ...

    def train_step(self, models: Mapping[str, nn.Module], batch: Any, device: torch.device
                   ) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        """(loss terms, to be summed; batch statistics such as accuracy and item count)."""

    def evaluate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """Validation metrics of the deployed model, keyed 'set/metric'."""

    def checkpoint_arch(self) -> tuple[str, dict[str, Any], list[str] | None]:
        """(factory, kwargs, dictionary) of the deployed model, for train/checkpoint.py."""


# ------------------------------------------------------------------------------------------------ schedule


def lr_at(step: int, cfg: Mapping[str, Any]) -> float:
    """Linear warm-up from 0 over warmup_steps, then 'cosine' (to 0 at `steps`), 'piecewise' (lr * values at
    boundaries, PaddleOCR's Piecewise) or 'constant'."""
    base, total = float(cfg["lr"]), int(cfg["steps"])
    warmup = int(cfg.get("warmup_steps", 0))
    if step < warmup:
        return base * (step + 1) / warmup
    kind = cfg.get("schedule", "cosine")
    t = step - warmup
    if kind == "cosine":
        span = max(1, total - warmup)
        return 0.5 * base * (1 + math.cos(math.pi * min(t, span) / span))
    if kind == "piecewise":
        lr = base
        for boundary, value in zip(cfg.get("boundaries", []), cfg.get("values", [])):
            if step >= int(boundary):
                lr = float(value)
        return lr
    if kind == "constant":
        return base
    raise ValueError(f"unknown schedule {kind!r}: cosine, piecewise or constant")


# ------------------------------------------------------------------------------------------------ distributed


def init_distributed(device_kind: str) -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; initialises the process group when world > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return rank, world, local


def pick_device(name: str | None, local_rank: int = 0) -> torch.device:
    if name in (None, "", "auto"):
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda: no CUDA device is available")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device(name)


def _unwrap(m: nn.Module) -> nn.Module:
    return m.module if isinstance(m, nn.parallel.DistributedDataParallel) else m


# ------------------------------------------------------------------------------------------------ RNG state


def rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
                             "python_version": random.getstate()[0]}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: Mapping[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((state["python_version"], tuple(state["python"]), None))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# ------------------------------------------------------------------------------------------------ trainer


class Trainer:
    """Runs a Task. cfg keys used here: seed, optim.{lr, steps, warmup_steps, schedule, clip_norm, betas, eps},
    train.{amp, fast_depthwise, log_every, eval_every, save_every, progress, stop_at_step, max_minutes}, eval.best (a metric key or list of keys, averaged;
    higher is better)."""

    def __init__(self, task: Task, out_dir: str | Path, device: torch.device, rank: int = 0, world_size: int = 1,
                 resume: bool = False) -> None:
        self.task, self.cfg = task, task.config
        self.out = Path(out_dir)
        self.device, self.rank, self.world = device, rank, world_size
        self.is_main = rank == 0
        self.optim_cfg = dict(self.cfg["optim"])
        self.total_steps = int(self.optim_cfg["steps"])
        tcfg = self.cfg.get("train", {}) or {}
        self.log_every = int(tcfg.get("log_every", 10))
        self.eval_every = int(tcfg.get("eval_every", 200))
        self.save_every = int(tcfg.get("save_every", self.eval_every))
        self.progress = bool(tcfg.get("progress", True))
        # a run may stop early and be resumed later (sessions, time limits): the schedule still spans optim.steps
        self.stop_at = min(int(tcfg.get("stop_at_step") or self.total_steps), self.total_steps)
        self.max_seconds = float(tcfg.get("max_minutes") or 0) * 60
        self.models = {k: m.to(device) for k, m in task.trainable().items()}
        if self._fast_depthwise(str(tcfg.get("fast_depthwise", "false"))):
            for m in self.models.values():
                enable_fast_depthwise(m)
        if world_size > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.models = {k: nn.parallel.DistributedDataParallel(
                m, device_ids=ids, find_unused_parameters=bool(tcfg.get("find_unused_parameters", False)))
                for k, m in self.models.items()}
        betas = tuple(self.optim_cfg.get("betas", (0.9, 0.999)))
        self.optimizer = torch.optim.Adam(task.param_groups({k: _unwrap(m) for k, m in self.models.items()}),
                                          lr=float(self.optim_cfg["lr"]), betas=betas,  # type: ignore[arg-type]
                                          eps=float(self.optim_cfg.get("eps", 1e-8)))
        self.amp_dtype = self._amp_dtype(str(tcfg.get("amp", "auto")))
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.step = 0
        self.best: float | None = None
        self.best_metrics: dict[str, float] = {}
        self.log = RunLog(self.out, resume=resume) if self.is_main else None
        self.resumed = False
        if resume:
            self._resume()

    def _fast_depthwise(self, setting: str) -> bool:
        """train.fast_depthwise (false | true | auto; default false): depthwise weight gradients compiled by
        TorchInductor (train/fast_depthwise.py), used on the CPU when a C++ compiler is found."""
        if setting in ("false", "False", "off"):
            return False
        if setting not in ("auto", "true", "True", "on"):
            raise ValueError(f"train.fast_depthwise must be auto, true or false, not {setting!r}")
        return self.device.type == "cpu" and fast_depthwise_available()

    def _amp_dtype(self, amp: str) -> torch.dtype | None:
        """auto: bf16 on CUDA, fp32 on the CPU; bf16 on the CPU only where it has native bf16 (AVX512_BF16 or AMX),
        elsewhere it is emulated and slower than fp32, so the run stays fp32 and says so."""
        if amp in ("off", "false", "none", "False") or (amp == "auto" and self.device.type != "cuda"):
            return None
        if amp not in ("auto", "bf16", "fp16"):
            raise ValueError(f"train.amp must be auto, bf16, fp16 or off, not {amp!r}")
        if self.device.type == "cuda":
            return torch.float16 if amp == "fp16" else torch.bfloat16
        if amp == "bf16" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return torch.bfloat16
        if self.is_main:
            print(f"train.amp={amp}: this CPU has no native {amp}; training in fp32", file=sys.stderr)
        return None

    # -------------------------------------------------------------------------------------------- checkpoints

    def _training_state(self) -> dict[str, Any]:
        return {"step": self.step, "best": self.best, "best_metrics": self.best_metrics,
                "models": {k: _unwrap(m).state_dict() for k, m in self.models.items()},
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "rng": rng_state(self.device), "world_size": self.world}

    def _save(self, name: str, metrics: Mapping[str, float] | None = None, with_state: bool = True) -> Path:
        factory, kwargs, dictionary = self.task.checkpoint_arch()
        deployed = _unwrap(next(iter(self.models.values())))
        meta = {"step": self.step, "epoch": self.step / max(1, self.task.steps_per_epoch(self.world)),
                "metrics": dict(metrics or {}), "config": self.cfg, "command": " ".join(sys.argv),
                "device": str(self.device), "world_size": self.world}
        return save_checkpoint(self.out / name, deployed, factory, kwargs, dictionary=dictionary, metadata=meta,
                               training=self._training_state() if with_state else None)

    def _resume(self) -> None:
        path = self.out / "last.pt"
        if not path.is_file():
            raise FileNotFoundError(f"--resume: {path} does not exist")
        state = load_training_state(path, map_location=self.device)
        if state.get("world_size", 1) != self.world:
            raise ValueError(f"--resume: checkpoint was written with {state.get('world_size')} processes, "
                             f"this run has {self.world} (the data shards would differ)")
        for k, m in self.models.items():
            _unwrap(m).load_state_dict(state["models"][k])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.best = int(state["step"]), state.get("best")
        self.best_metrics = dict(state.get("best_metrics") or {})
        set_rng_state(state["rng"], self.device)
        if self.log is not None:
            self.log.truncate_after(self.step)
        self.resumed = True

    # -------------------------------------------------------------------------------------------- evaluation

    def _score(self, metrics: Mapping[str, float]) -> float | None:
        keys = get(self.cfg, "eval.best")
        if keys is None:
            return None
        keys = [keys] if isinstance(keys, str) else list(keys)
        missing = [k for k in keys if k not in metrics]
        if missing:
            raise KeyError(f"eval.best names {missing}, not among the metrics {sorted(metrics)}")
        return sum(float(metrics[k]) for k in keys) / len(keys)

    def evaluate(self) -> dict[str, float]:
        """Evaluate on rank 0 (others wait), log, plot, save last and (if improved) best."""
        metrics: dict[str, float] = {}
        if self.is_main:
            t0 = time.perf_counter()
            metrics = self.task.evaluate(_unwrap(next(iter(self.models.values()))), self.device)
            score = self._score(metrics)
            improved = score is not None and (self.best is None or score > self.best)
            if improved:
                self.best, self.best_metrics = score, dict(metrics)
            assert self.log is not None
            self.log.add({"kind": "eval", "step": self.step, **metrics,
                          "eval_s": round(time.perf_counter() - t0, 2)})
            self.log.plot(title=str(self.out))
            if self.step > 0 or improved:
                self._save("last.pt", metrics)
            if improved:
                self._save("best.pt", metrics, with_state=False)
        if self.world > 1:
            dist.barrier()
        return metrics

    # -------------------------------------------------------------------------------------------- training

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _train_one(self, batch: Any) -> tuple[float, dict[str, float], dict[str, float]]:
        lr = lr_at(self.step, self.optim_cfg)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        with self._autocast():
            losses, stats = self.task.train_step(self.models, batch, self.device)
        loss = sum(losses.values())
        self.optimizer.zero_grad(set_to_none=True)
        clip = float(self.optim_cfg.get("clip_norm", 0) or 0)
        if self.scaler is not None:  # fp16: scaled backward, gradients unscaled before clipping
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if clip > 0:
            nn.utils.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]], clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        return lr, {k: float(v.detach()) for k, v in losses.items()}, stats

    def fit(self) -> dict[str, float]:
        """Train to optim.steps; returns the best validation metrics (or the last ones when eval.best is unset)."""
        if not self.resumed:  # a resumed run continues the saved RNG state instead
            torch.manual_seed(int(self.cfg.get("seed", 0)) + 1000 * self.rank)
        last_metrics: dict[str, float] = {}
        if self.step == 0 and not self.resumed:
            last_metrics = self.evaluate()  # step 0: a broken weight load or dictionary shows before any update
        steps_per_epoch = self.task.steps_per_epoch(self.world)
        bar = None
        if self.is_main and self.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.total_steps, initial=self.step, desc="train", dynamic_ncols=True)
        window_items, window_t = 0, time.perf_counter()
        started = time.perf_counter()
        while self.step < self.stop_at:
            epoch, start = divmod(self.step, steps_per_epoch)
            self.task.set_train_mode(self.models)
            for batch in self.task.batches(epoch, start, self.rank, self.world):
                lr, losses, stats = self._train_one(batch)
                self.step += 1
                window_items += int(stats.get("items", 0)) * self.world
                if bar is not None:
                    bar.update(1)
                if self.step % self.log_every == 0 or self.step == self.total_steps:
                    dt = time.perf_counter() - window_t
                    speed = window_items / dt if dt > 0 else 0.0
                    total = sum(losses.values())
                    if not math.isfinite(total):
                        raise FloatingPointError(f"loss is {total} at step {self.step}: {losses}")
                    row = {"kind": "train", "step": self.step, "epoch": round(self.step / steps_per_epoch, 3),
                           "lr": lr, "loss": total, **{f"loss/{k}": v for k, v in losses.items()},
                           **{k: v for k, v in stats.items() if k != "items"}, "items_per_s": round(speed, 1)}
                    if self.log is not None:
                        self.log.add(row)
                    if bar is not None:
                        shown = {k.removeprefix("train_"): f"{v:.3f}" for k, v in stats.items() if k != "items"}
                        bar.set_postfix(loss=f"{total:.3f}", **shown, lr=f"{lr:.2e}", items_s=f"{speed:.0f}")
                    window_items, window_t = 0, time.perf_counter()
                out_of_time = self.max_seconds > 0 and time.perf_counter() - started > self.max_seconds
                if self.world > 1 and self.max_seconds > 0:  # every rank must stop at the same step
                    flag = torch.tensor([float(out_of_time)], device=self.device)
                    dist.all_reduce(flag)
                    out_of_time = bool(flag.item() > 0)
                if out_of_time:
                    self.stop_at = self.step
                if self.step % self.eval_every == 0 or self.step in (self.total_steps, self.stop_at):
                    last_metrics = self.evaluate()  # also when stopping early: last.pt gets metrics, the plot is current
                    self.task.set_train_mode(self.models)
                    window_t = time.perf_counter()
                elif self.is_main and self.save_every and self.step % self.save_every == 0:
                    self._save("last.pt")
                if self.step >= self.stop_at:
                    break
        if bar is not None:
            bar.close()
        return self.best_metrics or last_metrics


# ------------------------------------------------------------------------------------------------ command line


def run_task(make_task: Callable[[dict[str, Any], torch.device, int], Task], config: dict[str, Any],
             out: str | Path, *, device: str | None = None, resume: bool = False) -> dict[str, float]:
    """Train a task with a resolved config: distributed set-up, device, threads, OUT/config.yaml, then fit."""
    import cv2
    import yaml

    dev_kind = device or ("cuda" if torch.cuda.is_available() else "cpu")
    rank, world, local = init_distributed(dev_kind.split(":")[0])
    dev = pick_device(dev_kind, local)
    threads = get(config, "train.threads")
    if threads and dev.type == "cpu":
        torch.set_num_threads(int(threads))
    out = Path(out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    cv2_threads = cv2.getNumThreads()  # tasks make OpenCV single-threaded while workers fork; restored after
    try:
        task = make_task(config, dev, rank)
        return Trainer(task, out, dev, rank, world, resume=resume).fit()
    finally:
        cv2.setNumThreads(cv2_threads)


def cli_main(make_task: Callable[[dict[str, Any], torch.device, int], Task], doc: str | None,
             argv: Sequence[str] | None = None) -> int:
    """`python -m train.rec|train.det --config FILE --out DIR [--set K=V ...] [--resume] [--device cpu|cuda]`."""
    import argparse

    import yaml

    from .config import load_config

    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML file, or a name in train/configs (e.g. rec_smoke)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (dotted key, YAML value); repeatable")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt exactly")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    a = p.parse_args(argv)
    cfg = load_config(a.config, a.overrides)
    metrics = run_task(make_task, cfg, a.out, device=a.device, resume=a.resume)
    if int(os.environ.get("RANK", "0")) == 0:
        print(yaml.safe_dump({"best": metrics}, sort_keys=False))
    return 0
