"""__call__, submit and map agree; concurrent callers get what sequential calls get; map keeps order and errors."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ocr_render import render_page
from ppocr_edge import ImageError, OCRResult

pytestmark = [pytest.mark.concurrency, pytest.mark.needs_fonts]


@pytest.fixture(scope="module")
def images():
    pages = [
        render_page(["Invoice 2024-118 total $58.90", "Thank you, please call again!"], font="sans", size=30),
        render_page(["Coffee 3.50", "Bread 2.25", "Total 5.75"], font="serif", size=28,
                    bg=(250, 240, 200), fg=(20, 40, 120)),
        render_page(["Station market 08:45", "Open daily"], font="bold", size=34),
        render_page(["Room 12 / Floor 3"], font="mono", size=26, bg=(20, 40, 110), fg=(255, 255, 255)),
    ]
    return [p.image for p in pages]


@pytest.fixture(scope="module")
def sequential(ocr, images):
    results = [ocr(img) for img in images]
    assert all(r.lines for r in results)
    return results


def _assert_same(a: OCRResult, b: OCRResult, px: float) -> None:
    assert [line.text for line in a.lines] == [line.text for line in b.lines]
    assert a.image_size == b.image_size
    for la, lb in zip(a.lines, b.lines):
        np.testing.assert_allclose(la.box, lb.box, atol=px)
        assert la.angle == lb.angle
        assert la.score == pytest.approx(lb.score, abs=0.02)
        assert [w.text for w in la.words] == [w.text for w in lb.words]
        for wa, wb in zip(la.words, lb.words):
            np.testing.assert_allclose(wa.box, wb.box, atol=px + 1.0)


def test_repeated_calls_are_deterministic(ocr, images, sequential):
    for img, ref in zip(images, sequential):
        _assert_same(ocr(img), ref, px=0.0)


def test_submit_matches_call(ocr, images, sequential):
    futures = [ocr.submit(img) for img in images]
    for fut, ref in zip(futures, sequential):
        _assert_same(fut.result(timeout=120), ref, px=1.0)


def test_submit_error_is_in_the_future(ocr):
    fut = ocr.submit(b"definitely not an image")
    assert isinstance(fut.exception(timeout=60), ImageError)


def test_map_matches_call(ocr, images, sequential):
    results = list(ocr.map(images))
    assert len(results) == len(images)
    for res, ref in zip(results, sequential):
        _assert_same(res, ref, px=2.0)


def test_map_keeps_input_order_over_many_items(ocr, images, sequential):
    order = [0, 3, 1, 1, 2, 0, 3, 2, 2, 1, 0, 3]
    results = list(ocr.map(images[i] for i in order))  # a generator works as input
    assert [r.text for r in results] == [sequential[i].text for i in order]


def test_map_without_detection(ocr, images):
    crop = images[3]
    (res,) = list(ocr.map([crop], use_det=False))
    ref = ocr(crop, use_det=False)
    _assert_same(res, ref, px=0.0)
    np.testing.assert_allclose(res.lines[0].box, [[0, 0], [crop.shape[1], 0], [crop.shape[1], crop.shape[0]],
                                                  [0, crop.shape[0]]])


def test_map_return_exceptions(ocr, images, sequential, tmp_path):
    bad = [b"not an image", tmp_path / "missing.png", np.zeros((10, 10, 3), np.float32)]
    items = [images[0], bad[0], images[1], bad[1], bad[2], images[2]]
    results = list(ocr.map(items, return_exceptions=True))
    assert len(results) == len(items)
    for i in (1, 3, 4):
        assert isinstance(results[i], ImageError), results[i]
    for i, ref in ((0, sequential[0]), (2, sequential[1]), (5, sequential[2])):
        assert isinstance(results[i], OCRResult)
        _assert_same(results[i], ref, px=2.0)


def test_map_raises_without_return_exceptions(ocr, images):
    gen = ocr.map([images[0], b"not an image", images[1]])
    assert isinstance(next(gen), OCRResult)
    with pytest.raises(ImageError):
        next(gen)


def test_threads_calling_concurrently(ocr, images, sequential):
    """4 threads hammering the same pipeline (latency models) get exactly the sequential results."""
    jobs = [i % len(images) for i in range(16)]
    barrier = threading.Barrier(4)

    def work(k):
        if k < 4:
            barrier.wait(timeout=60)  # start the first four together
        return jobs[k], ocr(images[jobs[k]])

    with ThreadPoolExecutor(max_workers=4) as pool:
        out = list(pool.map(work, range(len(jobs))))
    for i, res in out:
        _assert_same(res, sequential[i], px=1.0)


def test_threads_mixing_call_submit_and_map(ocr, images, sequential):
    def by_call():
        return [ocr(img) for img in images]

    def by_submit():
        return [f.result(timeout=120) for f in [ocr.submit(img) for img in images]]

    def by_map():
        return list(ocr.map(images))

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(fn) for fn in (by_call, by_submit, by_map)]
        outs = [f.result(timeout=300) for f in futures]
    for out in outs:
        for res, ref in zip(out, sequential):
            _assert_same(res, ref, px=2.0)


def test_close_and_reuse(ocr, images, sequential):
    ocr.close()
    _assert_same(ocr.submit(images[0]).result(timeout=120), sequential[0], px=1.0)  # a new executor starts
    ocr.close()
    ocr.close()  # idempotent
    with ocr as same:
        assert same is ocr
    _assert_same(ocr(images[1]), sequential[1], px=0.0)
