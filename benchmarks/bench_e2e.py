"""End-to-end OCR latency of ppocr_edge against peer engines, plus map() throughput against a sequential loop.

    . .venv/bin/activate
    bash benchmarks/setup_peers.sh                      # once: peer venvs under .bench/
    python benchmarks/bench_e2e.py --out benchmarks/results/e2e.md

How it measures
* Every engine (ours too) is a persistent benchmarks/peer_worker.py subprocess in its own venv. The driver sends it
  one image path at a time; the worker decodes the image with cv2.imread, then times only the engine call
  (time.perf_counter) and answers with the lines and elapsed_ms. Decoding is excluded for all engines alike, and all
  engines pay the same process isolation. Only one worker computes at a time; the others block on stdin.
* Each worker warms up on a synthetic page before the first timed call.
* Images are visited in rounds; for every image the engines run one after another in an order that rotates with the
  image and the round, with a short idle gap between calls (--gap-ms) so that the previous engine's spinning
  threads do not eat into the next one's time. Per image and engine the median over rounds is kept (with 3+ rounds
  the first-call-at-a-new-shape cost of dynamic-shape models falls out of the median).
* Per engine: the median over images of those per-image medians. Ratios: the median over images of
  ours_ms / peer_ms for the same image (< 1 means ours is faster).
* "ours, peer det settings" runs our pipeline with rapidocr_onnxruntime 1.2.3's detector settings (limit_side_len
  736, limit_type min, no max-side cap, box_thresh 0.5, unclip_ratio 1.6, dilation on) for an apples-to-apples
  ratio, because the defaults differ (ours: PP-OCRv3 inference defaults 960/max, 0.6, 1.5, no dilation).
* Pages above --big-mp megapixels (e.g. 7016x4961 scans) are left out of the rounds: with limit_type "min" and no
  cap, rapidocr_onnxruntime feeds the detector at full resolution (tens of seconds and several GB per page).
  --big-sample N times the first N of them once per engine, in a separate table.
* Throughput: in this process, on the same images as the rounds, decoded first; then rounds alternate (order flips every round)
  between a loop of sequential ocr(img) calls and list(ocr.map(imgs)); images/s and the ratio map/sequential are
  reported (median over rounds). Workers are shut down before this phase.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "benchmarks" / "peer_worker.py"
DEFAULT_IMAGES = [ROOT.parent / "shared/data/real_dev/det/ic15_sample/images",
                  ROOT.parent / "shared/data/real_dev/det/sroie_dev/images"]
FP32_BUNDLE = ROOT / "ppocr_edge" / "models" / "ch_pp_ocrv3"
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}

# rapidocr_onnxruntime 1.2.3's detector defaults, expressed for ppocr_edge (max_side: no cap, as in rapidocr)
PEER_DET_PRE = {"limit_side_len": 736, "limit_type": "min", "max_side": 1_000_000}
PEER_DET_POST = {"box_thresh": 0.5, "unclip_ratio": 1.6, "use_dilation": True}


@dataclass
class EngineSpec:
    key: str          # short name used in tables
    label: str        # human label
    engine: str       # peer_worker --engine
    python: Path      # interpreter of its venv
    config: dict = field(default_factory=dict)
    ours: bool = False


@dataclass
class Worker:
    spec: EngineSpec
    proc: subprocess.Popen
    info: dict

    def ask(self, path: str) -> dict:
        self.proc.stdin.write(json.dumps({"path": path}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.spec.key}: worker exited (rc={self.proc.poll()})")
        return json.loads(line)

    def close(self) -> None:
        try:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.proc.kill()


def start_worker(spec: EngineSpec, log_dir: Path) -> Worker | str:
    """Start and warm up a worker; returns a reason string when the engine is unavailable."""
    if not spec.python.exists():
        return f"{spec.python} not found (run benchmarks/setup_peers.sh)"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    log_dir.mkdir(parents=True, exist_ok=True)
    err = open(log_dir / f"worker_{spec.key}.log", "w")
    proc = subprocess.Popen([str(spec.python), str(WORKER), "--engine", spec.engine, "--config", json.dumps(spec.config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, encoding="utf-8",
                            cwd=str(ROOT), env=env)
    line = proc.stdout.readline()
    info = json.loads(line) if line else {"ready": False, "error": f"no answer (rc={proc.wait()})"}
    if not info.get("ready"):
        proc.kill()
        return f"worker failed: {info.get('error')} (log: {err.name})"
    return Worker(spec, proc, info)


def list_images(dirs: list[Path]) -> list[tuple[str, Path]]:
    out = []
    for d in dirs:
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_EXT) if d.is_dir() else []
        if not files:
            print(f"bench_e2e: no images in {d}", file=sys.stderr)
        group = d.parent.name if d.name == "images" else d.name
        out += [(group, p) for p in files]
    return out


def image_size(path: Path) -> tuple[int, int]:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"bench_e2e: cannot decode {path}")
    return img.shape[0], img.shape[1]


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x: float, nd: int = 1) -> str:
    return "n/a" if x != x else f"{x:.{nd}f}"


def cpu_name() -> str:
    name, flags = "unknown", set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and name == "unknown":
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
                       "amx_int8") if f in flags]
    return f"{name}; {os.cpu_count()} logical CPUs; {', '.join(isa) or 'no AVX2'}"


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "ppocr_edge"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return rev + (" (ppocr_edge/ modified)" if dirty else "")
    except Exception:  # noqa: BLE001
        return "?"


# ------------------------------------------------------------------------------------------------ latency phase
def run_latency(workers: list[Worker], images: list[tuple[str, Path]], rounds: int, gap_s: float,
                progress: bool) -> tuple[dict, dict, list[str]]:
    """times[key][path] -> list of ms; lines[key][path] -> number of lines (last answer)."""
    times = {w.spec.key: {} for w in workers}
    nlines = {w.spec.key: {} for w in workers}
    errors: list[str] = []
    n = len(workers)
    t_start = time.time()
    for r in range(rounds):
        for i, (_group, path) in enumerate(images):
            shift = (i + r) % n
            for w in workers[shift:] + workers[:shift]:
                ans = w.ask(str(path))
                if "error" in ans:
                    errors.append(f"{w.spec.key} {path.name}: {ans['error']}")
                else:
                    times[w.spec.key].setdefault(str(path), []).append(ans["elapsed_ms"])
                    nlines[w.spec.key][str(path)] = len(ans["lines"])
                if gap_s:
                    time.sleep(gap_s)
            if progress:
                print(f"\rround {r + 1}/{rounds} image {i + 1}/{len(images)}  {time.time() - t_start:.0f}s",
                      end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return times, nlines, errors


# --------------------------------------------------------------------------------------------- throughput phase
def run_throughput(images: list[Path], rounds: int, progress: bool, bundle: Path | None = None) -> dict:
    import cv2

    from ppocr_edge import OCRPipeline

    imgs = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in images]
    ocr = OCRPipeline(bundle)

    cpu = {"sequential": [], "map": []}

    def timed(name, body) -> float:
        c0, t0 = time.process_time(), time.perf_counter()
        body()
        wall = time.perf_counter() - t0
        cpu[name].append((time.process_time() - c0) / wall)  # CPUs kept busy by this process, on average
        return wall

    def sequential() -> float:
        return timed("sequential", lambda: [ocr(img) for img in imgs])

    def mapped() -> float:
        return timed("map", lambda: list(ocr.map(imgs)))

    warm = {"sequential": sequential(), "map": mapped()}  # compile THROUGHPUT models, fill shape caches
    cpu = {"sequential": [], "map": []}
    res = {"sequential": [], "map": []}
    for r in range(rounds):
        order = [("sequential", sequential), ("map", mapped)]
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            res[name].append(fn())
        if progress:
            print(f"\rthroughput round {r + 1}/{rounds}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    ocr.close()
    n = len(imgs)
    ips = {k: [n / s for s in v] for k, v in res.items()}
    return {"n": n, "warm_s": warm, "seconds": res, "ips": ips, "cpu": cpu,
            "ratio": [m / s for m, s in zip(ips["map"], ips["sequential"])]}


# ------------------------------------------------------------------------------------------------------ report
def engine_table(workers, times, nlines, images, rows_out):
    groups = sorted({g for g, _ in images})
    head = "| engine | images | " + " | ".join(f"{g} median ms" for g in groups) + " | all median ms | all mean ms | median lines/image |"
    rows_out += [head, "|" + "---|" * (head.count("|") - 1)]
    for w in workers:
        k = w.spec.key
        per_img = {p: median(v) for p, v in times[k].items()}
        cells = []
        for g in groups:
            cells.append(fmt(median([per_img[str(p)] for gg, p in images if gg == g and str(p) in per_img])))
        allv = list(per_img.values())
        rows_out.append(f"| {w.spec.label} | {len(allv)} | " + " | ".join(cells) +
                        f" | {fmt(median(allv))} | {fmt(statistics.fmean(allv) if allv else float('nan'))} | "
                        f"{fmt(median(list(nlines[k].values())), 0)} |")


def ratio_rows(a: str, b: str, times, images):
    per = {}
    for g, p in images:
        ta, tb = times.get(a, {}).get(str(p)), times.get(b, {}).get(str(p))
        if ta and tb:
            per.setdefault(g, []).append(median(ta) / median(tb))
    allr = [x for v in per.values() for x in v]
    return per, allr


def build_report(args, cmd, workers, skipped, images, big, times, nlines, errors, big_times, thr, wall, loads) -> str:
    out = ["# End-to-end OCR benchmark", "", f"Command: `{cmd}`", ""]
    out += [f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; wall time {wall:.0f} s",
            f"- CPU: {cpu_name()}",
            f"- Load average (1 min) at start / end: {loads[0][0]:.1f} / {loads[1][0]:.1f} on {os.cpu_count()} CPUs "
            "(shared machine: absolute times are inflated by other work; the alternating design keeps ratios fair)",
            f"- OS: {platform.platform()}; Python {platform.python_version()}; repo {git_rev()}",
            f"- Images: {len(images)} timed in {args.rounds} rounds "
            f"({', '.join(f'{g}: {sum(1 for gg, _ in images if gg == g)}' for g in sorted({g for g, _ in images}))}); "
            f"{len(big)} page(s) above {args.big_mp} MP left out of the rounds"
            + (f"; at most {args.limit} images per folder" if args.limit else ""),
            "- Timing: inside each engine's worker process, around the engine call on an already decoded BGR image "
            "(decode excluded for every engine); per image the median over rounds, engines alternating per image.",
            ""]
    out += ["## Engines", "", "| key | engine | version | backend | det settings | notes |", "|---|---|---|---|---|---|"]
    for w in workers:
        n = dict(w.info.get("notes", {}))
        det = {**n.pop("det_pre", {}), **n.pop("det_post", {})}
        out.append(f"| {w.spec.key} | {w.info['engine']} | {w.info['version']} | {w.info['backend']} "
                   f"{w.info['backend_version']} | {json.dumps(det)} | {json.dumps(n)} |")
    for key, why in skipped:
        out.append(f"| {key} | skipped | | | | {why} |")
    out += ["", "## Latency per engine (median over images of the per-image median)", ""]
    engine_table(workers, times, nlines, images, out)
    keys = [w.spec.key for w in workers]
    pairs = [("ours", k) for k in keys if k not in ("ours",)]
    if pairs:
        groups = sorted({g for g, _ in images})
        out += ["", "## Ratios (median over images of ours_ms / peer_ms for the same image; < 1: ours faster)", "",
                "| comparison | " + " | ".join(groups) + " | all | speed-up of the first (1/all) |",
                "|---|" + "---|" * (len(groups) + 2)]
        pairs = [(a, b) for a, b in pairs if b != "ours_peerdet"]
        if "ours_peerdet" in keys and "rapidocr_ort" in keys:
            pairs.append(("ours_peerdet", "rapidocr_ort"))
        if "ours_peerdet" in keys:
            pairs.append(("ours_peerdet", "ours"))
        for a, b in pairs:
            per, allr = ratio_rows(a, b, times, images)
            r = median(allr)
            out.append(f"| {a} / {b} | " + " | ".join(fmt(median(per.get(g, [])), 2) for g in groups) +
                       f" | {fmt(r, 2)} | {fmt(1 / r if r == r and r else float('nan'), 2)}x |")
    if big_times:
        out += ["", f"## Pages above {args.big_mp} MP (one timed call per engine, after the rounds)", "",
                "| image | size | " + " | ".join(f"{k} ms (lines)" for k in keys) + " |",
                "|---|---|" + "---|" * len(keys)]
        for p, (hw, per) in big_times.items():
            out.append(f"| {Path(p).name} | {hw[1]}x{hw[0]} | " +
                       " | ".join(f"{fmt(per[k][0], 0)} ({per[k][1]})" if k in per else "error" for k in keys) + " |")
    if thr:
        s, m = thr["ips"]["sequential"], thr["ips"]["map"]
        out += ["", "## Throughput: `ocr.map(images)` vs a loop of `ocr(img)` (in-process, decoded images)", "",
                f"{thr['n']} images per pass, {len(s)} alternating rounds after one warm-up pass of each "
                f"(warm-up: sequential {thr['warm_s']['sequential']:.1f} s, map {thr['warm_s']['map']:.1f} s).", "",
                "| mode | images/s per round | median images/s | process CPU time / wall (median) |", "|---|---|---|---|",
                f"| sequential `ocr()` | {', '.join(fmt(x, 2) for x in s)} | {fmt(median(s), 2)} | "
                f"{fmt(median(thr['cpu']['sequential']), 2)} |",
                f"| `map()` | {', '.join(fmt(x, 2) for x in m)} | {fmt(median(m), 2)} | {fmt(median(thr['cpu']['map']), 2)} |",
                "", f"map / sequential: per round {', '.join(fmt(x, 2) for x in thr['ratio'])}; "
                f"**median {fmt(median(thr['ratio']), 2)}x** (target >= 1.5x)."]
    if errors:
        out += ["", "## Errors", ""] + [f"- {e}" for e in errors[:50]]
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description="End-to-end OCR latency vs peers and map() throughput.")
    ap.add_argument("--images", nargs="+", type=Path, default=DEFAULT_IMAGES, help="image folders")
    ap.add_argument("--limit", type=int, default=None, help="at most N images per folder")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gap-ms", type=float, default=30.0, help="idle time between two engine calls")
    ap.add_argument("--big-mp", type=float, default=12.0, help="pages above this many megapixels skip the rounds")
    ap.add_argument("--big-sample", type=int, default=1, help="time this many big pages once per engine")
    ap.add_argument("--engines", default="ours,ours_peerdet,rapidocr_ort,rapidocr_ov",
                    help="comma list from ours, ours_peerdet, ours_fp32, ours_alt, rapidocr_ort, rapidocr_ov, "
                    "rapidocr3_ort, rapidocr3_ov")
    ap.add_argument("--alt-bundle", type=Path, help="bundle of the engine 'ours_alt' (to compare two bundles)")
    ap.add_argument("--bundle", type=Path, help="bundle of 'ours', 'ours_peerdet' and the throughput phase "
                    "(default: the embedded default)")
    ap.add_argument("--ort-venv", type=Path, default=ROOT / ".bench/venv-rapidocr-ort")
    ap.add_argument("--ov-venv", type=Path, default=ROOT / ".bench/venv-rapidocr-ov")
    ap.add_argument("--r3-venv", type=Path, default=ROOT / ".bench/venv-rapidocr3")
    ap.add_argument("--throughput-rounds", type=int, default=3, help="0 disables the map/sequential phase")
    ap.add_argument("--out", type=Path, help="write the Markdown report here")
    ap.add_argument("--json", type=Path, help="also dump raw timings as JSON")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    cmd = "python " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    t_wall = time.time()

    ours_py = Path(sys.executable)
    ours_cfg = {"bundle": str(args.bundle)} if args.bundle else {}
    specs = {
        "ours": EngineSpec("ours", "ours (ppocr_edge, defaults)", "ppocr_edge", ours_py, ours_cfg, True),
        "ours_peerdet": EngineSpec("ours_peerdet", "ours, peer det settings", "ppocr_edge", ours_py,
                                   {**ours_cfg, "det_pre": PEER_DET_PRE, "det_options": PEER_DET_POST}, True),
        "ours_fp32": EngineSpec("ours_fp32", "ours, FP32 bundle", "ppocr_edge", ours_py,
                                {"bundle": str(FP32_BUNDLE)}, True),
        "ours_alt": EngineSpec("ours_alt", f"ours, bundle {args.alt_bundle}", "ppocr_edge", ours_py,
                               {"bundle": str(args.alt_bundle)}, True),
        "rapidocr_ort": EngineSpec("rapidocr_ort", "rapidocr_onnxruntime 1.2.3", "rapidocr_onnxruntime",
                                   args.ort_venv / "bin/python"),
        "rapidocr_ov": EngineSpec("rapidocr_ov", "rapidocr_openvino 1.4.4", "rapidocr_openvino",
                                  args.ov_venv / "bin/python"),
        "rapidocr3_ort": EngineSpec("rapidocr3_ort", "rapidocr 3.10 (onnxruntime, its default)", "rapidocr3",
                                    args.r3_venv / "bin/python", {"engine_type": "onnxruntime"}),
        "rapidocr3_ov": EngineSpec("rapidocr3_ov", "rapidocr 3.10 (OpenVINO engine)", "rapidocr3",
                                   args.r3_venv / "bin/python", {"engine_type": "openvino"}),
    }
    wanted = [k.strip() for k in args.engines.split(",") if k.strip()]
    for k in wanted:
        if k not in specs:
            raise SystemExit(f"bench_e2e: unknown engine {k!r}")

    found = list_images(args.images)
    if not found:
        raise SystemExit("bench_e2e: no images")
    sizes = {str(p): image_size(p) for _, p in found}
    big = [p for _, p in found if sizes[str(p)][0] * sizes[str(p)][1] > args.big_mp * 1e6]
    images, per_group = [], {}
    for g, p in found:  # --limit applies to the pages that go through the rounds
        if p not in big and (args.limit is None or per_group.get(g, 0) < args.limit):
            images.append((g, p))
            per_group[g] = per_group.get(g, 0) + 1
    load0 = os.getloadavg()

    log_dir = ROOT / ".bench" / "logs"
    workers, skipped = [], []
    for k in wanted:
        w = start_worker(specs[k], log_dir)
        if isinstance(w, str):
            print(f"bench_e2e: skipping {k}: {w}", file=sys.stderr)
            skipped.append((k, w))
        else:
            if not args.quiet:
                print(f"bench_e2e: {k} ready: {w.info['engine']} {w.info['version']} on {w.info['backend']} "
                      f"{w.info['backend_version']}", file=sys.stderr)
            workers.append(w)
    if not workers:
        raise SystemExit("bench_e2e: no engine could start")
    try:
        times, nlines, errors = run_latency(workers, images, args.rounds, args.gap_ms / 1000.0, not args.quiet)
        big_times = {}
        for p in big[: args.big_sample]:
            per = {}
            for w in workers:
                ans = w.ask(str(p))
                if "error" in ans:
                    errors.append(f"{w.spec.key} {p.name}: {ans['error']}")
                else:
                    per[w.spec.key] = (ans["elapsed_ms"], len(ans["lines"]))
                time.sleep(args.gap_ms / 1000.0)
                if not args.quiet:
                    print(f"bench_e2e: big page {p.name}: {w.spec.key} {ans.get('elapsed_ms')} ms", file=sys.stderr)
            big_times[str(p)] = (sizes[str(p)], per)
    finally:
        for w in workers:
            w.close()

    print(f"bench_e2e: latency phase done in {time.time() - t_wall:.0f} s", file=sys.stderr)
    thr = None
    if args.throughput_rounds > 0:
        thr = run_throughput([p for _, p in images], args.throughput_rounds, not args.quiet, args.bundle)

    report = build_report(args, cmd, workers, skipped, images, big, times, nlines, errors, big_times, thr,
                          time.time() - t_wall, (load0, os.getloadavg()))
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"times_ms": times, "lines": nlines, "big": big_times, "throughput": thr,
                                         "errors": errors, "engines": [w.info for w in workers]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
