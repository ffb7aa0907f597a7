"""Persistent OCR worker for benchmarks: one engine, one process, one virtual environment.

Runs under the interpreter of the engine's own venv and needs only the standard library, OpenCV and the engine:

    python benchmarks/peer_worker.py --engine rapidocr_onnxruntime [--config '{"det_box_thresh": 0.6}']

Protocol (one JSON document per line, UTF-8):

* On start the worker builds the engine, warms it up on a synthetic page and prints one line
  ``{"ready": true, "engine", "version", "backend", "backend_version", "python", "config", "notes"}``
  (or ``{"ready": false, "error": ...}`` and exits 1).
* Then it reads requests from stdin. A request is either a JSON string (an image path) or an object
  ``{"path": P}``; ``{"path": P, "repeat": N}`` runs the engine N times on the same image and reports every time.
  ``{"path": P, "use_det": false}`` recognises the whole image as one text line (no detection; for word or line
  crops): one answer line whose box is the image rectangle, with no score filter (every result is returned, an
  empty text included), so that the caller can apply any threshold. How each engine does it: see ``run_nodet``.
  ``{"cmd": "quit"}`` (or end of input) stops it.
* Each answer is ``{"lines": [{"text", "score", "box"}], "elapsed_ms": float, "times_ms": [...], "shape": [h, w]}``
  or ``{"error": "..."}``. elapsed_ms is the first (or only) run, timed with time.perf_counter() around the engine
  call alone; the image is decoded with cv2.imread (BGR) *before* the clock starts, for every engine alike.

The engine writes to the real stdout would corrupt the protocol, so fd 1 is pointed at stderr and answers go to a
private duplicate of the original stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback

ENGINES = ("ppocr_edge", "rapidocr_onnxruntime", "rapidocr_openvino", "rapidocr3")


def _protocol_stream():
    """Keep the real stdout for answers; send everything else written to fd 1 to stderr."""
    sys.stdout.flush()
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(out_fd, "w", encoding="utf-8", buffering=1)


def _dist_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def _synthetic_page():
    """A white page with a few dark text lines at different sizes: enough to exercise det, cls and rec."""
    import cv2
    import numpy as np

    page = np.full((720, 960, 3), 255, dtype=np.uint8)
    rows = [("Benchmark warm-up 2024-01-31", 1.6), ("TOTAL 123.45 USD", 1.2), ("OpenVINO ppocr_edge", 0.9),
            ("quick brown fox jumps", 2.0), ("ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789", 0.8)]
    y = 80
    for text, scale in rows:
        cv2.putText(page, text, (40, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 2, cv2.LINE_AA)
        y += int(60 * scale) + 40
    return page


def _as_box(points) -> list:
    return [[round(float(p[0]), 1), round(float(p[1]), 1)] for p in points]


def _image_box(img) -> list:
    """The whole image as a quad (the box of a recognition-only answer)."""
    h, w = img.shape[:2]
    return [[0.0, 0.0], [float(w), 0.0], [float(w), float(h)], [0.0, float(h)]]


class Engine:
    name = ""

    def run(self, img):  # -> list of {"text", "score", "box"}
        raise NotImplementedError

    def run_nodet(self, img):  # whole image as one text line, no detection, no score filter
        raise NotImplementedError(f"{self.name}: no recognition-only mode")


class PPOCREdge(Engine):
    """ppocr_edge.OCRPipeline. config: {"bundle", "det_pre": {...}, "det_options": {...}, "use_cls", "threads"}."""

    name = "ppocr_edge"

    def __init__(self, config: dict):
        from ppocr_edge import OCRPipeline

        kwargs = {k: config[k] for k in ("bundle", "use_cls", "threads", "drop_score", "precision") if k in config}
        # det_options takes both the resize settings (det_pre) and the DB post-processing settings
        det_options = {**config.get("det_pre", {}), **config.get("det_options", {})}
        self.ocr = OCRPipeline(**kwargs, det_options=det_options or None)
        self._kwargs, self._nodet = kwargs, None
        self.version = _dist_version("ppocr_edge")
        if self.version == "?":
            import ppocr_edge

            self.version = getattr(ppocr_edge, "__version__", "?")
        self.backend, self.backend_version = "openvino", _dist_version("openvino")
        det = self.ocr._latency.det.compiled if self.ocr._latency.det is not None else None
        self.notes = {
            "det_pre": {k: self.ocr.det_pre[k] for k in ("limit_side_len", "limit_type", "max_side") if k in self.ocr.det_pre},
            "det_post": {"box_thresh": self.ocr.det_params.box_thresh, "unclip_ratio": self.ocr.det_params.unclip_ratio,
                         "use_dilation": self.ocr.det_params.use_dilation},
        }
        if det is not None:
            self.notes["det_compiled"] = {k: str(det.get_property(k)) for k in
                                          ("PERFORMANCE_HINT", "INFERENCE_PRECISION_HINT", "NUM_STREAMS",
                                           "INFERENCE_NUM_THREADS")}

    def run(self, img):
        result = self.ocr(img)
        return [{"text": ln.text, "score": round(float(ln.score), 5), "box": _as_box(ln.box)} for ln in result.lines]

    def run_nodet(self, img):
        """OCRPipeline(img, use_det=False), with drop_score 0 so that no result is filtered out."""
        if self._nodet is None:
            from ppocr_edge import OCRPipeline

            self._nodet = OCRPipeline(**{**self._kwargs, "drop_score": 0.0})
        result = self._nodet(img, use_det=False)
        return [{"text": ln.text, "score": round(float(ln.score), 5), "box": _as_box(ln.box)} for ln in result.lines]


class RapidOCRBase(Engine):
    """RapidOCR: __call__(ndarray) -> (list of [box, text, score] or None, elapsed list or None)."""

    def _result(self, res) -> list:
        lines = []
        for item in res or []:
            box, text, score = item[0], item[1], item[2]
            lines.append({"text": str(text), "score": round(float(score), 5), "box": _as_box(box)})
        return lines

    def run(self, img):
        res, _elapsed = self.ocr(img)
        return self._result(res)


class RapidOCRONNXRuntime(RapidOCRBase):
    """rapidocr_onnxruntime 1.2.3: PP-OCRv3 det/rec + mobile v2 cls as ONNX on onnxruntime (CPU EP)."""

    name = "rapidocr_onnxruntime"

    def __init__(self, config: dict):
        from rapidocr_onnxruntime import RapidOCR

        kwargs = dict(config)
        # 1.2.3's UpdateParameters reads "<stage>_model_path" whenever any key of that stage is given (KeyError
        # otherwise); None means "the packaged model".
        for stage in ("det", "cls", "rec"):
            if any(k.startswith(stage) for k in kwargs):
                kwargs.setdefault(f"{stage}_model_path", None)
        self.ocr = RapidOCR(**kwargs)
        self.version = _dist_version("rapidocr_onnxruntime")
        self.backend, self.backend_version = "onnxruntime", _dist_version("onnxruntime")
        det = self.ocr.text_detector
        resize = next(op for op in det.preprocess_op if type(op).__name__ == "DetResizeForTest")
        post = det.postprocess_op
        self.notes = {
            "det_pre": {"limit_side_len": resize.limit_side_len, "limit_type": resize.limit_type},
            "det_post": {"box_thresh": post.box_thresh, "unclip_ratio": post.unclip_ratio,
                         "use_dilation": post.dilation_kernel is not None},
            "providers": det.infer.session.get_providers(),
            "text_score": self.ocr.text_score,
            "use_cls": self.ocr.use_angle_cls,
        }

    def run_nodet(self, img):
        """1.2.3's __call__ has no use_det argument (only the constructor's use_text_det, and it then still drops
        results below text_score). This is the body of its own no-detection branch (taken for use_text_det=False
        or a short / very wide image): get_boxes_img_without_det, then text_cls when use_angle_cls, then
        text_recognizer on the whole image, without the final filter_boxes_rec_by_score."""
        h, w = img.shape[:2]
        boxes, crops = self.ocr.get_boxes_img_without_det(img, h, w)
        if self.ocr.use_angle_cls:
            crops, _cls_res, _cls_elapse = self.ocr.text_cls(crops)
        rec_res, _rec_elapse = self.ocr.text_recognizer(crops)
        return [{"text": str(text), "score": round(float(score), 5), "box": _as_box(box)}
                for box, (text, score) in zip(boxes, rec_res)]


class RapidOCROpenVINO(RapidOCRBase):
    """rapidocr_openvino 1.4.4: PP-OCRv4 det/rec + mobile v2 cls as ONNX on OpenVINO (default compile config)."""

    name = "rapidocr_openvino"

    def __init__(self, config: dict):
        from rapidocr_openvino import RapidOCR

        self.ocr = RapidOCR(**config)
        self.version = _dist_version("rapidocr_openvino")
        self.backend, self.backend_version = "openvino", _dist_version("openvino")
        det = self.ocr.text_det
        post = det.postprocess_op
        self.notes = {
            "det_pre": {"limit_side_len": det.limit_side_len, "limit_type": det.limit_type},
            "det_post": {"box_thresh": post.box_thresh, "unclip_ratio": post.unclip_ratio,
                         "use_dilation": post.dilation_kernel is not None},
            "max_side_len": self.ocr.max_side_len,
            "text_score": self.ocr.text_score,
            "use_cls": self.ocr.use_cls,
        }
        try:  # what the default compile_model picked (rapidocr passes no config)
            import openvino as ov

            core = ov.Core()
            self.notes["cpu_default_inference_precision"] = str(core.get_property("CPU", "INFERENCE_PRECISION_HINT"))
            self.notes["cpu_default_hint"] = str(core.get_property("CPU", "PERFORMANCE_HINT"))
        except Exception as e:  # noqa: BLE001 - informational only
            self.notes["cpu_default_inference_precision"] = f"unknown ({e})"

    def run(self, img):
        out = self.ocr(img)
        res = out[0] if isinstance(out, tuple) else out
        return self._result(res)

    def run_nodet(self, img):
        """1.4.4's own switch: __call__(img, use_det=False). Its preprocess (max_side_len / min_side_len resize)
        and, by default, the classifier still run; the answer is [[text, score]] per image with no text_score
        filter (get_final_res filters only when there are detection boxes)."""
        out = self.ocr(img, use_det=False)
        res = out[0] if isinstance(out, tuple) else out
        return [{"text": str(item[0]), "score": round(float(item[1]), 5), "box": _image_box(img)}
                for item in res or []]


class RapidOCR3(Engine):
    """rapidocr 3.x (default PP-OCRv6 small det/rec + mobile v2 cls, ONNX files inside the wheel). config:
    {"engine_type": "onnxruntime" (its default) | "openvino", "params": {dotted rapidocr config keys}}."""

    name = "rapidocr3"

    def __init__(self, config: dict):
        from rapidocr import EngineType, RapidOCR

        engine = EngineType(config.get("engine_type", "onnxruntime"))
        params = {f"{m}.engine_type": engine for m in ("Det", "Cls", "Rec")}
        params.update(config.get("params", {}))
        params.setdefault("Global.log_level", "warning")
        self.ocr = RapidOCR(params=params)
        self.version = _dist_version("rapidocr")
        self.backend = engine.value
        self.backend_version = _dist_version(engine.value)
        det, rec = self.ocr.cfg.Det, self.ocr.cfg.Rec
        self.notes = {"det_model": f"{det.ocr_version.value} {det.model_type.value}",
                      "rec_model": f"{rec.ocr_version.value} {rec.model_type.value}",
                      "det_pre": {"limit_side_len": det.limit_side_len, "limit_type": det.limit_type},
                      "det_post": {"box_thresh": det.box_thresh, "unclip_ratio": det.unclip_ratio,
                                   "use_dilation": det.use_dilation},
                      "text_score": self.ocr.text_score, "use_cls": self.ocr.use_cls}

    def _lines(self, out) -> list:
        if out.boxes is None or out.txts is None:
            return []
        return [{"text": str(t), "score": round(float(s), 5), "box": _as_box(b)}
                for b, t, s in zip(out.boxes, out.txts, out.scores)]

    def run(self, img):
        return self._lines(self.ocr(img))

    def run_nodet(self, img):
        out = self.ocr(img, use_det=False, text_score=0.0)
        txts, scores = getattr(out, "txts", None) or (), getattr(out, "scores", None) or ()
        return [{"text": str(t), "score": round(float(s), 5), "box": _image_box(img)} for t, s in zip(txts, scores)]


def build(engine: str, config: dict) -> Engine:
    if engine == "ppocr_edge":
        return PPOCREdge(config)
    if engine == "rapidocr_onnxruntime":
        return RapidOCRONNXRuntime(config)
    if engine == "rapidocr_openvino":
        return RapidOCROpenVINO(config)
    if engine == "rapidocr3":
        return RapidOCR3(config)
    raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")


def serve(engine: Engine, out, warmup: int) -> None:
    import cv2

    page = _synthetic_page()
    for _ in range(warmup):
        engine.run(page)
    out.write(json.dumps({"ready": True, "engine": engine.name, "version": engine.version, "backend": engine.backend,
                          "backend_version": engine.backend_version, "python": platform.python_version(),
                          "pid": os.getpid(), "notes": engine.notes}) + "\n")
    for raw in sys.stdin:
        raw = raw.strip()
        if not raw:
            continue
        try:
            req = json.loads(raw)
            if isinstance(req, str):
                req = {"path": req}
            if req.get("cmd") == "quit":
                break
            img = cv2.imread(req["path"], cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"{req['path']}: cannot decode")
            run = engine.run if req.get("use_det", True) else engine.run_nodet
            times, lines = [], []
            for _ in range(max(1, int(req.get("repeat", 1)))):
                t0 = time.perf_counter()
                lines = run(img)
                times.append((time.perf_counter() - t0) * 1000.0)
            answer = {"lines": lines, "elapsed_ms": round(times[0], 3), "times_ms": [round(t, 3) for t in times],
                      "shape": list(img.shape[:2])}
        except Exception as e:  # noqa: BLE001 - report and keep serving
            answer = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc(limit=5)}
        out.write(json.dumps(answer, ensure_ascii=False) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", required=True, choices=ENGINES)
    ap.add_argument("--config", default="{}", help="JSON object of engine settings (see the Engine classes)")
    ap.add_argument("--warmup", type=int, default=3, help="runs on a synthetic page before reporting ready")
    args = ap.parse_args()
    out = _protocol_stream()
    try:
        engine = build(args.engine, json.loads(args.config))
    except Exception as e:  # noqa: BLE001
        out.write(json.dumps({"ready": False, "error": f"{type(e).__name__}: {e}",
                              "trace": traceback.format_exc(limit=8)}) + "\n")
        return 1
    serve(engine, out, args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
