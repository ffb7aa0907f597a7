"""Detection training data: sources (PaddleOCR det label files, synthetic pages), the sample pipeline and
evaluation sets.

A training sample is keyed by (epoch, position) like recognition (train/rec_data.py's Mixture and
EpochBatchSampler): load -> CopyPaste -> flip / rotate / resize / random crop to the training size -> DB targets ->
the SDK's normalisation. Everything random comes from a generator seeded by (seed, epoch, position), so a sample is
the same in any worker and after a resume.

CopyPaste's extra sample: PaddleOCR draws one at random from the dataset; here it is the next sample of the same
batch (PartnerBatchSampler), which is as random (a batch is a random draw of the epoch) and is already loaded: a
synthetic page costs ~30 ms to render, a third of a sample's whole cost.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ppocr_edge.datasets import TextRegion, read_det_labels
from ppocr_edge.image_io import load_image
from ppocr_edge.preprocess import normalize_into

from .det_sample import DetItem
from .det_targets import db_targets
from .rec_data import EpochBatchSampler, Mixture, sample_rng

# ------------------------------------------------------------------------------------------------ sources


@dataclass
class DetLabelSource:
    """A PaddleOCR detection label file (`path<TAB>[{"transcription", "points"}, ...]`); '###' / '*' regions are
    kept as ignored polygons. Images are read when a sample is loaded."""

    path: Path
    name: str = ""
    samples: list[Any] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.samples = read_det_labels(self.path)
        self.name = self.name or self.path.parent.name

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int, epoch: int = 0) -> DetItem:
        s = self.samples[index]
        regions = [r for r in s.regions if len(r.points) >= 3]
        return DetItem(load_image(s.image_path), [np.asarray(r.points, np.float32) for r in regions],
                       [r.text for r in regions], [r.ignore for r in regions])


class SynthPageSource:
    """`size` synthetic pages of train/page_synth.py, page i of stream `seed` (the same page every epoch)."""

    def __init__(self, synth: Any, size: int, seed: int, name: str = "synth") -> None:
        self.synth, self.size, self.seed, self.name = synth, int(size), int(seed), name

    def __len__(self) -> int:
        return self.size

    def load(self, index: int, epoch: int = 0) -> DetItem:
        return self.synth.render(int(index), self.seed)


# ------------------------------------------------------------------------------------------------ training set


@dataclass(frozen=True)
class DetAugmentConfig:
    size: int = 640  # square training crop
    copy_paste: bool = True
    objects_paste_ratio: float = 0.2
    p_flip: float = 0.5
    max_angle: float = 10.0
    scale: tuple[float, float] = (0.5, 3.0)
    crop: bool = True

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "DetAugmentConfig":
        d = dict(d or {})
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"augment: unknown keys {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        if "scale" in d:
            d["scale"] = tuple(float(x) for x in d["scale"])
        return cls(**d)


class PartnerBatchSampler(EpochBatchSampler):
    """EpochBatchSampler whose keys also name a CopyPaste partner: (epoch, position, the next position of the same
    batch, cyclically)."""

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:  # type: ignore[override]
        for batch in super().__iter__():
            yield [(e, p, batch[(i + 1) % len(batch)][1]) for i, (e, p) in enumerate(batch)]


class DetTrainSet(torch.utils.data.Dataset):
    """DB training samples keyed by (epoch, position[, CopyPaste partner position])."""

    def __init__(self, mixture: Mixture, pre: Mapping[str, Any], augment: DetAugmentConfig, seed: int = 0,
                 shrink_ratio: float = 0.4, min_text_size: int = 8, cache_size: int = 16) -> None:
        self.mixture, self.pre, self.aug, self.seed = mixture, dict(pre), augment, seed
        self.shrink_ratio, self.min_text_size = shrink_ratio, min_text_size
        self.cache_size = cache_size  # loaded samples kept per process, so a batch's partners load once
        self._loaded: OrderedDict[tuple[int, int, int], DetItem] = OrderedDict()

    def __len__(self) -> int:
        return len(self.mixture)

    def _load(self, epoch: int, source: int, index: int) -> DetItem:
        """A source's sample (augmentation never modifies it, so cached samples are shared as they are)."""
        key = (epoch, int(source), int(index))
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return self._loaded[key]
        item = self.mixture.sources[source].load(int(index), epoch)
        self._loaded[key] = item
        while len(self._loaded) > self.cache_size:
            self._loaded.popitem(last=False)
        return item

    def augmented(self, key: tuple[int, ...]) -> DetItem:
        """The sample of a key after CopyPaste and the geometric augmentation (training size). Keys without a
        partner position draw the CopyPaste extra at random from the epoch, as PaddleOCR does."""
        from .det_augment import copy_paste, det_train_augment

        epoch, pos = key[0], key[1]
        items = self.mixture.epoch_items(epoch)
        rng = sample_rng(self.seed, epoch, pos, 5)
        item = self._load(epoch, *items[pos])
        a = self.aug
        if a.copy_paste:
            partner = key[2] if len(key) > 2 else int(rng.integers(0, len(items)))
            extra = self._load(epoch, *items[partner])
            item = copy_paste(item, extra, rng, objects_paste_ratio=a.objects_paste_ratio)
        return det_train_augment(item, rng, (a.size, a.size), p_flip=a.p_flip, max_angle=a.max_angle,
                                 scale=a.scale, crop=a.crop)

    def __getitem__(self, key: tuple[int, ...]) -> dict[str, Any]:
        item = self.augmented(key)
        h, w = item.image.shape[:2]
        t = db_targets((h, w), item.polys, item.ignore, shrink_ratio=self.shrink_ratio,
                       min_text_size=self.min_text_size)
        image = np.empty((3, h, w), np.float32)
        normalize_into(image, item.image, self.pre["mean"], self.pre["std"])
        return {"image": torch.from_numpy(image), "shrink_map": torch.from_numpy(t.shrink_map),
                "shrink_mask": torch.from_numpy(t.shrink_mask), "threshold_map": torch.from_numpy(t.threshold_map),
                "threshold_mask": torch.from_numpy(t.threshold_mask)}


def collate_det(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


# ------------------------------------------------------------------------------------------------ evaluation sets


@dataclass
class DetEvalSet:
    name: str
    images: list[np.ndarray]
    regions: list[list[TextRegion]]


def eval_set_from_labels(path: str | Path, name: str | None = None, every: int = 1, offset: int = 0,
                         limit: int | None = None) -> DetEvalSet:
    samples = read_det_labels(path)[offset::every][:limit]
    return DetEvalSet(name or Path(path).parent.name, [load_image(s.image_path) for s in samples],
                      [list(s.regions) for s in samples])


def eval_set_from_synth(synth: Any, size: int, seed: int, name: str = "synth_val") -> DetEvalSet:
    items = [synth.render(i, seed) for i in range(size)]
    return DetEvalSet(name, [it.image for it in items],
                      [[TextRegion.from_points(p, t, ign) for p, t, ign in zip(it.polys, it.texts, it.ignore)]
                       for it in items])
