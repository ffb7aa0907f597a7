"""CTC greedy decoding with per-character time steps, and word spans derived from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Decoded:
    text: str
    score: float  # mean max-probability over the emitted steps (0 when nothing was emitted)
    steps: tuple[int, ...]  # time step of each character of text (first step of its run)


def ctc_greedy_decode(probs: np.ndarray, characters: Sequence[str]) -> list[Decoded]:
    """Greedy decode a [N, T, C] probability batch: argmax, collapse repeats, drop blanks.

    PP-OCR convention: class 0 is the blank, class i >= 1 is characters[i - 1].
    """
    idx = probs.argmax(axis=2)
    conf = np.take_along_axis(probs, idx[..., None], axis=2)[..., 0]
    out = []
    for n in range(idx.shape[0]):
        row = idx[n]
        keep = row != 0
        keep[1:] &= row[1:] != row[:-1]
        steps = np.flatnonzero(keep)
        text = "".join(characters[int(c) - 1] for c in row[steps])
        score = float(conf[n, steps].mean()) if steps.size else 0.0
        out.append(Decoded(text, score, tuple(int(s) for s in steps)))
    return out


@dataclass(frozen=True)
class WordSpan:
    text: str
    start: float  # in time-step units, [start, end) along the line
    end: float


def split_words(decoded: Decoded, n_steps: float, gap_factor: float = 3.0) -> list[WordSpan]:
    """Split a decoded line into words at spaces and at unusually large gaps between characters.

    n_steps is the number of time steps that cover the text (the crop's valid width). Word edges are placed
    half a character pitch outside their outer characters, bounded by the neighbouring words and the line ends.
    """
    chars = [(c, s) for c, s in zip(decoded.text, decoded.steps)]
    if not chars:
        return []
    # pitch: the typical distance between consecutive non-space characters inside words
    gaps = [b[1] - a[1] for a, b in zip(chars, chars[1:]) if not a[0].isspace() and not b[0].isspace()]
    pitch = float(np.median(gaps)) if gaps else 1.0
    pitch = max(pitch, 1.0)
    groups: list[list[tuple[str, int]]] = [[]]
    for i, (c, s) in enumerate(chars):
        if c.isspace():
            if groups[-1]:
                groups.append([])
            continue
        if groups[-1] and s - groups[-1][-1][1] > gap_factor * pitch and len(gaps) >= 2:
            groups.append([])
        groups[-1].append((c, s))
    groups = [g for g in groups if g]
    spans = []
    for k, g in enumerate(groups):
        start = g[0][1] - 0.5 * pitch
        end = g[-1][1] + 1.0 + 0.5 * pitch
        if k == 0:
            start = 0.0
        else:
            start = max(start, (groups[k - 1][-1][1] + 1 + g[0][1]) / 2.0)
        if k == len(groups) - 1:
            end = float(n_steps)
        else:
            end = min(end, (g[-1][1] + 1 + groups[k + 1][0][1]) / 2.0)
        spans.append(WordSpan("".join(c for c, _ in g), max(0.0, start), min(float(n_steps), max(end, start))))
    return spans
