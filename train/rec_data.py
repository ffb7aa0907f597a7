"""Recognition training data: label encoding, sample sources (PaddleOCR label files, synthetic lines), a mixture with
sampling ratios, per-epoch shuffling that is deterministic by seed (and so resumable and shardable), and collation.

Every sample is decided by (seed, epoch, position): which source item it is, its TextConAug partners and its
augmentation draws. Workers, ranks and resumption therefore never change what the model sees.

The resize + normalisation is the SDK's (ppocr_edge.preprocess.prepare_line_batch): PP-OCR's RecResizeImg, i.e. keep
the aspect ratio at height 48, cap the width at 320, scale to [-1, 1] and zero-pad on the right.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import cv2
import numpy as np
import torch

from ppocr_edge.datasets import read_rec_labels
from ppocr_edge.preprocess import prepare_line_batch

from .rec_augment import TextConAug, text_con_aug

Sample = tuple[np.ndarray, str]  # BGR uint8 HxWx3 image, label


# ------------------------------------------------------------------------------------------------ label encoding


class LabelCodec:
    """CTC and SAR label encoding for a character list (CTC class i = characters[i - 1]; see train.dictionaries).

    A text is usable when it is non-empty, all its characters are in the dictionary and it fits max_len
    (max_text_length, or max_text_length - 2 when SAR labels are needed: [start] + text + [end] must fit)."""

    def __init__(self, characters: Sequence[str], max_text_length: int = 25, sar: bool = False) -> None:
        self.characters = list(characters)
        self.index = {c: i for i, c in enumerate(self.characters)}  # later duplicates win (PP-OCR)
        self.max_text_length = max_text_length
        self.sar = sar
        self.max_len = max_text_length - 2 if sar else max_text_length
        d = len(self.characters)
        self.sar_unknown, self.sar_start, self.sar_pad = d, d + 1, d + 2

    def reject_reason(self, text: str) -> str | None:
        """None when text can be trained on, else 'empty', 'out_of_dict' or 'too_long'."""
        if not text:
            return "empty"
        if any(c not in self.index for c in text):
            return "out_of_dict"
        if len(text) > self.max_len:
            return "too_long"
        return None

    def ctc(self, text: str) -> list[int]:
        return [self.index[c] + 1 for c in text]

    def sar_label(self, text: str) -> list[int]:
        ids = [self.sar_start] + [self.index[c] for c in text] + [self.sar_start]
        return ids + [self.sar_pad] * (self.max_text_length - len(ids))


# ------------------------------------------------------------------------------------------------ sources


class Source(Protocol):
    name: str

    def __len__(self) -> int: ...

    def load(self, index: int, epoch: int) -> Sample: ...


@dataclass
class LabelFileSource:
    """A PaddleOCR recognition label file (`path<TAB>label`, paths relative to the file). Labels the codec rejects
    (characters outside the dictionary, too long, empty) and lines whose image file is missing are skipped and
    counted in `skipped`."""

    path: Path
    codec: LabelCodec
    name: str = ""
    items: list[tuple[Path, str]] = field(init=False)
    skipped: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.name = self.name or self.path.parent.name
        self.skipped = Counter()
        self.items = []
        for s in read_rec_labels(self.path):
            reason = self.codec.reject_reason(s.label) or (None if s.image_path.is_file() else "missing_image")
            if reason:
                self.skipped[reason] += 1
            else:
                self.items.append((s.image_path, s.label))

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int, epoch: int = 0) -> Sample:
        path, label = self.items[index]
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None or img.size == 0:
            raise FileNotFoundError(f"{path}: missing or undecodable image")
        return img, label


class SynthSource:
    """Synthetic lines rendered on the fly by train.line_synth.LineSynth: item i of epoch e is render(e * size + i)
    with this source's seed, so every epoch shows new lines and any item can be re-rendered exactly."""

    def __init__(self, synth: Any, size: int, seed: int, codec: LabelCodec, name: str = "synth",
                 fresh_per_epoch: bool = True) -> None:
        self.synth, self.size, self.seed, self.codec, self.name = synth, int(size), int(seed), codec, name
        self.fresh_per_epoch = fresh_per_epoch

    def __len__(self) -> int:
        return self.size

    def load(self, index: int, epoch: int = 0) -> Sample:
        base = epoch * self.size if self.fresh_per_epoch else 0
        for attempt in range(20):  # the renderer respects the codec's charset and length; this is a safety net
            img, text = self.synth.render(base + index + attempt * 7919 * self.size, self.seed)
            if self.codec.reject_reason(text) is None:
                return img, text
        raise ValueError(f"{self.name}: 20 rendered labels in a row were rejected by the codec (last {text!r})")


