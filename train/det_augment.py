"""Detection-training augmentation of PP-OCRv3: IaaAugment (flip, rotate, resize), EastRandomCropData and CopyPaste.

Written from the fact brief (shared/reference/ppocrv3.md sections 2.5 and 3). Every function takes a `DetItem` and
a `numpy.random.Generator`, returns a new `DetItem` (the input is never modified) and is reproducible from the
generator's state.

    rng = np.random.default_rng(seed)
    item = copy_paste(item, extra_item, rng)          # paste text instances of another sample
    item = det_train_augment(item, rng, (640, 640))   # flip / rotate / resize, then the text-aware random crop

    python -m train.det_augment --bench   # ms per sample on a 1000x1400 page with 30 lines, one OpenCV thread

`det_train_augment(item, rng)` gives the same polygons as `random_crop(flip_rotate_resize(item, rng), rng)` for the
same generator state (the same random draws in the same order); it chooses the crop on the transformed polygons only
and then warps the source once, straight into the training canvas, instead of warping the whole page to up to 3x its
size and cropping that. The images differ only by that single interpolation.

Conventions: pixel centres at integer coordinates (OpenCV's), so every warp maps polygons and pixels by the same
matrix; sizes are (height, width) like `image.shape[:2]`; polygons run clockwise (in image coordinates, y down) from
the text's top-left. A polygon lies "outside" a rectangle when their axis-aligned bounding boxes are disjoint
(PaddleOCR's is_poly_outside_rect), which is what the crop and the CopyPaste overlap rule test.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import cv2
import numpy as np

from ppocr_edge.geometry import crop_quad, order_clockwise
from train.det_sample import DetItem

MAX_TRIES = 50  # EastRandomCropData and CopyPaste both try 50 times
MIN_CROP_SIDE_RATIO = 0.1
MAX_PASTE = 30  # CopyPaste pastes at most 30 instances per sample

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1: inclusive pixel bounds


# ---------------------------------------------------------------------------------------------- flip / rotate / resize


@dataclass(frozen=True)
class _Affine:
    matrix: np.ndarray  # 3x3: source pixel -> output pixel
    size: tuple[int, int]  # output (height, width)
    flipped: bool


def _scale_matrix(sx: float, sy: float, x0: float = 0.0, y0: float = 0.0) -> np.ndarray:
    """cv2.resize's pixel mapping by (sx, sy) of the image cropped at (x0, y0)."""
    return np.array([[sx, 0, 0.5 * (sx - 1) - sx * x0], [0, sy, 0.5 * (sy - 1) - sy * y0], [0, 0, 1]])


def _draw_affine(shape: tuple[int, ...], rng: np.random.Generator, p_flip: float, max_angle: float,
                 scale: tuple[float, float]) -> _Affine:
    """IaaAugment's three steps as one matrix: Fliplr(p), Affine(rotate U(-a, a), same canvas), Resize(U(scale))."""
    h, w = shape[:2]
    flipped = bool(rng.random() < p_flip)
    angle = rng.uniform(-max_angle, max_angle)
    s = rng.uniform(*scale)
    out_h, out_w = max(1, round(h * s)), max(1, round(w * s))
    flip = np.array([[-1, 0, w - 1], [0, 1, 0], [0, 0, 1]]) if flipped else np.eye(3)
    rotate = np.vstack([cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0), [0, 0, 1]])
    return _Affine(_scale_matrix(out_w / w, out_h / h) @ rotate @ flip, (out_h, out_w), flipped)


def _apply(matrix: np.ndarray, poly: np.ndarray) -> np.ndarray:
    return (poly @ matrix[:2, :2].T + matrix[:2, 2]).astype(np.float32)


