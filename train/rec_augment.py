"""Recognition-training augmentations of PP-OCRv3: TextConAug (RecConAug) and RecAug with the TIA warps.

Written from the fact brief (shared/reference/ppocrv3.md section 4.7). Every function takes a BGR uint8 HxWx3
line crop and a `numpy.random.Generator`, so a run is reproducible from one seed.

    OPENBLAS_NUM_THREADS=1 python -m train.rec_augment --bench   # µs per RecAug call on 48xW crops, one thread
    python -m train.rec_augment --samples grid.png               # before/after grid of rendered text lines

TIA ("text image augmentation", Luo et al. 2020) moves control points on the top and bottom edges of a line and
warps the image so that the pixel at each source point lands on its moved (destination) point. Here distort and
stretch use an affine moving-least-squares deformation evaluated on a coarse grid (every `GRID_STEP` px), upsampled
bilinearly to a full cv2.remap map; perspective, which only moves the four corners, is an exact homography.
Control points sit on the pixel edges (x = -0.5 ... w - 0.5), as the brief's w and h coordinates do.
"""

from __future__ import annotations

import argparse
import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np

GRID_STEP = 8  # px between the points where the MLS map is evaluated exactly
HSV_V_DELTA = 0.001  # brief: V scaled by 1 ± 0.001·U
NOISE_STD = 0.5 * math.sqrt(0.1)  # brief: gaussian noise with var 0.1, added ×0.5 → std 0.158 grey levels


class Uniform(Protocol):
    """The part of `np.random.Generator` the TIA warps use (tests pass a stub that returns zeros)."""

    def uniform(self, low: float, high: float, size: int) -> np.ndarray: ...


# ----------------------------------------------------------------------------------------------------------------
# TIA warps


def _check(img: np.ndarray) -> tuple[int, int]:
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"expected a non-empty HxWx3 uint8 image, got {img.dtype} {img.shape}")
    return img.shape[0], img.shape[1]


@functools.lru_cache(maxsize=512)
def _interp_matrix(n_out: int, n_grid: int) -> np.ndarray:
    """(n_out, n_grid) matrix: linear interpolation from n_grid samples at linspace(0, n_out-1) to every pixel."""
    m = np.zeros((n_out, n_grid), np.float32)
    pos = np.arange(n_out) * ((n_grid - 1) / max(n_out - 1, 1))
    i0 = np.minimum(pos.astype(np.int64), n_grid - 2)
    t = (pos - i0).astype(np.float32)
    rows = np.arange(n_out)
    m[rows, i0] = 1 - t
    m[rows, i0 + 1] = t
    return m


