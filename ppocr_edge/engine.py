"""OpenVINO execution: one shared Core, compiled models, and thread-safe asynchronous inference stages."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov

from .errors import BundleError

_core: ov.Core | None = None
_core_lock = threading.Lock()


def get_core() -> ov.Core:
    """The process-wide OpenVINO Core (creating one is costly and they share plugin state)."""
    global _core
    with _core_lock:
        if _core is None:
            _core = ov.Core()
        return _core


PRECISIONS = ("f32", "bf16", "f16", "auto")


def compile_config(hint: str, cache_dir: str | None, threads: int | None, precision: str = "f32") -> dict[str, Any]:
    """CPU settings. precision 'f32' (default) computes what the original models compute; 'bf16'/'f16' trade
    accuracy for speed where the CPU has fast units for them (measure: on CPUs without AMX, Intel Xeons ran bf16
    slower than f32 while an AMD Zen 4 ran it faster); 'auto' leaves the plugin's own default."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    cfg: dict[str, Any] = {"PERFORMANCE_HINT": hint}
    if precision != "auto":
        cfg["INFERENCE_PRECISION_HINT"] = precision
    if cache_dir:
        cfg["CACHE_DIR"] = cache_dir
    if threads:
        cfg["INFERENCE_NUM_THREADS"] = int(threads)
    return cfg


def read_model(xml: Path) -> ov.Model:
    try:
        return get_core().read_model(str(xml))
    except Exception as e:  # OpenVINO raises RuntimeError subclasses with long C++ traces
        raise BundleError(f"{xml}: OpenVINO cannot read this model ({str(e).splitlines()[0] if str(e) else e})") from e


class Stage:
    """A compiled model behind an AsyncInferQueue. submit() returns a Future of the first output (a copy).

    Safe to call from several threads; requests run concurrently up to the queue size.
    """

    def __init__(self, model: ov.Model, device: str, config: dict[str, Any], name: str):
        try:
            self.compiled = get_core().compile_model(model, device, config)
        except Exception as e:
            raise BundleError(f"{name}: OpenVINO cannot compile this model: {str(e).splitlines()[0]}") from e
        self.name = name
        # at least two requests: with one, submit() blocks until the running inference and its callback (which
        # copies the output out: 8x80x6625 floats for a rec batch) are done, so the caller cannot prepare and
        # queue the next batch meanwhile (measured: receipts 6% faster with two, benchmarks/results/cpu_path.md)
        self.jobs = max(2, int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self._queue = ov.AsyncInferQueue(self.compiled, self.jobs)
        self._queue.set_callback(self._done)
        self._lock = threading.Lock()

    @staticmethod
    def _done(request: ov.InferRequest, future: Future) -> None:
        try:
            future.set_result(request.get_output_tensor(0).data.copy())
        except BaseException as e:  # noqa: BLE001 - must reach the waiting caller
            future.set_exception(e)

    def submit(self, tensor: np.ndarray) -> "Future[np.ndarray]":
        future: Future = Future()
        with self._lock:
            self._queue.start_async({0: tensor}, userdata=future, share_inputs=False)
        return future

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        return self.submit(tensor).result()
