"""Test helpers: render text with known content and ground-truth boxes, and compare boxes.

Ground truth comes from the rendering itself: each line (and each word) is drawn alone onto a mask and its ink
bounds are measured, so boxes are exact to the pixel regardless of font metrics.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {
    "sans": "DejaVuSans.ttf",
    "serif": "DejaVuSerif.ttf",
    "mono": "DejaVuSansMono.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "condensed": "DejaVuSansCondensed.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "serif-condensed": "DejaVuSerifCondensed.ttf",
}

WORDS = (
    "invoice total amount paid order number customer service delivery address station market window "
    "garden river mountain coffee bread butter cheese orange apple yellow purple simple quick brown fox "
    "jumps over lazy dog Monday Friday January October Street Avenue Road Hotel Bank Office Store Cafe "
    "Welcome Thank you Please note Price Qty Subtotal Tax Change Cash Card Receipt Date Time Table Room"
).split()


def font_path(name: str) -> Path:
    return FONT_DIR / FONTS[name]


def fonts_available() -> bool:
    """Pillow importable and every DejaVu font used here installed."""
    try:
        import PIL.ImageFont  # noqa: F401
    except ImportError:
        return False
    return all((FONT_DIR / f).is_file() for f in FONTS.values())


def random_token(rng: random.Random) -> str:
    """A word, number, price, date, time, percentage or punctuated word."""
    kind = rng.choices(["word", "number", "price", "date", "time", "percent", "punct", "code"],
                       weights=[10, 2, 3, 1, 1, 1, 3, 1])[0]
    if kind == "word":
        return rng.choice(WORDS)
    if kind == "number":
        return str(rng.randint(1, 99999))
    if kind == "price":
        return rng.choice(["$", ""]) + f"{rng.randint(0, 999)}.{rng.randint(0, 99):02d}"
    if kind == "date":
        return f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1990, 2030)}"
    if kind == "time":
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    if kind == "percent":
        return f"{rng.randint(1, 99)}%"
    if kind == "code":
        return f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}-{rng.randint(100, 9999)}"
    return rng.choice(WORDS) + rng.choice([",", ".", ":", ";", "!", "?"])


def random_line(rng: random.Random, n_min: int = 2, n_max: int = 5) -> str:
    return " ".join(random_token(rng) for _ in range(rng.randint(n_min, n_max)))


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 (x1, y1 exclusive)


@dataclass
class RenderedLine:
    text: str
    box: Box  # ink bounds of the whole line
    words: list[tuple[str, Box]] = field(default_factory=list)  # each word: x from its ink, y from the line's ink


@dataclass
class Page:
    image: np.ndarray  # BGR uint8
    lines: list[RenderedLine]


def _ink_bounds(mask: np.ndarray) -> Box | None:
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def render_blocks(blocks: Sequence[tuple[float, float, str]], size_wh: tuple[int, int], *, font: str = "sans",
                  size: int = 28, bg: tuple[int, int, int] = (255, 255, 255), fg: tuple[int, int, int] = (0, 0, 0)
                  ) -> Page:
    """Draw each (x, y, text) block (y: top of the text layout box; colors RGB) on a w x h canvas.

    Returns the BGR page and the exact ink boxes of every block and of its space-separated words.
    """
    from PIL import Image, ImageDraw, ImageFont

    pil_font = ImageFont.truetype(str(font_path(font)), size)
    w, h = size_wh
    page = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(page)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    out: list[RenderedLine] = []
    for x, y, text in blocks:
        draw.text((x, y), text, font=pil_font, fill=fg)
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).text((x, y), text, font=pil_font, fill=255)
        line_box = _ink_bounds(np.asarray(mask) > 0)
        assert line_box is not None, f"nothing drawn for {text!r}"
        words = []
        pos = 0
        for word in text.split(" "):
            if word:
                wx = x + measure.textlength(text[:pos], font=pil_font)
                wmask = Image.new("L", (w, h), 0)
                ImageDraw.Draw(wmask).text((wx, y), word, font=pil_font, fill=255)
                wb = _ink_bounds(np.asarray(wmask) > 0)
                assert wb is not None
                words.append((word, (wb[0], line_box[1], wb[2], line_box[3])))
            pos += len(word) + 1
        out.append(RenderedLine(text, line_box, words))
    bgr = np.ascontiguousarray(np.asarray(page)[:, :, ::-1])
    return Page(bgr, out)


def render_page(lines: Sequence[str], *, font: str = "sans", size: int = 28, width: int | None = None,
                bg: tuple[int, int, int] = (255, 255, 255), fg: tuple[int, int, int] = (0, 0, 0),
                margin: int = 24, line_gap: float = 1.0) -> Page:
    """Lines top to bottom, left-aligned, line_gap x size of empty space between them (see render_blocks)."""
    from PIL import Image, ImageDraw, ImageFont

    pil_font = ImageFont.truetype(str(font_path(font)), size)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    step = int(round(size * (1.0 + line_gap)))
    w = width or int(max(measure.textlength(t, font=pil_font) for t in lines) + 2 * margin)
    h = int(margin * 2 + step * len(lines))
    blocks = [(margin, margin + i * step, t) for i, t in enumerate(lines)]
    return render_blocks(blocks, (w, h), font=font, size=size, bg=bg, fg=fg)


def quad_bounds(quad) -> Box:
    pts = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def rotate_box_180(box: Box, w: int, h: int) -> Box:
    """Where an axis-aligned box lands after turning a w x h image by 180 degrees."""
    return w - box[2], h - box[3], w - box[0], h - box[1]


def match_lines(rendered: Sequence[RenderedLine], found) -> list[tuple[RenderedLine, object | None, float]]:
    """Pair each rendered line with the found TextLine whose box overlaps it most (None when nothing overlaps)."""
    pairs = []
    for r in rendered:
        best, best_iou = None, 0.0
        for line in found:
            v = iou(r.box, quad_bounds(line.box))
            if v > best_iou:
                best, best_iou = line, v
        pairs.append((r, best, best_iou))
    return pairs


def norm_space(s: str) -> str:
    return "".join(s.split())