@functools.lru_cache(maxsize=512)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grid points (n, 2) as (x, y), rows [x, y, x²+y², 1] for the distance matmul, row / column interpolators."""
    ny = max(2, math.ceil((h - 1) / GRID_STEP) + 1)
    nx = max(2, math.ceil((w - 1) / GRID_STEP) + 1)
    gy, gx = np.meshgrid(np.linspace(0, h - 1, ny), np.linspace(0, w - 1, nx), indexing="ij")
    v = np.stack([gx.ravel(), gy.ravel()], 1)
    v_aug = np.concatenate([v, (v * v).sum(1, keepdims=True), np.ones((len(v), 1))], 1)
    return v, v_aug, _interp_matrix(h, ny), _interp_matrix(w, nx).T.copy()


def mls_affine_map(src: np.ndarray, dst: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Backward remap maps (map_x, map_y), float32 HxW, of the affine MLS deformation taking `src` points to `dst`.

    For each output position v the map holds f(v) = (v - p*)·A⁻¹B + q*, the least-squares affine fit from the
    destination points p to the source points q with weights w_i = 1/|p_i - v|² (Schaefer et al. 2006), where
    A = Σ w p̂ᵀp̂, B = Σ w p̂ᵀq̂ for the points centred on their weighted means p*, q*. It is evaluated exactly on a
    grid every GRID_STEP px and interpolated bilinearly in between. Needs at least 3 points, not all on one line.
    """
    p = np.asarray(dst, np.float64)
    q = np.asarray(src, np.float64)
    v, v_aug, ay, ax_t = _grid(h, w)
    k = len(p)
    p_aug = np.concatenate([-2.0 * p.T, np.ones((1, k)), (p * p).sum(1)[None]], 0)  # v_aug @ p_aug = |v - p|²
    wgt = 1.0 / np.maximum(v_aug @ p_aug, 1e-8)  # (n, k)
    z = np.concatenate([np.ones((k, 1)), p, q], 1)  # columns 1, px, py, qx, qy
    s = wgt @ (z[:, :, None] * z[:, None, :]).reshape(k, 25)  # every Σ w·z_i·z_j; column 5i + j
    ws = s[:, 0]
    psx, psy, qsx, qsy = s[:, 1] / ws, s[:, 2] / ws, s[:, 3] / ws, s[:, 4] / ws  # weighted centroids p*, q*
    a11, a12, a22 = s[:, 6] - ws * psx * psx, s[:, 7] - ws * psx * psy, s[:, 12] - ws * psy * psy
    b11, b12 = s[:, 8] - ws * psx * qsx, s[:, 9] - ws * psx * qsy
    b21, b22 = s[:, 13] - ws * psy * qsx, s[:, 14] - ws * psy * qsy
    det = a11 * a22 - a12 * a12
    det[np.abs(det) < 1e-12] = 1e-12
    vx, vy = (v[:, 0] - psx) / det, (v[:, 1] - psy) / det
    ux, uy = vx * a22 - vy * a12, vy * a11 - vx * a12  # (v - p*)·A⁻¹, A⁻¹ = [[a22, -a12], [-a12, a11]] / det
    ny, nx = ay.shape[1], ax_t.shape[0]
    fx = (ux * b11 + uy * b21 + qsx).astype(np.float32).reshape(ny, nx)
    fy = (ux * b12 + uy * b22 + qsy).astype(np.float32).reshape(ny, nx)
    return ay @ fx @ ax_t, ay @ fy @ ax_t


def _remap(img: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return cv2.remap(img, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _edge_points(w: int, h: int, segments: int) -> tuple[int, np.ndarray]:
    """cut and the source points: corners TL, TR, BR, BL, then (top, bottom) at each inner cut x = cut·i."""
    cut = w // segments
    x0, x1, y0, y1 = -0.5, w - 0.5, -0.5, h - 0.5
    pts = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    for i in range(1, segments):
        pts += [(cut * i - 0.5, y0), (cut * i - 0.5, y1)]
    return cut, np.array(pts, np.float64)


def tia_distort(img: np.ndarray, segments: int, rng: Uniform) -> np.ndarray:
    """TIA distort: corners move inward by U[0, t), inner top/bottom points by U[-t/2, t/2) in x and y; t = cut//3."""
    h, w = _check(img)
    cut, src = _edge_points(w, h, max(1, segments))
    thresh = cut // 3
    dst = src.copy()
    inward = rng.uniform(0, thresh, 8).reshape(4, 2) if thresh > 0 else np.zeros((4, 2))
    dst[:4] += inward * np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])
    n_inner = len(src) - 4
    if n_inner and thresh > 0:
        dst[4:] += rng.uniform(-thresh / 2, thresh / 2, 2 * n_inner).reshape(n_inner, 2)
    return _remap(img, mls_affine_map(src, dst, h, w))


def tia_stretch(img: np.ndarray, segments: int, rng: Uniform) -> np.ndarray:
    """TIA stretch: each inner cut moves horizontally by U[-t/2, t/2), top and bottom alike; t = cut·4//5."""
    h, w = _check(img)
    cut, src = _edge_points(w, h, max(1, segments))
    thresh = cut * 4 // 5
    n_cuts = (len(src) - 4) // 2
    if n_cuts == 0 or thresh <= 0:
        return img
    dst = src.copy()
    dst[4:, 0] += np.repeat(rng.uniform(-thresh / 2, thresh / 2, n_cuts), 2)
    return _remap(img, mls_affine_map(src, dst, h, w))


