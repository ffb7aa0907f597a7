"""Accuracy of the peer engines (rapidocr) on the real-image dev sets, scored exactly like ours.

    . .venv/bin/activate
    bash benchmarks/setup_peers.sh                      # once: peer venvs under .bench/
    python benchmarks/eval_peers.py --out benchmarks/results/accuracy_peers.md [--engines rapidocr_ort rapidocr_ov]
                                    [--sets ic15_sample sroie_dev ic15_test_2077] [--limit N] [--json peers.json]

Every engine runs as a persistent benchmarks/peer_worker.py subprocess in its own venv (as in bench_e2e.py) and is
wrapped in an ``Engine`` adapter for ppocr_edge.evaluate, whose ``evaluate`` does all of the scoring
(benchmarks/eval_accuracy.py's ``markdown_report`` the tables), so the numbers are directly comparable with
benchmarks/results/accuracy_default.md.

* Peers run with their own defaults, as pip installs them (no config is passed to the worker): detection
  settings, direction classifier on, and their text_score 0.5 filter on the detection sets.
* Detection sets: a worker request ``{"path": P}`` (the engine's normal call). Peers report no word boxes, so the
  ``words`` row of ic15_sample (ours has one) is absent; only line boxes are scored.
* Recognition set (word crops): a request ``{"path": P, "use_det": false}``; the worker recognises the whole crop
  without detection and without a score filter (see ``run_nodet`` in peer_worker.py: rapidocr_openvino 1.4.4
  calls its own ``use_det=False``; rapidocr_onnxruntime 1.2.3 has no such argument, so the worker runs the body
  of its own no-detection branch: classifier then text_recognizer on the whole image). As for ours, the table
  also shows the scores when results below the engine's text_score are dropped.
* ms/img is the worker's elapsed_ms (engine call only, image decoded before the clock starts, like ours);
  img/s is measured here around the whole request (decode and pipe included).
* ``--engines ppocr_edge`` runs ours through the same worker path (a cross-check of the adapter against
  benchmarks/eval_accuracy.py); it is not in the default set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_accuracy import DEFAULT_DATA, _cpu_name, markdown_report  # noqa: E402

from ppocr_edge.evaluate import DATASETS, EngineLine, SetResult, evaluate, progress_bar  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "benchmarks" / "peer_worker.py"
LOG_DIR = ROOT / ".bench" / "logs"


@dataclass(frozen=True)
class PeerSpec:
    key: str     # --engines name
    engine: str  # peer_worker --engine
    venv: str    # relative to the repo root
    config: dict[str, Any] = field(default_factory=dict)  # peer_worker --config


PEERS = {
    "rapidocr_ort": PeerSpec("rapidocr_ort", "rapidocr_onnxruntime", ".bench/venv-rapidocr-ort"),
    "rapidocr_ov": PeerSpec("rapidocr_ov", "rapidocr_openvino", ".bench/venv-rapidocr-ov"),
    "rapidocr3_ort": PeerSpec("rapidocr3_ort", "rapidocr3", ".bench/venv-rapidocr3", {"engine_type": "onnxruntime"}),
    "rapidocr3_ov": PeerSpec("rapidocr3_ov", "rapidocr3", ".bench/venv-rapidocr3", {"engine_type": "openvino"}),
    "ppocr_edge": PeerSpec("ppocr_edge", "ppocr_edge", ".venv"),
}
DEFAULT_ENGINES = ("rapidocr_ort", "rapidocr_ov")


class WorkerEngine:
    """An ``Engine`` for ppocr_edge.evaluate.evaluate backed by a peer_worker.py subprocess.

    engine(image_path, use_det=True) -> list[EngineLine]; sets last_elapsed_ms from the worker's elapsed_ms.
    A request the worker answers with an error counts as an image with no lines and is kept in ``errors``.
    """

    def __init__(self, spec: PeerSpec, config: dict[str, Any] | None = None, log_dir: Path = LOG_DIR):
        python = ROOT / spec.venv / "bin" / "python"
        if not python.exists():
            raise RuntimeError(f"{python} not found (run benchmarks/setup_peers.sh)")
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"worker_eval_{spec.key}.log"
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.spec = spec
        self.config = {**spec.config, **(config or {})}
        self.proc = subprocess.Popen([str(python), str(WORKER), "--engine", spec.engine, "--config",
                                      json.dumps(self.config)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, text=True, encoding="utf-8", cwd=str(ROOT), env=env)
        line = self.proc.stdout.readline()
        info = json.loads(line) if line else {"ready": False, "error": f"no answer (rc={self.proc.wait()})"}
        if not info.get("ready"):
            self.proc.kill()
            raise RuntimeError(f"{spec.key}: worker failed: {info.get('error')} (log: {self.log_path})")
        self.info = info
        self.notes: dict[str, Any] = info.get("notes", {})
        self.name = spec.key
        self.last_elapsed_ms: float | None = None
        self.errors: list[str] = []

    @property
    def text_score(self) -> float | None:
        """The engine's own confidence threshold for detection results (rapidocr: Global.text_score)."""
        ts = self.notes.get("text_score")
        return None if ts is None else float(ts)

    @property
    def description(self) -> str:
        i = self.info
        return f"{i['engine']} {i['version']} ({i['backend']} {i['backend_version']}, python {i['python']})"

    def __call__(self, image_path: str, use_det: bool = True) -> list[EngineLine]:
        req: dict[str, Any] = {"path": str(image_path)}
        if not use_det:
            req["use_det"] = False
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: worker exited (rc={self.proc.poll()}; log: {self.log_path})")
        ans = json.loads(line)
        if "error" in ans:
            self.errors.append(f"{Path(image_path).name}: {ans['error']}")
            self.last_elapsed_ms = None
            return []
        self.last_elapsed_ms = float(ans["elapsed_ms"])
        return [EngineLine(ln["text"], ln["box"], None, ln.get("score")) for ln in ans["lines"]]

    def close(self) -> None:
        try:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except Exception:  # noqa: BLE001 - a worker that does not stop is killed
            self.proc.kill()
        self._log.close()


