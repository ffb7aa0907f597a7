"""Worker for tests/test_rec_train.py::test_ddp_two_ranks_keep_identical_weights, run under torchrun: trains the
config, then writes this rank's weights and the sample positions it was given to OUT/rank{RANK}.pt."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from train.config import load_config
from train.rec import RecTask
from train.trainer import Trainer, init_distributed, pick_device


def main() -> None:
    cfg, out = load_config(sys.argv[1]), Path(sys.argv[2])
    rank, world, local = init_distributed("cpu")
    dev = pick_device("cpu", local)
    task = RecTask(cfg, dev, rank)
    seen: list[int] = []

    from train import rec_data

    original_iter = rec_data.EpochBatchSampler.__iter__

    def iter_and_record(self):
        for keys in original_iter(self):
            seen.extend(p for _, p in keys)
            yield keys

    rec_data.EpochBatchSampler.__iter__ = iter_and_record
    Trainer(task, out, dev, rank, world).fit()
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in task.student.state_dict().items()}
    torch.save({"state": state, "positions": seen}, out / f"rank{rank}.pt")


if __name__ == "__main__":
    main()
