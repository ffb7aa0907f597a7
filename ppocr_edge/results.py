"""Typed OCR results. Boxes are 4 (x, y) points, clockwise from top-left, in original-image pixels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]


def quad_from_array(points: Any) -> Quad:
    """Turn a (4, 2) array-like into a tuple of four (x, y) float points."""
    return tuple((float(x), float(y)) for x, y in points)  # type: ignore[return-value]


@dataclass(frozen=True)
class Word:
    """One word of a line, its box derived from the CTC alignment."""

    text: str
    box: Quad


@dataclass(frozen=True)
class TextLine:
    """One detected and recognised text line."""

    text: str
    score: float
    box: Quad
    words: tuple[Word, ...] = ()
    angle: int = 0  # 0 or 180: orientation the direction classifier found

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "score": round(self.score, 5),
            "box": [[round(x, 1), round(y, 1)] for x, y in self.box],
            "words": [{"text": w.text, "box": [[round(x, 1), round(y, 1)] for x, y in w.box]} for w in self.words],
        }


@dataclass(frozen=True)
class OCRResult:
    """Lines of one image (or one page of a document) in reading order."""

    lines: tuple[TextLine, ...] = field(default_factory=tuple)
    image_size: tuple[int, int] = (0, 0)  # (height, width)
    elapsed_ms: float = 0.0  # from the decoded image to the result
    page: int | None = None  # page number in its document, counted from 1 (OCRPipeline.pages); None for an image

    @property
    def text(self) -> str:
        """All lines joined by newlines."""
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: {"page" (only when set), "lines", "elapsed_ms"}."""
        page = {} if self.page is None else {"page": self.page}
        return {**page, "lines": [line.to_dict() for line in self.lines], "elapsed_ms": round(self.elapsed_ms, 3)}


__all__ = ["Point", "Quad", "Word", "TextLine", "OCRResult", "quad_from_array"]
