"""Unit tests of the pure pre/post-processing and geometry code (no model inference except where noted)."""

from __future__ import annotations

import itertools
import math
import random
from concurrent.futures import Future

import cv2
import numpy as np
import pytest

from ppocr_edge.ctc import Decoded, ctc_greedy_decode, split_words
from ppocr_edge.db_postprocess import DBParams, db_boxes
from ppocr_edge.geometry import crop_quad, order_clockwise, sort_reading_order, whole_image_crop
from ppocr_edge.preprocess import (bucket_width, det_largest_side, det_padded_side, det_resize_shape,
                                   plan_rec_batches, prepare_det, prepare_line_batch, rec_resized_width)

pytestmark = pytest.mark.units


# ---------------------------------------------------------------------------------------------- DB post-process
def _prob_map(h=120, w=240, rects=(), value=0.9):
    prob = np.zeros((h, w), dtype=np.float32)
    for (x0, y0, x1, y1) in rects:
        prob[y0:y1, x0:x1] = value
    return prob


def _bounds(box):
    return box[:, 0].min(), box[:, 1].min(), box[:, 0].max(), box[:, 1].max()


def _expected_unclipped(x0, y0, x1, y1, ratio):
    """PP-OCR unclip of the contour of pixels [x0, x1) x [y0, y1): the point rectangle grown by A*r/L."""
    w, h = (x1 - 1 - x0), (y1 - 1 - y0)
    d = w * h * ratio / (2.0 * (w + h))
    return x0 - d, y0 - d, x1 - 1 + d, y1 - 1 + d


@pytest.mark.parametrize("rect", [(30, 40, 150, 60), (10, 10, 200, 50), (50, 70, 90, 110)])
@pytest.mark.parametrize("ratio", [1.5, 2.0])
def test_db_rectangle_gives_unclipped_box(rect, ratio):
    prob = _prob_map(rects=[rect])
    out = db_boxes(prob, DBParams(unclip_ratio=ratio), (1.0, 1.0), (240, 120))
    assert len(out) == 1
    box, score = out[0]
    assert box.shape == (4, 2) and box.dtype == np.float32
    assert score == pytest.approx(0.9, abs=1e-4)
    expected = np.clip(_expected_unclipped(*rect, ratio), 0, [240, 120, 240, 120])  # clipped to the source
    np.testing.assert_allclose(_bounds(box), expected, atol=1.5)
    # clockwise from top-left: TL, TR, BR, BL of an axis-aligned box
    xs, ys = box[:, 0], box[:, 1]
    assert xs[0] < xs[1] and xs[3] < xs[2] and ys[0] < ys[3] and ys[1] < ys[2]


def test_db_scale_and_clip():
    rect = (30, 40, 150, 60)
    (base, _), = db_boxes(_prob_map(rects=[rect]), DBParams(), (1.0, 1.0), (240, 120))
    (scaled, _), = db_boxes(_prob_map(rects=[rect]), DBParams(), (2.0, 3.0), (1000, 1000))
    np.testing.assert_allclose(scaled, np.round(base * np.array([2.0, 3.0])), atol=2.5)
    assert np.all(scaled == np.round(scaled)), "source-pixel boxes are rounded"
    # a region touching the map border: the unclipped box is clipped to the source size
    (edge, _), = db_boxes(_prob_map(rects=[(0, 0, 100, 20)]), DBParams(), (2.0, 2.0), (150, 300))
    assert edge[:, 0].min() == 0 and edge[:, 1].min() == 0
    assert edge[:, 0].max() <= 150
    assert edge[:, 0].max() == 150, "the grown box (x up to ~2*108) must be clipped to the source width"


def test_db_box_thresh_filters_on_mean_probability():
    prob = _prob_map(rects=[(20, 20, 120, 40)], value=0.5)
    prob[60:80, 20:120] = 0.95
    kept = db_boxes(prob, DBParams(box_thresh=0.6), (1.0, 1.0), (240, 120))
    assert len(kept) == 1 and _bounds(kept[0][0])[1] > 40, "only the 0.95 region passes box_thresh 0.6"
    both = db_boxes(prob, DBParams(box_thresh=0.4), (1.0, 1.0), (240, 120))
    assert sorted(round(s, 3) for _, s in both) == [0.5, 0.95]
    # pixels exactly at thresh are not text (strict >)
    assert db_boxes(_prob_map(rects=[(20, 20, 120, 40)], value=0.3), DBParams(box_thresh=0.0), (1, 1), (240, 120)) == []


