"""One detection training sample: a page image and its text polygons (the unit that synthesis, augmentation,
CopyPaste and DB target generation pass along)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class DetItem:
    image: np.ndarray  # HxWx3 BGR uint8
    polys: list[np.ndarray] = field(default_factory=list)  # each Nx2 float32 (N >= 4, clockwise), image pixels
    texts: list[str] = field(default_factory=list)
    ignore: list[bool] = field(default_factory=list)  # True: '###' / '*' regions, masked out of the loss

    def __post_init__(self) -> None:
        if not (len(self.polys) == len(self.texts) == len(self.ignore)):
            raise ValueError(f"{len(self.polys)} polygons, {len(self.texts)} texts, {len(self.ignore)} ignore flags")
        self.polys = [np.asarray(p, dtype=np.float32).reshape(-1, 2) for p in self.polys]

    def copy(self) -> "DetItem":
        return DetItem(self.image.copy(), [p.copy() for p in self.polys], list(self.texts), list(self.ignore))
