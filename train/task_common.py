"""Pieces that the recognition and detection tasks (train/rec.py, train/det.py) share: the epoch's DataLoader,
DataLoader worker set-up, train.freeze / train.freeze_bn."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .config import get


def single_threaded_worker(_: int) -> None:
    """DataLoader worker setup: one thread each for torch and BLAS (OpenCV must be made single-threaded before the
    fork, see the tasks). With their default pools every worker starts a thread per core, and 15 workers on 16
    cores rendered 481 lines/s in all; one thread each: 2044."""
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")  # not "openmp": libgomp calls in a forked child can deadlock
    except ImportError:  # numpy's BLAS keeps its default pool
        pass


def epoch_loader(dataset: torch.utils.data.Dataset, sampler: Any, collate_fn: Callable[[Sequence[Any]], Any],
                 config: Mapping[str, Any], seed: int, epoch: int, device: torch.device,
                 default_prefetch: int) -> Iterator[Any]:
    """The batches of one epoch: `sampler` yields the keys of each batch, `data.workers` processes load them
    (`data.prefetch` batches ahead each)."""
    workers = int(get(config, "data.workers", 0))
    g = torch.Generator()
    g.manual_seed(seed * 7919 + epoch)  # the loader's own seed draw must not touch the global RNG
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, num_workers=workers, collate_fn=collate_fn, generator=g,
        worker_init_fn=single_threaded_worker, pin_memory=device.type == "cuda", persistent_workers=False,
        prefetch_factor=int(get(config, "data.prefetch", default_prefetch)) if workers else None)
    return iter(loader)


def frozen_modules(model: nn.Module, names: Sequence[str]) -> list[nn.Module]:
    """The sub-modules named in train.freeze (e.g. "backbone", "neck.conv1"); a name that is no module with
    parameters is an error, not a silent no-op."""
    mods = []
    for name in names:
        try:
            mod = model.get_submodule(name)
        except AttributeError:
            mod = None
        if mod is None or not any(True for _ in mod.parameters()):
            raise ValueError(f"train.freeze: no parameter under {name!r}")
        mods.append(mod)
    return mods


def freeze_bn_stats(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def set_train_mode(models: Mapping[str, nn.Module], config: Mapping[str, Any], freeze: Sequence[str]) -> None:
    """train() on every model, except BN statistics with train.freeze_bn and the train.freeze modules (their BN
    statistics and dropout stay fixed too)."""
    for m in models.values():
        m.train()
        if get(config, "train.freeze_bn", False):
            freeze_bn_stats(m)
        for mod in frozen_modules(m, freeze):
            mod.eval()