NODET_MODE = {
    "rapidocr_onnxruntime": "worker runs the engine's own no-detection branch without its score filter "
                            "(1.2.3 has no use_det argument): text_cls, then text_recognizer on the whole crop",
    "rapidocr_openvino": "the engine's own `ocr(img, use_det=False)` (its max/min side resize and the classifier "
                         "still run; no score filter without detection)",
    "rapidocr3": "the engine's own `ocr(img, use_det=False, text_score=0)` (its preprocessing and the classifier "
                 "still run)",
    "ppocr_edge": "`OCRPipeline(img, use_det=False)` with drop_score 0",
}


def engine_meta(eng: WorkerEngine, data: Path, limit: int | None, load_s: float, wall_s: float) -> dict[str, str]:
    n = eng.notes
    det = {**n.get("det_pre", {}), **n.get("det_post", {})}
    if "max_side_len" in n:
        det["max_side_len (whole-image pre-resize)"] = n["max_side_len"]
    extra = {k: v for k, v in n.items() if k not in ("det_pre", "det_post", "max_side_len", "text_score", "use_cls")}
    meta = {
        "engine": f"{eng.description}; its own defaults (no config passed)" if not eng.config
        else f"{eng.description}; config {json.dumps(eng.config)}",
        "data": str(data.resolve()),
        "e2e text normalisation": "case-insensitive, whitespace collapsed",
        "det settings in effect": ", ".join(f"{k}={v}" for k, v in det.items()) or "?",
        "detection score filter (text_score)": "?" if eng.text_score is None else f"{eng.text_score:g}",
        "direction classifier": {True: "on", False: "off"}.get(n.get("use_cls"), "?"),
        "recognition without detection": NODET_MODE.get(eng.info["engine"], "?"),
        "word boxes": "none reported (ic15_sample is scored with line boxes only)",
    }
    if extra:
        meta["engine notes"] = json.dumps(extra)
    meta["limit"] = str(limit) if limit else "none (full sets)"
    meta["runtime"] = f"python {platform.python_version()} (driver), {_cpu_name()}, {os.cpu_count()} CPUs"
    meta["wall time"] = f"{wall_s:.1f} s (worker start and warm-up {load_s:.1f} s)"
    if eng.errors:
        meta["worker errors"] = f"{len(eng.errors)} (scored as no lines); first: {eng.errors[0]}"
    return meta


def _f(x: float) -> str:
    return f"{100 * x:.1f}"