def test_db_min_size():
    thin = _prob_map(rects=[(20, 20, 200, 22)])  # 2 pixel rows: short side 1 < min_size 3
    assert db_boxes(thin, DBParams(), (1.0, 1.0), (240, 120)) == []
    ok = _prob_map(rects=[(20, 20, 200, 26)])  # 6 rows: short side 5
    assert len(db_boxes(ok, DBParams(), (1.0, 1.0), (240, 120))) == 1
    assert db_boxes(ok, DBParams(min_size=6), (1.0, 1.0), (240, 120)) == []
    # short side 3 passes the first check; barely grown (unclip_ratio 0.2) it fails the second (< min_size + 2)
    low = _prob_map(rects=[(20, 20, 220, 24)])
    assert len(db_boxes(low, DBParams(unclip_ratio=1.5), (1.0, 1.0), (240, 120))) == 1
    assert db_boxes(low, DBParams(unclip_ratio=0.2), (1.0, 1.0), (240, 120)) == []


def test_db_dilation_joins_one_pixel_gaps():
    prob = _prob_map(rects=[(20, 30, 100, 50), (101 + 0, 30, 180, 50)])
    prob[:, 100] = 0.0  # a one-pixel gap between two regions
    assert len(db_boxes(prob, DBParams(use_dilation=False), (1.0, 1.0), (240, 120))) == 2
    merged = db_boxes(prob, DBParams(use_dilation=True), (1.0, 1.0), (240, 120))
    assert len(merged) == 1
    x0, _, x1, _ = _bounds(merged[0][0])
    assert x0 < 20 and x1 > 180


def test_db_slow_score_follows_the_contour():
    prob = np.zeros((120, 240), dtype=np.float32)
    tri = np.array([[20, 20], [200, 20], [20, 100]], dtype=np.int32)
    cv2.fillPoly(prob, [tri], 1.0)
    fast = db_boxes(prob, DBParams(score_mode="fast", box_thresh=0.0), (1.0, 1.0), (240, 120))
    slow = db_boxes(prob, DBParams(score_mode="slow", box_thresh=0.0), (1.0, 1.0), (240, 120))
    assert len(fast) == len(slow) == 1
    assert 0.4 < fast[0][1] < 0.7, "the min-area box of a triangle is about half empty"
    assert slow[0][1] > 0.95
    assert db_boxes(prob, DBParams(score_mode="fast", box_thresh=0.8), (1.0, 1.0), (240, 120)) == []
    assert len(db_boxes(prob, DBParams(score_mode="slow", box_thresh=0.8), (1.0, 1.0), (240, 120))) == 1


def test_db_max_candidates_and_params_from_dict():
    prob = _prob_map(h=200, rects=[(20, 20, 200, 40), (20, 80, 200, 100), (20, 140, 200, 160)])
    assert len(db_boxes(prob, DBParams(), (1, 1), (240, 200))) == 3
    assert len(db_boxes(prob, DBParams(max_candidates=2), (1, 1), (240, 200))) == 2
    p = DBParams.from_dict({"thresh": 0.2, "box_thresh": 0.5, "unclip_ratio": 2.0, "unrelated": 1})
    assert (p.thresh, p.box_thresh, p.unclip_ratio, p.score_mode) == (0.2, 0.5, 2.0, "fast")
    with pytest.raises(ValueError):
        DBParams.from_dict({"score_mode": "exact"})


def test_db_rotated_region():
    prob = np.zeros((200, 300), dtype=np.float32)
    rect = ((150.0, 100.0), (180.0, 24.0), 20.0)
    cv2.fillPoly(prob, [cv2.boxPoints(rect).round().astype(np.int32)], 0.9)
    (box, score), = db_boxes(prob, DBParams(), (1.0, 1.0), (300, 200))
    angle = math.degrees(math.atan2(box[1][1] - box[0][1], box[1][0] - box[0][0]))
    assert angle == pytest.approx(20.0, abs=2.0)
    assert np.linalg.norm(box[0] - box[1]) > 180 and np.linalg.norm(box[0] - box[3]) > 24
    assert np.allclose(box.mean(axis=0), (150, 100), atol=2.0)


# ---------------------------------------------------------------------------------------------- CTC decoding
CHARS = ("a", "b", "c", " ")


def _one_hot(seq, conf=None, n_classes=len(CHARS) + 1):
    """seq: class ids per time step (0 = blank); conf: max probability per step (rest spread evenly)."""
    conf = conf or [0.9] * len(seq)
    probs = np.zeros((len(seq), n_classes), dtype=np.float32)
    for t, (c, p) in enumerate(zip(seq, conf)):
        probs[t, :] = (1.0 - p) / (n_classes - 1)
        probs[t, c] = p
    return probs


