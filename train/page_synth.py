"""Synthetic detection pages with exact text polygons, rendered on the fly (DB text-detection training).

    python -m train.page_synth --out DIR --pages 200 --seed 0 [--config cfg.yaml] [--kind scene]
    python -m train.page_synth --bench 100

`--out` writes DIR/images/*.jpg and DIR/det_label.txt (PaddleOCR detection format; ignored regions are '###');
`--bench` prints the mean rendering time per page, overall and per page kind.

`PageSynth(config).render(index, seed)` returns a `DetItem`: a BGR page of one of six kinds (document, table, form,
receipt, ui, scene) with one polygon per text line (per table cell, form field, button or scene word group), tight
around the line's ink (from the ascender to the descender of the ink, at least the x-height, plus 1-3 px),
clockwise from the top-left of the text's reading direction. Curved scene text gets 2k-point polygons (k points
along the top edge, then k back along the bottom edge). Polygons never overlap and never leave the image: text that
would not fit is not drawn. Tiny text (under 6 px high after the page effects) is labelled ignore / '###'.

Each line is drawn into a small alpha tile, warped (rotation, perspective, arc or sine) together with its polygon and
blended into the page; page-level rotation and perspective move the polygons with the same matrix. Deterministic by
(index, seed) like train.line_synth: each page has its own `random.Random`, and the noise and texture material is
generated from a fixed seed in every process. Pure CPU: PIL draws the glyphs, OpenCV the rest.
This is not train/synth.py, whose exact output the shipped INT8 bundle's calibration recipe depends on.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import random
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from train.det_sample import DetItem
from train.fonts import FontInfo, choose_font, find_fonts
from train.line_synth import ASCII_CHARSET, _hsv_color, _luma, load_font, mix_seed
from train.text_source import TextSource

KINDS = ("document", "table", "form", "receipt", "ui", "scene")
MIN_LABEL_HEIGHT = 6.0  # px after the page effects: lower text is labelled ignore
GAP = 2                 # px kept free around every label polygon and decoration
_SHIFT = 2              # fixed-point bits for cv2.fillPoly / polylines
_FAINT = re.compile(r"hairline|thin|extra ?light|ultra ?light", re.I)  # weights that vanish at small sizes
Color = tuple[int, int, int]


@dataclass(frozen=True)
class PageSynthConfig:
    """Every knob of the page renderer. Probabilities are per page unless said per line; ranges are (low, high)."""

    kinds: dict[str, float] = field(default_factory=lambda: {
        "document": 0.3, "table": 0.12, "form": 0.12, "receipt": 0.12, "ui": 0.14, "scene": 0.2})
    page_size: tuple[int, int] = (300, 1600)      # every page side is clamped to this range (px)
    family_filter: str | None = None              # regex on font family/file (see train.fonts.find_fonts)
    vocab_file: str | None = None                 # word list instead of wordfreq (one word a line)
    textured: bool = True                         # paper shading / grain and photo-like scene backgrounds
    decorations: bool = True                      # ruling lines, boxes, underlines, checkboxes (space kept if off)
    p_tiny: float = 0.35                          # a few tiny (ignored) text lines as clutter
    # scene text, per line
    scene_size: tuple[int, int] = (18, 120)
    p_rotate: float = 0.35
    max_rotate_deg: float = 45.0
    p_vertical: float = 0.06                      # rotated by +-90 degrees instead
    p_perspective: float = 0.25
    max_perspective: float = 0.25                 # corner jitter, fraction of the text's shorter side
    p_curve: float = 0.15
    p_outline: float = 0.2
    p_shadow: float = 0.15
    # page geometry
    p_page_rotate: float = 0.3
    max_page_rotate_deg: float = 4.0
    p_page_perspective: float = 0.15
    max_page_perspective: float = 0.04            # corner jitter, fraction of the page's shorter side
    # photometric degradations
    p_lighting: float = 0.3
    p_blur: float = 0.2
    blur_sigma: tuple[float, float] = (0.4, 1.3)
    p_lowres: float = 0.12
    lowres_scale: tuple[float, float] = (0.5, 0.8)
    p_noise: float = 0.3
    noise_sigma: tuple[float, float] = (2.0, 10.0)
    p_jpeg: float = 0.35
    jpeg_quality: tuple[int, int] = (35, 92)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown page kinds {sorted(unknown)}; known: {list(KINDS)}")
        if not any(w > 0 for w in self.kinds.values()):
            raise ValueError("PageSynthConfig.kinds needs a positive weight")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> PageSynthConfig:
        """Build from a plain dict (e.g. YAML); lists become tuples, unknown keys raise ValueError."""
        d = dict(d or {})
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown PageSynthConfig keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    @classmethod
    def clean(cls, **overrides: Any) -> PageSynthConfig:
        """Flat backgrounds and no photometric degradation (geometry kept): every pixel change is text or a shape."""
        off = {"textured": False, "p_lighting": 0.0, "p_blur": 0.0, "p_lowres": 0.0, "p_noise": 0.0, "p_jpeg": 0.0}
        return cls(**{**off, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------- text tiles
@dataclass
class _Tile:
    """Rendered text: alpha layers (drawn in order) and the label polygon, in tile pixels (edges at integers).

    `origin` is the pen's start (left end of the baseline) for straight text."""

    alphas: list[np.ndarray]
    poly: np.ndarray
    origin: tuple[int, int] = (0, 0)


class _Advances(dict):
    """One font's advance widths per character, measured on first use."""

    def __init__(self, font: ImageFont.FreeTypeFont) -> None:
        super().__init__()
        self.font = font

    def __missing__(self, ch: str) -> float:
        self[ch] = width = self.font.getlength(ch)
        return width


class _Glyphs(dict):
    """One font's glyphs: character -> (alpha bitmap or None, x offset from the pen, y offset from the baseline).

    PIL rasterises each glyph once; lines are then composed from the bitmaps (about 3x faster than letting PIL
    draw every line; the same pixels apart from kerning, which `_width` ignores as well)."""

    def __init__(self, font: ImageFont.FreeTypeFont) -> None:
        super().__init__()
        self.font = font

    def __missing__(self, ch: str) -> tuple[np.ndarray | None, int, int]:
        left, top, right, bottom = (int(v) for v in self.font.getbbox(ch, anchor="ls"))
        glyph: tuple[np.ndarray | None, int, int] = (None, 0, 0)
        if right > left and bottom > top:
            canvas = Image.new("L", (right - left, bottom - top), 0)
            ImageDraw.Draw(canvas).text((-left, -top), ch, fill=255, font=self.font, anchor="ls")
            glyph = (np.array(canvas), left, top)
        self[ch] = glyph
        return glyph


@functools.lru_cache(maxsize=512)
def _font_cache(path: str, size: int) -> tuple[_Advances, _Glyphs]:
    font = load_font(path, size)
    return _Advances(font), _Glyphs(font)


def _width(font: ImageFont.FreeTypeFont, text: str) -> float:
    """Advance width of `text` in px (no kerning, like `_render`)."""
    return sum(map(_font_cache(font.path, font.size)[0].__getitem__, text))


def _box(w: float, h: float) -> np.ndarray:
    return np.float32([[0, 0], [w, 0], [w, h], [0, h]])


def _pad(size: int) -> int:
    """Margin between the ink and the polygon."""
    return 1 + round(0.04 * size)


def _render(font: ImageFont.FreeTypeFont, size: int, runs: Sequence[tuple[float, str]], stroke: int = 0,
            shadow: int = 0) -> _Tile | None:
    """Text runs (x offset, string) on one baseline -> alpha layers [shadow, outline, fill] cropped to the polygon.

    The outline is the fill dilated by `stroke` px, the shadow the top layer moved `shadow` px right and down.
    The polygon is the ink's box (at least x-height high) plus `_pad`; None when nothing is visible."""
    adv, glyphs = _font_cache(font.path, font.size)
    placed = []
    for x, text in runs:
        for ch in text:
            bmp, dx, dy = glyphs[ch]
            if bmp is not None:
                placed.append((round(x) + dx, dy, bmp))
            x += adv[ch]
    if not placed:
        return None
    pad = _pad(size)
    m = pad + stroke + shadow + 1
    left = min(px for px, _, _ in placed) - m
    top = min(min(py for _, py, _ in placed), -round(0.5 * size)) - m
    right = max(px + b.shape[1] for px, _, b in placed) + m
    bottom = max(max(py + b.shape[0] for _, py, b in placed), 1) + m
    fill = np.zeros((bottom - top, right - left), np.uint8)
    for px, py, bmp in placed:
        region = fill[py - top:py - top + bmp.shape[0], px - left:px - left + bmp.shape[1]]
        np.maximum(region, bmp, out=region)
    alphas = [fill]
    if stroke:
        alphas.insert(0, cv2.dilate(fill, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * stroke + 1,) * 2)))
    if shadow:
        moved = np.zeros_like(fill)
        moved[shadow:, shadow:] = alphas[0][:-shadow, :-shadow]
        alphas.insert(0, moved)
    ink = alphas[0] if len(alphas) == 1 else np.maximum.reduce(alphas)
    cols, rows = np.flatnonzero(ink.max(axis=0) > 40), np.flatnonzero(ink.max(axis=1) > 40)
    if cols.size == 0:
        return None
    base = -top
    x0, x1 = int(cols[0]) - pad, int(cols[-1]) + 1 + pad
    y0, y1 = min(int(rows[0]), base - round(0.5 * size)) - pad, max(int(rows[-1]) + 1, base + 1) + pad
    crops = [np.ascontiguousarray(a[y0:y1, x0:x1]) for a in alphas]
    return _Tile(crops, _box(x1 - x0, y1 - y0), (-left - x0, base - y0))


