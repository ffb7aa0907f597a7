"""Metrics and label readers on hand-built cases with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ppocr_edge.datasets import TextRegion, read_det_labels, read_rec_labels
from ppocr_edge.metrics import (DetCounter, RecCounter, edit_distance, hmean, intersection_area, match_regions,
                                normalize_text, normalized_edit_distance, polygon_area, polygon_iou)


def rect(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def gt(points, text="word", ignore=False) -> TextRegion:
    return TextRegion.from_points(points, text, ignore)


def pred(points, text="word") -> TextRegion:
    return TextRegion.from_points(points, text)


# ------------------------------------------------------------------------------------------ geometry


def test_iou_identical_disjoint_and_partial():
    a = rect(0, 0, 10, 10)
    assert polygon_iou(a, a) == pytest.approx(1.0)
    assert polygon_iou(a, rect(20, 0, 30, 10)) == 0.0
    assert polygon_iou(a, rect(10, 0, 20, 10)) == pytest.approx(0.0)  # touching edge
    # overlap 5x10 = 50, union 150
    assert polygon_iou(a, rect(5, 0, 15, 10)) == pytest.approx(1 / 3)
    # nested: 4 / 100
    assert polygon_iou(a, rect(2, 2, 4, 4)) == pytest.approx(0.04)
    assert intersection_area(rect(2, 2, 4, 4), a) == pytest.approx(4.0)


def test_iou_independent_of_point_order_and_rotation():
    a = np.array(rect(0, 0, 10, 10), dtype=float)
    b = np.array(rect(5, 5, 15, 15), dtype=float)
    ref = polygon_iou(a, b)
    assert ref == pytest.approx(25 / 175)
    assert polygon_iou(a[::-1], b) == pytest.approx(ref)  # counter-clockwise
    assert polygon_iou(np.roll(a, 2, axis=0), b[::-1]) == pytest.approx(ref)  # other start point
    # a square rotated 45 degrees around the centre of another with the same area: overlap is an octagon
    c = np.array([5, 5]) + 5 * np.sqrt(2) * np.array([[0, -1], [1, 0], [0, 1], [-1, 0]])
    octagon = 100 * (2 * np.sqrt(2) - 2)  # area of the regular octagon common to both
    assert polygon_iou(a, c) == pytest.approx(octagon / (200 - octagon), rel=1e-5)


def test_non_convex_polygons():
    ell = [[0, 0], [10, 0], [10, 5], [5, 5], [5, 10], [0, 10]]  # L shape, area 75
    assert polygon_area(ell) == pytest.approx(75.0)
    assert intersection_area(ell, rect(0, 0, 10, 10)) == pytest.approx(75.0)
    assert polygon_iou(ell, rect(0, 0, 10, 10)) == pytest.approx(0.75)
    # the notch of the L is empty
    assert intersection_area(ell, rect(6, 6, 10, 10)) == pytest.approx(0.0)
    arrow = [[0, 0], [10, 5], [0, 10], [3, 5]]  # non-convex quad: 50 - 15
    assert polygon_area(arrow) == pytest.approx(35.0)
    assert intersection_area(arrow, rect(5, 0, 10, 10)) == pytest.approx(12.5)
    assert intersection_area(arrow, arrow) == pytest.approx(35.0)


def test_degenerate_and_self_intersecting_input_is_safe():
    sq = rect(0, 0, 10, 10)
    assert polygon_iou([[0, 0], [1, 1], [2, 2], [3, 3]], sq) == 0.0  # collinear
    assert polygon_iou([[1, 1], [1, 1], [1, 1], [1, 1]], sq) == 0.0
    assert polygon_iou(np.zeros((0, 2)), sq) == 0.0
    assert polygon_area([[0, 0], [5, 5]]) == 0.0
    # a quad with mis-ordered corners (bow tie) is read as its convex hull
    bow = [[0, 0], [10, 10], [10, 0], [0, 10]]
    assert polygon_area(bow) == pytest.approx(100.0)
    assert polygon_iou(bow, sq) == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------ detection / e2e


def test_perfect_detection_and_e2e():
    gts = [gt(rect(0, 0, 50, 20), "Hello"), gt(rect(0, 40, 50, 60), "World")]
    preds = [pred(rect(0, 40, 50, 60), "world"), pred(rect(1, 1, 50, 20), "HELLO")]  # case differs
    c = DetCounter()
    m = c.add(gts, preds)
    assert [(g, p) for g, p, _ in m.pairs] == [(0, 1), (1, 0)]
    s = c.scores()
    assert (s.precision, s.recall, s.hmean) == (1.0, 1.0, 1.0)
    assert (s.e2e_precision, s.e2e_recall, s.e2e_hmean) == (1.0, 1.0, 1.0)
    # case-sensitive normalisation: both texts now wrong, detection unchanged
    s = DetCounter(normalize="exact")
    s.add(gts, preds)
    assert s.scores().hmean == 1.0 and s.scores().e2e_matched == 0


def test_iou_threshold_boundary():
    g = [gt(rect(0, 0, 100, 10))]
    # shift by 40 px: overlap 60, union 140 -> IoU 0.43 < 0.5: a miss and a false positive
    c = DetCounter()
    m = c.add(g, [pred(rect(40, 0, 140, 10))])
    assert m.pairs == () and m.missed_gt == (0,) and m.false_pred == (0,)
    s = c.scores()
    assert (s.precision, s.recall, s.hmean) == (0.0, 0.0, 0.0)
    # shift by 30 px: overlap 70, union 130 -> IoU 0.54: a hit
    m = match_regions(g, [pred(rect(30, 0, 130, 10))])
    assert len(m.pairs) == 1 and m.pairs[0][2] == pytest.approx(70 / 130)
    # IoU exactly 0.5 counts (>=): 100x10 GT inside a 200x10 prediction
    assert len(match_regions(g, [pred(rect(0, 0, 200, 10))]).pairs) == 1
    assert match_regions(g, [pred(rect(0, 0, 200, 10))], iou_threshold=0.51).pairs == ()


def test_one_to_one_matching_prefers_highest_iou():
    g = [gt(rect(0, 0, 100, 10), "a")]
    preds = [pred(rect(10, 0, 100, 10), "b"), pred(rect(0, 0, 100, 10), "a")]  # both IoU >= 0.5
    c = DetCounter()
    m = c.add(g, preds)
    assert [(gi, pj) for gi, pj, _ in m.pairs] == [(0, 1)]
    assert m.false_pred == (0,)  # the duplicate is a false positive
    s = c.scores()
    assert s.precision == 0.5 and s.recall == 1.0 and s.hmean == pytest.approx(2 / 3)
    assert s.e2e_precision == 0.5 and s.e2e_recall == 1.0


def test_ignore_regions():
    gts = [gt(rect(0, 0, 100, 20), "care"), gt(rect(0, 50, 100, 70), "###", ignore=True),
           gt(rect(0, 100, 100, 120), "*", ignore=True)]
    preds = [
        pred(rect(0, 0, 100, 20), "care"),  # hit
        pred(rect(10, 52, 60, 68), "junk"),  # fully inside the ### region: discarded
        pred(rect(50, 100, 150, 120), "x"),  # half inside the * region: 0.5 is not > 0.5, so kept: false positive
        pred(rect(0, 200, 50, 220), "y"),  # nowhere: false positive
    ]
    c = DetCounter()
    m = c.add(gts, preds)
    assert m.cared_gt == (0,)
    assert m.ignored_pred == (1,)
    assert m.false_pred == (2, 3)
    s = c.scores()
    assert (s.gt, s.gt_ignored, s.pred, s.pred_ignored, s.matched) == (1, 2, 3, 1, 1)
    assert s.precision == pytest.approx(1 / 3) and s.recall == 1.0
    # an exact prediction of an ignore region is neither a hit nor a false positive
    c = DetCounter()
    c.add([gt(rect(0, 0, 10, 10), "###", ignore=True)], [pred(rect(0, 0, 10, 10))])
    s = c.scores()
    assert (s.gt, s.pred, s.matched) == (0, 0, 0)


def test_counts_accumulate_over_images_and_e2e_requires_text():
    c = DetCounter()
    c.add([gt(rect(0, 0, 10, 10), "Foo  Bar")], [pred(rect(0, 0, 10, 10), " foo bar ")])  # whitespace collapsed
    c.add([gt(rect(0, 0, 10, 10), "abc"), gt(rect(20, 0, 30, 10), "def")], [pred(rect(0, 0, 10, 10), "abd")])
    c.add([], [pred(rect(0, 0, 10, 10), "zzz")])
    s = c.scores()
    assert (s.images, s.gt, s.pred, s.matched, s.e2e_matched) == (3, 3, 3, 2, 1)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 3)
    assert s.e2e_precision == pytest.approx(1 / 3) and s.e2e_recall == pytest.approx(1 / 3)
    assert s.e2e_hmean == pytest.approx(1 / 3)


def test_empty_conventions():
    c = DetCounter()
    c.add([gt(rect(0, 0, 10, 10))], [])
    s = c.scores()
    assert s.precision == 1.0 and s.recall == 0.0 and s.hmean == 0.0
    assert hmean(0.0, 0.0) == 0.0 and hmean(1.0, 0.5) == pytest.approx(2 / 3)


# ------------------------------------------------------------------------------------------ text / recognition


def test_normalize_text():
    assert normalize_text("  Hello \t  World\n") == "hello world"
    assert normalize_text(" Hello  World", "exact") == " Hello  World"
    assert normalize_text("Don't-Stop 42!", "alnum") == "dontstop42"
    with pytest.raises(ValueError):
        normalize_text("x", "bogus")  # type: ignore[arg-type]


@pytest.mark.parametrize("a,b,d", [
    ("", "", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3), ("flaw", "lawn", 2),
    ("abc", "abc", 0), ("abc", "acb", 2), ("intention", "execution", 5), ("a", "b", 1),
])
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d
    assert edit_distance(b, a) == d


def test_normalized_edit_distance():
    assert normalized_edit_distance("", "") == 0.0
    assert normalized_edit_distance("kitten", "sitting") == pytest.approx(3 / 7)
    assert normalized_edit_distance("abc", "xyz") == 1.0


def test_rec_counter():
    c = RecCounter()
    assert c.add("Hello", "Hello") is True  # exact
    assert c.add("hello!", "Hello") is True  # alnum-insensitive only
    assert c.add("Wor1d", "World") is False  # wrong
    assert c.add("", "###") is True  # label with no alnum characters, empty prediction
    s = c.scores()
    assert s.samples == 4
    assert s.accuracy == pytest.approx(1 / 4)
    assert s.accuracy_alnum == pytest.approx(3 / 4)
    # NED raw: 0, 2/6, 1/5, 3/3 -> 1 - mean
    assert s.one_minus_ned == pytest.approx(1 - (0 + 2 / 6 + 1 / 5 + 1) / 4)
    # NED alnum: 0, 0, 1/5, 0
    assert s.one_minus_ned_alnum == pytest.approx(1 - (1 / 5) / 4)
    assert RecCounter().scores().samples == 0


# ------------------------------------------------------------------------------------------ label files


def test_read_det_labels(tmp_path):
    regions = [{"transcription": "Genaxis Theatre", "points": [[377, 117], [463, 117], [465, 130], [378, 130]]},
               {"transcription": "###", "points": [[374, 155], [409, 155], [409, 170], [374, 170]]},
               {"transcription": "*", "points": [[1, 1], [5, 1], [5, 5], [1, 5]]}]
    sub = tmp_path / "set"
    sub.mkdir()
    label = sub / "labels.txt"
    label.write_text(f"images/a.jpg\t{json.dumps(regions)}\n\nimages/b.jpg\t[]\n", encoding="utf-8")
    samples = read_det_labels(label)
    assert [s.image_path for s in samples] == [sub / "images/a.jpg", sub / "images/b.jpg"]
    a = samples[0].regions
    assert [r.text for r in a] == ["Genaxis Theatre", "###", "*"]
    assert [r.ignore for r in a] == [False, True, True]
    assert a[0].points.shape == (4, 2) and a[0].points[2].tolist() == [465.0, 130.0]
    assert samples[1].regions == ()


def test_read_det_labels_rejects_bad_json(tmp_path):
    label = tmp_path / "labels.txt"
    label.write_text("a.jpg\t[{\"points\": [[0, 0]]}]\n", encoding="utf-8")  # no transcription
    with pytest.raises(ValueError, match="labels.txt:1"):
        read_det_labels(label)


def test_read_rec_labels(tmp_path):
    label = tmp_path / "rec.txt"
    label.write_text("images/word_1.png\tJOINT\nimages/word_2.png\t50% OFF\r\nimages/w 3.png\ta\tb\n",
                     encoding="utf-8")
    samples = read_rec_labels(label)
    assert [(s.image_path, s.label) for s in samples] == [
        (tmp_path / "images/word_1.png", "JOINT"), (tmp_path / "images/word_2.png", "50% OFF"),
        (tmp_path / "images/w 3.png", "a\tb")]