def tia_perspective(img: np.ndarray, rng: Uniform) -> np.ndarray:
    """TIA perspective: the y of each left/right edge end moves inward by U[0, h//2) (exact homography)."""
    h, w = _check(img)
    thresh = h // 2
    if thresh <= 0:
        return img
    x0, x1, y0, y1 = -0.5, w - 0.5, -0.5, h - 0.5
    src = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], np.float32)
    dst = src.copy()
    dst[:, 1] += rng.uniform(0, thresh, 4).astype(np.float32) * np.array([1, 1, -1, -1], np.float32)
    back = cv2.getPerspectiveTransform(dst, src)  # output (dst) → input (src)
    return cv2.warpPerspective(img, back, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)


# ----------------------------------------------------------------------------------------------------------------
# The non-geometric RecAug steps


def crop_rows(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Remove randint(1, 8) rows from the top or the bottom (at least one row stays)."""
    h = img.shape[0]
    n = min(int(rng.integers(1, 9)), h - 1)
    return img[n:] if rng.random() < 0.5 else img[: h - n]


def gaussian_blur(img: np.ndarray) -> np.ndarray:
    """5x5 Gaussian, sigma 1, only when both sides exceed 10 px."""
    return cv2.GaussianBlur(img, (5, 5), 1) if img.shape[0] > 10 and img.shape[1] > 10 else img


def hsv_value_scale(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale HSV's V by 1 ± 0.001·U.

    With H and S fixed, scaling V is scaling B, G and R by the same factor, so this skips the lossy HSV round trip
    and scales in BGR with rounding. The change is at most 0.255 grey levels, so on uint8 data it rounds away: the
    step is kept for parity with the brief (a truncating uint8 cast would instead darken by 1 when the sign is −).
    """
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return cv2.convertScaleAbs(img, alpha=1.0 + sign * HSV_V_DELTA * rng.random())


def jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shift the content down-right by int(U·1%·min side) px, keeping the original pixels in the vacated strip.

    Below 100 px on the short side the shift is 0, so on 48 px training lines this step never changes anything.
    """
    h, w = img.shape[:2]
    s = int(rng.random() * min(h, w) * 0.01)
    if s <= 0:
        return img
    out = img.copy()
    out[s:, s:] = img[: h - s, : w - s]
    return out


def gaussian_noise(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add N(0, var 0.1) noise ×0.5, i.e. std 0.158 on the 0-255 scale, rounding to uint8.

    On 0-255 pixels this is far below one grey level (the constants read like 0-1 scale values). We keep the
    brief's magnitude and round (a truncating cast would turn it into a -0.5 level mean shift instead): each value
    then moves by ±1 with probability P(|N(0, 0.158)| >= 0.5) ≈ 0.16%, i.e. sparse ±1 specks. We sample exactly
    that (how many values flip, where, which sign) instead of one normal per value: the same distribution up to
    terms below 1e-20 (|noise| >= 1.5), and ~10x cheaper.
    """
    p_flip = math.erfc(0.5 / (NOISE_STD * math.sqrt(2)))  # P(|noise| >= 0.5)
    n = int(rng.binomial(img.size, p_flip))
    if n == 0:
        return img
    out = img.reshape(-1).astype(np.int16)
    idx = rng.choice(img.size, n, replace=False) if n < img.size else np.arange(img.size)
    out[idx] += np.where(rng.random(n) < 0.5, -1, 1).astype(np.int16)
    return np.clip(out, 0, 255).astype(np.uint8).reshape(img.shape)


# ----------------------------------------------------------------------------------------------------------------
# RecAug and TextConAug


@dataclass(frozen=True)
class RecAug:
    """PP-OCRv3 RecAug. `RecAug(**config)` with config keys prob, use_tia, mode.

    mode 'v3' (release/2.5 order, the v3 release): distort, stretch, perspective, crop, blur, hsv, jitter, noise,
    reverse, each independently with `prob` except jitter, which always runs. mode 'current': distort + stretch +
    perspective together with one draw of `prob`, then crop, blur, hsv, jitter, noise, reverse each with `prob`.
    Distort, stretch and crop need h >= 20 and w >= 20; TIA segments are randint(3, 6) inclusive.
    Never writes into the input; the result may be the input itself or a view of it.
    """

    prob: float = 0.4
    use_tia: bool = True
    mode: Literal["v3", "current"] = "v3"

    def __post_init__(self) -> None:
        if self.mode not in ("v3", "current"):
            raise ValueError(f"RecAug mode must be 'v3' or 'current', got {self.mode!r}")
        if not 0.0 <= self.prob <= 1.0:
            raise ValueError(f"RecAug prob must be in [0, 1], got {self.prob}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RecAug:
        return cls(**dict(config))

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        _check(img)
        p = self.prob

        def hit() -> bool:
            return bool(rng.random() < p)

        def big(a: np.ndarray) -> bool:
            return a.shape[0] >= 20 and a.shape[1] >= 20

        if self.use_tia:
            if self.mode == "v3":
                if hit() and big(img):
                    img = tia_distort(img, int(rng.integers(3, 7)), rng)
                if hit() and big(img):
                    img = tia_stretch(img, int(rng.integers(3, 7)), rng)
                if hit():
                    img = tia_perspective(img, rng)
            elif hit():
                if big(img):
                    img = tia_distort(img, int(rng.integers(3, 7)), rng)
                    img = tia_stretch(img, int(rng.integers(3, 7)), rng)
                img = tia_perspective(img, rng)
        if hit() and big(img):
            img = crop_rows(img, rng)
        if hit():
            img = gaussian_blur(img)
        if hit():
            img = hsv_value_scale(img, rng)
        if self.mode == "v3" or hit():
            img = jitter(img, rng)
        if hit():
            img = gaussian_noise(img, rng)
        if hit():
            img = 255 - img
        return np.ascontiguousarray(img)


def _to_height(img: np.ndarray, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    if h == height:
        return img
    return cv2.resize(img, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_LINEAR)


def text_con_aug(img: np.ndarray, label: str, extras: Sequence[tuple[np.ndarray, str]], rng: np.random.Generator,
                 prob: float = 0.5, max_text_length: int = 25,
                 image_shape: tuple[int, int] = (48, 320)) -> tuple[np.ndarray, str]:
    """RecConAug: with probability `prob`, append the extra samples in order, each resized to height image_shape[0].

    Stops at the first extra whose label would make the text longer than max_text_length, or whose w/h plus the
    current w/h exceeds image_shape[1] / image_shape[0] (320/48). Labels are joined without a separator.
    """
    if not extras or rng.random() >= prob:
        return img, label
    height, max_ratio = image_shape[0], image_shape[1] / image_shape[0]
    for ext_img, ext_label in extras:
        if len(label) + len(ext_label) > max_text_length:
            break
        if img.shape[1] / img.shape[0] + ext_img.shape[1] / ext_img.shape[0] > max_ratio:
            break
        img = np.concatenate([_to_height(img, height), _to_height(ext_img, height)], axis=1)
        label += ext_label
    return img, label


@dataclass(frozen=True)
class TextConAug:
    """Config wrapper of `text_con_aug`; the data loader fetches `ext_data_num` extra (decoded only) samples."""

    prob: float = 0.5
    ext_data_num: int = 2
    max_text_length: int = 25
    image_shape: tuple[int, int] = (48, 320)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TextConAug:
        cfg = dict(config)
        if "image_shape" in cfg:  # accept PaddleOCR's [48, 320, 3]
            cfg["image_shape"] = tuple(int(v) for v in cfg["image_shape"][:2])
        return cls(**cfg)

    def __call__(self, img: np.ndarray, label: str, extras: Sequence[tuple[np.ndarray, str]],
                 rng: np.random.Generator) -> tuple[np.ndarray, str]:
        return text_con_aug(img, label, list(extras)[: self.ext_data_num], rng, self.prob, self.max_text_length,
                            self.image_shape)


# ----------------------------------------------------------------------------------------------------------------
# Benchmark and sample grid


def _render_line(text: str, height: int = 48, font_size: int = 32) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", font_size)
    x0, y0, x1, y1 = font.getbbox(text)
    im = Image.new("RGB", (x1 - x0 + 16, height), (235, 230, 220))
    ImageDraw.Draw(im).text((8 - x0, (height - (y1 - y0)) // 2 - y0), text, font=font, fill=(30, 40, 60))
    return np.ascontiguousarray(np.asarray(im)[:, :, ::-1])


def bench(widths: Sequence[int] = (100, 200, 320), calls: int = 1000, repeats: int = 7,
          seed: int = 0) -> dict[str, dict[int, float]]:
    """µs per call on 48xW noise crops: the median single call, and the mean of the fastest of `repeats` runs of
    `calls` calls (the same random draws each run, so the minimum filters out other processes, not work)."""
    cv2.setNumThreads(1)
    out: dict[str, dict[int, float]] = {}
    cases: dict[str, Any] = {
        "RecAug v3": RecAug(), "RecAug current": RecAug(mode="current"),
        "tia_distort": lambda im, r: tia_distort(im, 4, r), "tia_stretch": lambda im, r: tia_stretch(im, 4, r),
        "tia_perspective": tia_perspective,
    }
    for w in widths:
        img = np.random.default_rng(seed).integers(0, 256, (48, w, 3), dtype=np.uint8)
        for name, fn in cases.items():
            singles, totals = [], []
            for _ in range(repeats):
                rng = np.random.default_rng(seed + 1)
                t0 = time.perf_counter()
                for _ in range(calls):
                    t = time.perf_counter()
                    fn(img, rng)
                    singles.append(time.perf_counter() - t)
                totals.append(time.perf_counter() - t0)
            out.setdefault(f"{name} median", {})[w] = 1e6 * float(np.median(singles))
            out.setdefault(f"{name} mean", {})[w] = 1e6 * min(totals) / calls
    return out


def sample_grid(path: Path, seed: int = 1) -> None:
    """Rows: original, distort, stretch, perspective, two RecAug v3 draws; one column per rendered line."""
    rng = np.random.default_rng(seed)
    texts = ["Total amount 12.50", "Invoice 2024-03-17", "thank you, come again"]
    cols = []
    for text in texts:
        img = _render_line(text)
        rows = [img, tia_distort(img, 4, rng), tia_stretch(img, 4, rng), tia_perspective(img, rng),
                RecAug(prob=0.4)(img, rng), RecAug(prob=0.4)(img, rng)]
        cols.append(rows)
    width = max(r.shape[1] for col in cols for r in col)
    tiles = []
    for rows in zip(*cols):
        tiles.append(np.concatenate([cv2.copyMakeBorder(r, 2, 2 + 48 - r.shape[0], 2, 2 + width - r.shape[1],
                                                        cv2.BORDER_CONSTANT, value=(255, 255, 255)) for r in rows], 1))
    cv2.imwrite(str(path), np.concatenate(tiles, axis=0), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--samples", type=Path)
    args = ap.parse_args(argv)
    if args.bench:
        for name, row in bench().items():
            print(f"{name:24s}" + "".join(f"  w={w}: {us:7.1f} µs" for w, us in row.items()))
    if args.samples:
        sample_grid(args.samples)


if __name__ == "__main__":
    main()
