"""Detection training throughput: fwd + bwd alone, the data side alone (page rendering, CopyPaste, augmentation,
DB targets, normalisation) and whole training steps.

    python benchmarks/bench_det_train.py --config det_smoke --set data.size=640 --set data.batch_size=8
        [--set KEY=VALUE ...] [--device cpu|cuda] [--data-seconds 30] [--train-steps 10] [--out results.md]

Model: median time of --train-steps optimiser steps on a random batch (no data). Data: images/s from the config's
DataLoader (its workers). Train: whole steps (data + forward + backward + update) after 3 warm-up steps, median ->
images/s, with the peak RSS of this process and its workers. Name the machine with the numbers (printed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_rec_train import cpu_name, peak_rss_gib  # noqa: E402
from train.config import load_config  # noqa: E402
from train.det import DetTask  # noqa: E402
from train.trainer import Trainer, pick_device  # noqa: E402


def random_batch(n: int, size: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"image": torch.randn(n, 3, size, size, generator=g),
            "shrink_map": (torch.rand(n, size, size, generator=g) > 0.8).float(),
            "shrink_mask": torch.ones(n, size, size), "threshold_mask": torch.ones(n, size, size),
            "threshold_map": 0.3 + 0.4 * torch.rand(n, size, size, generator=g)}


def timed_steps(trainer: Trainer, batches, steps: int, warmup: int, device: torch.device) -> float:
    """Median seconds of one step (next batch + train step)."""
    times = []
    for i in range(steps + warmup):
        t0 = time.perf_counter()
        trainer._train_one(next(batches))
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_data(task: DetTask, seconds: float) -> float:
    it = task.batches(0, 0, 0, 1)
    next(it)  # workers started
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += next(it)["image"].shape[0]
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="det_smoke")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--device", default=None)
    p.add_argument("--data-seconds", type=float, default=30)
    p.add_argument("--train-steps", type=int, default=10)
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    cfg = load_config(a.config, a.overrides + ["eval.sets=[]", "eval.best=null"])
    dev = pick_device(a.device)
    if cfg.get("train", {}).get("threads") and dev.type == "cpu":
        torch.set_num_threads(int(cfg["train"]["threads"]))
    task = DetTask(cfg, dev)
    workers, bs, size = cfg["data"].get("workers", 0), cfg["data"]["batch_size"], cfg["data"].get("size", 640)
    machine = cpu_name() + (f", {torch.cuda.get_device_name()}" if dev.type == "cuda" else "")
    trainer = Trainer(task, Path("/tmp/bench_det_train"), dev)
    task.set_train_mode(trainer.models)
    fixed = random_batch(bs, size)
    model = bs / timed_steps(trainer, iter(lambda: fixed, None), a.train_steps, 2, dev) if a.train_steps else \
        float("nan")
    data = bench_data(task, a.data_seconds) if a.data_seconds > 0 else float("nan")
    train = bs / timed_steps(trainer, task.batches(0, 0, 0, 1), a.train_steps, 3, dev) if a.train_steps else \
        float("nan")
    lines = [f"## {a.config} ({cfg.get('recipe', 'single')}) on {dev.type}: {machine}, {os.cpu_count()} CPUs",
             "", f"command: `python benchmarks/bench_det_train.py {' '.join(argv or sys.argv[1:])}`", "",
             "| measure | value |", "|---|---|",
             f"| fwd + bwd + update alone, {size}x{size}, batch {bs}, median of {a.train_steps} | {model:.2f} images/s |",
             f"| data side alone, {workers} workers | {data:.1f} images/s |",
             f"| training steps (data + fwd + bwd + update), median of {a.train_steps} | {train:.2f} images/s |",
             f"| peak RSS (process + largest worker) | {peak_rss_gib():.2f} GiB |", ""]
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "a", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
