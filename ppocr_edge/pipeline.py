"""OCRPipeline: detection -> (direction classification) -> recognition on OpenVINO."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .bundle import Bundle, load_bundle
from .ctc import ctc_greedy_decode, split_words
from .db_postprocess import DBParams, detect_quads
from .documents import DEFAULT_DPI, iter_pages
from .engine import Stage, compile_config, read_model
from .errors import BundleError, OCRError
from .geometry import Crop, crop_quad, whole_image_crop
from .image_io import ImageInput, load_image
from .preprocess import plan_rec_batches, prepare_det, prepare_line_batch, rec_needed_width
from .results import OCRResult, Quad, TextLine, Word, quad_from_array


DET_RESIZE_KEYS = ("limit_side_len", "limit_type", "max_side", "size_step")


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ppocr_edge", "openvino")


@dataclass(frozen=True)
class _Stages:
    det: Stage | None
    rec: Stage
    cls: Stage | None


_RecJob = tuple[list[int], list[int], int, Future]  # crop indices, resized widths, bucket, output


class OCRPipeline:
    """Detect, orient and recognise text lines in images.

    Args:
        bundle: model bundle directory or embedded bundle name, e.g. "ch_pp_ocrv3" (default: the embedded
            PP-OCRv3 INT8 bundle; see ppocr_edge.bundle.resolve_bundle).
        use_cls: run the 0/180 degree direction classifier (when the bundle has one).
        device: OpenVINO device name.
        cache_dir: OpenVINO compiled-model cache (None: ~/.cache/ppocr_edge/openvino; "" disables caching).
        threads: CPU threads per inference (None: all cores).
        drop_score: lines recognised with a lower confidence are dropped (None: the bundle's value).
        det_options: overrides of the bundle's det resize (limit_side_len, limit_type, max_side, size_step) and
            DB post-processing (thresh, box_thresh, unclip_ratio, max_candidates, use_dilation, score_mode, min_size).
        rec_options: overrides of the bundle's rec settings (batch_size, width_buckets, min_width).
        precision: OpenVINO inference precision: "f32" (default; the original models' numerics), "bf16", "f16",
            or "auto" (the CPU plugin's default, bf16 on CPUs that support it).
    """

    def __init__(self, bundle: str | Path | Bundle | None = None, *, use_cls: bool = True, device: str = "CPU",
                 cache_dir: str | None = None, threads: int | None = None, drop_score: float | None = None,
                 det_options: dict | None = None, rec_options: dict | None = None, precision: str = "f32",
                 verify: bool = True):
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle, verify=verify)
        b = self.bundle
        self.use_cls = use_cls and b.cls is not None
        self.device = device
        self._cache_dir = default_cache_dir() if cache_dir is None else cache_dir
        self._threads = threads
        self._precision = precision
        self._models = {e.role: read_model(e.xml) for e in (b.det, b.rec, b.cls) if e is not None}
        self._check_models()
        det_options = dict(det_options or {})
        unknown = set(det_options) - set(DET_RESIZE_KEYS) - set(DBParams.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown det_options {sorted(unknown)}")
        self.det_pre = {**(b.det.preprocess if b.det else {}),
                        **{k: v for k, v in det_options.items() if k in DET_RESIZE_KEYS}}
        self.det_params = DBParams.from_dict({**(b.det.postprocess if b.det else {}), **det_options})
        self.rec_pre = {**b.rec.preprocess, **(rec_options or {})}
        self.rec_post = dict(b.rec.postprocess)
        self.drop_score = float(self.rec_post.get("drop_score", 0.5) if drop_score is None else drop_score)
        self.cls_pre = dict(b.cls.preprocess) if b.cls else {}
        self.cls_post = dict(b.cls.postprocess) if b.cls else {}
        self._buckets = sorted(int(x) for x in self.rec_pre["width_buckets"])
        self._latency = self._compile("LATENCY")
        self._throughput: _Stages | None = None
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    # ---------------------------------------------------------------- setup
    def _check_models(self) -> None:
        b = self.bundle
        for role, model in self._models.items():
            if len(model.inputs) != 1 or model.inputs[0].get_partial_shape().rank.get_length() != 4:
                raise BundleError(f"{role} model: expected one 4-D NCHW input, got {model.inputs}")
            ch = model.inputs[0].get_partial_shape()[1]
            if ch.is_static and ch.get_length() != 3:
                raise BundleError(f"{role} model: expected 3 input channels, got {ch}")
        classes = self._models["rec"].outputs[0].get_partial_shape()[-1]
        if classes.is_static and classes.get_length() != len(b.characters) + 1:
            raise BundleError(f"rec model outputs {classes.get_length()} classes but the dictionary gives "
                              f"{len(b.characters)} characters + blank = {len(b.characters) + 1}")
        if b.cls is not None:
            labels = b.cls.postprocess.get("labels", [])
            n = self._models["cls"].outputs[0].get_partial_shape()[-1]
            if n.is_static and n.get_length() != len(labels):
                raise BundleError(f"cls model outputs {n.get_length()} classes but the manifest lists {labels}")

    def _compile(self, hint: str) -> _Stages:
        cfg = compile_config(hint, self._cache_dir, self._threads, self._precision)
        stages = {role: Stage(m, self.device, cfg, f"{role} ({self.bundle.root})") for role, m in self._models.items()}
        return _Stages(stages.get("det"), stages["rec"], stages.get("cls"))

    def _throughput_stages(self) -> _Stages:
        with self._lock:
            if self._throughput is None:
                self._throughput = self._compile("THROUGHPUT")
            return self._throughput

    # ---------------------------------------------------------------- steps
    def _detect(self, img: np.ndarray, stages: _Stages) -> list[np.ndarray]:
        assert stages.det is not None
        inp = prepare_det(img, self.det_pre)
        return detect_quads(stages.det.infer(inp.tensor), inp, self.det_params)

    def _submit_cls(self, crops: Iterable[Crop], stages: _Stages) -> tuple[list[Crop], list[Future]]:
        """Start the direction classifier on crops as they are produced (each batch is submitted as soon as it
        is full, so cutting the next crops overlaps its inference). Returns the crops and the batches' futures."""
        assert stages.cls is not None
        width = int(self.cls_pre["width"])
        batch_size = int(self.cls_pre.get("batch_size", 6))
        done: list[Crop] = []
        futures: list[Future] = []

        def submit_pending() -> None:
            pending = done[len(futures) * batch_size:]
            if pending:
                futures.append(stages.cls.submit(prepare_line_batch([c.image for c in pending], self.cls_pre,
                                                                    width)[0]))

        for crop in crops:
            done.append(crop)
            if len(done) % batch_size == 0:
                submit_pending()
        submit_pending()
        return done, futures

    def _upside_down(self, futures: list[Future]) -> list[int]:
        """Indices of the crops that the classifier finds upside down (label '180' above its threshold)."""
        if not futures:
            return []
        labels = list(self.cls_post["labels"])
        flip_label, thresh = labels.index("180"), float(self.cls_post.get("thresh", 0.9))
        probs = np.concatenate([f.result() for f in futures])
        return [i for i, p in enumerate(probs) if p.argmax() == flip_label and p[flip_label] > thresh]

    def _submit_rec(self, crops: Sequence[Crop], stages: _Stages) -> list[_RecJob]:
        """Start recognition of crops in batches planned by padded compute (see plan_rec_batches)."""
        pre = self.rec_pre
        height, batch_size = int(pre["height"]), int(pre.get("batch_size", 6))
        max_width, min_width = self._buckets[-1], int(pre.get("min_width", self._buckets[0]))
        needs = [rec_needed_width(c.image.shape[0], c.image.shape[1], height, min_width, max_width) for c in crops]
        jobs = []
        for idx, width in plan_rec_batches(needs, self._buckets, batch_size):
            batch, widths = prepare_line_batch([crops[j].image for j in idx], pre, width)
            jobs.append((idx, widths, width, stages.rec.submit(batch)))
        return jobs

    def _read_rec(self, crops: Sequence[Crop], jobs: list[_RecJob]) -> list[TextLine | None]:
        """Decode the recognition batches: text, confidence and word boxes per crop (None: dropped)."""
        lines: list[TextLine | None] = [None] * len(crops)
        for idx, widths, width, future in jobs:
            probs = future.result()
            px_per_step = width / probs.shape[1]
            for j, rw, dec in zip(idx, widths, ctc_greedy_decode(probs, self.bundle.characters)):
                if dec.score < self.drop_score or not dec.text.strip():
                    continue
                crop = crops[j]
                scale = px_per_step * crop.image.shape[1] / rw  # time step -> displayed crop pixels
                words = tuple(Word(s.text, self._quad(crop, s.start * scale, s.end * scale))
                              for s in split_words(dec, rw / px_per_step))
                box = self._quad(crop, 0.0, float(crop.image.shape[1]))
                lines[j] = TextLine(dec.text.strip(), dec.score, box, words, 180 if crop.flipped else 0)
        return lines

    @staticmethod
    def _quad(crop: Crop, x0: float, x1: float) -> Quad:
        """Source-image quad of a span of crop columns, clipped to the image."""
        pts = crop.to_image(x0, x1)
        np.clip(pts[:, 0], 0, crop.source_size[1], out=pts[:, 0])
        np.clip(pts[:, 1], 0, crop.source_size[0], out=pts[:, 1])
        return quad_from_array(pts)

    def _run(self, img: np.ndarray, stages: _Stages, use_det: bool) -> OCRResult:
        t0 = time.perf_counter()
        source: Iterable[Crop]
        if use_det:
            if stages.det is None:
                raise OCRError(f"bundle {self.bundle.root} has no detection model; use use_det=False")
            source = (crop_quad(img, q) for q in self._detect(img, stages))
        else:
            source = [whole_image_crop(img)]
        # orientation: the classifier (and, without detection, a tall image) proposes a 180-degree turn; both
        # orientations are recognised and the more confident reading wins, so a wrong flip cannot spoil a line.
        # The crops as cut go to the recognizer before the classifier's answers are read: they do not depend on it.
        crops, cls_futures = self._submit_cls(source, stages) if self.use_cls else (list(source), [])
        jobs = self._submit_rec(crops, stages)
        turn = set(self._upside_down(cls_futures))
        if not use_det and crops[0].rotated90:
            turn.add(0)  # a tall word or line may read top-down or bottom-up
        turned = sorted(turn)
        flipped = [crops[i].with_flip() for i in turned]
        flipped_jobs = self._submit_rec(flipped, stages)
        best: dict[int, TextLine] = {}
        for i, line in [*enumerate(self._read_rec(crops, jobs)), *zip(turned, self._read_rec(flipped, flipped_jobs))]:
            if line is not None and (i not in best or line.score > best[i].score):
                best[i] = line
        lines = [best[i] for i in sorted(best)]
        if len(lines) > 1 and 2 * sum(line.angle == 180 for line in lines) > len(lines):
            lines.reverse()  # an upside-down page: its reading order runs from the image's bottom-right
        return OCRResult(tuple(lines), (img.shape[0], img.shape[1]), (time.perf_counter() - t0) * 1000.0)

    # ---------------------------------------------------------------- public API
    def __call__(self, image: ImageInput, *, use_det: bool = True) -> OCRResult:
        """OCR one image (path, bytes, or uint8/uint16 array HxW / HxWx2 gray+alpha / HxWx3 BGR / HxWx4 BGRA)."""
        return self._run(load_image(image), self._latency, use_det)

    def pages(self, document: ImageInput, dpi: float = DEFAULT_DPI, *, password: str | None = None,
              use_det: bool = True) -> Iterator[OCRResult]:
        """OCR a document page by page: one OCRResult per page, in page order, its `page` numbered from 1.

        document: a PDF (pages rendered at dpi; needs `pip install 'ppocr_edge[pdf]'`), a multi-page TIFF, or any
        other image (one page). Each page is rendered or decoded, recognised and dropped before the next one, so
        memory stays flat over any number of pages. password opens an encrypted PDF. A bad document raises
        ImageError (MissingDependencyError without pypdfium2) when the iteration reaches it.
        """
        for number, img in enumerate(iter_pages(document, dpi, password), start=1):
            result = self._run(img, self._latency, use_det)
            del img  # the page is dropped before the next one is rendered
            yield replace(result, page=number)

    def submit(self, image: ImageInput, *, use_det: bool = True) -> "Future[OCRResult]":
        """Start OCR of one image in the background; returns a concurrent.futures.Future."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ppocr_edge")
            executor = self._executor
        return executor.submit(self.__call__, image, use_det=use_det)

    def map(self, images: Iterable[ImageInput], *, use_det: bool = True, workers: int | None = None,
            return_exceptions: bool = False) -> Iterator[OCRResult | OCRError]:
        """OCR many images, pipelined: image i+1 is decoded and detected while image i is recognised.

        Results come in input order. With return_exceptions, a bad image yields its OCRError instead of raising.
        """
        stages = self._throughput_stages()
        workers = workers or stages.rec.jobs + 1  # one more than the parallel requests keeps every stream fed

        def work(image: ImageInput) -> OCRResult:
            return self._run(load_image(image), stages, use_det)

        pending: deque[Future] = deque()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ppocr_edge_map") as pool:
            for image in images:
                pending.append(pool.submit(work, image))
                if len(pending) >= 2 * workers:
                    yield self._collect(pending.popleft(), return_exceptions)
            while pending:
                yield self._collect(pending.popleft(), return_exceptions)

    @staticmethod
    def _collect(future: Future, return_exceptions: bool) -> OCRResult | OCRError:
        try:
            return future.result()
        except OCRError as e:
            if return_exceptions:
                return e
            raise

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def __enter__(self) -> "OCRPipeline":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ocr_document(document: ImageInput, dpi: float = DEFAULT_DPI, *, password: str | None = None,
                 use_det: bool = True, pipeline: OCRPipeline | None = None, **options: Any) -> list[OCRResult]:
    """OCR every page of a PDF, TIFF or image (see OCRPipeline.pages); results in page order, pages from 1.

    Without `pipeline` a pipeline is built from `options` (OCRPipeline's keyword arguments) and closed afterwards;
    pass one to reuse its compiled models across documents.
    """
    if pipeline is not None:
        if options:
            raise ValueError(f"pipeline options {sorted(options)} cannot apply to the pipeline given")
        return list(pipeline.pages(document, dpi, password=password, use_det=use_det))
    with OCRPipeline(**options) as ocr:
        return list(ocr.pages(document, dpi, password=password, use_det=use_det))
