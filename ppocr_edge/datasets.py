"""Readers for PaddleOCR-format label files (detection and recognition).

Detection label file, one image per line::

    relative/image/path<TAB>[{"transcription": "...", "points": [[x, y], ...]}, ...]

A region whose transcription is one of ``IGNORE_TEXTS`` ("###" or "*") is an ignore ("don't care") region.

Recognition label file, one crop per line::

    relative/image/path<TAB>LABEL

Image paths are resolved relative to the directory that holds the label file. Blank lines are skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

IGNORE_TEXTS: frozenset[str] = frozenset({"###", "*"})


@dataclass(frozen=True)
class TextRegion:
    """A polygon with its transcription: a ground-truth region or a prediction.

    points: float64 array of shape (N, 2), N >= 3 for a usable polygon, in image pixels.
    ignore: a "don't care" ground-truth region (never set on predictions).
    """

    points: np.ndarray
    text: str = ""
    ignore: bool = False

    @classmethod
    def from_points(cls, points: object, text: str = "", ignore: bool = False) -> "TextRegion":
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return cls(pts, text, ignore)


@dataclass(frozen=True)
class DetSample:
    """One detection image and its ground-truth regions."""

    image_path: Path
    regions: tuple[TextRegion, ...]


@dataclass(frozen=True)
class RecSample:
    """One recognition crop and its label."""

    image_path: Path
    label: str


def _label_lines(label_file: Path) -> Iterator[tuple[int, str, str]]:
    """(line number, image path, label) of each non-empty line of a PaddleOCR label file."""
    with open(label_file, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if "\t" not in line:
                raise ValueError(f"{label_file}:{lineno}: expected 'path<TAB>label'")
            path, label = line.split("\t", 1)
            yield lineno, path, label


def read_det_labels(label_file: str | Path) -> list[DetSample]:
    """Parse a PaddleOCR detection label file; see the module docstring for the format."""
    label_file = Path(label_file)
    samples = []
    for lineno, rel, payload in _label_lines(label_file):
        try:
            regions = tuple(
                TextRegion.from_points(e["points"], str(e["transcription"]), str(e["transcription"]) in IGNORE_TEXTS)
                for e in json.loads(payload))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{label_file}:{lineno}: bad detection label: {e}") from e
        samples.append(DetSample(label_file.parent / rel, regions))
    return samples


def read_rec_labels(label_file: str | Path) -> list[RecSample]:
    """Parse a PaddleOCR recognition label file; the label is everything after the first tab, kept verbatim."""
    label_file = Path(label_file)
    return [RecSample(label_file.parent / rel, label) for _, rel, label in _label_lines(label_file)]
