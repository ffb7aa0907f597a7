"""Synthetic single text lines (recognition crops), rendered on the fly and deterministic by (seed, index).

    python -m train.line_synth --out DIR --count 10000 --seed 0 [--config cfg.yaml] [--workers 2] [--ext jpg]

writes DIR/images/NNNNNNNN.png and DIR/labels.txt (PaddleOCR recognition format: `images/NAME<TAB>label`).

`LineSynth(config, charset).render(index, seed)` returns a BGR uint8 crop and its label. Each render draws
its own `random.Random` from a hash-free mix of (seed, index) and a numpy Generator from that, so the result does
not depend on call order, process or worker count. Torch-free: PIL draws the glyphs, OpenCV does the effects.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import random
import string
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from train.fonts import FontInfo, choose_font, find_fonts
from train.text_source import TextSource

ASCII_CHARSET = string.printable[:95]  # the English dictionary: printable ASCII, space included
_MASK64 = (1 << 64) - 1


@dataclass
class LineSynthConfig:
    """Every knob of the renderer. Probabilities are per line; ranges are (low, high) inclusive."""

    max_len: int = 25
    font_size: tuple[int, int] = (18, 56)          # glyph size in px before the final rescale
    out_height: tuple[int, int] | None = (32, 64)  # final crop height range; None keeps the rendered size
    family_filter: str | None = None               # regex on font family/file (e.g. "DSEG7"); None: general pool
    text_weights: dict[str, float] | None = None   # TextSource kind -> weight (None: its defaults)
    vocab_file: str | None = None                  # word list instead of wordfreq (one word a line)
    max_tokens: int = 6                            # most words in a 'words' line
    p_upper: float | None = None                   # chance of an all-capitals text (None: TextSource's case mix)
    # font style
    p_bold: float = 0.2
    p_italic: float = 0.15
    p_fake_bold: float = 0.03
    p_spacing: float = 0.12
    spacing: tuple[float, float] = (-0.04, 0.3)    # extra letter spacing, fraction of the font size
    # margins around the ink (fractions of the font size)
    margin_x: tuple[float, float] = (0.0, 0.6)
    margin_y: tuple[float, float] = (0.05, 0.4)
    # colours: mode -> weight
    color_weights: dict[str, float] = field(default_factory=lambda: {
        "dark_on_light": 0.62, "light_on_dark": 0.14, "colored": 0.13, "low_contrast": 0.11})
    # backgrounds: kind -> weight
    background_weights: dict[str, float] = field(default_factory=lambda: {
        "flat": 0.3, "gradient": 0.15, "noise": 0.15, "blobs": 0.14, "paper": 0.13, "scene": 0.13})
    # decorations
    p_underline: float = 0.05
    p_strike: float = 0.01
    p_border: float = 0.1
    p_clutter: float = 0.15
    # geometry
    p_rotate: float = 0.25
    max_rotate_deg: float = 2.0
    p_perspective: float = 0.15
    max_perspective: float = 0.08                  # corner jitter, fraction of the height
    p_shear: float = 0.07
    max_shear: float = 0.25
    p_curve: float = 0.06
    max_curve: float = 0.25                        # amplitude, fraction of the font size
    # degradations
    p_blur: float = 0.18
    blur_sigma: tuple[float, float] = (0.4, 1.3)
    p_motion_blur: float = 0.06
    p_lowres: float = 0.15
    lowres_scale: tuple[float, float] = (0.35, 0.75)
    p_noise: float = 0.2
    noise_sigma: tuple[float, float] = (3.0, 14.0)
    p_jpeg: float = 0.3
    jpeg_quality: tuple[int, int] = (25, 90)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> LineSynthConfig:
        """Build from a plain dict (e.g. YAML); lists become tuples, unknown keys raise."""
        d = dict(d or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown LineSynthConfig keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    @classmethod
    def clean(cls, **overrides: Any) -> LineSynthConfig:
        """Plain dark text on flat light paper: every decoration, warp and degradation off."""
        probs = {f.name: 0.0 for f in dataclasses.fields(cls) if f.name.startswith("p_")}
        base = dict(probs, color_weights={"dark_on_light": 1.0}, background_weights={"flat": 1.0})
        base.update(overrides)
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def mix_seed(seed: int, index: int) -> int:
    """A 64-bit seed from (seed, index): splitmix64 finaliser over both, no Python hash()."""
    z = (seed * 0x9E3779B97F4A7C15 + index * 0xC2B2AE3D27D4EB4F + 0x165667B19E3779F9) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


@functools.lru_cache(maxsize=256)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached PIL font (basic layout: fast, kerning from the font's kern table)."""
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