def _pixel_matrix(m: np.ndarray) -> np.ndarray:
    """A homography on edge coordinates (pixel i spans [i, i+1]) as OpenCV's pixel-centre one."""
    half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    return np.linalg.inv(half) @ m @ half


def _transform(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), m).reshape(-1, 2).astype(np.float32)


def _warp_tile(tile: _Tile, m: np.ndarray) -> _Tile:
    """The tile under the homography `m`, re-cropped to its polygon's bounding box."""
    poly = _transform(m, tile.poly)
    lo = np.floor(poly.min(axis=0))
    size = tuple(int(v) for v in np.ceil(poly.max(axis=0) - lo))
    m = np.array([[1, 0, -lo[0]], [0, 1, -lo[1]], [0, 0, 1]]) @ m
    pm = _pixel_matrix(m)
    alphas = [cv2.warpPerspective(a, pm, size, flags=cv2.INTER_LINEAR, borderValue=0) for a in tile.alphas]
    return _Tile(alphas, poly - lo.astype(np.float32))


def _jitter_homography(rng: random.Random, w: float, h: float, angle_deg: float, jitter: float) -> np.ndarray:
    """Rotation by `angle_deg` about the centre of a w x h box, then each corner moved by up to `jitter` px."""
    src = _box(w, h)
    a = math.radians(angle_deg)
    rot = np.float32([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    ctr = src.mean(axis=0)
    dst = (src - ctr) @ rot.T + ctr
    dst += np.float32([[rng.uniform(-jitter, jitter) for _ in range(2)] for _ in range(4)])
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32)).astype(np.float64)