def test_ctc_collapses_repeats_and_drops_blanks():
    seq = [1, 1, 0, 1, 2, 2, 0, 0, 3, 0]  # a a _ a b b _ _ c _ -> "aabc"
    conf = [0.9, 0.2, 0.99, 0.7, 0.6, 0.3, 0.99, 0.99, 0.8, 0.99]
    (dec,) = ctc_greedy_decode(_one_hot(seq, conf)[None], CHARS)
    assert dec.text == "aabc"
    assert dec.steps == (0, 3, 4, 8), "each character is placed at the first step of its run"
    assert dec.score == pytest.approx(np.mean([0.9, 0.7, 0.6, 0.8]), abs=1e-6), "mean over emitted steps only"


def test_ctc_all_blank_and_batches():
    batch = np.stack([_one_hot([0, 0, 0, 0]), _one_hot([4, 0, 1, 4])])
    empty, spaced = ctc_greedy_decode(batch, CHARS)
    assert (empty.text, empty.score, empty.steps) == ("", 0.0, ())
    assert spaced.text == " a " and spaced.steps == (0, 2, 3)


def test_ctc_repeated_letter_needs_a_blank():
    (dec,) = ctc_greedy_decode(_one_hot([1, 1, 1, 1])[None], CHARS)
    assert dec.text == "a"
    (dec,) = ctc_greedy_decode(_one_hot([1, 0, 1, 0, 1])[None], CHARS)
    assert dec.text == "aaa" and dec.steps == (0, 2, 4)


# ---------------------------------------------------------------------------------------------- word spans
def _decoded(text, steps):
    return Decoded(text, 0.9, tuple(steps))


def test_split_words_at_spaces():
    spans = split_words(_decoded("ab cd", [2, 4, 6, 8, 10]), 14)
    assert [s.text for s in spans] == ["ab", "cd"]
    first, second = spans
    assert first.start == 0.0 and second.end == 14.0, "outer words reach the line ends"
    assert first.end <= second.start
    assert first.end >= 5 and second.start <= 8, "each span covers its own characters"
    assert first.end <= 8 and second.start >= 5, "and not its neighbour's"


def test_split_words_at_large_gaps_without_spaces():
    spans = split_words(_decoded("abcdef", [0, 2, 4, 20, 22, 24]), 26)
    assert [s.text for s in spans] == ["abc", "def"]
    assert spans[0].end <= spans[1].start
    assert spans[0].end < 12 < spans[1].start, "the gap between the words is in neither span"
    # gap splitting needs a pitch estimate from >= 2 in-word gaps: one gap alone never splits
    assert [s.text for s in split_words(_decoded("ab", [0, 30]), 32)] == ["ab"]
    # with a larger gap_factor the same gap is not a split
    assert [s.text for s in split_words(_decoded("abcdef", [0, 2, 4, 20, 22, 24]), 26, gap_factor=10)] == ["abcdef"]


def test_split_words_edge_cases():
    assert split_words(_decoded("", []), 10) == []
    assert split_words(_decoded("   ", [1, 2, 3]), 10) == []
    spans = split_words(_decoded(" ab  c ", [0, 2, 3, 5, 6, 8, 9]), 12)
    assert [s.text for s in spans] == ["ab", "c"]
    (one,) = split_words(_decoded("abc", [3, 5, 7]), 20)
    assert (one.start, one.end) == (0.0, 20.0)


def test_split_words_invariants_on_random_lines():
    rng = random.Random(7)
    for _ in range(300):
        n_steps = rng.randint(20, 160)
        n = rng.randint(1, min(25, n_steps))
        steps = sorted(rng.sample(range(n_steps), n))
        text = "".join(rng.choice("ab ") for _ in range(n))
        spans = split_words(_decoded(text, steps), n_steps)
        assert "".join(s.text for s in spans) == text.replace(" ", "")
        assert all(" " not in s.text and s.text for s in spans)
        prev_end = 0.0
        chars = [(c, s) for c, s in zip(text, steps) if c != " "]
        k = 0
        for span in spans:
            assert 0.0 <= span.start <= span.end <= n_steps
            assert span.start >= prev_end - 1e-9, "spans are ordered and do not overlap"
            prev_end = span.end
            own = chars[k : k + len(span.text)]
            k += len(span.text)
            assert span.start <= own[0][1] and span.end >= own[-1][1] + 1, (text, steps, spans)


