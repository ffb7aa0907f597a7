"""OCR evaluation metrics: polygon IoU, ICDAR-style detection and end-to-end scores, recognition accuracy.

Detection (``DetCounter``), following the ICDAR 2015 protocol:

* Ground-truth regions flagged ``ignore`` ("###" / "*") are "don't care": they are never counted.
* A prediction whose area lies more than ``ignore_overlap`` (0.5) inside any single ignore region
  (intersection / prediction area) is discarded: neither a hit nor a false positive.
* The remaining ("cared") predictions and ground truths are matched one-to-one: every pair with
  IoU >= ``iou_threshold`` (0.5) is a candidate; candidates are taken greedily in descending IoU order,
  each ground truth and each prediction at most once.
* precision = matched / cared predictions, recall = matched / cared ground truths,
  hmean = 2PR / (P + R). Counts accumulate over a dataset, so these are dataset-level ("micro") scores.
  By convention precision is 1 when nothing was predicted and recall is 1 when there is nothing to find.

End-to-end uses the same matching; a matched pair counts only when the normalised predicted text equals the
normalised ground-truth text (``normalize_text``; default: case-insensitive, whitespace collapsed).

Recognition (``RecCounter``): exact-match accuracy, case-sensitive and in the usual ICDAR 2015 word scoring
(lowercase, keep only [a-z0-9]); and 1 - NED, the mean over samples of
1 - edit_distance(pred, label) / max(len(pred), len(label)).

Only numpy and OpenCV are used, so the module serves both the runtime benchmarks and training-time evaluation.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Callable, Literal, Sequence, Union

import cv2
import numpy as np

from .datasets import TextRegion

NormalizeMode = Literal["exact", "default", "alnum"]
Normalizer = Union[NormalizeMode, Callable[[str], str]]

_EPS = 1e-9
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


# ---------------------------------------------------------------------------------------------- text


def normalize_text(text: str, mode: NormalizeMode = "default") -> str:
    """Normalise a transcription for comparison.

    exact: unchanged; default: lowercase, runs of whitespace collapsed to one space, ends stripped;
    alnum: lowercase and keep only [a-z0-9] (ICDAR 2015 word-recognition scoring).
    """
    if mode == "exact":
        return text
    if mode == "default":
        return " ".join(text.split()).lower()
    if mode == "alnum":
        return _NOT_ALNUM.sub("", text.lower())
    raise ValueError(f"unknown normalisation {mode!r}; expected 'exact', 'default' or 'alnum'")


def get_normalizer(normalize: Normalizer) -> Callable[[str], str]:
    """A text -> text function from a mode name or a callable."""
    if callable(normalize):
        return normalize
    normalize_text("", normalize)  # validate the name now rather than at first use
    return lambda text: normalize_text(text, normalize)  # type: ignore[arg-type]


def edit_distance(a: Sequence[object], b: Sequence[object]) -> int:
    """Levenshtein distance (unit-cost insert, delete, substitute) between two sequences."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def normalized_edit_distance(a: Sequence[object], b: Sequence[object]) -> float:
    """edit_distance / max(len(a), len(b)), in [0, 1]; 0 for two empty sequences."""
    n = max(len(a), len(b))
    return edit_distance(a, b) / n if n else 0.0


# ---------------------------------------------------------------------------------------------- geometry