_PointMap = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _curve_tile(tile: _Tile, rng: random.Random, k: int = 8) -> _Tile:
    """Bend straight text along an arc (up or down) or a sine wave; the polygon gets k points per long edge.

    Rows of padding keep the ink inside the polygon where its chords cut the curve."""
    h0, w = tile.alphas[0].shape
    arc = rng.random() < 0.6 and w > 2 * h0
    if arc:
        theta = min(rng.uniform(0.6, 2.2), w / (2.0 * h0))  # arc angle; radius >= twice the height
        r, s = w / theta, rng.choice((1.0, -1.0))           # s=1: centre below (text bulges up)
        err = (r + h0) * (1 - math.cos(theta / (k - 1) / 2))
    else:
        amp, period, phase = rng.uniform(0.1, 0.35) * h0, w * rng.uniform(1.2, 2.5), rng.uniform(0, 2 * math.pi)
        err = amp * (2 * math.pi / period) ** 2 * (w / (k - 1)) ** 2 / 8
    e = math.ceil(err + 0.5)
    h = h0 + 2 * e
    yc = h / 2
    fwd: _PointMap
    inv: _PointMap
    if arc:
        def fwd(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            phi, rho = (x - w / 2) / r, r + s * (yc - y)
            return rho * np.sin(phi), -s * rho * np.cos(phi)

        def inv(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return np.arctan2(u, -s * v) * r + w / 2, yc - s * (np.hypot(u, v) - r)
    else:
        def fwd(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return x, y + amp * np.sin(2 * np.pi * x / period + phase)

        def inv(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return u, v - amp * np.sin(2 * np.pi * u / period + phase)

    xs = np.linspace(0, w, k)
    top, bottom = fwd(xs, np.zeros(k)), fwd(xs[::-1], np.full(k, float(h)))
    poly = np.stack([np.r_[top[0], bottom[0]], np.r_[top[1], bottom[1]]], axis=1)
    dense = np.linspace(0, w, 48)
    edge = np.concatenate([np.stack(fwd(dense, np.full(48, y)), axis=1) for y in (0.0, float(h))])
    lo, hi = np.floor(edge.min(axis=0)), np.ceil(edge.max(axis=0))
    ow, oh = int(hi[0] - lo[0]), int(hi[1] - lo[1])
    u, v = np.meshgrid(np.arange(ow) + 0.5 + lo[0], np.arange(oh) + 0.5 + lo[1])
    sx, sy = inv(u, v)
    map_x, map_y = (sx - 0.5).astype(np.float32), (sy - 0.5 - e).astype(np.float32)
    alphas = [cv2.remap(a, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
              for a in tile.alphas]
    return _Tile(alphas, (poly - lo).astype(np.float32))


def _blend(region: np.ndarray, alpha: np.ndarray, color: Color) -> None:
    """region = region * (1 - alpha) + color * alpha, in place (uint8, saturating OpenCV arithmetic)."""
    a = cv2.merge([alpha, alpha, alpha])
    region[:] = cv2.add(cv2.multiply(a, (*color, 0), scale=1 / 255),
                        cv2.multiply(region, cv2.bitwise_not(a), scale=1 / 255))


def _canvas(h: int, w: int, color: Sequence[int]) -> np.ndarray:
    """An h x w BGR image of one colour (cv2.rectangle fills it far faster than numpy broadcasting)."""
    img = np.empty((h, w, 3), np.uint8)
    cv2.rectangle(img, (0, 0), (w, h), tuple(int(c) for c in color), -1)
    return img


def _fixed(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts, np.float64) * (1 << _SHIFT)).astype(np.int32)


def poly_height(poly: np.ndarray) -> float:
    """Mean distance between a polygon's top edge and its bottom edge (first half vs reversed second half)."""
    n = len(poly) // 2
    return float(np.linalg.norm(poly[:n] - poly[n:][::-1], axis=1).mean())


@dataclass(frozen=True)
class _UiStyle:
    """Fonts and colours of one screenshot."""

    info: FontInfo
    bold: FontInfo
    size: int
    text: Color
    muted: Color
    panel: Color
    accent: Color
    on_accent: Color


# ---------------------------------------------------------------------- page under construction
class _Page:
    """A page being drawn: the image, the space taken (label polygons and decorations, each with GAP around) and
    the labels. Decorations are drawn only when enabled, but take their space either way."""

    def __init__(self, img: np.ndarray, base: Color, decorations: bool) -> None:
        self.img, self.base, self.decorations = img, base, decorations
        self.h, self.w = img.shape[:2]
        self.taken = np.zeros((self.h, self.w), np.uint8)
        self.polys: list[np.ndarray] = []
        self.texts: list[str] = []
        self.ignore: list[bool] = []

    def free(self, poly: np.ndarray) -> bool:
        """True when the polygon (page px) lies inside the page and off everything taken."""
        lo, hi = np.floor(poly.min(axis=0)).astype(int), np.ceil(poly.max(axis=0)).astype(int)
        if lo[0] < 0 or lo[1] < 0 or hi[0] > self.w or hi[1] > self.h:
            return False
        region = self.taken[lo[1]:hi[1] + 1, lo[0]:hi[0] + 1]
        if not region.any():
            return True
        mask = np.zeros_like(region)
        cv2.fillPoly(mask, [_fixed(poly - lo)], 1, cv2.LINE_8, _SHIFT)
        return not (mask & region).any()

    def place(self, tile: _Tile, x: int, y: int, colors: Sequence[Color], text: str,
              ignore: bool = False) -> np.ndarray | None:
        """Blend the tile's layers at (x, y) and record its label; None (nothing drawn) when the space is not free."""
        poly = tile.poly + np.float32([x, y])
        if not self.free(poly):
            return None
        pts = [_fixed(poly)]
        cv2.fillPoly(self.taken, pts, 1, cv2.LINE_8, _SHIFT)
        cv2.polylines(self.taken, pts, True, 1, 2 * GAP + 1, cv2.LINE_8, _SHIFT)
        th, tw = tile.alphas[0].shape
        region = self.img[y:y + th, x:x + tw]
        for alpha, color in zip(tile.alphas, colors):
            _blend(region, alpha, color)
        self.polys.append(poly)
        self.texts.append("###" if ignore else text)
        self.ignore.append(ignore)
        return poly

    def fill(self, x0: int, y0: int, x1: int, y1: int, color: Color, radius: int = 0) -> None:
        """A background panel (always drawn, takes no space: text goes on it)."""
        img = self.img
        if radius <= 0:
            cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), color, -1)
            return
        r = min(radius, (x1 - x0) // 2, (y1 - y0) // 2)
        cv2.rectangle(img, (x0 + r, y0), (x1 - 1 - r, y1 - 1), color, -1)
        cv2.rectangle(img, (x0, y0 + r), (x1 - 1, y1 - 1 - r), color, -1)
        for cx, cy in ((x0 + r, y0 + r), (x1 - 1 - r, y0 + r), (x0 + r, y1 - 1 - r), (x1 - 1 - r, y1 - 1 - r)):
            cv2.circle(img, (cx, cy), r, color, -1, cv2.LINE_AA)

    def line(self, p0: tuple[int, int], p1: tuple[int, int], color: Color, thickness: int = 1) -> None:
        cv2.line(self.taken, p0, p1, 1, thickness + 2 * GAP)
        if self.decorations:
            cv2.line(self.img, p0, p1, color, thickness)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color, thickness: int = 1) -> None:
        """A rectangle outline (a field, a checkbox)."""
        cv2.rectangle(self.taken, (x0, y0), (x1, y1), 1, thickness + 2 * GAP)
        if self.decorations:
            cv2.rectangle(self.img, (x0, y0), (x1, y1), color, thickness)

    def crop_height(self, h: int) -> None:
        """Cut the page below row h (keeps every label above it)."""
        self.h = h = min(self.h, h)
        self.img, self.taken = self.img[:h], self.taken[:h]


# ---------------------------------------------------------------------- material
class _Material:
    """Fixed random material, identical in every process: a grain field and photo-like textures."""

    def __init__(self, seed: int = 97) -> None:
        g = np.random.default_rng(seed)
        self.grain = np.clip(g.normal(128, 32, (2048, 2048)), 0, 255).astype(np.uint8)  # std 32 around 128
        self.photos = [self._photo(g) for _ in range(8)]

    @staticmethod
    def _photo(g: np.random.Generator, h: int = 384, w: int = 512) -> np.ndarray:
        corners = g.integers(0, 256, (2, 2, 3)).astype(np.uint8)
        img = cv2.resize(corners, (w, h), interpolation=cv2.INTER_LINEAR)
        for _ in range(int(g.integers(20, 50))):
            _random_shape(img, g)
        return cv2.GaussianBlur(img, (0, 0), float(g.uniform(1.0, 5.0)))


def _random_shape(img: np.ndarray, g: np.random.Generator) -> None:
    """A random filled rectangle, circle, thick line or polygon in a random colour."""
    h, w = img.shape[:2]
    col = tuple(int(c) for c in g.integers(0, 256, 3))
    x, y, s = int(g.integers(0, w)), int(g.integers(0, h)), max(4, min(h, w) // 3)
    kind = int(g.integers(0, 4))
    if kind == 0:
        cv2.rectangle(img, (x, y), (x + int(g.integers(4, s)), y + int(g.integers(4, s))), col, -1)
    elif kind == 1:
        cv2.circle(img, (x, y), int(g.integers(3, s)), col, -1, cv2.LINE_AA)
    elif kind == 2:
        cv2.line(img, (x, y), (int(g.integers(0, w)), int(g.integers(0, h))), col, int(g.integers(1, 8)),
                 cv2.LINE_AA)
    else:
        cv2.fillPoly(img, [g.integers(0, [w, h], (int(g.integers(3, 7)), 2)).astype(np.int32)], col, cv2.LINE_AA)


def _contrast(rng: random.Random, bg_luma: float, delta: float = 110.0, p_color: float = 0.3) -> Color:
    """A colour whose luma differs from `bg_luma` by at least `delta` (by 127 at least when that is impossible).

    Draws the same amount of randomness whatever `bg_luma` is, so that pixel values never shift the layout."""
    side, t, colored, hue, sat = rng.random(), rng.random(), rng.random(), rng.random(), rng.uniform(0.4, 1.0)
    dark_ok, light_ok = bg_luma >= delta, bg_luma + delta <= 255
    if dark_ok and (not light_ok or side < (0.9 if bg_luma > 128 else 0.1)):
        target = t * (bg_luma - delta)
    elif light_ok:
        target = bg_luma + delta + t * (255 - bg_luma - delta)
    else:
        target = 0.0 if bg_luma > 127 else 255.0
    if colored < p_color:
        pure = _hsv_color(hue, sat, 1.0)
        color = tuple(min(255, int(c * target / max(_luma(pure), 1.0))) for c in pure)
        if abs(_luma(color) - bg_luma) >= min(delta, 127):
            return color  # type: ignore[return-value]
    v = int(target)
    return v, v, v


# ---------------------------------------------------------------------- the renderer
class PageSynth:
    """Renders detection pages; see the module docstring. Picklable (caches are rebuilt in each process).

    `fonts` defaults to `find_fonts(family_filter=config.family_filter)`; hairline, thin and extra-light weights
    are left out (their strokes vanish at document sizes). `text_source` defaults to a `TextSource` of printable
    ASCII (wordfreq words, or `config.vocab_file`)."""

    def __init__(self, config: PageSynthConfig | Mapping[str, Any] | None = None, *,
                 fonts: Sequence[FontInfo] | None = None, text_source: TextSource | None = None) -> None:
        self.config = config if isinstance(config, PageSynthConfig) else PageSynthConfig.from_dict(config)
        cfg = self.config
        pool = list(fonts) if fonts is not None else find_fonts(family_filter=cfg.family_filter)
        self.fonts = [f for f in pool if not _FAINT.search(f"{f.family} {f.style}")] or pool
        if not self.fonts:
            raise FileNotFoundError("no usable fonts found (run train/setup_fonts.sh or set PPOCR_EDGE_FONT_DIRS)")
        drawn = frozenset().union(*(f.codepoints for f in self.fonts))
        charset = "".join(c for c in ASCII_CHARSET if ord(c) in drawn)
        self.text = text_source or TextSource(charset, 40, vocab_file=cfg.vocab_file)
        families: dict[str, list[FontInfo]] = {}
        for f in self.fonts:
            families.setdefault(f.family, []).append(f)
        self._families = [families[k] for k in sorted(families)]
        self._mono = [fam for fam in self._families if all(f.mono for f in fam)] or self._families
        self._kinds = [k for k in KINDS if cfg.kinds.get(k, 0) > 0]
        self._kind_weights = [cfg.kinds[k] for k in self._kinds]
        self._material: _Material | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_material"] = None
        return state

    @property
    def material(self) -> _Material:
        if self._material is None:
            self._material = _Material()
        return self._material

    # ------------------------------------------------------------------ public
    def kind_of(self, index: int, seed: int) -> str:
        """The page kind that `render(index, seed)` draws."""
        return self._kind(random.Random(mix_seed(seed, index)))

    def render(self, index: int, seed: int) -> DetItem:
        """Page `index` of the stream `seed`: image, polygons, texts ('###' when ignored) and ignore flags."""
        rng = random.Random(mix_seed(seed, index))
        kind = self._kind(rng)
        g = np.random.default_rng(rng.getrandbits(64))
        page = getattr(self, f"_{kind}")(rng, g)
        if rng.random() < self.config.p_tiny:
            self._tiny(page, rng)
        img, polys = self._page_geometry(rng, page)
        img = self._degrade(rng, img)
        ignore = [ig or poly_height(p) < MIN_LABEL_HEIGHT for ig, p in zip(page.ignore, polys)]
        texts = ["###" if ig else t for ig, t in zip(ignore, page.texts)]
        return DetItem(np.ascontiguousarray(img), polys, texts, ignore)

    def _kind(self, rng: random.Random) -> str:
        return rng.choices(self._kinds, weights=self._kind_weights)[0]

    # ------------------------------------------------------------------ fonts and text
    def _family(self, rng: random.Random, mono: bool = False) -> list[FontInfo]:
        pool = self._mono if mono else self._families
        return pool[rng.randrange(len(pool))]

    @staticmethod
    def _variant(fam: list[FontInfo], rng: random.Random, bold: bool = False, italic: bool = False) -> FontInfo:
        exact = [f for f in fam if f.bold == bold and f.italic == italic]
        return rng.choice(exact or [f for f in fam if not f.bold and not f.italic] or fam)

    def _words(self, rng: random.Random, n: int) -> list[str]:
        """n words of running text: dictionary words, some numbers/names/dates, sentence case and punctuation."""
        out: list[str] = []
        start = True
        while len(out) < n:
            word = self.text.word(rng) if rng.random() < 0.9 else ""
            for w in (word or self.text.sample(rng)).split():
                out.append(w[:1].upper() + w[1:] if start else w)
                start = False
            r = rng.random()
            if r < 0.08:
                out[-1] += "."
                start = True
            elif r < 0.13:
                out[-1] += rng.choice(",,;:")
        return out[:n]

    def _phrase(self, rng: random.Random, lo: int, hi: int) -> str:
        """A short title-like phrase, no trailing punctuation, in a random case style."""
        text = " ".join(self._words(rng, rng.randint(lo, hi))).rstrip(",;:.")
        r = rng.random()
        return text.upper() if r < 0.25 else text.title() if r < 0.55 else text[:1].upper() + text[1:]

    def _sample(self, rng: random.Random, kind: str | None = None) -> str:
        return self.text.sample(rng, kind if kind in self.text.kinds else None)

    @staticmethod
    def _fit(font: ImageFont.FreeTypeFont, words: Sequence[str], width: float) -> int:
        """How many leading words fit in `width` px (at least one)."""
        space, total = _width(font, " "), 0.0
        for n, w in enumerate(words):
            total += _width(font, w) + (space if n else 0.0)
            if total > width and n:
                return n
        return len(words)

    @staticmethod
    def _clip(font: ImageFont.FreeTypeFont, text: str, width: float) -> str:
        """`text` shortened (by words, then characters) to fit in `width` px; '' when not even one character does."""
        while text and _width(font, text) > width:
            text = text.rsplit(" ", 1)[0] if " " in text else text[:-1]
        return text.strip()

    def _put(self, page: _Page, rng: random.Random, text: str, info: FontInfo, size: int, x: float, y: float,
             color: Color, align: str = "l", runs: Sequence[tuple[float, str]] | None = None,
             ignore: bool = False) -> np.ndarray | None:
        """Straight text with its baseline starting (align 'l'), ending ('r') or centred ('c') at (x, y)."""
        if not text:
            return None
        if not set(map(ord, text)) <= info.codepoints:  # fast path of choose_font's coverage test
            info = choose_font(self.fonts, text, rng, preferred=info)
        font = load_font(info.path, size)
        runs = runs or [(0.0, text)]
        if align != "l":
            width = runs[-1][0] + _width(font, runs[-1][1])
            x -= width if align == "r" else width / 2
        tile = _render(font, size, runs)
        if tile is None:
            return None
        return page.place(tile, round(x) - tile.origin[0], round(y) - tile.origin[1], [color], text, ignore)

    @staticmethod
    def _pitch(font: ImageFont.FreeTypeFont, size: int, extra: float) -> int:
        """Baseline-to-baseline distance that keeps two lines' polygons GAP apart, plus `extra` font sizes."""
        asc, desc = font.getmetrics()
        return asc + desc + 2 * _pad(size) + GAP + 1 + int(extra * size)

    # ------------------------------------------------------------------ pages and backgrounds
    def _page_size(self, rng: random.Random, width: tuple[int, int], aspect: tuple[float, float]) -> tuple[int, int]:
        lo, hi = self.config.page_size
        w = min(max(rng.randint(*width), lo), hi)
        return w, min(max(int(w * rng.uniform(*aspect)), lo), hi)

    def _grain(self, rng: random.Random, h: int, w: int) -> np.ndarray:
        """An h x w window of the fixed grain field (uint8, mean 128, standard deviation 32)."""
        grain = self.material.grain
        if h > grain.shape[0] or w > grain.shape[1]:
            grain = np.tile(grain, (-(-h // grain.shape[0]), -(-w // grain.shape[1])))
        y, x = rng.randint(0, grain.shape[0] - h), rng.randint(0, grain.shape[1] - w)
        return grain[y:y + h, x:x + w]

    @staticmethod
    def _add_gray(img: np.ndarray, delta: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """img + scale * (delta - 128) on every channel, saturating."""
        return cv2.addWeighted(img, 1.0, cv2.cvtColor(delta, cv2.COLOR_GRAY2BGR), scale, -128.0 * scale)

    def _paper_page(self, rng: random.Random, g: np.random.Generator, width: tuple[int, int],
                    aspect: tuple[float, float]) -> _Page:
        """Light paper: flat, or (textured) with smooth shading and grain."""
        w, h = self._page_size(rng, width, aspect)
        v = rng.randint(205, 255)
        base = tuple(max(0, min(255, v + rng.randint(-10, 10))) for _ in range(3))
        img = _canvas(h, w, base)
        if self.config.textured:
            field_ = np.clip(g.normal(128, 45, (max(2, h // 90), max(2, w // 90))), 0, 255).astype(np.uint8)
            shade = cv2.resize(field_, (w, h), interpolation=cv2.INTER_CUBIC)
            a, b = rng.uniform(0.02, 0.12), rng.uniform(1.5, 5.0) / 32
            texture = cv2.addWeighted(shade, a, self._grain(rng, h, w), b, 128.0 * (1 - a - b))
            img = self._add_gray(img, texture)
        return _Page(img, base, self.config.decorations)  # type: ignore[arg-type]

    def _paper_ink(self, rng: random.Random) -> Color:
        """Dark ink: mostly black or grey, sometimes dark blue, red or green."""
        if rng.random() < 0.8:
            v = rng.randint(0, 70)
            return v, v, v
        return _hsv_color(rng.choice((0.62, 0.0, 0.33, 0.75)), rng.uniform(0.5, 1.0), rng.uniform(0.35, 0.6))

    # ------------------------------------------------------------------ document
    def _document(self, rng: random.Random, g: np.random.Generator) -> _Page:
        page = self._paper_page(rng, g, (500, 1400), (1.0, 1.5))
        ink = self._paper_ink(rng)
        fam = self._family(rng)
        head_fam = fam if rng.random() < 0.5 else self._family(rng)
        body = rng.randint(12, 24)
        mx, y = int(page.w * rng.uniform(0.05, 0.1)), int(page.h * rng.uniform(0.03, 0.07))
        bottom = page.h - int(page.h * rng.uniform(0.03, 0.07))
        ncol = rng.choices((1, 2, 3), weights=(5, 3, 1))[0]
        gap = max(2 * body, page.w // 30)
        while ncol > 1 and (page.w - 2 * mx - (ncol - 1) * gap) / ncol < 16 * body:
            ncol -= 1
        colw = (page.w - 2 * mx - (ncol - 1) * gap) // ncol
        if rng.random() < 0.7:  # a title across the columns
            size = min(60, int(body * rng.uniform(1.5, 2.8)))
            info = self._variant(head_fam, rng, bold=rng.random() < 0.7)
            font = load_font(info.path, size)
            text = self._clip(font, self._phrase(rng, 2, 8), page.w - 2 * mx)
            y += font.getmetrics()[0]
            align = rng.choice("lc")
            self._put(page, rng, text, info, size, mx if align == "l" else page.w / 2, y, ink, align)
            y += self._pitch(font, size, rng.uniform(0.3, 1.0)) - font.getmetrics()[0]
        for c in range(ncol):
            self._column(page, rng, fam, head_fam, body, mx + c * (colw + gap), colw, y, bottom, ink)
        return page

    def _column(self, page: _Page, rng: random.Random, fam: list[FontInfo], head_fam: list[FontInfo], body: int,
                x: int, colw: int, y: int, bottom: int, ink: Color) -> None:
        """Fill one column with headings, paragraphs and lists from y down to `bottom`."""
        regular = self._variant(fam, rng)
        while y < bottom:
            block = rng.choices(("para", "heading", "list"), weights=(6, 2, 1))[0]
            if block == "heading":
                size = min(60, int(body * rng.uniform(1.15, 2.0)))
                info = self._variant(head_fam, rng, bold=rng.random() < 0.8)
                font = load_font(info.path, size)
                y += int(size * rng.uniform(0.2, 0.8)) + font.getmetrics()[0]
                if y + font.getmetrics()[1] > bottom:
                    return
                self._put(page, rng, self._clip(font, self._phrase(rng, 1, 6), colw), info, size, x, y, ink)
                y += self._pitch(font, size, rng.uniform(0.1, 0.5)) - font.getmetrics()[0]
                continue
            size = body if rng.random() < 0.8 else max(12, body + rng.randint(-4, 4))
            info = regular if rng.random() < 0.9 else self._variant(fam, rng, italic=True)
            if block == "para":
                y = self._paragraph(page, rng, info, size, x, colw, y, bottom, ink)
            else:
                y = self._list(page, rng, info, size, x, colw, y, bottom, ink)
            y += int(size * rng.uniform(0.3, 1.2))

    def _paragraph(self, page: _Page, rng: random.Random, info: FontInfo, size: int, x: int, colw: int, y: int,
                   bottom: int, ink: Color) -> int:
        """A left / centred / right / justified paragraph; returns the y below it."""
        font = load_font(info.path, size)
        asc, desc = font.getmetrics()
        pitch = self._pitch(font, size, rng.uniform(0.0, 0.5))
        align = rng.choices("lcrj", weights=(5, 1, 0.5, 3))[0]
        words = self._words(rng, rng.randint(4, 120))
        indent = int(size * rng.uniform(1, 3)) if rng.random() < 0.3 else 0
        while words and y + asc + desc <= bottom:
            width = colw - indent
            n = self._fit(font, words, width)
            line, words = words[:n], words[n:]
            text = " ".join(line)
            base = y + asc
            if align == "j" and words and len(line) > 1:
                lengths = [_width(font, w) for w in line]
                spare = (width - sum(lengths)) / (len(line) - 1)
                if spare < 4 * _width(font, " "):
                    runs = [(sum(lengths[:i]) + i * spare, w) for i, w in enumerate(line)]
                    self._put(page, rng, text, info, size, x + indent, base, ink, runs=runs)
                else:
                    self._put(page, rng, text, info, size, x + indent, base, ink)
            else:
                anchor = {"l": x + indent, "j": x + indent, "c": x + colw / 2, "r": x + colw}[align]
                self._put(page, rng, text, info, size, anchor, base, ink, align="l" if align == "j" else align)
            y += pitch
            indent = 0
        return y

    def _list(self, page: _Page, rng: random.Random, info: FontInfo, size: int, x: int, colw: int, y: int,
              bottom: int, ink: Color) -> int:
        """A bulleted or numbered list, one label per item line; returns the y below it."""
        font = load_font(info.path, size)
        asc, desc = font.getmetrics()
        pitch = self._pitch(font, size, rng.uniform(0.1, 0.6))
        style = rng.choice(("\u2022", "-", "*", "1.", "a)", "(1)"))
        if not info.covers(style):
            style = "-"
        indent = int(size * rng.uniform(0.5, 2.5))
        for i in range(rng.randint(2, 7)):
            if y + asc + desc > bottom:
                break
            marker = style if style in "\u2022-*" else style.replace("1", str(i + 1)).replace("a", "abcdefg"[i])
            text = self._clip(font, f"{marker} " + " ".join(self._words(rng, rng.randint(2, 12))), colw - indent)
            self._put(page, rng, text, info, size, x + indent, y + asc, ink)
            y += pitch
        return y

    def _title(self, page: _Page, rng: random.Random, info: FontInfo, size: int, mx: int, y: int, ink: Color) -> int:
        """A bold heading at the top (sometimes with a rule under it); returns the y below it."""
        font = load_font(info.path, size)
        asc, desc = font.getmetrics()
        text = self._clip(font, self._phrase(rng, 1, 5), page.w - 2 * mx)
        align = rng.choice("lc")
        self._put(page, rng, text, info, size, mx if align == "l" else page.w / 2, y + asc, ink, align)
        y += asc + desc + _pad(size) + GAP + 3
        if rng.random() < 0.5:
            page.line((mx, y), (page.w - mx, y), ink, rng.choice((1, 1, 2)))
            y += GAP + 3
        return y + int(size * rng.uniform(0.3, 1.0))

    # ------------------------------------------------------------------ table
    def _table(self, rng: random.Random, g: np.random.Generator) -> _Page:
        page = self._paper_page(rng, g, (500, 1400), (0.5, 1.3))
        ink = self._paper_ink(rng)
        fam = self._family(rng)
        size = rng.randint(12, 20)
        mx, y = int(page.w * rng.uniform(0.03, 0.08)), int(page.h * rng.uniform(0.03, 0.08))
        if rng.random() < 0.6:
            y = self._title(page, rng, self._variant(fam, rng, bold=True), min(60, int(size * rng.uniform(1.3, 2.2))),
                            mx, y, ink)
        bottom = page.h - mx
        while y < bottom - 4 * size:
            y = self._grid(page, rng, fam, size, mx, y, bottom, ink) + int(size * rng.uniform(0.5, 2.0))
            if rng.random() < 0.5:  # a note between tables
                y = self._paragraph(page, rng, self._variant(fam, rng), size, mx, page.w - 2 * mx, y, bottom, ink)
                y += int(size * rng.uniform(0.5, 2.0))
        return page

    def _grid(self, page: _Page, rng: random.Random, fam: list[FontInfo], size: int, mx: int, y: int, bottom: int,
              ink: Color) -> int:
        """A table of one header row and data rows from y down (at most to `bottom`); returns the y below it."""
        info, bold = self._variant(fam, rng), self._variant(fam, rng, bold=True)
        font, bfont = load_font(info.path, size), load_font(bold.path, size)
        asc, desc = max(font.getmetrics()[0], bfont.getmetrics()[0]), max(font.getmetrics()[1], bfont.getmetrics()[1])
        padx = _pad(size) + GAP + 2 + rng.randint(0, size)
        pady = _pad(size) + GAP + 2 + rng.randint(0, size // 2)
        row_h = asc + desc + 2 * pady
        nrows = min(rng.randint(2, 20), (bottom - y) // row_h - 1)
        if nrows < 1:
            return bottom
        ncols = rng.randint(2, 6)
        kinds = ["words"] + [rng.choice(("words", "number", "price", "date", "code", "name")) for _ in range(ncols - 1)]
        header = [self._phrase(rng, 1, 2) for _ in range(ncols)]
        cells = [[" ".join(self._words(rng, rng.randint(1, 4))) if k == "words" else self._sample(rng, k)
                  for k in kinds] for _ in range(nrows)]
        widths = [max(_width(font, r[c]) for r in [header] + cells) + 2 * padx for c in range(ncols)]
        avail = page.w - 2 * mx
        scale = avail / sum(widths) if sum(widths) > avail or rng.random() < 0.4 else 1.0
        xs = [mx + int(sum(widths[:c]) * scale) for c in range(ncols + 1)]
        ys = [y + r * row_h for r in range(nrows + 2)]
        head_ink = ink
        if rng.random() < 0.5:  # a filled header row
            head_bg = _hsv_color(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.2, 0.9))
            head_ink = _contrast(rng, _luma(head_bg), 110, 0.0)
            page.fill(xs[0], ys[0], xs[-1], ys[1], head_bg)
        if rng.random() < 0.3:  # zebra rows
            shade = tuple(max(0, c - rng.randint(12, 30)) for c in page.base)
            for r in range(2, nrows + 1, 2):
                page.fill(xs[0], ys[r], xs[-1], ys[r + 1], shade)
        self._rules(page, rng, xs, ys, ink)
        for r, row in enumerate([header] + cells):
            for c, text in enumerate(row):
                f, inf = (bfont, bold) if r == 0 else (font, info)
                text = self._clip(f, text, xs[c + 1] - xs[c] - 2 * padx)
                right = r > 0 and kinds[c] in ("number", "price")
                x = xs[c + 1] - padx if right else xs[c] + padx
                self._put(page, rng, text, inf, size, x, ys[r] + pady + asc, head_ink if r == 0 else ink,
                          "r" if right else "l")
        return ys[-1]

    @staticmethod
    def _rules(page: _Page, rng: random.Random, xs: list[int], ys: list[int], ink: Color) -> None:
        """Table ruling: a full grid, every row, or only the header's top and bottom."""
        style = rng.choice(("grid", "grid", "rows", "header"))
        t = rng.choice((1, 1, 1, 2))
        color = ink if rng.random() < 0.6 else _contrast(rng, 255, 60, 0.0)
        rows = ys if style != "header" else [ys[0], ys[1], ys[-1]]
        for y in rows:
            page.line((xs[0], y), (xs[-1], y), color, t)
        if style == "grid":
            for x in xs:
                page.line((x, ys[0]), (x, ys[-1]), color, t)

    # ------------------------------------------------------------------ form
    def _form(self, rng: random.Random, g: np.random.Generator) -> _Page:
        page = self._paper_page(rng, g, (500, 1200), (0.9, 1.4))
        ink = self._paper_ink(rng)
        fam = self._family(rng)
        label_info = self._variant(fam, rng, bold=rng.random() < 0.3)
        value_info = self._variant(self._family(rng), rng, italic=rng.random() < 0.3)
        value_ink = ink if rng.random() < 0.5 else self._paper_ink(rng)
        size = rng.randint(12, 22)
        mx, y = int(page.w * rng.uniform(0.05, 0.09)), int(page.h * rng.uniform(0.03, 0.07))
        y = self._title(page, rng, self._variant(fam, rng, bold=True), min(60, int(size * rng.uniform(1.3, 2.4))),
                        mx, y, ink)
        lf, vf = load_font(label_info.path, size), load_font(value_info.path, size)
        asc, desc = max(lf.getmetrics()[0], vf.getmetrics()[0]), max(lf.getmetrics()[1], vf.getmetrics()[1])
        inset = _pad(size) + GAP + 3  # from a text's baseline box to a field's lines
        row_h = asc + desc + 2 * inset + 2 + int(size * rng.uniform(0.3, 1.2))
        ncol = 2 if page.w - 2 * mx > 40 * size and rng.random() < 0.4 else 1
        colw = (page.w - 2 * mx - (ncol - 1) * 2 * size) // ncol
        while y + row_h < page.h - mx:
            kind = rng.choices(("box", "line", "check", "section"), weights=(4, 3, 2, 1))[0]
            base = y + inset + 1 + asc
            if kind == "section":
                text = self._clip(lf, self._phrase(rng, 1, 4), page.w - 2 * mx)
                self._put(page, rng, text, self._variant(fam, rng, bold=True), size, mx, base, ink)
                page.line((mx, base + desc + inset), (page.w - mx, base + desc + inset), ink)
                y += row_h
                continue
            for c in range(ncol):
                x0 = mx + c * (colw + 2 * size)
                if kind == "check":
                    self._checks(page, rng, label_info, lf, size, x0, x0 + colw, base, ink)
                    continue
                label = self._clip(lf, self._phrase(rng, 1, 3) + rng.choice((":", ":", "", " *")), colw // 2)
                self._put(page, rng, label, label_info, size, x0, base, ink)
                fx0, fx1 = x0 + int(_width(lf, label) + size * rng.uniform(0.6, 1.5)), x0 + colw
                if fx1 - fx0 < 4 * size:
                    continue
                if kind == "box":
                    page.rect(fx0, base - asc - inset, fx1, base + desc + inset, ink)
                else:
                    page.line((fx0, base + desc + inset), (fx1, base + desc + inset), ink)
                if rng.random() < 0.7:
                    value = self._clip(vf, self._sample(rng), fx1 - fx0 - 2 * inset - 4)
                    self._put(page, rng, value, value_info, size, fx0 + inset + 2, base, value_ink)
            y += row_h
        return page

    def _checks(self, page: _Page, rng: random.Random, info: FontInfo, font: ImageFont.FreeTypeFont, size: int,
                x: int, x_end: int, base: int, ink: Color) -> None:
        """A row of checkboxes (some ticked) with their labels."""
        box = max(6, int(size * rng.uniform(0.6, 0.9)))
        for _ in range(rng.randint(1, 4)):
            text = self._phrase(rng, 1, 2)
            tx = x + box + 2 * GAP + _pad(size) + max(2, size // 3)
            if tx + _width(font, text) > x_end:
                return
            page.rect(x, base - box, x + box, base, ink, 1)
            if rng.random() < 0.4:
                page.line((x + 2, base - box + 2), (x + box - 2, base - 2), ink, max(1, box // 6))
                page.line((x + 2, base - 2), (x + box - 2, base - box + 2), ink, max(1, box // 6))
            self._put(page, rng, text, info, size, tx, base, ink)
            x = int(tx + _width(font, text) + size * rng.uniform(1.0, 3.0))

    # ------------------------------------------------------------------ receipt
    def _receipt(self, rng: random.Random, g: np.random.Generator) -> _Page:
        page = self._paper_page(rng, g, (300, 600), (2.0, 4.0))
        ink = self._paper_ink(rng)
        fam = self._family(rng, mono=rng.random() < 0.8)
        info, bold = self._variant(fam, rng), self._variant(fam, rng, bold=True)
        mx = int(page.w * rng.uniform(0.04, 0.1))
        width = page.w - 2 * mx
        size = max(12, min(24, int(width / rng.uniform(20, 34))))
        font = load_font(info.path, size)
        asc, desc = font.getmetrics()
        pitch = self._pitch(font, size, rng.uniform(0.0, 0.5))
        y, end = int(size * rng.uniform(1, 3)), page.h - 2 * pitch
        head = min(60, int(size * rng.uniform(1.3, 2.2)))
        hfont = load_font(bold.path, head)
        y += hfont.getmetrics()[0]
        self._put(page, rng, self._clip(hfont, self._phrase(rng, 1, 3).upper(), width), bold, head, page.w / 2, y,
                  ink, "c")
        y += self._pitch(hfont, head, 0.2) - hfont.getmetrics()[0] + asc
        for k in rng.sample(("address", "address", "phone", "date", "url"), rng.randint(1, 4)):
            self._put(page, rng, self._clip(font, self._sample(rng, k), width), info, size, page.w / 2, y, ink, "c")
            y += pitch
        dash = rng.choice((0, 4, 8))
        y = self._receipt_rule(page, y - asc, pitch, mx, dash, ink) + asc
        for _ in range(rng.randint(3, 25)):
            if y > end:
                break
            self._receipt_row(page, rng, info, font, size, mx, page.w - mx, y, ink, rng.random() < 0.7)
            y += pitch
        y = self._receipt_rule(page, y - asc, pitch, mx, dash, ink) + asc
        for label in ("SUBTOTAL", "TAX", "TOTAL", "CASH", "CHANGE")[:rng.randint(1, 5)]:
            if y > end:
                break
            self._receipt_row(page, rng, bold if label == "TOTAL" else info, font, size, mx, page.w - mx, y, ink,
                              True, label if rng.random() < 0.6 else label.title())
            y += pitch
        if y < end:
            self._put(page, rng, self._clip(font, self._phrase(rng, 2, 5), width), info, size, page.w / 2, y, ink,
                      "c")
            y += pitch
        page.crop_height(y + int(size * rng.uniform(1, 4)))
        return page

    def _receipt_row(self, page: _Page, rng: random.Random, info: FontInfo, font: ImageFont.FreeTypeFont, size: int,
                     x0: int, x1: int, base: int, ink: Color, upper: bool, name: str | None = None) -> None:
        """An item name at the left and its price at the right: two labels when far apart, one when close."""
        price = f"{rng.randint(0, 10 ** rng.randint(1, 3))}.{rng.randint(0, 99):02d}"
        if rng.random() < 0.3:
            price = rng.choice(("$", "", "EUR ")) + price + rng.choice(("", "", " A", " B"))
        name = name or " ".join(self._words(rng, rng.randint(1, 4))).rstrip(",;:.")
        name = self._clip(font, name.upper() if upper else name, x1 - x0 - _width(font, price) - size)
        pw, nw, space = _width(font, price), _width(font, name), _width(font, " ")
        if x1 - x0 - pw - nw > 2.5 * space:
            self._put(page, rng, name, info, size, x0, base, ink)
            self._put(page, rng, price, info, size, x1, base, ink, "r")
        else:
            self._put(page, rng, f"{name} {price}", info, size, x0, base, ink,
                      runs=[(0.0, name), (x1 - x0 - pw, price)])

    @staticmethod
    def _receipt_rule(page: _Page, y: int, pitch: int, x0: int, dash: int, ink: Color) -> int:
        """A solid or dashed separator in the middle of one line pitch; returns the y below it."""
        mid, x1 = y + pitch // 2, page.w - x0
        for x in range(x0, x1, 2 * dash) if dash else [x0]:
            page.line((x, mid), (min(x + dash, x1) if dash else x1, mid), ink)
        return y + pitch

    # ------------------------------------------------------------------ ui
    def _ui(self, rng: random.Random, g: np.random.Generator) -> _Page:
        phone = rng.random() < 0.25
        w, h = self._page_size(rng, (320, 480) if phone else (640, 1600), (1.6, 2.2) if phone else (0.55, 0.8))
        dark = rng.random() < 0.4
        hue, sat = rng.random(), rng.uniform(0, 0.15)
        v = rng.uniform(0.07, 0.2) if dark else rng.uniform(0.92, 1.0)
        bg, panel = _hsv_color(hue, sat, v), _hsv_color(hue, sat, v + (0.06 if dark else -0.05))
        side = _hsv_color(hue, sat, v + (0.1 if dark else -0.09))
        lum = [_luma(c) for c in (bg, panel, side)]
        accent = _hsv_color(rng.random(), rng.uniform(0.5, 0.9), rng.uniform(0.45, 0.85))
        fam = self._family(rng)
        size = rng.randint(14, 22) if phone else rng.randint(12, 18)
        ui = _UiStyle(self._variant(fam, rng), self._variant(fam, rng, bold=True), size,
                      _contrast(rng, _luma(bg), 150, 0.0), _contrast(rng, max(lum) if dark else min(lum), 100, 0.0),
                      panel, accent, _contrast(rng, _luma(accent), 110, 0.0))
        page = _Page(_canvas(h, w, bg), bg, self.config.decorations)
        font = load_font(ui.info.path, size)
        asc, desc = font.getmetrics()
        inset = _pad(size) + GAP + max(2, size // 2)
        bar = asc + desc + 2 * inset
        bar_color, bar_ink = (accent, ui.on_accent) if rng.random() < 0.4 else (panel, ui.text)
        page.fill(0, 0, w, bar, bar_color)
        x = inset
        for _ in range(rng.randint(2, 8)):
            label = self._phrase(rng, 1, 1).title()
            if x + _width(font, label) > w - inset:
                break
            self._put(page, rng, label, ui.info, size, x, inset + asc, bar_ink)
            x += int(_width(font, label) + size * rng.uniform(1.0, 2.5))
        if rng.random() < 0.5:  # a user name / clock at the right end of the bar
            self._put(page, rng, self._sample(rng, rng.choice(("name", "time", "email"))), ui.info, size, w - inset,
                      inset + asc, bar_ink, "r")
        x0 = 2 * inset
        if not phone and rng.random() < 0.6:
            x0 += self._sidebar(page, rng, ui, bar, side)
        ncol = max(1, min(rng.randint(1, 3), (w - x0) // (22 * size)))
        colw = (w - x0 - inset) // ncol
        for c in range(ncol):
            self._ui_column(page, rng, ui, x0 + c * colw, x0 + (c + 1) * colw - 2 * inset, bar + inset)
        return page

    def _sidebar(self, page: _Page, rng: random.Random, ui: _UiStyle, top: int, color: Color) -> int:
        """A left panel with a vertical menu (one item highlighted); returns its right edge."""
        sw = int(page.w * rng.uniform(0.14, 0.25))
        page.fill(0, top, sw, page.h, color)
        font = load_font(ui.info.path, ui.size)
        asc, desc = font.getmetrics()
        inset = _pad(ui.size) + GAP + max(2, ui.size // 3)
        item_h = asc + desc + 2 * inset
        y, selected = top + inset, rng.randrange(12)
        for i in range(rng.randint(3, 12)):
            if y + item_h > page.h:
                break
            label = self._clip(font, self._phrase(rng, 1, 2), sw - 3 * inset)
            ink = ui.muted
            if i == selected:
                page.fill(inset // 2, y, sw - inset // 2, y + item_h, ui.accent, radius=rng.choice((0, ui.size // 3)))
                ink = ui.on_accent
            self._put(page, rng, label, ui.info, ui.size, 2 * inset, y + inset + asc, ink)
            y += item_h + rng.randint(0, ui.size // 2)
        return sw

    def _ui_column(self, page: _Page, rng: random.Random, ui: _UiStyle, x0: int, x1: int, y: int) -> None:
        """One column of the content area: headings, text lines, rows of buttons, input fields and cards."""
        size = ui.size
        font, bfont = load_font(ui.info.path, size), load_font(ui.bold.path, size)
        asc, desc = font.getmetrics()
        inset = _pad(size) + GAP + max(3, size // 2)
        line_h = asc + desc + inset
        while True:
            block = rng.choices(("heading", "text", "buttons", "input", "card"), weights=(1, 3, 2, 2, 2))[0]
            hsize = min(48, int(size * rng.uniform(1.3, 2.2)))
            hfont = load_font(ui.bold.path, hsize)
            need = {"heading": sum(hfont.getmetrics()) + 2 * inset, "card": 3 * line_h + inset}.get(block, line_h + inset)
            if y + need + inset > page.h:
                return
            if block == "heading":
                label = self._clip(hfont, self._phrase(rng, 1, 4), x1 - x0)
                self._put(page, rng, label, ui.bold, hsize, x0, y + inset + hfont.getmetrics()[0], ui.text)
            elif block == "text":
                line = self._clip(font, " ".join(self._words(rng, rng.randint(3, 16))), x1 - x0)
                self._put(page, rng, line, ui.info, size, x0, y + inset + asc, rng.choice((ui.muted, ui.text)))
            elif block == "buttons":
                self._buttons(page, rng, ui, font, x0, x1, y)
            elif block == "input":
                page.rect(x0, y, min(x1, x0 + int(size * rng.uniform(12, 30))), y + need, ui.muted)
                hint = self._clip(font, self._phrase(rng, 1, 3), x1 - x0 - 2 * inset)
                self._put(page, rng, hint, ui.info, size, x0 + inset, y + inset + asc, ui.muted)
            else:
                cw = min(x1 - x0, int(size * rng.uniform(15, 35)))
                page.fill(x0, y, x0 + cw, y + need, ui.panel, radius=rng.choice((0, size // 2)))
                for i in range(3):
                    f, info, ink = (bfont, ui.bold, ui.text) if i == 0 else (font, ui.info, ui.muted)
                    self._put(page, rng, self._clip(f, self._phrase(rng, 1, 6), cw - 2 * inset), info, size,
                              x0 + inset, y + inset + asc + i * line_h, ink)
            y += need + int(size * rng.uniform(0.3, 1.5))

    def _buttons(self, page: _Page, rng: random.Random, ui: _UiStyle, font: ImageFont.FreeTypeFont, x: int,
                 x_end: int, y: int) -> None:
        """A row of filled (rounded) buttons with centred labels."""
        asc, desc = font.getmetrics()
        inset = _pad(ui.size) + GAP + max(3, ui.size // 2)
        radius = rng.choice((0, ui.size // 3, ui.size))
        for i in range(rng.randint(1, 4)):
            label = self._phrase(rng, 1, 2)
            bw = int(_width(font, label)) + 2 * (inset + ui.size // 2)
            if x + bw > x_end:
                return
            fill, ink = (ui.accent, ui.on_accent) if i == 0 or rng.random() < 0.3 else (ui.panel, ui.text)
            page.fill(x, y, x + bw, y + asc + desc + 2 * inset, fill, radius)
            self._put(page, rng, label, ui.info, ui.size, x + bw / 2, y + inset + asc, ink, "c")
            x += bw + int(ui.size * rng.uniform(0.5, 1.5))

    # ------------------------------------------------------------------ scene
    def _scene(self, rng: random.Random, g: np.random.Generator) -> _Page:
        w, h = self._page_size(rng, (320, 1280), (0.5, 1.5))
        if self.config.textured:
            photo = self.material.photos[rng.randrange(len(self.material.photos))]
            ph, pw = photo.shape[:2]
            s = rng.uniform(0.3, 1.0)
            cy, cx = rng.randint(0, int(ph * (1 - s))), rng.randint(0, int(pw * (1 - s)))
            img = cv2.resize(photo[cy:cy + int(ph * s), cx:cx + int(pw * s)], (w, h), interpolation=cv2.INTER_LINEAR)
            for _ in range(rng.randint(0, 8)):
                _random_shape(img, g)
            if rng.random() < 0.5:
                img = cv2.GaussianBlur(img, (0, 0), rng.uniform(1.0, 6.0))
            if rng.random() < 0.5:  # pulled towards one colour: less of a candy box
                a = rng.uniform(0.2, 0.7)
                img = cv2.addWeighted(img, 1 - a, _canvas(h, w, [rng.randint(0, 255) for _ in range(3)]), a, 0.0)
        else:
            img = _canvas(h, w, [rng.randint(0, 255) for _ in range(3)])
        base = tuple(int(c) for c in cv2.mean(img)[:3])
        page = _Page(img, base, self.config.decorations)  # type: ignore[arg-type]
        wanted = rng.randint(1, 10)
        for _ in range(3 * wanted):  # placements can fail (no free spot): retry, up to a point
            if len(page.polys) >= wanted:
                break
            self._scene_text(page, rng)
        return page

    def _scene_text(self, page: _Page, rng: random.Random) -> None:
        """A few big words, maybe outlined / shadowed, rotated, warped or curved, in a colour that stands out."""
        cfg = self.config
        lo, hi = cfg.scene_size
        size = int(math.exp(rng.uniform(math.log(lo), math.log(max(lo, min(hi, min(page.w, page.h) // 4))))))
        text = " ".join(self._words(rng, rng.randint(1, 3))).rstrip(",;:.") if rng.random() < 0.7 else self._sample(rng)
        text = text.upper() if rng.random() < 0.35 else text
        info = choose_font(self.fonts, text, rng, self._variant(self._family(rng), rng, bold=rng.random() < 0.4))
        width = _width(load_font(info.path, size), text)
        if width > 0.9 * page.w:  # too long for the page at this size: smaller
            size = int(size * 0.9 * page.w / width)
            if size < lo:
                return
        font = load_font(info.path, size)
        stroke = max(1, size // 15) if rng.random() < cfg.p_outline else 0
        shadow = max(1, size // 20) if rng.random() < cfg.p_shadow else 0
        tile = _render(font, size, [(0.0, text)], stroke, shadow)
        if tile is None:
            return
        if rng.random() < cfg.p_curve:
            tile = _curve_tile(tile, rng)
        th, tw = tile.alphas[0].shape
        angle = rng.uniform(-cfg.max_rotate_deg, cfg.max_rotate_deg) if rng.random() < cfg.p_rotate else 0.0
        if rng.random() < cfg.p_vertical:
            angle = rng.choice((-90.0, 90.0))
        jitter = cfg.max_perspective * min(th, tw) if rng.random() < cfg.p_perspective else 0.0
        if angle or jitter:
            tile = _warp_tile(tile, _jitter_homography(rng, tw, th, angle, jitter))
            th, tw = tile.alphas[0].shape
        for _ in range(4):  # a few tries at a free spot
            if tw >= page.w or th >= page.h:
                return
            x, y = rng.randint(0, page.w - tw), rng.randint(0, page.h - th)
            if page.free(tile.poly + np.float32([x, y])):
                bg = _luma(cv2.mean(page.img[y:y + th, x:x + tw])[:3])
                fill = _contrast(rng, bg, 110 if stroke else 120, 0.5)
                edge = _contrast(rng, _luma(fill), 120, 0.2)
                colors = ([edge] if shadow else []) + ([edge] if stroke else []) + [fill]
                page.place(tile, x, y, colors, text)
                return

    # ------------------------------------------------------------------ clutter, page effects
    def _tiny(self, page: _Page, rng: random.Random) -> None:
        """A few lines of tiny text (footnotes, fine print), labelled ignore."""
        info = self._variant(self._family(rng), rng)
        color = _contrast(rng, _luma(page.base), 110, 0.0)
        for _ in range(rng.randint(1, 6)):
            size = rng.randint(5, 8)
            text = " ".join(self._words(rng, rng.randint(1, 10)))
            font = load_font(info.path, size)
            width = _width(font, text)
            if width >= page.w - 4:
                continue
            x, y = rng.randint(2, int(page.w - width) - 2), rng.randint(size + 2, page.h - size)
            self._put(page, rng, text, info, size, x, y, color, ignore=True)

    def _page_geometry(self, rng: random.Random, page: _Page) -> tuple[np.ndarray, list[np.ndarray]]:
        """Whole-page rotation and perspective (canvas grown to keep every corner); polygons moved alike."""
        cfg = self.config
        angle = rng.uniform(-cfg.max_page_rotate_deg, cfg.max_page_rotate_deg) if rng.random() < cfg.p_page_rotate \
            else 0.0
        jitter = cfg.max_page_perspective * min(page.w, page.h) if rng.random() < cfg.p_page_perspective else 0.0
        if not angle and not jitter:
            return page.img, page.polys
        m = _jitter_homography(rng, page.w, page.h, angle, jitter)
        corners = _transform(m, _box(page.w, page.h))
        lo = np.floor(corners.min(axis=0))
        m = np.array([[1, 0, -lo[0]], [0, 1, -lo[1]], [0, 0, 1]]) @ m
        size = tuple(int(v) for v in np.ceil(corners.max(axis=0) - lo))
        img = cv2.warpPerspective(page.img, _pixel_matrix(m), size, flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=page.base)
        return img, [_transform(m, p) for p in page.polys]

    def _degrade(self, rng: random.Random, img: np.ndarray) -> np.ndarray:
        """Uneven lighting (gradient, shadow), blur, low resolution, grain and JPEG."""
        cfg = self.config
        h, w = img.shape[:2]
        if rng.random() < cfg.p_lighting:
            img = self._lighting(rng, img)
        if rng.random() < cfg.p_blur:
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(*cfg.blur_sigma))
        if rng.random() < cfg.p_lowres:
            s = rng.uniform(*cfg.lowres_scale)
            small = cv2.resize(img, (max(8, int(w * s)), max(8, int(h * s))), interpolation=cv2.INTER_AREA)
            img = cv2.resize(small, (w, h), interpolation=rng.choice((cv2.INTER_LINEAR, cv2.INTER_CUBIC)))
        if rng.random() < cfg.p_noise:
            img = self._add_gray(img, self._grain(rng, h, w), rng.uniform(*cfg.noise_sigma) / 32)
        if rng.random() < cfg.p_jpeg:
            ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(*cfg.jpeg_quality)])
            if ok:
                img = cv2.imdecode(enc, cv2.IMREAD_COLOR)
        return img

    @staticmethod
    def _lighting(rng: random.Random, img: np.ndarray) -> np.ndarray:
        """Multiply by a smooth gain field: a linear brightness gradient, maybe a soft-edged shadow polygon."""
        h, w = img.shape[:2]
        sh, sw = max(2, h // 24), max(2, w // 24)
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        a = rng.uniform(0, 2 * math.pi)
        ramp = (math.cos(a) * xx / sw + math.sin(a) * yy / sh)
        gain = 1.0 + rng.uniform(0.1, 0.45) * (ramp - ramp.mean())
        if rng.random() < 0.5:
            pts = np.int32([[rng.randint(-sw, 2 * sw), rng.randint(-sh, 2 * sh)] for _ in range(rng.randint(3, 5))])
            shadow = np.zeros((sh, sw), np.float32)
            cv2.fillPoly(shadow, [pts], 1.0)
            gain *= 1.0 - rng.uniform(0.2, 0.5) * cv2.GaussianBlur(shadow, (0, 0), rng.uniform(0.5, 2.0))
        small = np.clip(gain * 200.0, 0, 255).astype(np.uint8)
        field_ = cv2.cvtColor(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), cv2.COLOR_GRAY2BGR)
        return cv2.multiply(img, field_, scale=1 / 200.0)


# ---------------------------------------------------------------------- CLI
def write_dataset(out: str | Path, pages: int, seed: int, synth: PageSynth) -> Path:
    """Render pages 0..pages-1 into out/images and out/det_label.txt (PaddleOCR detection format)."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(pages):
        item = synth.render(i, seed)
        name = f"images/page_{seed}_{i:06d}.jpg"
        cv2.imwrite(str(out / name), item.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        regions = [{"transcription": t, "points": np.round(p).astype(int).tolist()}
                   for p, t in zip(item.polys, item.texts)]
        rows.append(f"{name}\t{json.dumps(regions, ensure_ascii=False)}\n")
    label_file = out / "det_label.txt"
    label_file.write_text("".join(rows), encoding="utf-8")
    return label_file


def bench(synth: PageSynth, pages: int, seed: int) -> dict[str, tuple[int, float]]:
    """Mean rendering time (ms) per page kind over pages 0..pages-1, and over all ('all'): kind -> (count, ms)."""
    times: dict[str, list[float]] = {}
    synth.render(0, seed + 1)  # warm the caches (material, fonts)
    for i in range(pages):
        t0 = time.perf_counter()
        synth.render(i, seed)
        dt = (time.perf_counter() - t0) * 1000
        times.setdefault(synth.kind_of(i, seed), []).append(dt)
        times.setdefault("all", []).append(dt)
    return {k: (len(v), sum(v) / len(v)) for k, v in sorted(times.items())}


def load_config(path: str | None) -> PageSynthConfig:
    """A YAML file of PageSynthConfig fields (or a page_synth: section); None for the defaults."""
    if path is None:
        return PageSynthConfig()
    import yaml

    with open(path, encoding="utf-8") as f:
        d = yaml.safe_load(f) or {}
    return PageSynthConfig.from_dict(d.get("page_synth", d))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="write DIR/images/*.jpg and DIR/det_label.txt")
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", help="YAML with PageSynthConfig fields (or a page_synth: section)")
    ap.add_argument("--kind", choices=KINDS, help="only pages of this kind")
    ap.add_argument("--bench", type=int, metavar="N", help="time N pages and print ms/page per kind")
    args = ap.parse_args(argv)
    if not args.out and not args.bench:
        ap.error("give --out DIR and/or --bench N")
    cfg = load_config(args.config)
    if args.kind:
        cfg = dataclasses.replace(cfg, kinds={args.kind: 1.0})
    synth = PageSynth(cfg)
    if args.bench:
        cv2.setNumThreads(1)
        for kind, (n, ms) in bench(synth, args.bench, args.seed).items():
            print(f"{kind:10s} {n:5d} pages {ms:8.1f} ms/page")
    if args.out:
        label_file = write_dataset(args.out, args.pages, args.seed, synth)
        print(f"wrote {args.pages} pages to {label_file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