# ------------------------------------------------------------------------------------------------ mixture + sampler


def sample_rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])


class Mixture:
    """Sources with sampling ratios (PaddleOCR's ratio_list): per epoch, source s contributes round(ratio_s * len_s)
    items (ratio > 1 repeats items), drawn by a permutation seeded by (seed, epoch, s); the items of all sources are
    then shuffled together."""

    def __init__(self, sources: Sequence[Source], ratios: Sequence[float] | None = None, seed: int = 0) -> None:
        if not sources:
            raise ValueError("no training sources")
        self.sources = list(sources)
        self.ratios = [1.0] * len(sources) if ratios is None else [float(r) for r in ratios]
        if len(self.ratios) != len(self.sources):
            raise ValueError(f"{len(self.sources)} sources but {len(self.ratios)} ratios")
        self.seed = seed
        self.counts = [int(round(r * len(s))) for s, r in zip(self.sources, self.ratios)]
        if sum(self.counts) == 0:
            raise ValueError("the training mixture is empty (every source empty or at ratio 0)")
        self._last: tuple[int, np.ndarray] | None = None  # the last epoch's order (each sample asks for it)

    def __len__(self) -> int:
        return sum(self.counts)

    def epoch_items(self, epoch: int) -> np.ndarray:
        """[len, 2] array of (source, item index) in this epoch's order."""
        if self._last is not None and self._last[0] == epoch:
            return self._last[1]
        parts = []
        for s, (src, n) in enumerate(zip(self.sources, self.counts)):
            if n == 0:
                continue
            rng = sample_rng(self.seed, epoch, s, 1)
            reps = math.ceil(n / len(src))
            idx = np.concatenate([rng.permutation(len(src)) for _ in range(reps)])[:n]
            parts.append(np.stack([np.full(n, s), idx], axis=1))
        items = np.concatenate(parts)
        items = items[sample_rng(self.seed, epoch, 2).permutation(len(items))]
        self._last = (epoch, items)
        return items


class EpochBatchSampler:
    """Batches of (epoch, position) keys for one rank: the epoch's order is cut into world_size-strided shards,
    drop_last, so all ranks run the same number of steps and together see each item at most once per epoch.
    start_batch skips batches already trained (resume)."""

    def __init__(self, epoch_len: int, batch_size: int, epoch: int, rank: int = 0, world_size: int = 1,
                 start_batch: int = 0) -> None:
        self.epoch, self.batch_size, self.start_batch = epoch, batch_size, start_batch
        self.per_rank = epoch_len // world_size // batch_size
        if self.per_rank == 0:
            raise ValueError(f"an epoch of {epoch_len} items is less than one batch of {batch_size} x "
                             f"{world_size} ranks")
        self.positions = list(range(rank, self.per_rank * batch_size * world_size, world_size))

    def __len__(self) -> int:
        return self.per_rank - self.start_batch

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for b in range(self.start_batch, self.per_rank):
            yield [(self.epoch, p) for p in self.positions[b * self.batch_size:(b + 1) * self.batch_size]]