def _u8(v: float) -> int:
    return 0 if v < 0 else 255 if v > 255 else int(v)


def _luma(bgr: Sequence[float]) -> float:
    return 0.114 * bgr[0] + 0.587 * bgr[1] + 0.299 * bgr[2]


def _hsv_color(h: float, s: float, v: float) -> tuple[int, int, int]:
    """BGR from hue/saturation/value in [0, 1]."""
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r, g, b = ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))[i]
    return int(b * 255), int(g * 255), int(r * 255)


class _Banks:
    """Fixed random material, identical in every process: a noise tile and a few synthetic scenes."""

    def __init__(self, seed: int = 1234) -> None:
        g = np.random.default_rng(seed)
        self.noise = np.clip(g.normal(0, 40, (256, 1024)), -127, 127).astype(np.int8)
        self.scenes = [self._scene(g) for _ in range(8)]

    @staticmethod
    def _scene(g: np.random.Generator) -> np.ndarray:
        h, w = 192, 768
        c0, c1 = g.integers(0, 256, 3), g.integers(0, 256, 3)
        t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        img = np.broadcast_to(c0 * (1 - t) + c1 * t, (h, w, 3)).astype(np.uint8).copy()
        for _ in range(int(g.integers(25, 60))):
            col = tuple(int(c) for c in g.integers(0, 256, 3))
            x, y = int(g.integers(0, w)), int(g.integers(0, h))
            kind = int(g.integers(0, 4))
            if kind == 0:
                cv2.rectangle(img, (x, y), (x + int(g.integers(10, 200)), y + int(g.integers(10, 120))), col, -1)
            elif kind == 1:
                cv2.circle(img, (x, y), int(g.integers(5, 80)), col, -1, cv2.LINE_AA)
            elif kind == 2:
                cv2.line(img, (x, y), (int(g.integers(0, w)), int(g.integers(0, h))), col, int(g.integers(1, 8)),
                         cv2.LINE_AA)
            else:
                pts = g.integers(0, [w, h], (int(g.integers(3, 7)), 2)).astype(np.int32)
                cv2.fillPoly(img, [pts], col, cv2.LINE_AA)
        return cv2.GaussianBlur(img, (0, 0), float(g.uniform(0.8, 4.0)))


