"""Render examples/receipt.png, the sample image of the README (needs Pillow and the DejaVu fonts).

    python examples/make_sample.py
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = Path("/usr/share/fonts/truetype/dejavu")
LINES = [
    ("DejaVuSans-Bold.ttf", 34, "CORNER BAKERY & CAFE"),
    ("DejaVuSans.ttf", 22, "12 Market Street, Springfield"),
    ("DejaVuSansMono.ttf", 22, "Receipt No. 004217   25/11/2026"),
    ("DejaVuSansMono.ttf", 24, "2 x Croissant          7.80"),
    ("DejaVuSansMono.ttf", 24, "1 x Cappuccino         3.90"),
    ("DejaVuSansMono.ttf", 24, "1 x Apple Pie          4.50"),
    ("DejaVuSans-Bold.ttf", 28, "TOTAL EUR 16.20"),
    ("DejaVuSerif-Italic.ttf", 22, "Thank you for your visit!"),
]


def main() -> None:
    page = Image.new("RGB", (620, 520), (246, 243, 236))
    draw = ImageDraw.Draw(page)
    y = 30
    for font_name, size, text in LINES:
        font = ImageFont.truetype(str(FONTS / font_name), size)
        draw.text((40, y), text, font=font, fill=(25, 25, 30))
        y += int(size * 1.9)
    page = page.rotate(2.0, resample=Image.BICUBIC, expand=True, fillcolor=(200, 200, 200))
    page = page.filter(ImageFilter.GaussianBlur(0.6))
    noise = np.random.default_rng(0).normal(0, 4, (page.height, page.width, 3))
    arr = np.clip(np.asarray(page, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(Path(__file__).with_name("receipt.png"), optimize=True)


if __name__ == "__main__":
    main()
