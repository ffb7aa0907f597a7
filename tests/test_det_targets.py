"""DB targets (shrink and threshold maps) and the DB / CML losses on hand-made polygons."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from train.det_losses import balanced_bce_loss, db_loss, dice_loss, dila_db_loss, dilated_teacher_map, dml_loss
from train.det_targets import db_targets, offset_distance


def rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def test_shrink_map_is_the_polygon_moved_in_by_the_formula_distance():
    poly = rect(50, 40, 250, 80)  # 200 x 40
    d = 200 * 40 * (1 - 0.4 ** 2) / (2 * (200 + 40))  # A (1 - r^2) / L = 14.0
    assert offset_distance(poly, 0.4) == pytest.approx(d)
    t = db_targets((128, 320), [poly], [False])
    ys, xs = np.nonzero(t.shrink_map)
    assert (xs.min(), xs.max()) == (round(50 + d), round(250 - d))
    assert (ys.min(), ys.max()) == (round(40 + d), round(80 - d))
    area = (200 - 2 * d) * (40 - 2 * d)  # 2064: the (1 - r^2)-driven shrink of the 8000 px box
    assert abs(t.shrink_map.sum() - area) / area < 0.15
    assert t.shrink_mask.min() == 1.0  # nothing ignored
    assert t.ignore == (False,)


def test_threshold_map_band_values_at_edge_and_at_distance_d():
    poly = rect(50, 40, 250, 80)
    d = offset_distance(poly, 0.4)  # 14.0
    t = db_targets((128, 320), [poly], [False])
    tm = t.threshold_map
    assert tm.min() == pytest.approx(0.3) and tm.max() == pytest.approx(0.7, abs=1e-6)
    x = 150
    assert tm[40, x] == pytest.approx(0.7)  # on the top edge
    assert tm[80, x] == pytest.approx(0.7)  # on the bottom edge
    assert tm[40 - 7, x] == pytest.approx(0.3 + 0.4 * (1 - 7 / d), abs=1e-5)  # half-way out
    assert tm[40 + 7, x] == pytest.approx(0.3 + 0.4 * (1 - 7 / d), abs=1e-5)  # half-way in
    assert tm[40 - 15, x] == pytest.approx(0.3)  # beyond D
    assert tm[60, 150] == pytest.approx(0.3 + 0.4 * (1 - min(20, d) / d), abs=1e-5)  # centre: 20 px from the edges
    # the mask is the polygon dilated by D
    assert t.threshold_mask[40 - 13, x] == 1 and t.threshold_mask[40 - 16, x] == 0
    assert t.threshold_mask[60, 50 - 13] == 1 and t.threshold_mask[60, 50 - 16] == 0
    assert t.threshold_mask[0, 0] == 0


def test_ignored_and_tiny_polygons_are_masked_out():
    keep, ignored, tiny = rect(10, 10, 150, 50), rect(10, 70, 150, 110), rect(200, 20, 280, 25)  # tiny: 5 px high
    t = db_targets((128, 320), [keep, ignored, tiny], [False, True, False])
    assert t.ignore == (False, True, True)
    assert t.shrink_mask[90, 80] == 0 and t.shrink_map[90, 80] == 0  # inside the '###' region
    assert t.shrink_mask[22, 240] == 0 and t.shrink_map[22, 240] == 0  # inside the tiny one
    assert t.shrink_mask[30, 80] == 1 and t.shrink_map[30, 80] == 1
    assert t.threshold_mask[90, 80] == 0  # the border map skips the label's ignored regions
    assert t.shrink_mask[5, 300] == 1


def test_polygons_outside_the_image_are_clipped_and_orientation_does_not_matter():
    poly = rect(-20, 30, 100, 70)
    a = db_targets((100, 200), [poly], [False])
    b = db_targets((100, 200), [poly[::-1].copy()], [False])
    assert np.array_equal(a.shrink_map, b.shrink_map) and np.allclose(a.threshold_map, b.threshold_map)
    d = 100 * 40 * (1 - 0.4 ** 2) / (2 * (100 + 40))  # of the polygon clipped to x >= 0
    assert np.nonzero(a.shrink_map)[1].min() == round(d)


def test_curved_polygon_targets_follow_its_shape():
    xs = np.linspace(20, 300, 12)
    top = np.stack([xs, 60 + 25 * np.sin(xs / 45)], 1)
    bottom = np.stack([xs[::-1], 60 + 25 * np.sin(xs[::-1] / 45) + 30], 1)
    poly = np.concatenate([top, bottom]).astype(np.float32)
    t = db_targets((160, 320), [poly], [False])
    inside = np.zeros((160, 320), np.uint8)
    cv2.fillPoly(inside, [np.round(poly).astype(np.int32)], 1)
    assert t.shrink_map.sum() > 0.2 * inside.sum()
    assert (t.shrink_map * (1 - inside)).sum() == 0  # the shrunk region lies within the polygon


# ------------------------------------------------------------------------------------------------ losses


def _batch(t) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(getattr(t, k))[None] for k in ("shrink_map", "shrink_mask", "threshold_map",
                                                               "threshold_mask")}


def test_db_loss_is_zero_for_the_targets_and_large_for_the_inverse():
    t = db_targets((64, 128), [rect(10, 10, 110, 50)], [False])
    b = _batch(t)
    gt, thresh = b["shrink_map"], b["threshold_map"]
    perfect = torch.stack([gt, thresh, gt], 1)
    terms = db_loss(perfect, b)
    assert sum(terms.values()).item() == pytest.approx(0.0, abs=1e-5)
    wrong = torch.stack([1 - gt, 1 - thresh, 1 - gt], 1)
    terms = db_loss(wrong, b)
    assert terms["shrink"].item() == pytest.approx(5.0, abs=1e-3) and terms["binary"].item() == pytest.approx(1.0, abs=1e-3)
    assert terms["threshold"].item() > 1.0  # 10 x mean |T - T*| inside the dilated polygon


def test_balanced_bce_mines_three_negatives_per_positive():
    gt = torch.zeros(1, 10, 10)
    gt[0, 0, :2] = 1  # 2 positives
    mask = torch.ones_like(gt)
    pred = torch.full_like(gt, 0.01)
    pred[0, 0, :2] = 0.99
    pred[0, 5, :6] = 0.9  # 6 hard negatives: only the hardest 3 x 2 count
    loss = balanced_bce_loss(pred, gt, mask)
    expected = (2 * -np.log(0.99) + 6 * -np.log(0.1)) / 8
    assert loss.item() == pytest.approx(expected, rel=1e-4)


def test_dilated_teacher_map_matches_opencv():
    rng = np.random.default_rng(0)
    p = rng.random((2, 20, 30)).astype(np.float32) ** 4
    ours = dilated_teacher_map(torch.from_numpy(p)).numpy()
    for i in range(2):
        ref = cv2.dilate((p[i] > 0.3).astype(np.uint8), np.ones((2, 2), np.uint8))
        assert np.array_equal(ours[i], ref.astype(np.float32))


def test_dila_and_dml_losses():
    t = db_targets((64, 128), [rect(10, 10, 110, 50)], [False])
    b = _batch(t)
    gt = b["shrink_map"]
    student = torch.stack([gt, b["threshold_map"], gt], 1)
    dilated = torch.from_numpy(cv2.dilate(gt[0].numpy(), np.ones((2, 2), np.uint8)))[None]
    expected = 6 * dice_loss(gt, dilated, b["shrink_mask"]).item()  # 5 x Dice(P) + Dice(B_hat), P = B_hat here
    assert dila_db_loss(student, gt, b["shrink_mask"]).item() == pytest.approx(expected, rel=1e-5)
    assert expected < 0.5  # a teacher that sees what the student sees: only the 1 px dilation differs
    assert dila_db_loss(student, 1 - gt, b["shrink_mask"]).item() > 4
    p1 = torch.rand(2, 16, 16)
    p2 = torch.rand(2, 16, 16)
    assert dml_loss(p1, p1).item() == pytest.approx(0.0, abs=1e-4)
    assert dml_loss(p1, p2).item() == pytest.approx(dml_loss(p2, p1).item(), rel=1e-6)
    assert dml_loss(p1, p2).item() > 0.05
    assert dice_loss(gt, gt, b["shrink_mask"]).item() == pytest.approx(0.0, abs=1e-6)