def _as_polygon(points: object) -> np.ndarray:
    """(N, 2) float64 array with consecutive duplicate points (and a closing duplicate) removed."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) > 1:
        keep = np.any(np.abs(pts - np.roll(pts, 1, axis=0)) > _EPS, axis=1)
        pts = pts[keep] if keep.any() else pts[:1]
    return pts


def _signed_area(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def _segments_cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> bool:
    """Whether two segments properly intersect or touch (collinear overlap included)."""
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    if ((d1 > _EPS and d2 < -_EPS) or (d1 < -_EPS and d2 > _EPS)) and \
            ((d3 > _EPS and d4 < -_EPS) or (d3 < -_EPS and d4 > _EPS)):
        return True

    def on_segment(a: np.ndarray, b: np.ndarray, p: np.ndarray, d: float) -> bool:
        return abs(d) <= _EPS and min(a[0], b[0]) - _EPS <= p[0] <= max(a[0], b[0]) + _EPS and \
            min(a[1], b[1]) - _EPS <= p[1] <= max(a[1], b[1]) + _EPS

    return on_segment(q1, q2, p1, d1) or on_segment(q1, q2, p2, d2) or \
        on_segment(p1, p2, q1, d3) or on_segment(p1, p2, q2, d4)


def _is_simple(pts: np.ndarray) -> bool:
    """No two non-adjacent edges of the closed polygon intersect."""
    n = len(pts)
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing edge
            if _segments_cross(pts[i], pts[(i + 1) % n], pts[j], pts[(j + 1) % n]):
                return False
    return True


def _ear_clip(pts: np.ndarray) -> list[np.ndarray] | None:
    """Triangulate a simple polygon; None when no ear is found (numerically degenerate input)."""
    if _signed_area(pts) < 0:
        pts = pts[::-1]
    idx = list(range(len(pts)))
    triangles = []
    while len(idx) > 3:
        m = len(idx)
        for k in range(m):
            a, b, c = pts[idx[k - 1]], pts[idx[k]], pts[idx[(k + 1) % m]]
            turn = _cross(a, b, c)
            if abs(turn) <= _EPS:  # collinear vertex: drop it, no area lost
                idx.pop(k)
                break
            if turn < 0:  # reflex vertex
                continue
            others = (pts[i] for i in idx if i not in (idx[k - 1], idx[k], idx[(k + 1) % m]))
            if any(_cross(a, b, p) >= -_EPS and _cross(b, c, p) >= -_EPS and _cross(c, a, p) >= -_EPS
                   for p in others):
                continue
            triangles.append(np.stack([a, b, c]))
            idx.pop(k)
            break
        else:
            return None
    if len(idx) == 3 and abs(_signed_area(pts[idx])) > _EPS:
        triangles.append(pts[idx])
    return triangles


def _convex_pieces(points: object) -> list[np.ndarray]:
    """Split a polygon into convex float32 pieces (consistently oriented) that cv2.intersectConvexConvex accepts.

    Convex polygons stay whole, simple non-convex ones are triangulated, self-intersecting ones (e.g. a "bow tie"
    from mis-ordered points) are replaced by their convex hull, degenerate ones (area ~ 0) give no pieces.
    """
    pts = _as_polygon(points)
    if len(pts) < 3:
        return []
    f32 = pts.astype(np.float32)
    pieces: list[np.ndarray] | None = None
    if cv2.isContourConvex(f32):
        pieces = [pts]
    elif _is_simple(pts):
        pieces = _ear_clip(pts)  # None if triangulation fails: fall back to the hull
    if not pieces:
        pieces = [cv2.convexHull(f32).reshape(-1, 2).astype(np.float64)]
    out = []
    for p in pieces:
        hull = cv2.convexHull(p.astype(np.float32)).reshape(-1, 2)  # fixes orientation, drops collinear points
        if len(hull) >= 3 and abs(_signed_area(hull.astype(np.float64))) > _EPS:
            out.append(np.ascontiguousarray(hull, dtype=np.float32))
    return out


def _pieces_area(pieces: list[np.ndarray]) -> float:
    return sum(abs(_signed_area(p.astype(np.float64))) for p in pieces)


def _pieces_intersection(pa: list[np.ndarray], pb: list[np.ndarray]) -> float:
    total = 0.0
    for a in pa:
        for b in pb:
            area, _ = cv2.intersectConvexConvex(a, b)
            total += max(float(area), 0.0)
    return total


@dataclass(frozen=True)
class _Poly:
    """A polygon prepared for repeated overlap queries."""

    pieces: list[np.ndarray]
    area: float
    lo: np.ndarray  # bounding box
    hi: np.ndarray

    @classmethod
    def of(cls, points: object) -> "_Poly":
        pieces = _convex_pieces(points)
        if not pieces:
            return cls([], 0.0, np.zeros(2), np.zeros(2))
        allp = np.concatenate(pieces).astype(np.float64)
        return cls(pieces, _pieces_area(pieces), allp.min(axis=0), allp.max(axis=0))

    def intersection(self, other: "_Poly") -> float:
        if not self.pieces or not other.pieces or np.any(self.hi < other.lo) or np.any(other.hi < self.lo):
            return 0.0
        return _pieces_intersection(self.pieces, other.pieces)


def polygon_area(points: object) -> float:
    """Area of a polygon as the IoU functions see it: the shoelace area of a simple polygon, the convex-hull area
    of a self-intersecting one, 0 for a degenerate one (fewer than three points, or collinear)."""
    return _Poly.of(points).area


def intersection_area(a: object, b: object) -> float:
    """Area of the intersection of two polygons ((N, 2) point arrays)."""
    return _Poly.of(a).intersection(_Poly.of(b))


def polygon_iou(a: object, b: object) -> float:
    """Intersection over union of two polygons; 0 when either is degenerate.

    Convex quads go straight to cv2.intersectConvexConvex; non-convex polygons are triangulated first and
    self-intersecting ones are replaced by their convex hull (see ``_convex_pieces``).
    """
    pa, pb = _Poly.of(a), _Poly.of(b)
    return _iou(pa, pb)


def _iou(pa: _Poly, pb: _Poly) -> float:
    inter = pa.intersection(pb)
    union = pa.area + pb.area - inter
    return inter / union if union > _EPS else 0.0


# ---------------------------------------------------------------------------------------------- detection / e2e


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def hmean(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall (0 when both are 0)."""
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


