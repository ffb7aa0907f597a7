"""train/det_augment.py: flip/rotate/resize, EastRandomCropData, their fused form, and CopyPaste.

Pages are flat colour quads on a plain background, so "the polygon still sits on its text" is checked by the colour
inside each (slightly eroded) output polygon.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ppocr_edge.geometry import order_clockwise
from train.det_augment import copy_paste, det_train_augment, flip_rotate_resize, random_crop
from train.det_sample import DetItem

pytestmark = pytest.mark.units

PALETTE = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (128, 255, 0),
           (255, 128, 0), (0, 128, 255), (128, 0, 255), (255, 0, 128), (0, 255, 128), (200, 200, 200),
           (128, 128, 255), (255, 128, 128)]
BACKGROUND = 40


def page(h: int, w: int, quads: list, ignore: list[bool] | None = None, colours: list | None = None,
         background: int = BACKGROUND) -> DetItem:
    """Quad k filled with colours[k] (PALETTE[k] by default) and labelled 'k' ('###' when ignored)."""
    colours = colours or PALETTE[:len(quads)]
    ignore = ignore or [False] * len(quads)
    image = np.full((h, w, 3), background, np.uint8)
    for quad, colour in zip(quads, colours):
        cv2.fillPoly(image, [np.round(np.asarray(quad)).astype(np.int32)], colour)
    texts = ["###" if ig else str(k) for k, ig in enumerate(ignore)]
    return DetItem(image, [np.asarray(q, np.float32) for q in quads], texts, list(ignore))


def rect(x0: float, y0: float, x1: float, y1: float) -> list:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def inside(image: np.ndarray, poly: np.ndarray, erode: int = 3) -> np.ndarray:
    """The pixels of image inside poly shrunk by `erode` pixels (N x channels)."""
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    mask = cv2.erode(mask, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8))
    assert mask.any(), f"polygon {poly.tolist()} has no interior"
    return image[mask.astype(bool)]


def assert_on_colours(item: DetItem, colours: dict[str, tuple], tol: float = 12.0) -> None:
    """Every non-ignored polygon covers pixels of its own colour (text 'k' -> colours['k'])."""
    for poly, text, ig in zip(item.polys, item.texts, item.ignore):
        if not ig:
            mean = inside(item.image, poly).mean(axis=0)
            assert np.abs(mean - colours[text]).max() < tol, (text, mean, colours[text])


def signed_area(poly: np.ndarray) -> float:
    """Shoelace sum: > 0 for clockwise order in image coordinates (y down)."""
    x, y = poly[:, 0].astype(np.float64), poly[:, 1].astype(np.float64)
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) / 2)


def same(a: DetItem, b: DetItem) -> bool:
    return (np.array_equal(a.image, b.image) and a.texts == b.texts and a.ignore == b.ignore
            and len(a.polys) == len(b.polys) and all(np.array_equal(p, q) for p, q in zip(a.polys, b.polys)))


COLOURS = {str(k): c for k, c in enumerate(PALETTE)}
WHITE_QUADS = [rect(60, 50, 160, 80), [[180, 100], [270, 108], [266, 148], [176, 140]], rect(70, 150, 130, 185)]


def white_page() -> DetItem:
    return page(240, 320, WHITE_QUADS, colours=[(255, 255, 255)] * 3, background=0)


# ------------------------------------------------------------------------------------------ flip / rotate / resize


def test_flip_rotate_resize_polygons_follow_the_quads() -> None:
    item = white_page()
    flips = 0
    for seed in range(12):
        out = flip_rotate_resize(item, np.random.default_rng(seed))
        h, w = out.image.shape[:2]
        assert 0.5 * 240 - 1 <= h <= 3 * 240 + 1 and abs(w / h - 320 / 240) < 0.02
        covered = np.zeros((h, w), np.uint8)
        for poly in out.polys:
            assert inside(out.image, poly).mean() > 240  # the polygon still sits on its white quad
            assert signed_area(poly) > 0 and np.allclose(order_clockwise(poly), poly)  # clockwise from top-left
            cv2.fillPoly(covered, [np.round(poly).astype(np.int32)], 1)
        reach = 2 * int(np.ceil(1.5 * h / 240)) + 1  # 1.5 source pixels: fillPoly's staircase on slanted edges
        covered = cv2.dilate(covered, np.ones((reach, reach), np.uint8)).astype(bool)
        assert out.image[~covered].max() < 30  # and all the white lies in the polygons
        flips += out.image[:, : w // 2].mean() < out.image[:, w // 2:].mean()  # the left-heavy page was mirrored
    assert 3 <= flips <= 9


def test_flip_mirrors_pixels_and_reorders_points_from_the_mirrored_top_right() -> None:
    item = white_page()
    out = flip_rotate_resize(item, np.random.default_rng(0), p_flip=1.0, max_angle=0.0, scale=(1.0, 1.0))
    assert np.array_equal(out.image, item.image[:, ::-1])
    for src, dst in zip(item.polys, out.polys):
        mirrored = np.stack([319 - src[:, 0], src[:, 1]], axis=1)
        # the mirrored text's top-left is the original top-right: [TL, TR, BR, BL] -> [TR', TL', BL', BR']
        np.testing.assert_allclose(dst, mirrored[[1, 0, 3, 2]], atol=1e-4)


def test_resize_keeps_pixels_and_polygons_aligned() -> None:
    item = white_page()
    out = flip_rotate_resize(item, np.random.default_rng(0), p_flip=0.0, max_angle=0.0, scale=(2.0, 2.0))
    resized = cv2.resize(item.image, (640, 480), interpolation=cv2.INTER_LINEAR)
    # inside the page (its outermost half source pixel blends with the zero border in the single warp)
    assert np.abs(out.image.astype(int) - resized)[2:-2, 2:-2].max() <= 1
    for src, dst in zip(item.polys, out.polys):  # cv2.resize's mapping with pixel centres at integers
        np.testing.assert_allclose(dst, 2 * src + 0.5, atol=1e-4)


def test_flip_rotate_resize_is_deterministic_and_leaves_the_input() -> None:
    item = white_page()
    before = item.copy()
    a, b = (flip_rotate_resize(item, np.random.default_rng(5)) for _ in range(2))
    assert same(a, b) and same(item, before)
    assert not same(a, flip_rotate_resize(item, np.random.default_rng(6)))


# ------------------------------------------------------------------------------------------------ random crop

BAND = [rect(10 + 65 * k, 120, 60 + 65 * k, 170) for k in range(6)]  # six boxes in rows 120..170, 15 px apart


def band_page() -> DetItem:
    """Six text boxes in a band plus an ignored strip across the whole page, which must not steer the crop."""
    return page(300, 400, [*BAND, rect(0, 250, 399, 270)], ignore=[False] * 6 + [True])


def test_random_crop_keeps_whole_boxes_with_their_content() -> None:
    item = band_page()
    partial = cut_ignored = 0
    for seed in range(30):
        out = random_crop(item, np.random.default_rng(seed), (256, 320))
        assert out.image.shape == (256, 320, 3)
        content = [np.flatnonzero(out.image.any(axis=axes)).max() + 1 for axes in ((0, 2), (1, 2))]  # width, height
        kept = {t for t, ig in zip(out.texts, out.ignore) if not ig}
        assert kept, "a crop holds at least one text box"
        assert_on_colours(out, COLOURS)
        for poly, ig in zip(out.polys, out.ignore):
            if not ig:  # crop edges lie in text-free columns and rows: kept boxes are whole
                assert poly.min() >= -0.5 and poly[:, 0].max() <= content[0] and poly[:, 1].max() <= content[1]
            else:
                cut_ignored += poly[:, 0].min() < -1 or poly[:, 0].max() > content[0] + 1  # not clipped here
        for k in set(map(str, range(6))) - kept:  # no trace of the boxes left out
            assert not np.all(np.abs(out.image.astype(int) - COLOURS[k]) <= 40, axis=2).any(), k
        partial += len(kept) < 6
    assert partial >= 15 and cut_ignored >= 5  # real crops, not the whole-page fallback


def test_random_crop_falls_back_to_the_whole_page() -> None:
    only_ignored = page(300, 400, BAND, ignore=[True] * 6)  # no crop can hold text
    spanning = page(300, 400, [rect(0, 100, 399, 140), rect(20, 200, 80, 230)])  # no text-free column
    for item in (only_ignored, spanning):
        out = random_crop(item, np.random.default_rng(0), (640, 640))
        assert np.array_equal(out.image[:480], cv2.resize(item.image, (640, 480), interpolation=cv2.INTER_LINEAR))
        assert not out.image[480:].any() and out.texts == item.texts
        for src, dst in zip(item.polys, out.polys):
            np.testing.assert_allclose(dst, 1.6 * src + 0.3, atol=1e-4)


def test_random_crop_without_keep_ratio_fills_the_canvas() -> None:
    out = random_crop(band_page(), np.random.default_rng(3), (200, 200), keep_ratio=False)
    assert out.image.shape == (200, 200, 3) and out.image.any(axis=2).all()
    assert_on_colours(out, COLOURS)


# ------------------------------------------------------------------------------------------------ fused augment

SCATTER = [rect(40, 30, 110, 55), [[150, 40], [250, 52], [246, 82], [146, 70]], rect(30, 120, 90, 150),
           rect(120, 130, 280, 160), rect(60, 190, 140, 215), rect(180, 185, 260, 220)]


def test_det_train_augment_matches_flip_rotate_resize_then_random_crop() -> None:
    item = page(240, 320, SCATTER)
    for seed in range(12):
        fused = det_train_augment(item, np.random.default_rng(seed), (256, 256))
        rng = np.random.default_rng(seed)
        stepwise = random_crop(flip_rotate_resize(item, rng), rng, (256, 256))
        assert fused.texts == stepwise.texts and fused.ignore == stepwise.ignore
        for p, q in zip(fused.polys, stepwise.polys):
            np.testing.assert_allclose(p, q, atol=1e-3)
        assert np.abs(fused.image.astype(float) - stepwise.image).mean() < 3  # one interpolation instead of two
        assert_on_colours(fused, COLOURS)


def test_det_train_augment_without_crop_is_flip_rotate_resize() -> None:
    item = page(240, 320, SCATTER)
    assert same(det_train_augment(item, np.random.default_rng(4), crop=False),
                flip_rotate_resize(item, np.random.default_rng(4)))


# ------------------------------------------------------------------------------------------------ CopyPaste


def extra_page(n: int, ignored: int = 0) -> DetItem:
    """n flat-colour instances (the last `ignored` of them ignored): wide, tall (rot90) and one 8-point polygon."""
    quads: list = []
    for k in range(n):
        x, y = 10 + 70 * (k % 5), 10 + 60 * (k // 5)
        quads.append(rect(x, y, x + 20, y + 45) if k % 3 == 1 else rect(x, y, x + 55, y + 22))
    x, y = quads[0][0]
    quads[0] = [[x, y], [x + 25, y], [x + 55, y], [x + 55, y + 11], [x + 55, y + 22], [x + 25, y + 22], [x, y + 22],
                [x, y + 11]]
    return page(200, 360, quads, ignore=[False] * (n - ignored) + [True] * ignored)


def host_page(h: int = 500, w: int = 500) -> DetItem:
    return page(h, w, [rect(100, 100, 200, 130), rect(-10, -10, 20, 20)], colours=[(255, 255, 255)] * 2)


def bbox_disjoint(poly: np.ndarray, other: np.ndarray) -> bool:
    """other lies fully outside poly's axis-aligned bounding box."""
    (x0, y0), (x1, y1) = poly.min(0), poly.max(0)
    return bool(other[:, 0].max() < x0 or other[:, 0].min() > x1 or other[:, 1].max() < y0 or other[:, 1].min() > y1)