# ---------------------------------------------------------------------------------------------- point order
def _rect_corners(cx, cy, w, h, angle_deg):
    a = math.radians(angle_deg)
    u, v = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
    c = np.array([cx, cy])
    return np.array([c - u * w / 2 - v * h / 2, c + u * w / 2 - v * h / 2, c + u * w / 2 + v * h / 2,
                     c - u * w / 2 + v * h / 2], dtype=np.float32)  # TL, TR, BR, BL for small angles


@pytest.mark.parametrize("angle", [0.0, 5.0, -12.0, 30.0, -30.0])
def test_order_clockwise_from_any_permutation(angle):
    corners = _rect_corners(200, 100, 160, 40, angle)
    for perm in itertools.permutations(range(4)):
        out = order_clockwise(corners[list(perm)])
        np.testing.assert_allclose(out, corners, atol=1e-4)
    out = order_clockwise(corners[::-1].reshape(-1))
    area = 0.5 * sum(out[i][0] * out[(i + 1) % 4][1] - out[(i + 1) % 4][0] * out[i][1] for i in range(4))
    assert area > 0, "clockwise on screen (y down) is a positive shoelace area"


def test_sort_reading_order_rows_with_jitter():
    rng = random.Random(3)
    expected = []
    quads = []
    for row, y in enumerate([40, 100, 160]):
        for col, x in enumerate([300, 20, 160]):
            jitter = rng.uniform(-4, 4)  # well within half a box height (20 px boxes)
            quads.append(_rect_corners(x + 50, y + jitter + 10, 100, 20, 0))
            expected.append((row, x))
    order = sort_reading_order(quads)
    assert sorted(order) == list(range(9))
    got = [expected[i] for i in order]
    assert got == sorted(expected), "top to bottom, then left to right within a row"
    assert sort_reading_order([]) == []
    assert sort_reading_order([quads[0]]) == [0]


def test_sort_reading_order_separate_rows_and_same_line_factor():
    # boxes 20 px high whose centres are 15 px apart: different lines (> 0.5 x height), the lower one comes second
    upper, lower = _rect_corners(300, 20, 50, 20, 0), _rect_corners(50, 35, 50, 20, 0)
    assert sort_reading_order([lower, upper]) == [1, 0]
    # a looser same_line tolerance puts them on one line: left to right
    assert sort_reading_order([lower, upper], same_line=1.0) == [0, 1]


@pytest.mark.parametrize("angle", [-4.0, 3.0])
def test_sort_reading_order_keeps_skewed_lines_together(angle):
    """On a page skewed by a few degrees a line's right end sits lower/higher than the next line's left end."""
    slope = math.tan(math.radians(angle))
    quads, expected = [], []
    for row in range(4):
        for col, x in enumerate([100, 500, 900, 1300]):
            y = 100 + 40 * row + slope * x
            quads.append(_rect_corners(x, y, 300, 20, angle))
            expected.append((row, col))
    # the skew is larger than the line pitch: a top-left (y, x) sort would interleave lines
    assert abs(slope) * 1200 > 40
    perm = list(range(len(quads)))
    random.Random(5).shuffle(perm)
    order = sort_reading_order([quads[i] for i in perm])
    assert [expected[perm[i]] for i in order] == sorted(expected)


# ---------------------------------------------------------------------------------------------- crops
def _coordinate_image(h=400, w=600):
    """float32 image whose pixels hold their own (x, y): warped crops tell where each pixel came from."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.dstack([xs, ys, np.zeros_like(xs)])


def _fit_affine(coords):
    """Least-squares affine map (u, v) -> source (x, y) from a crop of the coordinate image."""
    hh, ww = coords.shape[:2]
    vs, us = np.mgrid[0:hh, 0:ww]
    a = np.column_stack([us.ravel(), vs.ravel(), np.ones(us.size)])
    sol, *_ = np.linalg.lstsq(a, coords[:, :, :2].reshape(-1, 2).astype(np.float64), rcond=None)
    resid = np.abs(a @ sol - coords[:, :, :2].reshape(-1, 2)).max()
    return sol, resid


def _same_points(a, b, atol):
    """Two 4-point sets equal up to order."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    for perm in itertools.permutations(range(4)):
        if np.allclose(a[list(perm)], b, atol=atol):
            return True
    return False


