"""train/rec_augment.py: TextConAug joins and limits, RecAug step logic and determinism, TIA warp geometry."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from train import rec_augment as ra

pytestmark = pytest.mark.units


class StubRng:
    """Stands in for the Generator inside the TIA warps: every uniform(low, high) draw returns pick(low, high)."""

    def __init__(self, pick) -> None:
        self.pick = pick

    def uniform(self, low: float, high: float, size: int) -> np.ndarray:
        return np.full(size, self.pick(low, high), np.float64)


ZERO = StubRng(lambda low, high: 0.0)  # 0 lies in U[0, t) and in U[-t/2, t/2): no control point moves


def blocks(h: int = 48, w: int = 200, seed: int = 0) -> np.ndarray:
    """A textured test image: random 8 px blocks."""
    small = np.random.default_rng(seed).integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)[:h, :w])


# ---------------------------------------------------------------------------------------------------------------
# TextConAug


def test_text_con_aug_joins_images_and_labels() -> None:
    a = np.full((24, 60, 3), 10, np.uint8)  # w/h 2.5 -> 48x120
    b = np.full((32, 48, 3), 200, np.uint8)  # w/h 1.5 -> 48x72
    img, label = ra.text_con_aug(a, "ab", [(b, "cd")], np.random.default_rng(0), prob=1.0)
    assert img.shape == (48, 120 + 72, 3) and img.dtype == np.uint8
    assert label == "abcd"
    assert (img[:, :120] == 10).all() and (img[:, 120:] == 200).all()


def test_text_con_aug_length_limit_and_stop() -> None:
    a, b = np.zeros((48, 48, 3), np.uint8), np.zeros((48, 48, 3), np.uint8)
    rng = np.random.default_rng(0)
    img, label = ra.text_con_aug(a, "x" * 20, [(b, "y" * 6)], rng, prob=1.0)
    assert label == "x" * 20 and img is a  # 26 > 25
    img, label = ra.text_con_aug(a, "x" * 20, [(b, "y" * 5)], rng, prob=1.0)
    assert label == "x" * 20 + "y" * 5 and img.shape == (48, 96, 3)  # exactly 25 is allowed
    # the first extra that does not fit ends the loop, even if a later one would fit
    img, label = ra.text_con_aug(a, "ab", [(b, "c"), (b, "z" * 30), (b, "d")], rng, prob=1.0)
    assert label == "abc" and img.shape == (48, 96, 3)


def test_text_con_aug_ratio_limit() -> None:
    rng = np.random.default_rng(0)
    a = np.zeros((48, 192, 3), np.uint8)  # w/h 4
    wide = np.zeros((10, 30, 3), np.uint8)  # w/h 3: 7 > 320/48
    narrow = np.zeros((10, 25, 3), np.uint8)  # w/h 2.5: 6.5 <= 6.67
    img, label = ra.text_con_aug(a, "a", [(wide, "b")], rng, prob=1.0)
    assert label == "a" and img.shape == (48, 192, 3)
    sliver = np.zeros((48, 4, 3), np.uint8)  # w/h 0.08 would still fit after "ab", but the loop has ended
    img, label = ra.text_con_aug(a, "a", [(narrow, "b"), (narrow, "c"), (sliver, "d")], rng, prob=1.0)
    assert label == "ab" and img.shape == (48, 192 + 120, 3)  # the second would make 9 > 6.67


def test_text_con_aug_prob_zero_and_wrapper() -> None:
    a, b = blocks(30, 60), blocks(40, 40, seed=1)
    rng = np.random.default_rng(0)
    img, label = ra.text_con_aug(a, "a", [(b, "b")], rng, prob=0.0)
    assert img is a and label == "a"
    aug = ra.TextConAug.from_config({"prob": 1.0, "ext_data_num": 2, "image_shape": [48, 320, 3]})
    assert aug.image_shape == (48, 320)
    img, label = aug(b, "a", [(b, "b"), (b, "c"), (b, "d")], rng)
    assert label == "abc" and img.shape == (48, 144, 3)  # only ext_data_num extras are used
    hits = sum(ra.text_con_aug(a, "a", [(b, "b")], rng, prob=0.5)[1] == "ab" for _ in range(400))
    assert 150 < hits < 250


# ---------------------------------------------------------------------------------------------------------------
# TIA warps


@pytest.mark.parametrize("warp", ["distort", "stretch", "perspective"])
def test_tia_zero_jitter_is_identity(warp: str) -> None:
    img = blocks()
    out = ra.tia_perspective(img, ZERO) if warp == "perspective" else getattr(ra, f"tia_{warp}")(img, 4, ZERO)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - img).max() <= 1


@pytest.mark.parametrize("warp", ["distort", "stretch", "perspective"])
def test_tia_changes_textured_image(warp: str) -> None:
    img, rng = blocks(), np.random.default_rng(3)
    for _ in range(5):
        out = ra.tia_perspective(img, rng) if warp == "perspective" else getattr(ra, f"tia_{warp}")(img, 4, rng)
        assert out.shape == img.shape
        assert np.abs(out.astype(int) - img).mean() > 3


def test_tia_perspective_moves_content_towards_destination() -> None:
    """Every corner moves inward by 6 px: a uniform vertical squeeze about the centre, by (48 - 12) / 48."""
    img = np.zeros((48, 200, 3), np.uint8)
    img[10] = 255
    out = ra.tia_perspective(img, StubRng(lambda low, high: 6.0))
    expected = 23.5 + (10 - 23.5) * 36 / 48  # 13.375 (the inverse warp would put it at 5.5)
    row = out[:, 100, 0].astype(float)
    assert abs((row * np.arange(48)).sum() / row.sum() - expected) < 0.3


def test_tia_stretch_moves_cut_points() -> None:
    """segments 4 on w 200: cuts at x 50, 100, 150, thresh 40; all move by +20 px (the top of U[-20, 20))."""
    img = np.zeros((48, 200, 3), np.uint8)
    img[:, 100] = 255
    out = ra.tia_stretch(img, 4, StubRng(lambda low, high: high))
    for y in (0, 24, 47):  # column 100 sits 0.5 px right of the cut point x = 99.5, which moves to 119.5
        col = out[y, :, 0].astype(float)
        assert abs((col * np.arange(200)).sum() / col.sum() - 120) < 2
    assert (out[:, :3] == 0).all() and (out[:, -3:] == 0).all()  # corners stay put in stretch


def test_tia_distort_corners_move_inward() -> None:
    """Corners jittered inward by the full threshold: the output pixel at each moved corner shows the old corner."""
    h, w = 120, 210  # segments 3: cut 70, thresh 23
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = np.arange(w)[None]  # channel 0 encodes x, channel 1 encodes 2·y
    img[:, :, 1] = 2 * np.arange(h)[:, None]
    out = ra.tia_distort(img, 3, StubRng(lambda low, high: high if low == 0 else 0.0)).astype(int)
    assert out[23, 23, 0] <= 2 and out[23, 23, 1] <= 4  # dst corner (22.5, 22.5) <- src corner (-0.5, -0.5)
    assert out[30, 30, 0] >= 5 and out[30, 30, 1] >= 10  # ... and not further in (a larger thresh clamps here)
    assert out[97, 186, 0] >= w - 3 and out[97, 186, 1] >= 2 * (h - 3)  # (186.5, 96.5) <- (209.5, 119.5)
    assert abs(out[60, 105, 0] - 105) < 6 and abs(out[60, 105, 1] - 120) < 12  # the middle barely moves


def test_mls_map_interpolates_control_points() -> None:
    src = np.array([[0, 0], [99, 0], [99, 47], [0, 47], [50, 0], [50, 47]], np.float64)
    dst = src + np.random.default_rng(0).uniform(-4, 4, src.shape)
    mx, my = ra.mls_affine_map(src, dst, 48, 100)
    gx, gy = np.meshgrid(np.arange(100), np.arange(48))
    mx0, my0 = ra.mls_affine_map(src, src, 48, 100)
    assert np.abs(mx0 - gx).max() < 1e-3 and np.abs(my0 - gy).max() < 1e-3
    for (sx, sy), (dx, dy) in zip(src, dst):  # f(dst_i) ≈ src_i (bilinear lookup between grid nodes)
        x, y = int(round(np.clip(dx, 0, 99))), int(round(np.clip(dy, 0, 47)))
        if (x, y) == (round(dx), round(dy)):
            assert math.hypot(mx[y, x] - sx, my[y, x] - sy) < 2.5


# ---------------------------------------------------------------------------------------------------------------
# RecAug


@pytest.mark.parametrize("mode", ["v3", "current"])
def test_rec_aug_deterministic_for_a_seed(mode: str) -> None:
    aug = ra.RecAug(prob=0.6, mode=mode)
    imgs = [blocks(48, w, seed=w) for w in (60, 200, 320)]
    copies = [im.copy() for im in imgs]
    a = [aug(im, np.random.default_rng(7)) for im in imgs]
    assert all(np.array_equal(x, y) for x, y in zip(imgs, copies))  # the input is never written
    b = [aug(im, np.random.default_rng(7)) for im in imgs]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c = [aug(imgs[1], np.random.default_rng(s)) for s in range(8)]
    assert any(not np.array_equal(c[0], x) for x in c[1:])


@pytest.mark.parametrize("mode", ["v3", "current"])
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (12, 40), (19, 100), (20, 20), (48, 200), (64, 500)])
def test_rec_aug_output_is_valid_image(mode: str, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    for prob in (1.0, 0.4):
        aug = ra.RecAug.from_config({"prob": prob, "use_tia": True, "mode": mode})
        for _ in range(10):
            out = aug(blocks(*shape) if min(shape) >= 8 else np.full((*shape, 3), 99, np.uint8), rng)
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
            assert out.shape[1] == shape[1] and max(1, shape[0] - 8) <= out.shape[0] <= shape[0]
            assert out.flags.c_contiguous


def test_rec_aug_prob_zero_is_identity_and_reverse_inverts(monkeypatch: pytest.MonkeyPatch) -> None:
    img, rng = blocks(), np.random.default_rng(0)
    assert np.array_equal(ra.RecAug(prob=0.0)(img, rng), img)
    assert np.array_equal(ra.RecAug(prob=0.0, mode="current")(img, rng), img)
    monkeypatch.setattr(ra, "gaussian_noise", lambda im, r: im)
    small = blocks(8, 8)  # below every size condition; hsv (≤0.26 levels) rounds away, jitter shifts 0 px
    assert np.array_equal(ra.RecAug(prob=1.0, use_tia=False)(small, rng), 255 - small)


@pytest.mark.parametrize("mode", ["v3", "current"])
def test_rec_aug_step_frequencies(mode: str) -> None:
    """On a white 48x100 crop: ~40% of outputs are inverted and ~40% lose rows (crop)."""
    aug, rng = ra.RecAug(mode=mode, use_tia=False), np.random.default_rng(5)
    outs = [aug(np.full((48, 100, 3), 255, np.uint8), rng) for _ in range(500)]
    inverted = np.mean([o.mean() < 128 for o in outs])
    cropped = np.mean([o.shape[0] < 48 for o in outs])
    assert 0.33 < inverted < 0.47 and 0.33 < cropped < 0.47


@pytest.mark.parametrize("mode", ["v3", "current"])
def test_rec_aug_tia_grouping(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """'current' runs distort, stretch and perspective together or not at all; 'v3' draws each on its own."""
    calls: list[str] = []
    for name in ("distort", "stretch", "perspective"):
        monkeypatch.setattr(ra, f"tia_{name}", lambda im, *a, _n=name: calls.append(_n) or im)
    aug, rng, counts = ra.RecAug(mode=mode), np.random.default_rng(2), []
    for _ in range(300):
        calls.clear()
        aug(blocks(), rng)
        counts.append(len(calls))
    seen = set(counts)
    if mode == "current":
        assert seen == {0, 3} and 0.3 < counts.count(3) / 300 < 0.5
    else:
        assert {0, 1, 2, 3} <= seen and abs(np.mean(counts) - 1.2) < 0.2
    calls.clear()
    for _ in range(50):
        ra.RecAug(prob=1.0, use_tia=False, mode=mode)(blocks(), rng)
    assert not calls


def test_gaussian_noise_magnitude() -> None:
    img, rng = np.full((48, 200, 3), 128, np.uint8), np.random.default_rng(0)
    d = np.stack([ra.gaussian_noise(img, rng).astype(int) - 128 for _ in range(100)])
    p = math.erfc(0.5 / (ra.NOISE_STD * math.sqrt(2)))  # ≈ 0.16% of values move by ±1
    assert set(np.unique(d)) <= {-1, 0, 1}
    assert 0.8 * p < (d != 0).mean() < 1.2 * p and abs(d.mean()) < 2e-4


def test_rec_aug_rejects_bad_config_and_input() -> None:
    with pytest.raises(ValueError):
        ra.RecAug(mode="v4")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ra.RecAug(prob=1.5)
    with pytest.raises(ValueError):
        ra.RecAug()(np.zeros((48, 100), np.uint8), np.random.default_rng(0))
