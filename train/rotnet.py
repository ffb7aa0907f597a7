"""TextRotNet: self-supervised pre-training of the recognizer's PP-LCNet backbone on unlabeled text lines.

    python -m train.rotnet --config train/configs/rotnet_ablation.yaml --out runs/rotnet [--set ...] [--resume]

PP-OCRv3's recipe (brief 4.8): every line is shown rotated by 0, 90, 180 and 270 degrees, each stretched (no
padding) to the recognizer's input size, and the backbone + global average pooling + FC learns which rotation it
sees (cross-entropy). No label is read: the lines are rendered by train/line_synth.py (or a label file's images,
labels ignored). The backbone then initialises a recognizer: `init: {backbone: OUT/best.pt}` in a train.rec config.

The shared trainer (train/trainer.py) runs it: same optimiser, schedule, checkpoints, resume, DDP, logs and curves
as recognition and detection. Evaluation: rotation accuracy on held-out rendered lines.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from ppocr_edge.preprocess import normalize_into

from .config import get
from .models.rotnet import N_ROTATIONS, rotnet_pplcnet
from .rec_data import EpochBatchSampler, sample_rng
from .task_common import epoch_loader, set_train_mode
from .trainer import cli_main, run_task

ROTATIONS = (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE)  # labels 0..3
assert len(ROTATIONS) == N_ROTATIONS


def rotations(img: np.ndarray, height: int, width: int, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """The four rotations of a BGR line, each stretched to height x width and normalised: float32 [4, 3, H, W]."""
    out = np.empty((len(ROTATIONS), 3, height, width), dtype=np.float32)
    for k, code in enumerate(ROTATIONS):
        turned = img if code is None else cv2.rotate(img, code)
        normalize_into(out[k], cv2.resize(turned, (width, height), interpolation=cv2.INTER_LINEAR), mean, std)
    return out


class LineSource:
    """Unlabeled lines: rendered by LineSynth (keyed by seed and index) or the images of a rec label file."""

    def __init__(self, spec: Mapping[str, Any], seed: int) -> None:
        self.kind = spec.get("type", "synth")
        if self.kind == "synth":
            from .line_synth import LineSynth, LineSynthConfig

            self.synth = LineSynth(LineSynthConfig.from_dict(dict(spec.get("synth", {}) or {})))
            self.size, self.seed = int(spec.get("size", 10000)), int(spec.get("seed", seed))
        elif self.kind == "label_file":
            from ppocr_edge.datasets import read_rec_labels

            self.paths = [s.image_path for s in read_rec_labels(spec["path"])]
            self.size = len(self.paths)
        else:
            raise ValueError(f"rotnet data type {self.kind!r}: synth or label_file")

    def __len__(self) -> int:
        return self.size

    def image(self, index: int, epoch: int) -> np.ndarray:
        if self.kind == "synth":  # a new stream each epoch
            return self.synth.render(index, self.seed + 1009 * epoch)[0]
        from ppocr_edge.image_io import load_image

        return load_image(self.paths[index])


class RotNetSet(torch.utils.data.Dataset):
    def __init__(self, source: LineSource, height: int, width: int, seed: int,
                 mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.5, 0.5, 0.5)) -> None:
        self.source, self.height, self.width, self.seed = source, height, width, seed
        self.mean, self.std = tuple(mean), tuple(std)
        self._order: tuple[int, np.ndarray] | None = None  # the last epoch's order (each sample asks for it)

    def __len__(self) -> int:
        return len(self.source)

    def epoch_order(self, epoch: int) -> np.ndarray:
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, sample_rng(self.seed, epoch, 0, 5).permutation(len(self.source)))
        return self._order[1]

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        epoch, pos = key
        img = self.source.image(int(self.epoch_order(epoch)[pos]), epoch)
        return torch.from_numpy(rotations(img, self.height, self.width, self.mean, self.std))


def collate(items: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
    """The four rotations of every line in one batch (PaddleOCR's SSLRotateCollate): 4N images, labels 0..3."""
    images = torch.cat(list(items))
    return {"image": images, "label": torch.arange(len(ROTATIONS)).repeat(len(items))}


class RotNetTask:
    """TextRotNet pre-training for train.trainer."""

    def __init__(self, config: dict[str, Any], device: torch.device, rank: int = 0) -> None:
        self.config = config
        self.device = device
        self.seed = int(config.get("seed", 0))
        self.kwargs = dict(get(config, "model.kwargs", {}) or {})
        self.height, self.width = int(get(config, "data.height", 48)), int(get(config, "data.width", 320))
        torch.manual_seed(self.seed)
        self.model = rotnet_pplcnet(**self.kwargs)
        self.channels_last = bool(get(config, "train.channels_last", True))
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        if int(get(config, "data.workers", 0)) > 0:
            cv2.setNumThreads(1)  # before the fork (see train/rec.py)
        self.train_set = RotNetSet(LineSource(get(config, "data.train", {}) or {}, self.seed + 100), self.height,
                                   self.width, self.seed)
        self.eval_images: list[np.ndarray] = []
        if rank == 0:
            spec = dict(get(config, "eval.set", {}) or {"type": "synth", "size": 200})
            val = LineSource(spec, int(spec.get("seed", 10_000)))
            self.eval_images = [val.image(i, 0) for i in range(len(val))]

    def trainable(self) -> dict[str, nn.Module]:
        return {"rotnet": self.model}

    def param_groups(self, models: Mapping[str, nn.Module]) -> list[dict[str, Any]]:
        wd = float(get(self.config, "optim.weight_decay", 1e-5))
        bn = {id(p) for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
              for p in m.parameters()}
        params = [p for p in self.model.parameters() if p.requires_grad]
        return [{"params": [p for p in params if id(p) not in bn], "weight_decay": wd},
                {"params": [p for p in params if id(p) in bn], "weight_decay": 0.0}]

    def steps_per_epoch(self, world_size: int) -> int:
        return len(self.train_set) // world_size // int(get(self.config, "data.batch_size", 32))

    def batches(self, epoch: int, start_batch: int, rank: int, world_size: int) -> Iterator[dict[str, Any]]:
        bs = int(get(self.config, "data.batch_size", 32))
        sampler = EpochBatchSampler(len(self.train_set), bs, epoch, rank, world_size, start_batch)
        return epoch_loader(self.train_set, sampler, collate, self.config, self.seed, epoch, self.device, 4)

    def set_train_mode(self, models: Mapping[str, nn.Module]) -> None:
        set_train_mode(models, self.config, [])

    def train_step(self, models: Mapping[str, nn.Module], batch: Mapping[str, Any], device: torch.device
                   ) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        x = batch["image"].to(device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = batch["label"].to(device)
        logits = models["rotnet"](x)
        acc = float((logits.detach().argmax(-1) == y).float().mean())
        return {"ce": nn.functional.cross_entropy(logits, y)}, {"items": float(x.shape[0]), "train_acc": acc}

    @torch.no_grad()
    def evaluate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        model.eval()
        correct = total = 0
        for i in range(0, len(self.eval_images), 32):
            x = torch.from_numpy(np.concatenate([
                rotations(img, self.height, self.width, self.train_set.mean, self.train_set.std)
                for img in self.eval_images[i:i + 32]]))
            y = torch.arange(len(ROTATIONS)).repeat(x.shape[0] // len(ROTATIONS))
            correct += int((model(x.to(device)).argmax(-1).cpu() == y).sum())
            total += int(y.numel())
        return {"rot_val/acc": correct / max(total, 1)}

    def checkpoint_arch(self) -> tuple[str, dict[str, Any], list[str] | None]:
        return "rotnet_pplcnet", dict(self.kwargs), None


def run(config: dict[str, Any], out: Any, *, device: str | None = None, resume: bool = False) -> Any:
    return run_task(RotNetTask, config, out, device=device, resume=resume)


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(RotNetTask, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