@pytest.mark.parametrize("angle", [0.0, 15.0, -25.0])
def test_crop_quad_rectifies_rotated_rectangle(angle):
    img = _coordinate_image()
    quad = _rect_corners(300, 200, 200, 50, angle)
    crop = crop_quad(img, quad)
    assert not crop.rotated90 and not crop.flipped
    assert crop.image.shape[:2] == (crop.height, crop.width)
    assert abs(crop.width - 200) <= 1 and abs(crop.height - 50) <= 1
    # the crop's top-left pixel comes from the quad's top-left corner, x runs along the top edge
    np.testing.assert_allclose(crop.image[0, 0, :2], quad[0], atol=0.1)
    sol, resid = _fit_affine(crop.image)
    assert resid < 0.1, "a rotated rectangle is rectified by an affine map (up to cubic interpolation error)"
    a = math.radians(angle)
    # unit steps along the quad's edges (crop sizes are truncated to whole pixels: up to 1/size stretch)
    np.testing.assert_allclose(sol[0], [math.cos(a), math.sin(a)], atol=0.01)  # d(x,y)/du
    np.testing.assert_allclose(sol[1], [-math.sin(a), math.cos(a)], atol=1.0 / 49 + 0.005)  # d(x,y)/dv


def test_crop_quad_perspective():
    img = _coordinate_image()
    quad = np.array([[100, 100], [400, 80], [420, 200], [90, 170]], dtype=np.float32)
    crop = crop_quad(img, quad)
    h, w = crop.image.shape[:2]
    np.testing.assert_allclose(crop.image[0, 0, :2], quad[0], atol=0.1)
    # crop corners map onto the quad's corners through the stored inverse homography
    mapped = crop.to_image(0, w)
    assert _same_points(mapped, quad, atol=0.5)


def test_tall_crop_is_rotated_counter_clockwise():
    img = _coordinate_image()
    quad = np.array([[200, 50], [240, 50], [240, 250], [200, 250]], dtype=np.float32)  # 40 wide, 200 tall
    crop = crop_quad(img, quad)
    assert crop.rotated90
    assert crop.image.shape[:2] == (40, 200), "displayed crop is as wide as the quad is tall"
    # counter-clockwise: the quad's top edge becomes the left edge (text written top to bottom reads left to right)
    np.testing.assert_allclose(crop.image[:, 0, 1], 50, atol=0.1)
    np.testing.assert_allclose(crop.image[:, -1, 1], 249, atol=0.1)
    assert crop.image[0, 0, 0] > crop.image[-1, 0, 0], "the quad's right side is at the top"
    # a quad less than 1.5x taller than wide is not rotated
    square = crop_quad(img, np.array([[200, 50], [300, 50], [300, 140], [200, 140]], dtype=np.float32))
    assert not square.rotated90


def _check_span_mapping(crop, atol):
    """to_image(x0, x1) must return where displayed columns x0..x1 (full height) came from in the source."""
    sol, resid = _fit_affine(crop.image)
    assert resid < 0.1
    dh, dw = crop.image.shape[:2]
    for x0, x1 in [(0, dw), (0, dw / 4), (dw / 3, dw / 2), (dw * 0.8, dw)]:
        # pixel-area convention: displayed columns [x0, x1) span from the left edge of pixel x0
        corners_uv = np.array([[x0, 0], [x1, 0], [x1, dh], [x0, dh]], dtype=np.float64) - 0.5
        expected = np.column_stack([corners_uv, np.ones(4)]) @ sol + 0.5
        got = crop.to_image(x0, x1)
        assert _same_points(got, expected, atol=atol), (crop.rotated90, crop.flipped, x0, x1, got, expected)
        # and the result is clockwise from the top-left in image coordinates
        np.testing.assert_allclose(got, order_clockwise(got))


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("tall", [False, True])
def test_crop_to_image_maps_spans_back(tall, flip):
    img = _coordinate_image()
    quad = _rect_corners(300, 200, 40, 220, 10.0) if tall else _rect_corners(300, 200, 220, 40, 10.0)
    crop = crop_quad(img, quad)
    assert crop.rotated90 == tall
    if flip:
        crop = crop.with_flip()
        assert crop.flipped and crop.rotated90 == tall
    _check_span_mapping(crop, atol=0.2)  # consistent to a fraction of a pixel in every orientation


def test_to_image_round_trips_the_quad():
    img = np.zeros((100, 700, 3), np.uint8)
    quad = np.array([[336, 0], [510, 4], [510, 46], [336, 46]], dtype=np.float32)
    crop = crop_quad(img, quad)
    np.testing.assert_allclose(crop.to_image(0, crop.image.shape[1]), quad, atol=1e-4)


def test_with_flip_turns_the_image():
    img = (np.arange(30 * 90 * 3) % 251).astype(np.uint8).reshape(30, 90, 3)
    crop = whole_image_crop(img)
    flipped = crop.with_flip()
    np.testing.assert_array_equal(flipped.image, img[::-1, ::-1])
    np.testing.assert_allclose(flipped.to_image(0, 30), [[60, 0], [90, 0], [90, 30], [60, 30]], atol=1e-6)
    np.testing.assert_allclose(crop.to_image(0, 30), [[0, 0], [30, 0], [30, 30], [0, 30]], atol=1e-6)


