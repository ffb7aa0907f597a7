"""The synthetic detection pages (train/page_synth.py): determinism, polygon rules, exactness, the label file.

Written to pass with only the DejaVu fonts installed.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.needs_fonts
pytest.importorskip("PIL")
pytest.importorskip("fontTools")

from ppocr_edge.datasets import read_det_labels  # noqa: E402
from ppocr_edge.metrics import intersection_area, polygon_area  # noqa: E402
from train import page_synth  # noqa: E402
from train.fonts import find_fonts  # noqa: E402
from train.line_synth import ASCII_CHARSET  # noqa: E402
from train.page_synth import KINDS, MIN_LABEL_HEIGHT, PageSynth, PageSynthConfig, poly_height  # noqa: E402
from train.text_source import TextSource  # noqa: E402

WORDS = ("the of and to in is for on with receipt total amount paid order number customer service delivery "
         "address station market window garden river mountain coffee bread butter cheese orange table invoice "
         "account balance credit member points phone email website help information entrance exit parking").split()


@pytest.fixture(scope="module")
def fonts():
    found = find_fonts()
    if not found:
        pytest.skip("no fonts installed")
    return found


@pytest.fixture(scope="module")
def text() -> TextSource:
    return TextSource(ASCII_CHARSET, 40, words=WORDS)


def make(fonts, text: TextSource, config: PageSynthConfig | None = None, **fields) -> PageSynth:
    return PageSynth(config or PageSynthConfig(**fields), fonts=fonts, text_source=text)


def same(a, b) -> bool:
    return (a.image.shape == b.image.shape and a.image.tobytes() == b.image.tobytes() and a.texts == b.texts
            and a.ignore == b.ignore and all(np.array_equal(p, q) for p, q in zip(a.polys, b.polys))
            and len(a.polys) == len(b.polys))


def _render_in_worker(synth: PageSynth, index: int, seed: int):
    return synth.render(index, seed)


def test_render_is_deterministic(fonts, text: TextSource) -> None:
    synth = make(fonts, text)
    first = synth.render(3, 7)
    synth.render(4, 7)  # call order must not matter
    assert same(first, synth.render(3, 7))
    assert same(first, make(fonts, text).render(3, 7))
    assert same(first, pickle.loads(pickle.dumps(synth)).render(3, 7))
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert same(first, pool.submit(_render_in_worker, synth, 3, 7).result())
    assert not same(first, synth.render(4, 7)) and not same(first, synth.render(3, 8))


def test_config_dict_round_trip_and_unknown_keys() -> None:
    cfg = PageSynthConfig(kinds={"scene": 2.0, "ui": 1.0}, page_size=(320, 800), p_curve=0.5)
    assert PageSynthConfig.from_dict(cfg.to_dict()) == cfg
    assert PageSynthConfig.from_dict({"page_size": [400, 900]}).page_size == (400, 900)
    with pytest.raises(ValueError, match="p_wobble"):
        PageSynthConfig.from_dict({"p_wobble": 0.1})
    with pytest.raises(ValueError, match="poster"):
        PageSynthConfig(kinds={"poster": 1.0})


def check_polygons(item, min_labels: int = 1) -> None:
    """Every DetItem rule: shapes, inside the image, clockwise, non-degenerate, disjoint, tiny text ignored."""
    h, w = item.image.shape[:2]
    assert item.image.dtype == np.uint8 and item.image.ndim == 3 and item.image.shape[2] == 3
    assert sum(not ig for ig in item.ignore) >= min_labels
    boxes = []
    for poly, txt, ig in zip(item.polys, item.texts, item.ignore):
        assert poly.dtype == np.float32 and poly.ndim == 2 and poly.shape[1] == 2
        assert len(poly) >= 4 and len(poly) % 2 == 0
        assert poly[:, 0].min() >= 0 and poly[:, 1].min() >= 0 and poly[:, 0].max() <= w and poly[:, 1].max() <= h
        x, y = poly[:, 0].astype(np.float64), poly[:, 1].astype(np.float64)
        signed = 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
        assert signed > 0, "not clockwise in image coordinates"
        assert polygon_area(poly) > 8 and abs(polygon_area(poly) - signed) < 1e-3 * signed + 1e-3  # simple
        assert (txt == "###") == ig
        if ig:
            continue
        assert txt.strip() == txt and txt
        assert poly_height(poly) >= MIN_LABEL_HEIGHT
        boxes.append((poly, poly.min(axis=0), poly.max(axis=0)))
    for i, (p, lo, hi) in enumerate(boxes):
        for q, lo2, hi2 in boxes[i + 1:]:
            if np.all(lo < hi2) and np.all(lo2 < hi):
                assert intersection_area(p, q) < 1e-3, "polygons overlap"


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_valid_labels(fonts, text: TextSource, kind: str) -> None:
    synth = make(fonts, text, kinds={kind: 1.0})
    for i in range(3):
        item = synth.render(i, 11)
        assert synth.kind_of(i, 11) == kind
        assert max(item.image.shape[:2]) <= 1.2 * 1600 and min(item.image.shape[:2]) >= 100
        check_polygons(item)


def test_curved_scene_text_gets_many_points(fonts, text: TextSource) -> None:
    synth = make(fonts, text, kinds={"scene": 1.0}, p_curve=1.0, p_tiny=0.0)
    counts = [len(p) for i in range(3) for p in synth.render(i, 5).polys]
    assert counts and all(n > 4 and n % 2 == 0 for n in counts), counts
    check_polygons(synth.render(0, 5))


def ink_and_union(synth: PageSynth, index: int, seed: int, monkeypatch: pytest.MonkeyPatch,
                  shift: tuple[float, float] = (0.0, 0.0)) -> tuple[float, list[float]]:
    """(share of the text's ink pixels inside the polygons dilated by 2 px, ink share of each labelled polygon).

    Ink: pixels that change when the text is drawn (the same page rendered with text blending switched off)."""
    item = synth.render(index, seed)
    with monkeypatch.context() as m:
        m.setattr(page_synth, "_blend", lambda region, alpha, color: None)
        blank = synth.render(index, seed)
    assert blank.image.shape == item.image.shape and len(blank.polys) == len(item.polys)
    ink = np.abs(item.image.astype(np.int16) - blank.image).max(axis=2) > 60
    union = np.zeros(ink.shape, np.uint8)
    shares = []
    for poly, ig in zip(item.polys, item.ignore):
        mask = np.zeros(ink.shape, np.uint8)
        cv2.fillPoly(mask, [np.round((poly + np.float32(shift)) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        union |= mask
        if not ig:
            shares.append(float(ink[mask > 0].mean()))
    union = cv2.dilate(union, np.ones((5, 5), np.uint8)) > 0
    assert ink.sum() > 500
    return float(ink[union].sum() / ink.sum()), shares


EXACT_CASES = [(k, {}) for k in KINDS] + [
    ("scene", {"p_curve": 1.0}),
    ("scene", {"p_rotate": 1.0, "p_perspective": 1.0}),
    ("document", {"p_page_rotate": 1.0, "p_page_perspective": 1.0}),
]


@pytest.mark.parametrize(("kind", "extra"), EXACT_CASES, ids=[f"{k}-{'-'.join(e) or 'plain'}" for k, e in EXACT_CASES])
def test_polygons_hold_the_ink_exactly(fonts, text: TextSource, monkeypatch: pytest.MonkeyPatch, kind: str,
                                       extra: dict) -> None:
    synth = make(fonts, text, PageSynthConfig.clean(kinds={kind: 1.0}, **extra))
    for i in range(2):
        inside, shares = ink_and_union(synth, i, 21, monkeypatch)
        assert inside > 0.999, f"page {i}: {1 - inside:.2%} of the ink is outside the polygons"
        assert shares and min(shares) >= 0.05, f"page {i}: a polygon with {min(shares):.1%} ink"
        # the check has teeth: polygons 10 px off leave ink out
        for shift in ((10.0, 0.0), (0.0, 10.0)):
            assert ink_and_union(synth, i, 21, monkeypatch, shift)[0] < 0.995


def test_straight_polygons_are_tight(fonts, text: TextSource, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without page geometry, each line's ink reaches to within a few px of its box's left, right and bottom."""
    cfg = PageSynthConfig.clean(kinds={"document": 1.0, "table": 1.0, "receipt": 1.0}, p_page_rotate=0.0,
                                p_page_perspective=0.0, p_tiny=0.0)
    synth = make(fonts, text, cfg)
    for i in range(3):
        item = synth.render(i, 4)
        with monkeypatch.context() as m:
            m.setattr(page_synth, "_blend", lambda region, alpha, color: None)
            blank = synth.render(i, 4)
        ink = np.abs(item.image.astype(np.int16) - blank.image).max(axis=2) > 60
        for poly in item.polys:
            (x0, y0), (x1, y1) = np.round(poly.min(axis=0)).astype(int), np.round(poly.max(axis=0)).astype(int)
            cols, rows = np.flatnonzero(ink[y0:y1, x0:x1].any(axis=0)), np.flatnonzero(ink[y0:y1, x0:x1].any(axis=1))
            assert cols[0] <= 5 and (x1 - x0) - cols[-1] <= 6, (poly.tolist(), cols[[0, -1]])
            assert (y1 - y0) - rows[-1] <= 6, (poly.tolist(), rows[-1])


@pytest.mark.parametrize("kind", ["table", "form", "receipt", "ui"])
def test_decorations_stay_off_the_text(fonts, text: TextSource, kind: str) -> None:
    """Ruling lines, boxes and checkboxes (the pixels that change when decorations are switched off) avoid the
    polygons, and switching them off changes nothing else."""
    cfg = PageSynthConfig.clean(kinds={kind: 1.0})
    with_, without = make(fonts, text, cfg), make(fonts, text, PageSynthConfig.clean(kinds={kind: 1.0},
                                                                                    decorations=False))
    for i in range(2):
        a, b = with_.render(i, 3), without.render(i, 3)
        assert a.texts == b.texts and all(np.array_equal(p, q) for p, q in zip(a.polys, b.polys))
        deco = np.abs(a.image.astype(np.int16) - b.image).max(axis=2) > 0
        labels = np.zeros(deco.shape, np.uint8)
        cv2.fillPoly(labels, [np.round(p * 16).astype(np.int32) for p in a.polys], 1, cv2.LINE_8, 4)
        assert not (deco & (labels > 0)).any()
        if kind in ("table", "form"):
            assert deco.any()


def test_tiny_text_is_ignored(fonts, text: TextSource) -> None:
    synth = make(fonts, text, kinds={"document": 1.0}, p_tiny=1.0)
    items = [synth.render(i, 9) for i in range(3)]
    tiny = [p for it in items for p, ig in zip(it.polys, it.ignore) if ig]
    assert tiny and all(poly_height(p) < 14 for p in tiny)
    for it in items:
        check_polygons(it)


def test_label_file_round_trip(fonts, text: TextSource, tmp_path: Path) -> None:
    synth = make(fonts, text, p_tiny=1.0)
    label_file = page_synth.write_dataset(tmp_path, 4, 2, synth)
    samples = read_det_labels(label_file)
    assert len(samples) == 4
    for i, sample in enumerate(samples):
        item = synth.render(i, 2)
        image = cv2.imread(str(sample.image_path))
        assert image is not None and image.shape == item.image.shape
        assert [r.ignore for r in sample.regions] == item.ignore
        assert [r.text for r in sample.regions] == item.texts
        for region, poly in zip(sample.regions, item.polys):
            np.testing.assert_array_equal(region.points, np.round(poly))