@dataclass(frozen=True)
class ImageMatch:
    """Matching of one image's predictions against its ground truth. Indices refer to the input sequences."""

    pairs: tuple[tuple[int, int, float], ...]  # (gt index, prediction index, IoU)
    text_correct: tuple[bool, ...]  # per pair: normalised texts equal
    cared_gt: tuple[int, ...]  # ground truths that count (not ignore regions)
    cared_pred: tuple[int, ...]  # predictions that count (not discarded inside an ignore region)
    ignored_pred: tuple[int, ...]  # predictions discarded inside an ignore region

    @property
    def matched(self) -> int:
        return len(self.pairs)

    @property
    def e2e_matched(self) -> int:
        return sum(self.text_correct)

    @property
    def missed_gt(self) -> tuple[int, ...]:
        hit = {g for g, _, _ in self.pairs}
        return tuple(g for g in self.cared_gt if g not in hit)

    @property
    def false_pred(self) -> tuple[int, ...]:
        hit = {p for _, p, _ in self.pairs}
        return tuple(p for p in self.cared_pred if p not in hit)


def match_regions(gts: Sequence[TextRegion], preds: Sequence[TextRegion], *, iou_threshold: float = 0.5,
                  ignore_overlap: float = 0.5, normalize: Normalizer = "default") -> ImageMatch:
    """Match predictions to ground truth for one image (see the module docstring for the protocol)."""
    norm = get_normalizer(normalize)
    gpolys = [_Poly.of(g.points) for g in gts]
    ppolys = [_Poly.of(p.points) for p in preds]
    ignore_gt = [i for i, g in enumerate(gts) if g.ignore]
    cared_gt = [i for i, g in enumerate(gts) if not g.ignore]
    ignored_pred, cared_pred = [], []
    for j, pp in enumerate(ppolys):
        inside = pp.area > _EPS and any(pp.intersection(gpolys[i]) / pp.area > ignore_overlap for i in ignore_gt)
        (ignored_pred if inside else cared_pred).append(j)
    candidates = []
    for i in cared_gt:
        for j in cared_pred:
            iou = _iou(gpolys[i], ppolys[j])
            if iou >= iou_threshold:
                candidates.append((-iou, i, j))
    candidates.sort()
    used_g: set[int] = set()
    used_p: set[int] = set()
    pairs = []
    for neg_iou, i, j in candidates:
        if i in used_g or j in used_p:
            continue
        used_g.add(i)
        used_p.add(j)
        pairs.append((i, j, -neg_iou))
    pairs.sort()
    correct = tuple(norm(preds[j].text) == norm(gts[i].text) for i, j, _ in pairs)
    return ImageMatch(tuple(pairs), correct, tuple(cared_gt), tuple(cared_pred), tuple(ignored_pred))