# ---------------------------------------------------------------------------------------------- det resize
@pytest.mark.parametrize("h,w,limit,kind,expected", [
    (500, 800, 960, "max", (512, 800)),
    (1920, 1080, 960, "max", (960, 544)),
    (500, 800, 736, "min", (736, 1184)),
    (1000, 800, 736, "min", (992, 800)),  # short side >= limit: not scaled
    (500, 800, 960, "resize_long", (608, 960)),
    (3000, 1000, 960, "resize_long", (960, 320)),
    (1, 1, 960, "max", (32, 32)),
    (10, 3000, 960, "max", (32, 960)),
])
def test_det_resize_shape(h, w, limit, kind, expected):
    assert det_resize_shape(h, w, limit, kind, 4000) == expected


def test_det_resize_shape_properties():
    rng = random.Random(11)
    for _ in range(500):
        h, w = rng.randint(1, 5000), rng.randint(1, 5000)
        kind = rng.choice(["max", "min", "resize_long"])
        limit = rng.choice([640, 736, 960, 1280])
        max_side = rng.choice([2048, 4000])
        rh, rw = det_resize_shape(h, w, limit, kind, max_side)
        assert rh % 32 == 0 and rw % 32 == 0 and rh >= 32 and rw >= 32
        assert max(rh, rw) <= max_side, (h, w, limit, kind)
        if kind == "max":
            assert max(rh, rw) <= limit + 16
        if kind == "resize_long":
            assert abs(max(rh, rw) - min(limit, max_side)) <= 16
        if min(h, w) >= 64 and min(rh, rw) >= 64:  # aspect ratio kept up to the rounding to 32
            assert abs(rh / rw - h / w) <= (h / w) * (16 / min(rh, rw)) * 2.5


def test_det_resize_caps_extreme_aspect_ratios():
    # 'min' would scale a 100 x 20000 strip to 960 x 192000: max_side caps the long side
    rh, rw = det_resize_shape(100, 20000, 960, "min", 4000)
    assert rw == 4000 and rh == 32
    with pytest.raises(ValueError):
        det_resize_shape(100, 100, 960, "longest", 4000)


def test_prepare_det_pads_and_normalises():
    img = np.full((100, 150, 3), (10, 128, 250), dtype=np.uint8)
    pre = {"limit_side_len": 960, "limit_type": "max", "size_step": 128, "mean": [0.485, 0.456, 0.406],
           "std": [0.229, 0.224, 0.225]}
    inp = prepare_det(img, pre)
    assert inp.resized_hw == (96, 160) and inp.source_hw == (100, 150)
    assert inp.tensor.shape == (1, 3, 128, 256) and inp.tensor.dtype == np.float32
    for c, v in enumerate((10, 128, 250)):  # channels stay in the image's (BGR) order
        expected = (v / 255.0 - pre["mean"][c]) / pre["std"][c]
        np.testing.assert_allclose(inp.tensor[0, c, :96, :160], expected, atol=1e-5)
    assert not inp.tensor[0, :, 96:, :].any() and not inp.tensor[0, :, :, 160:].any()


def test_prepare_det_pads_no_further_than_the_largest_resized_side():
    """A 960 px side (the most common: every page above limit_side_len) is not padded to 1024."""
    pre = {"limit_side_len": 960, "limit_type": "max", "size_step": 128, "mean": [0.5] * 3, "std": [0.5] * 3}
    assert prepare_det(np.zeros((720, 1280, 3), np.uint8), pre).tensor.shape[2:] == (640, 960)
    assert prepare_det(np.zeros((1458, 744, 3), np.uint8), pre).tensor.shape[2:] == (960, 512)
    assert det_largest_side(960, "max", 4000) == 960 and det_largest_side(1000, "max", 4000) == 992
    assert det_largest_side(736, "min", 4000) == 4000 and det_largest_side(736, "min", 3000) == 2976 and det_largest_side(960, "max", 640) == 640
    assert [det_padded_side(s, 128, 960) for s in (32, 128, 130, 900, 960)] == [128, 128, 256, 960, 960]
    # every padded side is a multiple of the step or the largest side: the shape buckets stay few
    sides = {det_padded_side(s, 128, 960) for s in range(32, 961, 32)}
    assert sides == {128, 256, 384, 512, 640, 768, 896, 960}


