"""Worker for the DDP tests (tests/test_rec_train.py, tests/test_det_train.py), run under torchrun:
`ddp_worker.py rec|det CONFIG OUT` trains the config, then writes this rank's weights and the sample positions it
was given to OUT/rank{RANK}.pt."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from train.config import load_config
from train.trainer import Trainer, init_distributed, pick_device


def main() -> None:
    kind, cfg, out = sys.argv[1], load_config(sys.argv[2]), Path(sys.argv[3])
    rank, world, local = init_distributed("cpu")
    dev = pick_device("cpu", local)
    if kind == "det":
        from train.det import DetTask as Task
    else:
        from train.rec import RecTask as Task  # type: ignore[assignment]
    task = Task(cfg, dev, rank)
    seen: list[int] = []

    from train import rec_data

    original_iter = rec_data.EpochBatchSampler.__iter__

    def iter_and_record(self):
        for keys in original_iter(self):
            seen.extend(k[1] for k in keys)
            yield keys

    rec_data.EpochBatchSampler.__iter__ = iter_and_record
    Trainer(task, out, dev, rank, world).fit()
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in task.student.state_dict().items()}
    torch.save({"state": state, "positions": seen}, out / f"rank{rank}.pt")


if __name__ == "__main__":
    main()