def _mirror_order(n: int) -> np.ndarray:
    """Point order that keeps a mirrored polygon clockwise from the text's top-left.

    A mirror turns the clockwise polygon counter-clockwise, and the mirrored text's top-left is the original top-right:
    the last point of the top edge, point n/2 - 1 when the first half of the points traces the top edge (PP-OCR's
    4-point boxes and its even-count curved polygons). Reading backwards from there restores the convention:
    4 points [TL, TR, BR, BL] -> [TR, TL, BL, BR], i.e. indices [1, 0, 3, 2].
    """
    return (n // 2 - 1 - np.arange(n)) % n


def _transform_polys(polys: list[np.ndarray], affine: _Affine) -> list[np.ndarray]:
    moved = [_apply(affine.matrix, p) for p in polys]
    return [p[_mirror_order(len(p))] for p in moved] if affine.flipped else moved


def _warp(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear warp into an image of size (height, width); outside the source is 0."""
    return cv2.warpAffine(image, matrix[:2], (size[1], size[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def flip_rotate_resize(item: DetItem, rng: np.random.Generator, *, p_flip: float = 0.5, max_angle: float = 10.0,
                       scale: tuple[float, float] = (0.5, 3.0)) -> DetItem:
    """IaaAugment: horizontal flip with p_flip, rotation by U(-max_angle, max_angle) degrees about the image centre
    (bilinear, border 0, output the input's size), then resize of both axes by one factor U(*scale).

    The three steps are applied as one bilinear warp (one interpolation; imgaug resizes separately, by default
    bicubic), so the page's outermost half source pixel blends with the zero border where cv2.resize would
    replicate it. Polygons move with the image and are not clipped.
    """
    affine = _draw_affine(item.image.shape, rng, p_flip, max_angle, scale)
    return DetItem(_warp(item.image, affine.matrix, affine.size), _transform_polys(item.polys, affine),
                   list(item.texts), list(item.ignore))


# ---------------------------------------------------------------------------------------------------- random crop


def _bboxes(polys: list[np.ndarray]) -> np.ndarray:
    """(n, 4) array of x_min, y_min, x_max, y_max."""
    return np.array([np.r_[p.min(0), p.max(0)] for p in polys], dtype=np.float64).reshape(-1, 4)


def _outside(bboxes: np.ndarray, rect: tuple[float, float, float, float]) -> np.ndarray:
    """is_poly_outside_rect per bbox row: True where the box lies fully outside rect (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = rect
    return (bboxes[:, 2] < x0) | (bboxes[:, 0] > x1) | (bboxes[:, 3] < y0) | (bboxes[:, 1] > y1)


def _occupied(lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """Mask of the n pixel columns (or rows) that some span [lo, hi] touches (floor(lo) .. ceil(hi))."""
    start = np.clip(np.floor(lo), 0, n).astype(int)
    stop = np.clip(np.ceil(hi) + 1, 0, n).astype(int)
    real = start < stop
    delta = np.zeros(n + 1, dtype=int)
    np.add.at(delta, start[real], 1)
    np.add.at(delta, stop[real], -1)
    return np.cumsum(delta[:n]) > 0


def _free_runs(occupied: np.ndarray) -> list[np.ndarray]:
    """The text-free indices, split into runs of consecutive ones."""
    free = np.flatnonzero(~occupied)
    return np.split(free, np.flatnonzero(np.diff(free) > 1) + 1) if free.size else []


def _draw_span(runs: list[np.ndarray], rng: np.random.Generator) -> tuple[int, int]:
    """Two free indices, from two different runs when there are several; returned in increasing order."""
    if len(runs) > 1:
        a, b = rng.choice(len(runs), size=2, replace=False)
        values = [rng.choice(runs[a]), rng.choice(runs[b])]
    else:
        values = list(rng.choice(runs[0], size=2))
    return int(min(values)), int(max(values))


def _choose_crop(polys: list[np.ndarray], ignore: list[bool], shape: tuple[int, int], rng: np.random.Generator,
                 max_tries: int, min_side_ratio: float) -> Rect:
    """EastRandomCropData's crop: edges on text-free columns and rows (of the non-ignored polygons), each side at least
    min_side_ratio of the image's, holding at least one non-ignored polygon; the whole image when no try succeeds."""
    h, w = shape
    care = _bboxes([p for p, ig in zip(polys, ignore) if not ig])
    x_runs = _free_runs(_occupied(care[:, 0], care[:, 2], w))
    y_runs = _free_runs(_occupied(care[:, 1], care[:, 3], h))
    if x_runs and y_runs:
        for _ in range(max_tries):
            x0, x1 = _draw_span(x_runs, rng)
            y0, y1 = _draw_span(y_runs, rng)
            if x1 - x0 + 1 < min_side_ratio * w or y1 - y0 + 1 < min_side_ratio * h:
                continue
            if not _outside(care, (x0, y0, x1, y1)).all():
                return x0, y0, x1, y1
    return 0, 0, w - 1, h - 1


def _fit(rect: Rect, size: tuple[int, int], keep_ratio: bool) -> tuple[np.ndarray, tuple[int, int]]:
    """Matrix from the uncropped image to the resized crop, and the resized crop's (height, width)."""
    x0, y0, x1, y1 = rect
    crop_w, crop_h = x1 - x0 + 1, y1 - y0 + 1
    out_h, out_w = size
    if keep_ratio:
        s = min(out_w / crop_w, out_h / crop_h)
        out_w, out_h = min(out_w, max(1, round(crop_w * s))), min(out_h, max(1, round(crop_h * s)))
    return _scale_matrix(out_w / crop_w, out_h / crop_h, x0, y0), (out_h, out_w)


def _on_canvas(content: np.ndarray, size: tuple[int, int], polys: list[np.ndarray], item: DetItem, rect: Rect,
               matrix: np.ndarray) -> DetItem:
    """The resized crop pasted top-left on a zero canvas of size, with the polygons not outside the crop (moved by
    matrix, not clipped); polys are item's polygons in the coordinates the crop rect refers to."""
    canvas = np.zeros((*size, *content.shape[2:]), dtype=content.dtype)
    canvas[:content.shape[0], :content.shape[1]] = content
    kept = np.flatnonzero(~_outside(_bboxes(polys), rect))
    return DetItem(canvas, [_apply(matrix, polys[i]) for i in kept], [item.texts[i] for i in kept],
                   [item.ignore[i] for i in kept])


def random_crop(item: DetItem, rng: np.random.Generator, size: tuple[int, int] = (640, 640), *,
                max_tries: int = MAX_TRIES, min_crop_side_ratio: float = MIN_CROP_SIDE_RATIO,
                keep_ratio: bool = True) -> DetItem:
    """EastRandomCropData: a crop whose edges avoid text (see _choose_crop), resized to fit size (height, width),
    keeping its aspect ratio when keep_ratio, and pasted top-left on a zero canvas of size."""
    rect = _choose_crop(item.polys, item.ignore, item.image.shape[:2], rng, max_tries, min_crop_side_ratio)
    matrix, (h, w) = _fit(rect, size, keep_ratio)
    x0, y0, x1, y1 = rect
    content = cv2.resize(item.image[y0:y1 + 1, x0:x1 + 1], (w, h), interpolation=cv2.INTER_LINEAR)
    return _on_canvas(content, size, item.polys, item, rect, matrix)


def det_train_augment(item: DetItem, rng: np.random.Generator, size: tuple[int, int] = (640, 640), *,
                      p_flip: float = 0.5, max_angle: float = 10.0, scale: tuple[float, float] = (0.5, 3.0),
                      crop: bool = True) -> DetItem:
    """flip_rotate_resize then random_crop (with its defaults), as one warp of the source into the canvas."""
    affine = _draw_affine(item.image.shape, rng, p_flip, max_angle, scale)
    polys = _transform_polys(item.polys, affine)
    if not crop:
        return DetItem(_warp(item.image, affine.matrix, affine.size), polys, list(item.texts), list(item.ignore))
    rect = _choose_crop(polys, item.ignore, affine.size, rng, MAX_TRIES, MIN_CROP_SIDE_RATIO)
    matrix, fitted = _fit(rect, size, True)
    return _on_canvas(_warp(item.image, matrix @ affine.matrix, fitted), size, polys, item, rect, matrix)


# ---------------------------------------------------------------------------------------------------- CopyPaste


def _rotated_patch(image: np.ndarray, poly: np.ndarray, angle: int) -> tuple[np.ndarray, np.ndarray]:
    """The instance rectified to an upright BGRA patch (crop_quad, rot90 when h/w >= 1.5), rotated by angle degrees
    counter-clockwise on a canvas expanded to hold it (transparent corners), and its box on that canvas: the patch's
    pixel extent, clockwise from the text's top-left, moved by the same matrix (rotation keeps the order)."""
    quad = poly if len(poly) == 4 else order_clockwise(cv2.boxPoints(cv2.minAreaRect(poly)))
    upright = cv2.cvtColor(crop_quad(image, quad).image, cv2.COLOR_BGR2BGRA)
    h, w = upright.shape[:2]
    box = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    matrix = cv2.getRotationMatrix2D(tuple(centre), angle, 1.0)
    turned = box @ matrix[:, :2].T
    canvas = np.ceil(turned.max(0) - turned.min(0) - 1e-6).astype(int)  # (width, height)
    matrix[:, 2] += (canvas - 1) / 2 - centre  # the centre moves to the expanded canvas's centre
    patch = cv2.warpAffine(upright, matrix, (int(canvas[0]), int(canvas[1])), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return patch, _apply(matrix, box)


def _place(patch_hw: tuple[int, int], box: np.ndarray, existing: np.ndarray, image_hw: tuple[int, int],
           rng: np.random.Generator, limit_paste: bool, max_tries: int) -> tuple[int, int] | None:
    """Top-left (x, y) for the patch, uniform over the positions where it fits; with limit_paste, the first of
    max_tries draws where every existing polygon lies outside the box's bbox. None: no such position."""
    (ph, pw), (h, w) = patch_hw, image_hw
    if ph > h or pw > w:
        return None
    lo, hi = box.min(0), box.max(0)
    for _ in range(max_tries if limit_paste else 1):
        x, y = int(rng.integers(0, w - pw + 1)), int(rng.integers(0, h - ph + 1))
        if not limit_paste or _outside(existing, (lo[0] + x, lo[1] + y, hi[0] + x, hi[1] + y)).all():
            return x, y
    return None


def _composite(image: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend the BGRA patch onto image (in place) with its top-left at (x, y)."""
    region = image[y:y + patch.shape[0], x:x + patch.shape[1]]
    alpha = patch[:, :, 3:].astype(np.float32) / 255
    region[:] = np.rint(patch[:, :, :3] * alpha + region * (1 - alpha)).astype(np.uint8)


def copy_paste(item: DetItem, extra: DetItem, rng: np.random.Generator, *, objects_paste_ratio: float = 0.2,
               limit_paste: bool = True, max_tries: int = MAX_TRIES) -> DetItem:
    """CopyPaste: paste up to max(1, min(int(ratio * N), 30)) randomly chosen non-ignored text instances of extra
    (N counts all of extra's instances, ignored ones too), each rectified and rotated by a random whole angle, at a
    random position clear of every polygon present (with limit_paste); then clip all polygons to the image."""
    out = item.copy()
    h, w = out.image.shape[:2]
    candidates = [i for i, ig in enumerate(extra.ignore) if not ig]
    select_num = max(1, min(int(objects_paste_ratio * len(extra.polys)), MAX_PASTE))
    existing = _bboxes(out.polys)
    for i in rng.permutation(candidates)[:select_num]:
        patch, box = _rotated_patch(extra.image, extra.polys[i], int(rng.integers(0, 360)))
        position = _place(patch.shape[:2], box, existing, (h, w), rng, limit_paste, max_tries)
        if position is None:
            continue
        _composite(out.image, patch, *position)
        box += np.array(position, dtype=np.float32)
        out.polys.append(box)
        out.texts.append(extra.texts[i])
        out.ignore.append(False)
        existing = np.vstack([existing, _bboxes([box])])
    out.polys = [np.clip(p, 0, [w - 1, h - 1]).astype(np.float32) for p in out.polys]
    return out


# ---------------------------------------------------------------------------------------------------- benchmark


def _bench_page(rng: np.random.Generator, height: int = 1400, width: int = 1000, lines: int = 30) -> DetItem:
    """A white page with `lines` lines of random text, one axis-aligned box each."""
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    polys, texts = [], []
    pitch = (height - 80) // lines
    for k in range(lines):
        text = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789 "), size=int(rng.integers(10, 40))))
        x, y = int(rng.integers(40, 200)), 40 + k * pitch
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.9, 2)
        cv2.putText(image, text, (x, y + th), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (20, 20, 20), 2, cv2.LINE_AA)
        polys.append(np.array([[x, y], [x + tw, y], [x + tw, y + th + base], [x, y + th + base]], np.float32))
        texts.append(text.strip())
    return DetItem(image, polys, texts, [False] * lines)


def _ms_per_call(fn, n: int) -> float:
    start = time.perf_counter()
    for k in range(n):
        fn(np.random.default_rng(k))
    return (time.perf_counter() - start) / n * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", action="store_true", help="time the augmentations on a synthetic page")
    parser.add_argument("-n", type=int, default=100, help="samples per timing")
    args = parser.parse_args()
    if not args.bench:
        parser.print_help()
        return
    cv2.setNumThreads(1)
    page, extra = _bench_page(np.random.default_rng(0)), _bench_page(np.random.default_rng(1))
    timings = {
        "det_train_augment (640x640)": _ms_per_call(lambda r: det_train_augment(page, r), args.n),
        "flip_rotate_resize -> random_crop (reference)":
            _ms_per_call(lambda r: random_crop(flip_rotate_resize(page, r), r), max(1, args.n // 5)),
        "copy_paste": _ms_per_call(lambda r: copy_paste(page, extra, r), args.n),
    }
    print(f"1000x1400 page, 30 lines, 1 OpenCV thread, {args.n} samples")
    for name, ms in timings.items():
        print(f"{name:48s} {ms:7.2f} ms/sample")


if __name__ == "__main__":
    main()