# ---------------------------------------------------------------------------------------------- rec widths
def test_bucket_width_and_resized_width():
    buckets = [320, 480, 640, 960]
    assert [bucket_width(x, buckets) for x in (1, 320, 321, 480, 900, 960, 5000)] == [320, 320, 480, 480, 960, 960,
                                                                                     960]
    assert rec_resized_width(32, 100, 48, 2560) == math.ceil(48 * 100 / 32)
    assert rec_resized_width(48, 10000, 48, 2560) == 2560
    assert rec_resized_width(1000, 1, 48, 2560) == 1
    assert rec_resized_width(0, 5, 48, 2560) == 240


def _padded_cost(batches, call_cost):
    return sum(width * len(idx) + call_cost for idx, width in batches)


def test_plan_rec_batches_covers_every_line_once_within_limits():
    buckets = [160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 960, 1280]
    rng = random.Random(3)
    for n in (0, 1, 5, 6, 7, 45):
        widths = [rng.choice([rng.randint(160, 260), rng.randint(160, 1500)]) for _ in range(n)]
        batches = plan_rec_batches(widths, buckets, 6)
        assert sorted(i for idx, _ in batches for i in idx) == list(range(n))
        for idx, width in batches:
            assert 1 <= len(idx) <= 6 and width in buckets
            assert width == bucket_width(max(widths[i] for i in idx), buckets)
        # never more padded compute than cutting the width-sorted lines into full batches of 6
        order = sorted(range(n), key=widths.__getitem__)
        chunks = [(order[i:i + 6], bucket_width(max(widths[j] for j in order[i:i + 6]), buckets))
                  for i in range(0, n, 6)]
        assert _padded_cost(batches, 64) <= _padded_cost(chunks, 64)


def test_plan_rec_batches_keeps_a_long_line_out_of_a_batch_of_short_ones():
    buckets = [160, 320, 640]
    batches = plan_rec_batches([150, 600, 150, 150, 150, 150], buckets, 6, call_cost=64)
    assert sorted((sorted(idx), w) for idx, w in batches) == [([0, 2, 3, 4, 5], 160), ([1], 640)]
    # a high call cost makes one batch cheaper: 6 x 640 + 9999 < 5 x 160 + 640 + 2 x 9999
    assert len(plan_rec_batches([150, 600, 150, 150, 150, 150], buckets, 6, call_cost=9999)) == 1