# ------------------------------------------------------------------------------------------------ dataset


Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class RecTrainSet(torch.utils.data.Dataset):
    """Training samples keyed by (epoch, position): load -> TextConAug -> RecAug -> SDK resize/normalise to
    height x width -> encoded labels.

    The DataLoader asks for whole batches (`__getitems__`): TextConAug's partners are then other samples of the
    same batch, already loaded, as random as partners drawn from the whole mixture (the batch is a random draw) but
    without loading or rendering anything more. Rendering them separately doubled the data side's cost with
    PaddleOCR's ext_data_num 2 at prob 0.5 (benchmarks/results/rec_train.md). A single key (`dataset[key]`,
    `raw_sample`) loads its partners from the mixture."""

    def __init__(self, mixture: Mixture, codec: LabelCodec, pre: Mapping[str, Any], width: int = 320,
                 augment: Augment | None = None, con_aug: TextConAug | None = None, seed: int = 0) -> None:
        self.mixture, self.codec, self.pre, self.width = mixture, codec, dict(pre), int(width)
        self.augment, self.con_aug, self.seed = augment, con_aug, seed

    def __len__(self) -> int:
        return len(self.mixture)

    def _load(self, epoch: int, source: int, index: int) -> Sample:
        return self.mixture.sources[source].load(int(index), epoch)

    def _load_key(self, key: tuple[int, int]) -> Sample:
        epoch, pos = key
        return self._load(epoch, *self.mixture.epoch_items(epoch)[pos])

    def _augmented(self, key: tuple[int, int], sample: Sample,
                   partners: Callable[[np.random.Generator, int], list[Sample]]) -> Sample:
        img, text = sample
        rng = sample_rng(self.seed, key[0], key[1], 3)
        if self.con_aug is not None and rng.random() < self.con_aug.prob:
            # partners are fetched only when the concatenation happens
            extras = partners(rng, self.con_aug.ext_data_num)
            img, text = text_con_aug(img, text, extras, rng, 1.0, self.con_aug.max_text_length,
                                     self.con_aug.image_shape)
        if self.augment is not None:
            img = self.augment(img, rng)
        return img, text

    def raw_sample(self, key: tuple[int, int]) -> Sample:
        """The augmented image and label of a key, before resizing (partners loaded from the mixture)."""
        n_items = len(self.mixture.epoch_items(key[0]))

        def from_mixture(rng: np.random.Generator, k: int) -> list[Sample]:
            return [self._load_key((key[0], int(p))) for p in rng.integers(0, n_items, k)]

        return self._augmented(key, self._load_key(key), from_mixture)

    def _item(self, key: tuple[int, int], img: np.ndarray, text: str) -> dict[str, Any]:
        if self.codec.reject_reason(text) is not None:  # TextConAug keeps within limits; stay safe anyway
            img, text = self._load_key(key)
        batch, widths = prepare_line_batch([img], self.pre, self.width)
        item = {"image": torch.from_numpy(batch[0]), "valid_ratio": widths[0] / self.width, "text": text,
                "ctc": self.codec.ctc(text)}
        if self.codec.sar:
            item["sar"] = self.codec.sar_label(text)
        return item

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        return self._item(key, *self.raw_sample(key))

    def __getitems__(self, keys: Sequence[tuple[int, int]]) -> list[dict[str, Any]]:
        """One batch; TextConAug's partners are drawn from the batch's other samples (before their augmentation)."""
        keys = [(int(e), int(p)) for e, p in keys]
        if len(keys) < 2:
            return [self[k] for k in keys]
        loaded = [self._load_key(k) for k in keys]
        items = []
        for i, key in enumerate(keys):
            def from_batch(rng: np.random.Generator, k: int, i: int = i) -> list[Sample]:
                j = rng.integers(0, len(keys) - 1, k)
                return [loaded[int(x) + int(x >= i)] for x in j]  # any other sample of the batch

            items.append(self._item(key, *self._augmented(key, loaded[i], from_batch)))
        return items


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    n = len(items)
    max_len = max(len(it["ctc"]) for it in items)
    ctc = torch.zeros(n, max(max_len, 1), dtype=torch.long)
    for i, it in enumerate(items):
        ctc[i, :len(it["ctc"])] = torch.tensor(it["ctc"], dtype=torch.long)
    out = {"image": torch.stack([it["image"] for it in items]),
           "ctc": ctc, "length": torch.tensor([len(it["ctc"]) for it in items], dtype=torch.long),
           "valid_ratio": torch.tensor([it["valid_ratio"] for it in items], dtype=torch.float32),
           "text": [it["text"] for it in items]}
    if "sar" in items[0]:
        out["sar"] = torch.tensor([it["sar"] for it in items], dtype=torch.long)
    return out