def test_copy_paste_pastes_the_instance_pixels_under_their_polygons() -> None:
    extra, item = extra_page(15, ignored=3), host_page()
    for seed in range(10):
        out = copy_paste(item, extra, np.random.default_rng(seed))
        new = out.polys[2:]
        assert len(new) == 3  # select_num = int(0.2 * 15): the ignored instances count in N_ext
        assert out.texts[:2] == item.texts and out.ignore == [False] * 5
        assert all(t != "###" for t in out.texts[2:]) and len(set(out.texts[2:])) == 3
        assert_on_colours(DetItem(out.image, new, out.texts[2:], [False] * 3), COLOURS, tol=20)
        for j, poly in enumerate(out.polys[2:], start=2):
            assert poly.shape == (4, 2) and signed_area(poly) > 0
            assert all(bbox_disjoint(poly, other) for other in out.polys[:j])  # clear of all earlier polygons
        assert all(p.min() >= 0 and p[:, 0].max() <= 499 and p[:, 1].max() <= 499 for p in out.polys)  # clipped
        np.testing.assert_allclose(out.polys[1], rect(0, 0, 20, 20))


def test_copy_paste_keeps_the_text_top_left_as_point_zero() -> None:
    """One wide instance: point 0 of the pasted box is where the instance's top-left pixels went."""
    extra = page(60, 100, [rect(10, 10, 70, 30)], colours=[(255, 0, 0)])
    extra.image[10:13, 10:13] = (0, 0, 255)  # a red mark in the text's top-left corner
    for seed in range(8):
        out = copy_paste(host_page(), extra, np.random.default_rng(seed))
        box = out.polys[-1]
        red = np.argwhere(np.all(np.abs(out.image.astype(int) - (0, 0, 255)) < 60, axis=2))[:, ::-1]
        corner = np.linalg.norm(box - red.mean(axis=0), axis=1)
        assert corner.argmin() == 0 and corner[0] < 4