def test_prepare_line_batch():
    crops = [np.full((24, 60, 3), 255, np.uint8), np.zeros((48, 400, 3), np.uint8), np.full((10, 800, 3), 128, np.uint8)]
    pre = {"height": 48, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    batch, widths = prepare_line_batch(crops, pre, 480)
    assert batch.shape == (3, 3, 48, 480)
    assert widths == [120, 400, 480]
    np.testing.assert_allclose(batch[0, :, :, :120], 1.0, atol=1e-6)
    np.testing.assert_allclose(batch[1, :, :, :400], -1.0, atol=1e-6)
    np.testing.assert_allclose(batch[2], 128 / 127.5 - 1.0, atol=1e-6)
    assert not batch[0, :, :, 120:].any() and not batch[1, :, :, 400:].any(), "right padding is 0"


class _FakeRec:
    """Stands in for the rec Stage: records batch shapes, answers chosen per-step classes."""

    def __init__(self, n_classes, emit):
        self.shapes = []
        self.n_classes = n_classes
        self.emit = emit  # (batch_width) -> list of (step, class) per image in the batch

    def submit(self, batch):
        self.shapes.append(batch.shape)
        steps = batch.shape[3] // 8
        probs = np.full((batch.shape[0], steps, self.n_classes), 1e-4, dtype=np.float32)
        probs[:, :, 0] = 0.99
        for n in range(batch.shape[0]):
            for t, c in self.emit(batch.shape[3]):
                probs[n, t, 0] = 1e-4
                probs[n, t, c] = 0.99
        fut = Future()
        fut.set_result(probs)
        return fut


class _FakeStages:
    def __init__(self, rec):
        self.rec, self.det, self.cls = rec, None, None


def _recognize(ocr, crops, stages):
    """The pipeline's recognition step alone: submit the planned batches, then decode them."""
    return ocr._read_rec(crops, ocr._submit_rec(crops, stages))


class _WidthReader(_FakeRec):
    """A fake recognizer that 'reads' each crop's valid (unpadded) width: line i must come back as its own width."""

    def __init__(self, chars):
        super().__init__(len(chars) + 1, None)
        self.digit = {d: chars.index(d) + 1 for d in "0123456789"}

    def submit(self, batch):
        self.shapes.append(batch.shape)
        probs = np.full((batch.shape[0], batch.shape[3] // 8, self.n_classes), 1e-4, dtype=np.float32)
        probs[:, :, 0] = 0.99
        for n in range(batch.shape[0]):
            valid = int(np.flatnonzero(batch[n].any(axis=(0, 1))).max()) + 1  # white crops; padding is 0
            for t, d in enumerate(str(valid)):
                probs[n, 2 * t, 0], probs[n, 2 * t, self.digit[d]] = 1e-4, 0.99
        fut = Future()
        fut.set_result(probs)
        return fut


def test_recognize_buckets_and_batches(ocr):
    """Crops are grouped into batches of at most batch_size padded to width buckets; results map back in order."""
    rec = _WidthReader(ocr.bundle.characters)
    ratios = [2, 50, 10, 3, 1, 100, 7, 20, 2.5, 3.5, 4]  # crop width / height
    crops = [whole_image_crop(np.full((30, int(30 * r), 3), 255, np.uint8)) for r in ratios]
    lines = _recognize(ocr, crops, _FakeStages(rec))
    buckets = sorted(int(b) for b in ocr.rec_pre["width_buckets"])
    height = int(ocr.rec_pre["height"])
    widths = [min(buckets[-1], math.ceil(height * int(30 * r) / 30)) for r in ratios]
    assert [line.text for line in lines] == [str(w) for w in widths]
    assert sum(s[0] for s in rec.shapes) == len(crops)
    assert all(s[0] <= int(ocr.rec_pre["batch_size"]) and s[1:3] == (3, height) and s[3] in buckets
               for s in rec.shapes)
    # fewer padded pixels than cutting the width-sorted crops into full batches
    min_width = int(ocr.rec_pre.get("min_width", buckets[0]))
    needs = sorted(max(w, min_width) for w in widths)
    chunked = sum(bucket_width(max(needs[i:i + 6]), buckets) * len(needs[i:i + 6]) for i in range(0, len(needs), 6))
    assert sum(s[0] * s[3] for s in rec.shapes) < chunked


def test_recognize_maps_word_steps_to_image(ocr):
    """Word boxes come from CTC steps: step t of a bucket-padded batch is column t * (width/T) * (crop_w/rw)."""
    chars = ocr.bundle.characters
    cls = {c: chars.index(c) + 1 for c in "ab "}
    # "ab ab": characters at steps 2, 4, (space) 6, 8, 10
    emit = [(2, cls["a"]), (4, cls["b"]), (6, cls[" "]), (8, cls["a"]), (10, cls["b"])]
    rec = _FakeRec(len(chars) + 1, lambda width: emit)
    img = np.full((24, 100, 3), 255, np.uint8)  # resized to 48 x 200, padded to the first bucket
    crop = whole_image_crop(img)
    (line,) = _recognize(ocr, [crop], _FakeStages(rec))
    assert line.text == "ab ab" and line.angle == 0
    np.testing.assert_allclose(line.box, [[0, 0], [100, 0], [100, 24], [0, 24]])
    width = rec.shapes[0][3]
    rw = rec_resized_width(24, 100, int(ocr.rec_pre["height"]), width)
    step_px = 8 * 100 / rw  # source pixels per time step (T = width / 8 in the fake)
    spans = split_words(Decoded("ab ab", 0.99, (2, 4, 6, 8, 10)), rw / 8)
    assert [w.text for w in line.words] == ["ab", "ab"]
    for word, span in zip(line.words, spans):
        np.testing.assert_allclose([word.box[0][0], word.box[1][0]], [span.start * step_px, span.end * step_px],
                                   atol=1e-3)
        assert word.box[0][1] == 0 and word.box[2][1] == 24
    assert line.words[0].box[1][0] <= line.words[1].box[0][0]
    assert line.words[1].box[1][0] == pytest.approx(100.0), "the last word reaches the crop's valid end"


def test_boxes_of_an_edge_quad_stay_inside_the_image(ocr):
    chars = ocr.bundle.characters
    cls = {c: chars.index(c) + 1 for c in "ab "}
    emit = [(2, cls["a"]), (4, cls["b"]), (6, cls[" "]), (8, cls["a"]), (10, cls["b"])]
    img = np.full((100, 700, 3), 255, np.uint8)
    quad = np.array([[336, 0], [510, 4], [510, 46], [336, 46]], dtype=np.float32)  # as _detect clips it
    (line,) = _recognize(ocr, [crop_quad(img, quad)], _FakeStages(_FakeRec(len(chars) + 1, lambda width: emit)))
    assert line.text == "ab ab"
    points = np.array([line.box] + [w.box for w in line.words]).reshape(-1, 2)
    assert points.min() >= 0.0 and points[:, 0].max() <= 700 and points[:, 1].max() <= 100
