"""Memory soak: OCR many images of random sizes and text, and report the process RSS as it goes.

    python benchmarks/memory_soak.py --images 10000 [--mode call|map] [--out benchmarks/results/memory.md]

Every image has a different size and a random number of rendered text lines of random length, so detection input
shapes and recognition widths vary as much as they can. Memory must level off (shape buckets keep OpenVINO's
per-shape primitive cache bounded) instead of growing with the number of images.
"""

from __future__ import annotations

import argparse
import random
import string
import time
from pathlib import Path

import cv2
import numpy as np

from ppocr_edge import OCRPipeline


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def random_image(rng: random.Random) -> np.ndarray:
    h, w = rng.randint(16, 1400), rng.randint(16, 1800)
    img = np.full((h, w, 3), rng.randint(180, 255), np.uint8)
    for _ in range(rng.randint(0, 4)):
        text = "".join(rng.choice(string.ascii_letters + string.digits + "  ") for _ in range(rng.randint(1, 40)))
        scale = rng.uniform(0.4, 2.0)
        org = (rng.randint(0, max(1, w - 20)), rng.randint(10, max(11, h - 5)))
        cv2.putText(img, text, org, rng.choice([0, 2, 3]), scale, (0, 0, 0), max(1, int(scale * 2)))
    return img


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=10000)
    p.add_argument("--mode", choices=["call", "map"], default="map")
    p.add_argument("--every", type=int, default=500)
    p.add_argument("--out", type=Path)
    p.add_argument("--bundle", type=Path, help="bundle directory (default: the embedded default)")
    p.add_argument("--rec-buckets", help="comma list overriding the bundle's recognition width buckets")
    p.add_argument("--det-step", type=int, help="override the bundle's detector shape step (size_step)")
    a = p.parse_args()
    rng = random.Random(0)
    rec_options = {"width_buckets": [int(x) for x in a.rec_buckets.split(",")]} if a.rec_buckets else None
    det_options = {"size_step": a.det_step} if a.det_step else None
    ocr = OCRPipeline(a.bundle, rec_options=rec_options, det_options=det_options)
    rows = [(0, rss_mib(), 0.0)]
    t0 = time.perf_counter()
    images = (random_image(rng) for _ in range(a.images))
    results = ocr.map(images) if a.mode == "map" else (ocr(img) for img in images)
    for n, _ in enumerate(results, 1):
        if n % a.every == 0:
            rows.append((n, rss_mib(), time.perf_counter() - t0))
            print(f"{n:6d} images  RSS {rows[-1][1]:8.1f} MiB  {rows[-1][2]:7.1f} s", flush=True)
    text = [f"# Memory soak ({a.mode}, {a.images} random images)", "",
            f"Command: `python benchmarks/memory_soak.py --images {a.images} --mode {a.mode}"
            + (f" --bundle {a.bundle}" if a.bundle else "") + (f" --rec-buckets {a.rec_buckets}" if a.rec_buckets else "")
            + (f" --det-step {a.det_step}" if a.det_step else "")
            + "`", "",
            "| images | RSS MiB | elapsed s |", "|---:|---:|---:|"]
    text += [f"| {n} | {r:.1f} | {t:.1f} |" for n, r, t in rows]
    first_half = [r for n, r, _ in rows if 0 < n <= a.images // 2]
    growth = rows[-1][1] - (first_half[-1] if first_half else rows[0][1])
    text += ["", f"RSS growth over the second half: {growth:+.1f} MiB"]
    print("\n".join(text))
    if a.out:
        a.out.write_text("\n".join(text) + "\n")


if __name__ == "__main__":
    main()