def test_copy_paste_takes_only_non_ignored_instances() -> None:
    extra = extra_page(10, ignored=9)  # select_num 2, one candidate
    out = copy_paste(host_page(), extra, np.random.default_rng(0))
    assert out.texts[2:] == ["0"]


def test_copy_paste_skips_patches_larger_than_the_image() -> None:
    item = host_page(30, 30)
    for seed in range(5):
        out = copy_paste(item, extra_page(10), np.random.default_rng(seed))
        assert np.array_equal(out.image, item.image) and out.texts == item.texts


def test_copy_paste_respects_limit_paste() -> None:
    full = page(300, 300, [rect(0, 0, 299, 299)], colours=[(255, 255, 255)])  # no text-free spot anywhere
    extra = extra_page(10)
    assert len(copy_paste(full, extra, np.random.default_rng(0)).polys) == 1
    assert len(copy_paste(full, extra, np.random.default_rng(0), limit_paste=False).polys) == 3


def test_copy_paste_is_deterministic_and_leaves_its_inputs() -> None:
    item, extra = host_page(), extra_page(15, ignored=3)
    item_before, extra_before = item.copy(), extra.copy()
    a, b = (copy_paste(item, extra, np.random.default_rng(9)) for _ in range(2))
    assert same(a, b) and same(item, item_before) and same(extra, extra_before)
    assert not same(a, copy_paste(item, extra, np.random.default_rng(10)))