class LineSynth:
    """Renders text-line crops; see the module docstring. Picklable (caches are rebuilt in each process)."""

    def __init__(self, config: LineSynthConfig | Mapping[str, Any] | None = None, charset: str = ASCII_CHARSET,
                 fonts: Sequence[FontInfo] | None = None, text_source: TextSource | None = None) -> None:
        self.config = config if isinstance(config, LineSynthConfig) else LineSynthConfig.from_dict(config)
        cfg = self.config
        self.fonts = list(fonts) if fonts is not None else find_fonts(family_filter=cfg.family_filter)
        if not self.fonts:
            raise FileNotFoundError("no usable fonts found (run train/setup_fonts.sh or set PPOCR_EDGE_FONT_DIRS)")
        # texts use only characters that some font draws: with a narrow family (family_filter: DSEG7) a ',' or '$'
        # would otherwise render as a .notdef box under a label that names it
        drawn = frozenset().union(*(f.codepoints for f in self.fonts))
        self.charset = "".join(c for c in charset if ord(c) in drawn)
        self.undrawable = "".join(c for c in charset if ord(c) not in drawn)
        self.text_source = text_source or TextSource(self.charset, cfg.max_len, vocab_file=cfg.vocab_file,
                                                     weights=cfg.text_weights, max_tokens=cfg.max_tokens,
                                                     p_upper=cfg.p_upper)
        families: dict[str, list[FontInfo]] = {}
        for f in self.fonts:
            families.setdefault(f.family, []).append(f)
        self._families = [families[k] for k in sorted(families)]
        self._banks: _Banks | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_banks"] = None
        return state

    @property
    def banks(self) -> _Banks:
        if self._banks is None:
            self._banks = _Banks()
        return self._banks

    # ------------------------------------------------------------------ public
    def render(self, index: int, seed: int) -> tuple[np.ndarray, str]:
        """The crop (BGR uint8, HxWx3) and its label for line `index` of the stream `seed`."""
        rng = random.Random(mix_seed(seed, index))
        g = np.random.default_rng(rng.getrandbits(64))
        cfg = self.config
        text = self.text_source.sample(rng)
        info = choose_font(self.fonts, text, rng, preferred=self._pick_font(rng))
        size = rng.randint(*cfg.font_size)
        font = load_font(info.path, size)
        mask, deco = self._draw(rng, font, text, size, italic=info.italic)
        h, w = mask.shape
        fg, bg = self._colors(rng, g, h, w)
        img = self._compose(bg, mask, fg)
        if deco is not None:
            img = self._compose(img, deco[0], deco[1])
        img = self._geometry(rng, img)
        img = self._degrade(rng, g, img)
        return img, text

    # ------------------------------------------------------------------ text
    def _pick_font(self, rng: random.Random) -> FontInfo:
        fam = self._families[rng.randrange(len(self._families))]
        cfg = self.config
        want_bold, want_italic = rng.random() < cfg.p_bold, rng.random() < cfg.p_italic
        exact = [f for f in fam if f.bold == want_bold and f.italic == want_italic]
        return rng.choice(exact or [f for f in fam if not f.bold and not f.italic] or fam)

    def _draw(self, rng: random.Random, font: ImageFont.FreeTypeFont, text: str, size: int,
              italic: bool) -> tuple[np.ndarray, tuple[np.ndarray, tuple[int, int, int]] | None]:
        """The text alpha mask cropped with margins (+ neighbour-line clutter), and an optional border layer."""
        cfg = self.config
        spacing = size * rng.uniform(*cfg.spacing) if rng.random() < cfg.p_spacing else 0.0
        stroke = 1 if size >= 24 and rng.random() < cfg.p_fake_bold else 0
        width = int(font.getlength(text) + max(0.0, spacing) * len(text)) + 2 * size
        canvas = Image.new("L", (width, 3 * size), 0)  # room for margins, curve and clutter slices
        draw = ImageDraw.Draw(canvas)
        base_y = int(1.6 * size)  # baseline
        x0 = size
        if spacing:
            x = float(x0)
            for ch in text:
                draw.text((x, base_y), ch, fill=255, font=font, anchor="ls", stroke_width=stroke, stroke_fill=255)
                x += font.getlength(ch) + spacing
        else:
            draw.text((x0, base_y), text, fill=255, font=font, anchor="ls", stroke_width=stroke, stroke_fill=255)
        ink = np.asarray(canvas)
        cols = np.flatnonzero(ink.max(axis=0) > 40)
        rows = np.flatnonzero(ink.max(axis=1) > 40)
        if cols.size == 0:  # nothing visible (should not happen for covered text): a blank line
            cols = rows = np.array([x0, x0 + 1])
        ink_l, ink_r = int(cols[0]), int(cols[-1]) + 1
        top = min(int(rows[0]), base_y - int(0.72 * size))
        bottom = max(int(rows[-1]) + 1, base_y + int(0.2 * size))

        if rng.random() < cfg.p_underline:
            y = min(base_y + max(2, int(0.12 * size)), bottom + 1)
            draw.line((ink_l, y, ink_r, y), fill=255, width=max(1, size // 16))
            bottom = max(bottom, y + max(1, size // 16))
        if rng.random() < cfg.p_strike:
            y = base_y - int(0.3 * size)
            draw.line((ink_l, y, ink_r, y), fill=255, width=max(1, size // 16))

        m_l = int(size * rng.uniform(*cfg.margin_x))
        m_r = int(size * rng.uniform(*cfg.margin_x))
        m_t = int(size * rng.uniform(*cfg.margin_y))
        m_b = int(size * rng.uniform(*cfg.margin_y))
        if rng.random() < cfg.p_clutter:
            m_t, m_b = self._clutter(rng, draw, font, size, top, bottom, m_t, m_b, width)
        border = rng.random() < cfg.p_border
        if border:  # room between the ink and the lines
            gap = max(3, int(0.15 * size))
            m_l, m_r = max(m_l, gap + 3), max(m_r, gap + 3)
            m_t, m_b = max(m_t, gap + 2), max(m_b, gap + 2)
        curve = 0.0
        if rng.random() < cfg.p_curve:
            curve = size * rng.uniform(0.08, cfg.max_curve)
            m_t += int(curve) + 1
            m_b += int(curve) + 1

        y0, y1 = max(0, top - m_t), min(canvas.height, bottom + m_b)
        xa, xb = max(0, ink_l - m_l), min(width, ink_r + m_r)
        mask = np.asarray(canvas)[y0:y1, xa:xb]
        if curve:
            mask = self._curve(rng, mask, curve)
        deco = None
        if border:
            deco = self._border(rng, mask.shape, (ink_l - xa, top - y0, ink_r - xa, bottom - y0), size)
        return mask, deco

    def _clutter(self, rng: random.Random, draw: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont, size: int,
                 top: int, bottom: int, m_t: int, m_b: int, width: int) -> tuple[int, int]:
        """Draw parts of other lines above and/or below; grow the margins so that only a slice is visible."""
        where = rng.choice(("above", "below", "both"))
        gap = max(1, int(size * rng.uniform(0.08, 0.3)))
        for side in ("above", "below"):
            if where not in (side, "both"):
                continue
            other = self.text_source.sample(rng) + " " + self.text_source.sample(rng)
            other = other[: max(4, int(1.6 * width / size))]  # about what the crop can show
            x = int(rng.uniform(-0.3, 0.3) * width)
            ascent, descent = font.getmetrics()
            if side == "above":  # its lowest ink (descenders) ends at least `gap` above our top
                draw.text((x, top - gap - descent), other, fill=255, font=font, anchor="ls")
                m_t = gap + int(size * rng.uniform(0.1, 0.35))
            else:  # its highest ink starts at least `gap` below our bottom
                draw.text((x, bottom + gap + min(ascent, int(0.8 * size))), other, fill=255, font=font, anchor="ls")
                m_b = gap + int(size * rng.uniform(0.1, 0.35))
        return m_t, m_b

    @staticmethod
    def _curve(rng: random.Random, mask: np.ndarray, amp: float) -> np.ndarray:
        h, w = mask.shape
        xs = np.arange(w, dtype=np.float32)
        if rng.random() < 0.5:  # sine wave
            period = w * rng.uniform(0.6, 2.0)
            dy = amp * np.sin(2 * np.pi * xs / period + rng.uniform(0, 2 * np.pi))
        else:  # arc, up or down
            dy = amp * (((2 * xs / max(w - 1, 1)) - 1) ** 2 - 0.5) * rng.choice((-1.0, 1.0)) * 2
        map_x = np.broadcast_to(xs[None, :], (h, w)).astype(np.float32)
        map_y = (np.arange(h, dtype=np.float32)[:, None] + dy[None, :].astype(np.float32))
        return cv2.remap(mask, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    @staticmethod
    def _border(rng: random.Random, shape: tuple[int, int], box: tuple[int, int, int, int],
                size: int) -> tuple[np.ndarray, tuple[int, int, int]]:
        """Table lines / a box in the margins around the ink box (never over the ink)."""
        h, w = shape
        l, t, r, b = box
        gap = max(3, int(0.15 * size))
        layer = np.zeros((h, w), np.uint8)
        th = rng.choice((1, 1, 1, 2, 2, 3))
        sides = rng.choice(("box", "box", "h", "v", "top", "bottom", "left", "right"))
        draw = {"box": "tblr", "h": "tb", "v": "lr", "top": "t", "bottom": "b", "left": "l", "right": "r"}[sides]
        if "t" in draw and t - gap > 0:
            y = rng.randint(0, max(0, t - gap - th))
            layer[y:y + th] = 255
        if "b" in draw and b + gap < h:
            y = rng.randint(b + gap, h - 1)
            layer[y:y + th] = 255
        if "l" in draw and l - gap > 0:
            x = rng.randint(0, max(0, l - gap - th))
            layer[:, x:x + th] = 255
        if "r" in draw and r + gap < w:
            x = rng.randint(r + gap, w - 1)
            layer[:, x:x + th] = 255
        v = rng.randint(0, 160)
        return layer, (v, v, v)

    # ------------------------------------------------------------------ colours and backgrounds
    def _colors(self, rng: random.Random, g: np.random.Generator, h: int, w: int
                ) -> tuple[tuple[int, int, int], np.ndarray]:
        """Text colour and the background image (h, w, 3) uint8, with enough contrast between them."""
        cfg = self.config
        mode = rng.choices(list(cfg.color_weights), weights=list(cfg.color_weights.values()))[0]
        kinds = cfg.background_weights
        if mode == "low_contrast":  # low contrast on a busy texture is unreadable: plain kinds only
            kinds = {k: v for k, v in kinds.items() if k in ("flat", "gradient", "noise")} or {"flat": 1.0}
        kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
        if mode == "dark_on_light":
            v = rng.randint(185, 255)
            tint = [rng.randint(-12, 12) for _ in range(3)]
            base = tuple(_u8(v + t) for t in tint)
        elif mode == "light_on_dark":
            base = _hsv_color(rng.random(), rng.uniform(0, 0.8), rng.uniform(0.0, 0.35))
        elif mode == "colored":
            base = _hsv_color(rng.random(), rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0))
        else:  # low contrast: mid-grey-ish paper
            base = _hsv_color(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.45, 0.85))
        bg = self._background(rng, g, kind, base, h, w, low=mode == "low_contrast")
        bg_l = float(cv2.mean(bg[:: max(1, h // 8), :: max(1, w // 16)])[0:3] @ np.array([0.114, 0.587, 0.299])) \
            if kind in ("scene", "blobs", "paper") else _luma(base)
        if mode == "low_contrast":
            delta = rng.uniform(45, 80)
        elif kind == "scene":
            delta = rng.uniform(110, 200)
        else:
            delta = rng.uniform(90, 230)
        darker, lighter = max(0.0, bg_l - delta), min(255.0, bg_l + delta)
        if bg_l >= 128:  # darker text unless that loses too much contrast against the clipping
            target = darker if bg_l - darker >= min(lighter - bg_l, 0.7 * delta) else lighter
        else:
            target = lighter if lighter - bg_l >= min(bg_l - darker, 0.7 * delta) else darker
        if mode == "colored" and rng.random() < 0.6:
            fg = _hsv_color(rng.random(), rng.uniform(0.4, 1.0), 1.0)
            scale = target / max(_luma(fg), 1.0)
            fg = tuple(_u8(c * scale) for c in fg)
        else:
            tint = [rng.uniform(-15, 15) for _ in range(3)]
            fg = tuple(_u8(target + t) for t in tint)
        if abs(_luma(fg) - bg_l) < (35 if mode == "low_contrast" else 70):  # clipping ate the contrast
            v = 0 if bg_l >= 128 else 255
            fg = (v, v, v)
        return fg, bg

    def _background(self, rng: random.Random, g: np.random.Generator, kind: str, base: tuple[int, int, int],
                    h: int, w: int, low: bool = False) -> np.ndarray:
        bg = np.empty((h, w, 3), np.uint8)
        bg[:] = base
        if kind == "flat":
            return bg
        if kind == "gradient":  # bilinear between four random corner colours near the base
            corners = np.array([[[_u8(c + rng.randint(-40, 40)) for c in base] for _ in range(2)] for _ in range(2)],
                               np.uint8)
            return cv2.resize(corners, (w, h), interpolation=cv2.INTER_LINEAR)
        if kind == "noise":
            return self._add_noise(rng, bg, rng.uniform(4, 12 if low else 18))
        if kind == "blobs":
            small = g.normal(0, 1, (max(2, h // rng.randint(6, 20)), max(2, w // rng.randint(6, 20)), 1))
            field_ = cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
            out = bg.astype(np.float32) + field_[..., None] * rng.uniform(8, 28)
            out = np.clip(out, 0, 255).astype(np.uint8)
            for _ in range(rng.randint(0, 3)):  # faint strokes/lines of the texture
                col = tuple(_u8(c + rng.randint(-35, 35)) for c in base)
                cv2.line(out, (rng.randint(0, w), rng.randint(0, h)), (rng.randint(0, w), rng.randint(0, h)), col,
                         1, cv2.LINE_AA)
            return out
        if kind == "paper":  # crumpled paper: shading from the slope of a smooth random height field
            small = g.normal(0, 1, (max(3, h // 5), max(3, w // 5))).astype(np.float32)
            height = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
            shade = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) + 0.5 * cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3)
            out = bg.astype(np.float32) + np.clip(shade, -4, 4)[..., None] * rng.uniform(2, 6)
            return self._add_noise(rng, np.clip(out, 0, 255).astype(np.uint8), rng.uniform(2, 6))
        # scene: a crop of a synthetic scene, pulled towards the base colour
        scene = self.banks.scenes[rng.randrange(len(self.banks.scenes))]
        sh, sw = scene.shape[:2]
        scale = rng.uniform(0.5, 2.0)
        ch, cw = min(sh, max(4, int(h * scale))), min(sw, max(4, int(w * scale)))
        y, x = rng.randint(0, sh - ch), rng.randint(0, sw - cw)
        crop = cv2.resize(scene[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_LINEAR)
        a = rng.uniform(0.35, 0.8)
        return cv2.addWeighted(crop, a, bg, 1.0 - a, 0.0)

    def _add_noise(self, rng: random.Random, img: np.ndarray, sigma: float) -> np.ndarray:
        """Gaussian-like noise from the fixed tile at a random offset (fast and deterministic)."""
        h, w = img.shape[:2]
        tile = self.banks.noise
        th, tw = tile.shape
        reps_y, reps_x = -(-h // th), -(-w // tw)
        if reps_y > 1 or reps_x > 1:
            tile = np.tile(tile, (reps_y, reps_x))
            th, tw = tile.shape
        y, x = rng.randint(0, th - h), rng.randint(0, tw - w)
        n = tile[y:y + h, x:x + w].astype(np.float32) * (sigma / 40.0)
        if rng.random() < 0.3:  # coloured noise: another offset per channel
            n3 = np.stack([n, np.roll(n, 7, axis=1), np.roll(n, 13, axis=0)], axis=-1)
        else:
            n3 = n[..., None]
        return np.clip(img.astype(np.float32) + n3, 0, 255).astype(np.uint8)

    @staticmethod
    def _compose(bg: np.ndarray, alpha: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
        """bg * (1 - alpha) + color * alpha, in OpenCV's saturating uint8 arithmetic (fast)."""
        a = cv2.merge([alpha, alpha, alpha])
        fg = np.empty_like(bg)
        fg[:] = color
        return cv2.add(cv2.multiply(fg, a, scale=1 / 255.0), cv2.multiply(bg, cv2.bitwise_not(a), scale=1 / 255.0))

    # ------------------------------------------------------------------ geometry and degradations
    def _geometry(self, rng: random.Random, img: np.ndarray) -> np.ndarray:
        """Rotation, shear and perspective as one warp; the output box grows to keep every corner."""
        cfg = self.config
        h, w = img.shape[:2]
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = src.copy()
        warped = False
        if rng.random() < cfg.p_shear:
            s = rng.uniform(-cfg.max_shear, cfg.max_shear)
            dst[:, 0] += s * (h / 2 - dst[:, 1])
            warped = True
        if rng.random() < cfg.p_rotate:
            a = math.radians(rng.uniform(-cfg.max_rotate_deg, cfg.max_rotate_deg))
            c, s_ = math.cos(a), math.sin(a)
            ctr = dst.mean(axis=0)
            d = dst - ctr
            dst = np.stack([d[:, 0] * c - d[:, 1] * s_, d[:, 0] * s_ + d[:, 1] * c], axis=1) + ctr
            warped = True
        if rng.random() < cfg.p_perspective:
            j = cfg.max_perspective * h
            dst = dst + np.float32([[rng.uniform(-j, j), rng.uniform(-j, j)] for _ in range(4)])
            warped = True
        if not warped:
            return img
        dst = dst.astype(np.float32)
        dst -= dst.min(axis=0)
        nw, nh = int(math.ceil(dst[:, 0].max())), int(math.ceil(dst[:, 1].max()))
        m = cv2.getPerspectiveTransform(src, dst)
        return cv2.warpPerspective(img, m, (max(nw, 4), max(nh, 4)), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)

    def _degrade(self, rng: random.Random, g: np.random.Generator, img: np.ndarray) -> np.ndarray:
        cfg = self.config
        if rng.random() < cfg.p_blur:
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(*cfg.blur_sigma))
        elif rng.random() < cfg.p_motion_blur:
            k = rng.choice((3, 5, 7))
            kernel = np.zeros((k, k), np.float32)
            kernel[k // 2, :] = 1.0 / k
            rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1.0)
            kernel = cv2.warpAffine(kernel, rot, (k, k))
            img = cv2.filter2D(img, -1, kernel / max(float(kernel.sum()), 1e-6))
        h, w = img.shape[:2]
        if rng.random() < cfg.p_lowres:
            s = rng.uniform(*cfg.lowres_scale)
            small = cv2.resize(img, (max(4, int(w * s)), max(4, int(h * s))), interpolation=cv2.INTER_AREA)
            img = cv2.resize(small, (w, h), interpolation=rng.choice((cv2.INTER_LINEAR, cv2.INTER_NEAREST,
                                                                      cv2.INTER_CUBIC)))
        if cfg.out_height is not None:
            oh = rng.randint(*cfg.out_height)
            ow = max(8, int(round(w * oh / h)))
            img = cv2.resize(img, (ow, oh), interpolation=cv2.INTER_AREA if oh < h else cv2.INTER_LINEAR)
        if rng.random() < cfg.p_noise:
            img = self._add_noise(rng, img, rng.uniform(*cfg.noise_sigma))
        if rng.random() < cfg.p_jpeg:
            ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(*cfg.jpeg_quality)])
            if ok:
                img = cv2.imdecode(enc, cv2.IMREAD_COLOR)
        return np.ascontiguousarray(img)


# ---------------------------------------------------------------------- CLI
_WORKER: LineSynth | None = None


def _init_worker(synth: LineSynth) -> None:
    global _WORKER
    cv2.setNumThreads(1)
    _WORKER = synth


def _render_to_file(job: tuple[int, int, str, str]) -> tuple[int, str]:
    index, seed, out_dir, ext = job
    assert _WORKER is not None
    img, label = _WORKER.render(index, seed)
    name = f"{index:08d}.{ext}"
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    cv2.imwrite(str(Path(out_dir) / "images" / name), img, params)
    return index, label


def load_config(path: str | None) -> LineSynthConfig:
    """A YAML file of LineSynthConfig fields (or 'none' / None for the defaults)."""
    if path is None or path.lower() == "none":
        return LineSynthConfig()
    import yaml

    with open(path, encoding="utf-8") as f:
        d = yaml.safe_load(f) or {}
    return LineSynthConfig.from_dict(d.get("line_synth", d))


def write_dataset(out: str | Path, count: int, seed: int, synth: LineSynth, workers: int = 1,
                  ext: str = "png", start: int = 0) -> Path:
    """Render lines start..start+count-1 into out/images and out/labels.txt; the same files for any `workers`."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    jobs = [(i, seed, str(out), ext) for i in range(start, start + count)]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork" if sys.platform == "linux" else "spawn").Pool(
                workers, initializer=_init_worker, initargs=(synth,)) as pool:
            results = list(pool.imap(_render_to_file, jobs, chunksize=64))
    else:
        _init_worker(synth)
        results = [_render_to_file(j) for j in jobs]
    label_file = out / "labels.txt"
    with open(label_file, "w", encoding="utf-8", newline="\n") as f:
        for index, label in results:
            f.write(f"images/{index:08d}.{ext}\t{label}\n")
    return label_file


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="first index (to extend a set)")
    ap.add_argument("--config", default=None, help="YAML with LineSynthConfig fields (or a line_synth: section)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--ext", choices=("png", "jpg"), default="png")
    args = ap.parse_args(argv)
    synth = LineSynth(load_config(args.config))
    label_file = write_dataset(args.out, args.count, args.seed, synth, args.workers, args.ext, args.start)
    print(f"wrote {args.count} lines to {label_file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