@dataclass(frozen=True)
class DetScores:
    """Dataset-level detection and end-to-end scores with the counts behind them."""

    images: int
    gt: int  # cared ground-truth regions
    gt_ignored: int
    pred: int  # cared predictions
    pred_ignored: int
    matched: int
    e2e_matched: int
    precision: float
    recall: float
    hmean: float
    e2e_precision: float
    e2e_recall: float
    e2e_hmean: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


class DetCounter:
    """Accumulates detection / end-to-end matches over a dataset.

    >>> counter = DetCounter()
    >>> for gts, preds in data:            # doctest: +SKIP
    ...     counter.add(gts, preds)
    >>> counter.scores().hmean             # doctest: +SKIP
    """

    def __init__(self, *, iou_threshold: float = 0.5, ignore_overlap: float = 0.5,
                 normalize: Normalizer = "default"):
        self.iou_threshold = iou_threshold
        self.ignore_overlap = ignore_overlap
        self.normalize = get_normalizer(normalize)
        self.images = self.gt = self.gt_ignored = self.pred = self.pred_ignored = 0
        self.matched = self.e2e_matched = 0

    def add(self, gts: Sequence[TextRegion], preds: Sequence[TextRegion]) -> ImageMatch:
        """Match one image and add its counts; returns the match for inspection."""
        m = match_regions(gts, preds, iou_threshold=self.iou_threshold, ignore_overlap=self.ignore_overlap,
                          normalize=self.normalize)
        self.images += 1
        self.gt += len(m.cared_gt)
        self.gt_ignored += len(gts) - len(m.cared_gt)
        self.pred += len(m.cared_pred)
        self.pred_ignored += len(m.ignored_pred)
        self.matched += m.matched
        self.e2e_matched += m.e2e_matched
        return m

    def scores(self) -> DetScores:
        p, r = _ratio(self.matched, self.pred), _ratio(self.matched, self.gt)
        ep, er = _ratio(self.e2e_matched, self.pred), _ratio(self.e2e_matched, self.gt)
        return DetScores(self.images, self.gt, self.gt_ignored, self.pred, self.pred_ignored, self.matched,
                         self.e2e_matched, p, r, hmean(p, r), ep, er, hmean(ep, er))


# ---------------------------------------------------------------------------------------------- recognition


@dataclass(frozen=True)
class RecScores:
    """Dataset-level recognition scores."""

    samples: int
    accuracy: float  # exact match, case-sensitive
    accuracy_alnum: float  # exact match after lowercase + keep [a-z0-9] (ICDAR 2015 word scoring)
    one_minus_ned: float  # mean 1 - normalised edit distance on the raw strings
    one_minus_ned_alnum: float  # the same after the alnum normalisation

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


class RecCounter:
    """Accumulates recognition results: exact-match accuracy (two scorings) and 1 - NED."""

    def __init__(self) -> None:
        self.samples = self.correct = self.correct_alnum = 0
        self.ned_sum = self.ned_alnum_sum = 0.0

    def add(self, pred: str, label: str) -> bool:
        """Add one sample; returns whether it is correct in the alnum (case-insensitive) scoring."""
        pa, la = normalize_text(pred, "alnum"), normalize_text(label, "alnum")
        self.samples += 1
        self.correct += pred == label
        self.correct_alnum += pa == la
        self.ned_sum += normalized_edit_distance(pred, label)
        self.ned_alnum_sum += normalized_edit_distance(pa, la)
        return pa == la

    def scores(self) -> RecScores:
        n = self.samples
        if not n:
            return RecScores(0, 0.0, 0.0, 0.0, 0.0)
        return RecScores(n, self.correct / n, self.correct_alnum / n, 1 - self.ned_sum / n,
                         1 - self.ned_alnum_sum / n)


__all__ = ["NormalizeMode", "normalize_text", "get_normalizer", "edit_distance", "normalized_edit_distance",
           "polygon_area", "intersection_area", "polygon_iou", "hmean", "ImageMatch", "match_regions",
           "DetScores", "DetCounter", "RecScores", "RecCounter"]
