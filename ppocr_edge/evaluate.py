"""Accuracy of an OCR engine on PaddleOCR label files: the one copy of the evaluation logic.

``ppocr-edge eval``, benchmarks/eval_accuracy.py (and benchmarks/eval_peers.py) and training code all score
through this module; the metrics themselves are those of ppocr_edge.metrics:

* detection / end-to-end (``evaluate_det``): precision / recall / hmean at IoU >= 0.5 with one-to-one matching and
  ICDAR "###" don't-care handling; end-to-end counts a matched pair only when the normalised texts are equal.
* recognition (``evaluate_rec``): each crop recognised without detection; exact-match accuracy (case-sensitive,
  and the ICDAR 2015 lowercase-alphanumeric scoring) and 1 - normalised edit distance.

Engines plug in as a callable ``engine(image_path, use_det=True) -> list[EngineLine]``; ``PPOCREdgeEngine`` is the
adapter for this project's OCRPipeline. An engine that sets ``last_elapsed_ms`` after each call also gets its own
per-image time reported. ``score_rec`` scores plain strings (no engine, no images), e.g. a trainer's predictions.

Only numpy, OpenCV and tqdm are imported at module level: the pipeline (OpenVINO) is imported by PPOCREdgeEngine.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Sequence

import numpy as np

from .datasets import IGNORE_TEXTS, DetSample, RecSample, TextRegion, read_det_labels, read_rec_labels
from .errors import OCRError
from .metrics import DetCounter, ImageMatch, NormalizeMode, RecCounter, RecScores

Box = Sequence[Sequence[float]]
Task = Literal["rec", "det", "e2e"]
Progress = Callable[[Iterable], Iterable]


# ---------------------------------------------------------------------------------------------- engines


@dataclass(frozen=True)
class EngineLine:
    """One recognised line as an engine reports it.

    box: polygon points (x, y) in image pixels. words: (text, box) per word, or None when the engine has no word
    boxes (word-level scoring is then skipped). score: the recognition confidence, when the engine has one.
    """

    text: str
    box: Box
    words: tuple[tuple[str, Box], ...] | None = None
    score: float | None = None


Engine = Callable[..., list[EngineLine]]  # engine(image_path: str, use_det: bool = True) -> list[EngineLine]


class PPOCREdgeEngine:
    """Adapter: ppocr_edge.OCRPipeline as an ``Engine``.

    Detection mode uses the pipeline with ``drop_score`` (None: the bundle's value). Recognition-only mode uses a
    pipeline with ``rec_drop_score`` (default 0: keep every result; a second pipeline, made on first use, when it
    differs from the first one's), so that recognition accuracy measures the recogniser rather than the confidence
    filter; scores are returned, so the effect of the filter can be computed.
    """

    name = "ppocr_edge"

    def __init__(self, bundle: str | os.PathLike | None = None, *, use_cls: bool = True,
                 drop_score: float | None = None, rec_drop_score: float | None = 0.0,
                 det_options: dict[str, Any] | None = None, rec_options: dict[str, Any] | None = None):
        from .pipeline import OCRPipeline

        self.det_options = dict(det_options or {})
        self.rec_options = dict(rec_options or {})
        self._make = lambda drop: OCRPipeline(bundle, use_cls=use_cls, drop_score=drop,
                                              det_options=self.det_options, rec_options=self.rec_options)
        self.ocr = self._make(drop_score)
        self.drop_score = self.ocr.drop_score
        self._rec_drop_score = rec_drop_score
        self._rec_ocr: Any = None
        self.last_elapsed_ms: float | None = None
        self.description = f"ppocr_edge bundle {self.ocr.bundle.root}, cls {'on' if self.ocr.use_cls else 'off'}"

    @property
    def det_settings(self) -> dict[str, Any]:
        """The effective detection settings (bundle values with det_options applied)."""
        pre = {k: self.ocr.det_pre[k] for k in ("limit_side_len", "limit_type", "max_side", "size_step")
               if k in self.ocr.det_pre}
        return {**pre, **asdict(self.ocr.det_params)}

    def __call__(self, image_path: str, use_det: bool = True) -> list[EngineLine]:
        ocr = self.ocr
        if not use_det and self._rec_drop_score is not None and self._rec_drop_score != self.drop_score:
            if self._rec_ocr is None:
                self._rec_ocr = self._make(self._rec_drop_score)
            ocr = self._rec_ocr
        result = ocr(image_path, use_det=use_det)
        self.last_elapsed_ms = result.elapsed_ms
        return [EngineLine(line.text, line.box, tuple((w.text, w.box) for w in line.words), line.score)
                for line in result.lines]


# ---------------------------------------------------------------------------------------------- evaluation


@dataclass
class SetResult:
    """Scores of one data set."""

    name: str
    kind: str  # "det" or "rec"
    samples: int  # evaluated (skipped ones excluded)
    seconds: float  # engine time only (sum of per-image calls)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)  # per box level ("lines"/"words") or "rec"
    details: list[dict[str, Any]] = field(default_factory=list)
    elapsed_ms: list[float] = field(default_factory=list)  # engine-reported time per image, when it has one
    skipped: int = 0  # samples not evaluated: bad label lines, missing or unreadable images

    @property
    def images_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("nan")

    @property
    def mean_elapsed_ms(self) -> float | None:
        """Mean engine-reported time per image (OCRResult.elapsed_ms), None when the engine reports none."""
        return sum(self.elapsed_ms) / len(self.elapsed_ms) if self.elapsed_ms else None

    def add_time(self, engine: Engine, seconds: float) -> None:
        self.seconds += seconds
        ms = getattr(engine, "last_elapsed_ms", None)
        if ms is not None:
            self.elapsed_ms.append(float(ms))

    def to_dict(self) -> dict[str, Any]:
        ms = self.mean_elapsed_ms
        return {"name": self.name, "kind": self.kind, "samples": self.samples, "skipped": self.skipped,
                "seconds": round(self.seconds, 3), "images_per_s": round(self.images_per_s, 3),
                "mean_elapsed_ms": None if ms is None else round(ms, 2), "scores": self.scores}


# on_error(index of the sample, error): the sample is skipped instead of the error propagating
OnError = Callable[[int, OCRError], None]


def _round(d: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 5) if isinstance(v, float) else v for k, v in d.items()}


def _match_details(sample: DetSample, preds: list[TextRegion], m: ImageMatch, level: str) -> dict[str, Any]:
    """Per-image record of what matched and what did not."""
    gts = sample.regions

    def pts(r: TextRegion) -> list[list[float]]:
        return [[round(float(x), 1), round(float(y), 1)] for x, y in r.points]

    return {
        "image": sample.image_path.name, "level": level,
        "pairs": [{"gt": gts[g].text, "pred": preds[p].text, "iou": round(iou, 3), "text_ok": ok}
                  for (g, p, iou), ok in zip(m.pairs, m.text_correct)],
        "missed": [{"gt": gts[g].text, "box": pts(gts[g])} for g in m.missed_gt],
        "false": [{"pred": preds[p].text, "box": pts(preds[p])} for p in m.false_pred],
        "ignored_preds": [preds[p].text for p in m.ignored_pred],
    }


def _run_all(engine: Engine, result: SetResult, samples: Sequence[Any], use_det: bool, progress: Progress,
             on_error: OnError | None) -> Iterable[tuple[Any, list[EngineLine]]]:
    """(sample, engine lines) for each sample, timing the engine calls into result. With on_error, a sample whose
    call raises OCRError (e.g. an unreadable image) is reported there and skipped."""
    for i, sample in enumerate(progress(samples)):
        if hasattr(engine, "last_elapsed_ms"):
            engine.last_elapsed_ms = None
        t0 = time.perf_counter()
        try:
            lines = engine(str(sample.image_path), use_det=use_det)
        except OCRError as e:
            if on_error is None:
                raise
            on_error(i, e)
            result.samples -= 1
            result.skipped += 1
            continue
        result.add_time(engine, time.perf_counter() - t0)
        yield sample, lines


def evaluate_det(engine: Engine, name: str, samples: Sequence[DetSample], *, word_level: bool = False,
                 normalize: NormalizeMode = "default", progress: Progress = iter,
                 on_error: OnError | None = None) -> SetResult:
    """Detection + end-to-end scores with line boxes (and word boxes when word_level and the engine has them).

    scores["lines"] (and scores["words"]) hold ``DetScores.to_dict()``: counts, det and e2e precision/recall/hmean.
    """
    counters = {"lines": DetCounter(normalize=normalize)}
    if word_level:
        counters["words"] = DetCounter(normalize=normalize)
    result = SetResult(name, "det", len(samples), 0.0)
    words_missing = False
    for sample, lines in _run_all(engine, result, samples, True, progress, on_error):
        preds = {"lines": [TextRegion.from_points(line.box, line.text) for line in lines]}
        if word_level:
            words_missing |= any(line.words is None for line in lines)
            preds["words"] = [TextRegion.from_points(box, text) for line in lines for text, box in (line.words or ())]
        for level, counter in counters.items():
            m = counter.add(sample.regions, preds[level])
            result.details.append(_match_details(sample, preds[level], m, level))
    for level, counter in counters.items():
        if level == "words" and words_missing:
            continue  # the engine does not report word boxes
        result.scores[level] = _round(counter.scores().to_dict())
    return result


def evaluate_rec(engine: Engine, name: str, samples: Sequence[RecSample], *, drop_score: float | None = None,
                 progress: Progress = iter, on_error: OnError | None = None) -> SetResult:
    """Recognition scores without detection (the prediction is the text of the returned lines joined by spaces).

    scores["rec"] holds ``RecScores.to_dict()`` and empty_predictions; with drop_score, scores["rec_with_drop_score"]
    the scores when results below it are dropped.
    """
    counter, filtered = RecCounter(), RecCounter()
    result = SetResult(name, "rec", len(samples), 0.0)
    below = empty = 0
    for sample, lines in _run_all(engine, result, samples, False, progress, on_error):
        text = " ".join(line.text for line in lines)
        ok = counter.add(text, sample.label)
        empty += not text
        kept = [line for line in lines
                if drop_score is None or line.score is None or line.score >= drop_score]
        below += len(kept) < len(lines)
        filtered.add(" ".join(line.text for line in kept), sample.label)
        if not ok:
            result.details.append({"image": sample.image_path.name, "label": sample.label, "pred": text,
                                   "score": [round(line.score, 4) for line in lines if line.score is not None]})
    result.scores["rec"] = {**_round(counter.scores().to_dict()), "empty_predictions": empty}
    if drop_score is not None:
        result.scores["rec_with_drop_score"] = {**_round(filtered.scores().to_dict()), "drop_score": drop_score,
                                                "below_drop_score": below}
    return result


def score_rec(predictions: Iterable[str], labels: Iterable[str]) -> RecScores:
    """Recognition scores of predicted strings against their labels (same length), without an engine."""
    counter = RecCounter()
    for pred, label in zip(predictions, labels, strict=True):
        counter.add(pred, label)
    return counter.scores()


# ---------------------------------------------------------------------------------------------- the dev sets


@dataclass(frozen=True)
class DataSet:
    name: str
    kind: str  # "det" or "rec"
    path: str  # label file, relative to the data root
    word_level: bool = False


DATASETS = (
    DataSet("ic15_sample", "det", "det/ic15_sample/labels.txt", word_level=True),
    DataSet("sroie_dev", "det", "det/sroie_dev/labels.txt"),
    DataSet("ic15_test_2077", "rec", "rec/ic15_test_2077/labels.txt"),
)


def evaluate(engine: Engine, data_root: str | os.PathLike, *, sets: Sequence[str] | None = None,
             limit: int | None = None, normalize: NormalizeMode = "default", drop_score: float | None = None,
             progress: Progress = iter) -> list[SetResult]:
    """Run engine over the dev sets under data_root (real_dev layout; all of DATASETS unless sets names some).

    The label files are read strictly (a bad line raises ValueError)."""
    root = Path(data_root)
    results = []
    for ds in DATASETS:
        if sets and ds.name not in sets:
            continue
        label_file = root / ds.path
        if ds.kind == "det":
            samples: Sequence[Any] = read_det_labels(label_file)[:limit]
            results.append(evaluate_det(engine, ds.name, samples, word_level=ds.word_level, normalize=normalize,
                                        progress=progress))
        else:
            samples = read_rec_labels(label_file)[:limit]
            results.append(evaluate_rec(engine, ds.name, samples, drop_score=drop_score, progress=progress))
    return results


def progress_bar(desc: str, quiet: bool = False) -> Progress:
    """A tqdm wrapper on stderr for the ``progress`` arguments (``iter`` when quiet)."""
    if quiet:
        return iter
    from tqdm import tqdm

    def wrap(items: Iterable) -> Iterable:
        return tqdm(items, desc=desc, file=sys.stderr, leave=False)

    return wrap


# ---------------------------------------------------------------------------------------------- any label file


@dataclass(frozen=True)
class LabelProblem:
    """A sample that was skipped: a bad label line, a missing image, an image the engine could not read."""

    label_file: Path
    line: int  # 1-based line number in label_file
    reason: str

    def __str__(self) -> str:
        return f"{self.label_file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class LabelFile:
    """The usable samples of a label file, the line number of each, and the lines that were skipped."""

    path: Path
    samples: list[DetSample | RecSample]
    lines: list[int]  # line number of each sample
    problems: list[LabelProblem]
    nonblank_lines: int


def _det_regions(payload: str) -> tuple[TextRegion, ...]:
    try:
        entries = json.loads(payload)
    except json.JSONDecodeError as e:
        raise ValueError(f"bad JSON after the tab ({e.msg}, column {e.colno})") from None
    if not isinstance(entries, list):
        raise ValueError(f"expected a JSON list of regions, got {type(entries).__name__}")
    regions = []
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or "points" not in e or "transcription" not in e:
            raise ValueError(f"region {k}: expected an object with 'points' and 'transcription'")
        try:
            pts = np.asarray(e["points"], dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            pts = np.zeros((0, 2))
        if len(pts) < 3 or not np.isfinite(pts).all():
            raise ValueError(f"region {k}: 'points' must be 3 or more [x, y] number pairs")
        text = str(e["transcription"])
        regions.append(TextRegion(pts, text, text in IGNORE_TEXTS))
    return tuple(regions)


def read_labels(label_file: str | os.PathLike, kind: Literal["det", "rec"], *,
                check_images: bool = True) -> LabelFile:
    """Read a PaddleOCR det or rec label file (see ppocr_edge.datasets), keeping what is usable.

    Unlike ppocr_edge.datasets' strict readers, a bad line (not UTF-8, no tab, empty path, bad JSON, bad region)
    or, with check_images, a line whose image file does not exist is recorded as a ``LabelProblem`` and skipped.
    Raises OSError when the file itself cannot be read.
    """
    path = Path(label_file)
    samples: list[DetSample | RecSample] = []
    lines: list[int] = []
    problems: list[LabelProblem] = []
    nonblank = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                problems.append(LabelProblem(path, lineno, f"not UTF-8 ({e.reason} at byte {e.start})"))
                nonblank += 1
                continue
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            if not line.strip():
                continue
            nonblank += 1
            try:
                if "\t" not in line:
                    raise ValueError("no tab: expected 'image_path<TAB>label'")
                rel, payload = line.split("\t", 1)
                if not rel.strip():
                    raise ValueError("empty image path")
                image = path.parent / rel
                sample = DetSample(image, _det_regions(payload)) if kind == "det" else RecSample(image, payload)
                if check_images and not image.is_file():
                    raise ValueError(f"image not found: {image}")
            except ValueError as e:
                problems.append(LabelProblem(path, lineno, str(e)))
                continue
            samples.append(sample)
            lines.append(lineno)
    return LabelFile(path, samples, lines, problems, nonblank)


def evaluate_labels(engine: Engine, labels: LabelFile, task: Task, *, limit: int | None = None,
                    normalize: NormalizeMode = "default", progress: Progress = iter,
                    report: Callable[[LabelProblem], None] | None = None) -> SetResult:
    """Evaluate engine on the first ``limit`` usable samples of a label file read by ``read_labels``.

    Every skipped sample (the file's problems before the first sample that ``limit`` leaves out, and the images
    the engine raises OCRError on) goes to ``report`` and is counted in ``SetResult.skipped``.
    """
    samples = labels.samples[:limit]
    if len(samples) < len(labels.samples):  # cut by limit: the problems before the first sample left out
        problems = [p for p in labels.problems if p.line < labels.lines[len(samples)]]
    else:
        problems = list(labels.problems)
    report = report or (lambda problem: None)
    for p in problems:
        report(p)

    def on_error(i: int, e: OCRError) -> None:
        report(LabelProblem(labels.path, labels.lines[i], f"{type(e).__name__}: {e}"))

    name = str(labels.path)
    if task == "rec":
        result = evaluate_rec(engine, name, samples, progress=progress, on_error=on_error)  # type: ignore[arg-type]
    else:
        result = evaluate_det(engine, name, samples, normalize=normalize, progress=progress,  # type: ignore[arg-type]
                              on_error=on_error)
    result.skipped += len(problems)
    return result


def summarize(result: SetResult, task: Task) -> dict[str, dict[str, Any]]:
    """{"counts": ..., "scores": ...} of a result of ``evaluate_labels``: for rec the RecScores, for det the
    det precision/recall/hmean, for e2e those and the e2e ones."""
    if task == "rec":
        s = dict(result.scores["rec"])
        counts = {"samples": s.pop("samples"), "skipped": result.skipped,
                  "empty_predictions": s.pop("empty_predictions")}
        return {"counts": counts, "scores": s}
    s = result.scores["lines"]
    keys = ["images", "gt", "gt_ignored", "pred", "pred_ignored", "matched", "e2e_matched"]
    counts = {k: s[k] for k in keys if task == "e2e" or k != "e2e_matched"}
    counts["skipped"] = result.skipped
    scores = {"det": {k: s[k] for k in ("precision", "recall", "hmean")}}
    if task == "e2e":
        scores["e2e"] = {k: s[f"e2e_{k}"] for k in ("precision", "recall", "hmean")}
    return {"counts": counts, "scores": scores}


__all__ = ["EngineLine", "Engine", "PPOCREdgeEngine", "SetResult", "evaluate_det", "evaluate_rec", "score_rec",
           "DataSet", "DATASETS", "evaluate", "progress_bar", "LabelProblem", "LabelFile", "read_labels",
           "evaluate_labels", "summarize"]
