"""Run OpenVINO's benchmark_app on one IR and read its JSON report (used by benchmarks/ and the INT8 report)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    return f"unknown ({os.cpu_count()} logical CPUs)"


def find_benchmark_app() -> str:
    here = Path(sys.executable).parent / "benchmark_app"
    if here.exists():
        return str(here)
    found = shutil.which("benchmark_app")
    if not found:
        raise SystemExit("benchmark_app not found (pip install openvino in this venv)")
    return found


def run_one(app: str, xml: Path, shape: str, hint: str, seconds: int, static: bool, extra: list[str],
            precision: str = "f32") -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_models_") as tmp:
        cmd = [app, "-m", str(xml), "-d", "CPU", "-hint", hint, "-infer_precision", precision, "-ip", "f32",
               "-t", str(seconds), "-json_stats", "-report_type", "no_counters", "-report_folder", tmp]
        cmd += ["-shape", shape] if static else ["-data_shape", shape, "-inference_only"]
        cmd += extra
        t0 = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        log = proc.stdout + proc.stderr
        report = Path(tmp) / "benchmark_report.json"
        if proc.returncode != 0 or not report.exists():
            tail = " | ".join(l.strip() for l in log.strip().splitlines()[-4:])
            return {"error": f"rc={proc.returncode}: {tail}", "cmd": cmd}
        data = json.loads(report.read_text())
    res = data.get("execution_results", {})
    setup = data.get("configuration_setup", {})

    def num(key):
        try:
            return float(res[key])
        except (KeyError, TypeError, ValueError):
            return float("nan")

    streams = re.search(r"NUM_STREAMS:\s*(\d+)", log)
    threads = re.search(r"INFERENCE_NUM_THREADS:\s*(\d+)", log)
    precision = re.search(r"INFERENCE_PRECISION_HINT:\s*(.+)", log)
    iters, total_ms = num("total number of iterations"), num("total execution time (ms)")
    batch = int(shape.strip("[]").split(",")[0])
    inf_s = iters / (total_ms / 1000.0) if total_ms > 0 else float("nan")
    return {
        "cmd": cmd, "wall_s": time.time() - t0,
        "api": setup.get("API", "?"), "nireq": setup.get("number of parallel infer requests", "?"),
        "streams": streams.group(1) if streams else "?", "threads": threads.group(1) if threads else "?",
        "precision": re.sub(r"<Type: '(\w+)'>", r"\1", precision.group(1).strip()) if precision else "?",
        "iterations": int(iters) if iters == iters else 0, "inf_s": inf_s, "items_s": inf_s * batch,
        "median": num("latency (ms)"), "avg": num("avg latency"), "min": num("min latency"), "max": num("max latency"),
        "fps_app": num("throughput"), "compile_ms": num("compile model time (ms)"),
        "first_ms": num("first inference time (ms)"),
    }
