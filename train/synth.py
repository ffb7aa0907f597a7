"""Synthetic text pages with exact ground truth: documents, receipts and scene-like images.

    python -m train.synth --out DIR --pages 200 --seed 0

writes DIR/images/*.jpg, DIR/det_label.txt (PaddleOCR detection format: one quad per text line) and
DIR/rec_label.txt + DIR/crops/ (PaddleOCR recognition format: the line crops, cut with the SDK's own geometry).
Fonts: every .ttf under the font directories (DejaVu by default; install more with your OS's font packages).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype"))

WORDS = (
    "the of and to in is for on with as at by from this that total amount paid order number customer service "
    "delivery address station market window garden river mountain coffee bread butter cheese orange apple tea "
    "milk sugar rice chicken beef salad soup water juice price qty subtotal tax change cash card receipt date "
    "time table room hotel bank office store cafe street avenue road north south east west city park school "
    "university hospital pharmacy welcome thank you please note open closed sale discount free new special "
    "today tomorrow monday tuesday wednesday thursday friday saturday sunday january february march april may "
    "june july august september october november december invoice account balance credit debit member points "
    "phone email website help information entrance exit parking floor level gate platform train bus taxi"
).split()


@dataclass(frozen=True)
class Line:
    text: str
    quad: np.ndarray  # 4x2 float32, clockwise from top-left, page pixels


@dataclass(frozen=True)
class Page:
    image: np.ndarray  # HxWx3 BGR uint8
    lines: tuple[Line, ...]


def find_fonts(dirs: Sequence[Path] = FONT_DIRS) -> list[Path]:
    fonts = sorted(p for d in dirs if d.is_dir() for p in d.rglob("*.ttf") if "MathTeX" not in p.name)
    if not fonts:
        raise FileNotFoundError(f"no .ttf fonts under {[str(d) for d in dirs]}")
    return fonts


def random_token(rng: random.Random) -> str:
    kind = rng.choices(["word", "Word", "WORD", "number", "price", "date", "time", "code", "punct"],
                       weights=[10, 4, 3, 2, 3, 1, 1, 1, 2])[0]
    if kind == "word":
        return rng.choice(WORDS)
    if kind == "Word":
        return rng.choice(WORDS).capitalize()
    if kind == "WORD":
        return rng.choice(WORDS).upper()
    if kind == "number":
        return str(rng.randint(0, 10 ** rng.randint(1, 6)))
    if kind == "price":
        return rng.choice(["$", "", "", "EUR "]) + f"{rng.randint(0, 999)}.{rng.randint(0, 99):02d}"
    if kind == "date":
        return f"{rng.randint(1, 28):02d}{rng.choice('/-.')}{rng.randint(1, 12):02d}{rng.choice('/-.')}" \
               f"{rng.randint(1990, 2030)}"
    if kind == "time":
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    if kind == "code":
        n = rng.randint(4, 10)
        return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(n))
    return rng.choice(WORDS) + rng.choice(",.:;!?)")


def random_text(rng: random.Random, n_min: int = 1, n_max: int = 6) -> str:
    return " ".join(random_token(rng) for _ in range(rng.randint(n_min, n_max)))


def _background(rng: random.Random, h: int, w: int, kind: str) -> np.ndarray:
    if kind == "paper":
        base = np.array([rng.randint(215, 255) for _ in range(3)], dtype=np.float32)
        img = np.broadcast_to(base, (h, w, 3)).copy()
    else:  # scene: a gradient between two random colours plus blotches
        c0 = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32)
        c1 = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32)
        t = np.linspace(0, 1, w if rng.random() < 0.5 else h, dtype=np.float32)
        grad = c0 + (c1 - c0) * t[:, None]
        img = np.broadcast_to(grad[None] if len(t) == w else grad[:, None], (h, w, 3)).copy()
        for _ in range(rng.randint(0, 6)):
            cv2.circle(img, (rng.randint(0, w), rng.randint(0, h)), rng.randint(10, max(11, min(h, w) // 3)),
                       [rng.randint(0, 255) for _ in range(3)], -1)
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(2, 12))
    img += np.random.default_rng(rng.randint(0, 2**31)).normal(0, rng.uniform(0, 6), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _contrasting_color(rng: random.Random, bg: np.ndarray) -> tuple[int, int, int]:
    lum = float(bg.mean())
    for _ in range(20):
        c = tuple(rng.randint(0, 255) for _ in range(3))
        if abs(sum(c) / 3 - lum) > 90:
            return c  # type: ignore[return-value]
    return (0, 0, 0) if lum > 127 else (255, 255, 255)


def _layout(rng: random.Random, kind: str) -> tuple[int, int, list[tuple[str, int, int, int, int]]]:
    """Page size and (text, font index seed, size, x, y) items for one page."""
    if kind == "receipt":
        w, size = rng.randint(380, 700), rng.randint(16, 30)
        items, y = [], rng.randint(15, 50)
        for _ in range(rng.randint(8, 30)):
            if rng.random() < 0.5:
                left = random_text(rng, 1, 4)
                right = f"{rng.randint(0, 999)}.{rng.randint(0, 99):02d}"
                text = left + " " * rng.randint(2, 12) + right
            else:
                text = random_text(rng, 1, 5).upper() if rng.random() < 0.6 else random_text(rng, 1, 5)
            items.append((text, 0, size, rng.randint(10, 40), y))
            y += int(size * rng.uniform(1.3, 2.0))
        return y + 30, w, items
    if kind == "document":
        w = rng.randint(600, 1400)
        items, y = [], rng.randint(20, 60)
        for _ in range(rng.randint(5, 25)):
            size = rng.choice([14, 16, 18, 20, 24, 28, 36, 44]) if rng.random() < 0.3 else rng.randint(15, 26)
            text = random_text(rng, 1, 10)
            x = rng.randint(10, max(11, w // 4))
            items.append((text, rng.randint(0, 10**6), size, x, y))
            y += int(size * rng.uniform(1.4, 2.6))
        return y + 30, w, items
    h, w = rng.randint(300, 900), rng.randint(400, 1200)  # scene: a few big words anywhere
    items = []
    for _ in range(rng.randint(1, 7)):
        size = rng.randint(18, 90)
        items.append((random_text(rng, 1, 3), rng.randint(0, 10**6), size, rng.randint(0, w // 2),
                      rng.randint(0, max(1, h - size))))
    return h, w, items


def _ink_quad(mask: np.ndarray) -> np.ndarray | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


def render_page(rng: random.Random, fonts: Sequence[Path], kind: str | None = None) -> Page:
    """One page of the given kind ('document', 'receipt', 'scene'; random if None)."""
    kind = kind or rng.choices(["document", "receipt", "scene"], weights=[4, 3, 3])[0]
    h, w, items = _layout(rng, kind)
    img = _background(rng, h, w, "paper" if kind != "scene" else "scene")
    mono = [f for f in fonts if "Mono" in f.name] or list(fonts)
    receipt_font = rng.choice(mono)
    page_color = _contrasting_color(rng, img) if kind == "scene" else tuple(rng.randint(0, 70) for _ in range(3))
    pil = Image.fromarray(img[:, :, ::-1].copy())
    draw = ImageDraw.Draw(pil)
    lines: list[Line] = []
    taken = np.zeros((h, w), dtype=bool)
    for text, font_seed, size, x, y in items:
        font_file = receipt_font if kind == "receipt" else fonts[font_seed % len(fonts)]
        font = ImageFont.truetype(str(font_file), size)
        mask_img = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask_img).text((x, y), text, font=font, fill=255)
        mask = np.asarray(mask_img) > 96
        quad = _ink_quad(mask)
        if quad is None or quad[1, 0] >= w - 1 or quad[2, 1] >= h - 1 or quad[1, 0] - quad[0, 0] < 4:
            continue
        x0, y0, x1, y1 = int(quad[0, 0]), int(quad[0, 1]), int(quad[2, 0]), int(quad[2, 1])
        if taken[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2].any():
            continue  # keep lines apart so every box is unambiguous
        taken[y0:y1, x0:x1] = True
        color = _contrasting_color(rng, img[y0:y1, x0:x1]) if kind == "scene" else page_color
        draw.text((x, y), text, font=font, fill=color)
        lines.append(Line(text.strip(), quad))
    img = np.asarray(pil)[:, :, ::-1].copy()
    img, lines = _tilt(rng, img, lines, max_deg=12.0 if kind == "scene" else 3.0)
    img = _degrade(rng, img)
    return Page(img, tuple(lines))


def _tilt(rng: random.Random, img: np.ndarray, lines: list[Line], max_deg: float) -> tuple[np.ndarray, list[Line]]:
    """Rotate the whole page by a small angle (canvas expanded) and move the quads with it."""
    angle = rng.uniform(-max_deg, max_deg) if rng.random() < 0.6 else 0.0
    if angle == 0.0:
        return img, lines
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(math.ceil(h * sin + w * cos)), int(math.ceil(h * cos + w * sin))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    border = tuple(int(v) for v in np.median(img.reshape(-1, 3), axis=0))
    out = cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=border)
    moved = [Line(ln.text, (np.c_[ln.quad, np.ones(4)] @ m.T).astype(np.float32)) for ln in lines]
    return out, moved


def _degrade(rng: random.Random, img: np.ndarray) -> np.ndarray:
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.5:
        noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, rng.uniform(1, 8), img.shape)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(40, 90)])
        img = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return img


def write_dataset(out: Path, pages: int, seed: int, fonts: Sequence[Path] | None = None) -> tuple[Path, Path]:
    """Render pages into out/ with PaddleOCR det and rec label files; returns (det_label, rec_label)."""
    from ppocr_edge.geometry import crop_quad

    fonts = list(fonts or find_fonts())
    rng = random.Random(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "crops").mkdir(parents=True, exist_ok=True)
    det_rows, rec_rows = [], []
    for i in range(pages):
        page = render_page(rng, fonts)
        name = f"images/synth_{seed}_{i:05d}.jpg"
        cv2.imwrite(str(out / name), page.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        regions = [{"transcription": ln.text, "points": np.round(ln.quad).astype(int).tolist()} for ln in page.lines]
        det_rows.append(f"{name}\t{json.dumps(regions, ensure_ascii=False)}")
        for j, ln in enumerate(page.lines):
            crop = crop_quad(page.image, ln.quad).image
            cname = f"crops/synth_{seed}_{i:05d}_{j:03d}.png"
            cv2.imwrite(str(out / cname), crop)
            rec_rows.append(f"{cname}\t{ln.text}")
    det_label, rec_label = out / "det_label.txt", out / "rec_label.txt"
    det_label.write_text("\n".join(det_rows) + "\n", encoding="utf-8")
    rec_label.write_text("\n".join(rec_rows) + "\n", encoding="utf-8")
    return det_label, rec_label


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--pages", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    det, rec = write_dataset(a.out, a.pages, a.seed)
    print(f"wrote {det} and {rec}")


if __name__ == "__main__":
    main()