def summary_table(runs: list[tuple[WorkerEngine, list[SetResult]]]) -> list[str]:
    """One row per engine: the headline numbers of every set, for a side-by-side view."""
    out = ["| engine | ic15_sample lines det H / e2e H | sroie_dev det H / e2e H | "
           "ic15_test_2077 acc / acc alnum / 1-NED |", "|---|---|---|---|"]
    for eng, results in runs:
        cells = {}
        for r in results:
            if r.kind == "det" and "lines" in r.scores:
                s = r.scores["lines"]
                cells[r.name] = f"{_f(s['hmean'])} / {_f(s['e2e_hmean'])}"
            elif r.kind == "rec":
                s = r.scores["rec"]
                cells[r.name] = f"{_f(s['accuracy'])} / {_f(s['accuracy_alnum'])} / {_f(s['one_minus_ned'])}"
        out.append(f"| {eng.info['engine']} {eng.info['version']} ({eng.info['backend']}) | {cells.get('ic15_sample', '')} | "
                   f"{cells.get('sroie_dev', '')} | {cells.get('ic15_test_2077', '')} |")
    return out


def demote(report: str) -> str:
    """markdown_report's text without its title and command block, headings one level down."""
    lines = report.splitlines()
    # drop "# title", "", "```", command, "```", ""
    body = lines[6:] if len(lines) > 6 and lines[2] == "```" and lines[4] == "```" else lines[1:]
    return "\n".join("#" + ln if ln.startswith("#") else ln for ln in body)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engines", nargs="+", choices=list(PEERS), default=list(DEFAULT_ENGINES),
                   help="engines to evaluate (default: %(default)s)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="root of real_dev (default: %(default)s)")
    p.add_argument("--sets", nargs="+", choices=[d.name for d in DATASETS], help="sets to run (default: all)")
    p.add_argument("--limit", type=int, help="evaluate only the first N samples of each set")
    p.add_argument("--out", type=Path, help="also write the Markdown report here")
    p.add_argument("--json", type=Path, help="write the scores as JSON here")
    p.add_argument("--details", type=Path, help="write per-image matches / recognition errors as JSON lines here")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)

    argv_list = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join(["python", "benchmarks/eval_peers.py", *argv_list])
    t_all = time.perf_counter()
    runs: list[tuple[WorkerEngine, list[SetResult]]] = []
    metas: list[dict[str, str]] = []
    for key in a.engines:
        t0 = time.perf_counter()
        eng = WorkerEngine(PEERS[key])
        load_s = time.perf_counter() - t0
        print(f"eval_peers: {key}: {eng.description} ready in {load_s:.1f} s", file=sys.stderr)
        results: list[SetResult] = []
        try:
            for ds in DATASETS:
                if a.sets and ds.name not in a.sets:
                    continue
                results += evaluate(eng, a.data, sets=[ds.name], limit=a.limit, drop_score=eng.text_score,
                                    progress=progress_bar(f"{key} {ds.name}", a.quiet))
                r = results[-1]
                print(f"eval_peers: {key} {ds.name}: {json.dumps(r.scores)} ({r.seconds:.1f} s)", file=sys.stderr)
        finally:
            eng.close()
        wall_s = time.perf_counter() - t0
        runs.append((eng, results))
        metas.append(engine_meta(eng, a.data, a.limit, load_s, wall_s))
    total_s = time.perf_counter() - t_all

    out = ["# Accuracy of the peer engines on real_dev", "", "```", command, "```", "",
           "Same data, matching and metrics as benchmarks/results/accuracy_default.md (ppocr_edge.evaluate "
           "`evaluate`); each engine runs with its own pip defaults in its own venv through "
           "benchmarks/peer_worker.py.", "",
           f"- total wall time: {total_s:.1f} s", "", "## Summary (scores in %)", ""]
    out += summary_table(runs)
    for (eng, results), meta in zip(runs, metas):
        report = markdown_report(results, title=eng.description, command=command, meta=meta)
        out += ["", f"## {eng.info['engine']} {eng.info['version']}", "", demote(report).strip()]
    text = "\n".join(out) + "\n"
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text, encoding="utf-8")
    if a.json:
        doc = {"command": command, "total_s": round(total_s, 1),
               "engines": [{"key": eng.spec.key, "info": eng.info, "meta": meta, "errors": eng.errors,
                            "sets": [r.to_dict() for r in results]} for (eng, results), meta in zip(runs, metas)]}
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if a.details:
        rows = [json.dumps({"engine": eng.spec.key, "set": r.name, **d}, ensure_ascii=False)
                for eng, results in runs for r in results for d in r.details]
        a.details.parent.mkdir(parents=True, exist_ok=True)
        a.details.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
