"""Per-model OpenVINO throughput/latency of a ppocr_edge bundle, measured with benchmark_app.

    . .venv/bin/activate
    python benchmarks/bench_models.py --out benchmarks/results/models.md [--bundle DIR] [-t 10]

For every IR of the bundle (det, rec, cls) at realistic input shapes, benchmark_app (the console script installed
with our venv's openvino) runs as a subprocess with the LATENCY and the THROUGHPUT hint, f32 execution
(-infer_precision f32) and f32 input (-ip f32, matching what the pipeline feeds), random input data and
-json_stats; the numbers are read from benchmark_report.json and the device settings (streams, requests) from the
console log. --precisions f32,bf16 adds bf16 rows (interleaved with f32 per case, so noise hits both alike).

By default the IR keeps its dynamic dimensions and benchmark_app feeds the given shape (-data_shape, with
-inference_only so that input filling stays out of the loop), as the SDK does; --static reshapes the model to the
shape first (-shape). benchmark_app's own FPS counts batch items for a static batch but inferences for
-data_shape runs, so this script reports both, computed from the iteration count and the measured duration:
inferences/s and items/s (= batch x inferences/s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from convert.benchmark_app import cpu_name, find_benchmark_app, run_one  # noqa: E402

DEFAULT_BUNDLE = ROOT / "ppocr_edge" / "models" / "ch_pp_ocrv3_int8"

# (role, shape, what it stands for)
CASES = [
    ("det", "[1,3,960,960]", "page, limit_side_len 960 (square)"),
    ("det", "[1,3,736,1280]", "720p landscape photo (padded to 128)"),
    ("rec", "[6,3,48,320]", "batch of 6 lines, width bucket 320"),
    ("cls", "[6,3,48,192]", "batch of 6 lines"),
]
HINTS = ("latency", "throughput")


def model_xml(bundle: Path, role: str) -> Path | None:
    manifest = bundle / "manifest.json"
    if manifest.exists():
        entry = json.loads(manifest.read_text()).get("models", {}).get(role)
        return bundle / entry["xml"] if entry else None
    xml = bundle / f"{role}.xml"
    return xml if xml.exists() else None


def fmt(x: float, nd: int = 1) -> str:
    return "n/a" if x != x else f"{x:.{nd}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description="benchmark_app on each IR of a bundle (LATENCY and THROUGHPUT, f32).")
    ap.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    ap.add_argument("-t", "--seconds", type=int, default=10, help="benchmark_app -t per run")
    ap.add_argument("--static", action="store_true", help="reshape to the shape (-shape) instead of -data_shape")
    ap.add_argument("--hints", default=",".join(HINTS), help="comma list of latency, throughput")
    ap.add_argument("--precisions", default="f32", help="comma list for -infer_precision (f32, bf16, f16)")
    ap.add_argument("--only", default="", help="comma list of roles to run (det, rec, cls)")
    ap.add_argument("--extra", default="", help="extra benchmark_app arguments, e.g. '-pin NO'")
    ap.add_argument("--out", type=Path, help="write the Markdown report here")
    args = ap.parse_args()
    cmd_line = "python " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    app = find_benchmark_app()
    import openvino as ov  # noqa: PLC0415 - only for its version

    hints = [h.strip() for h in args.hints.split(",") if h.strip()]
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    roles = {r.strip() for r in args.only.split(",") if r.strip()}
    load0 = os.getloadavg()
    t_wall = time.time()
    rows = []
    for role, shape, what in CASES:
        if roles and role not in roles:
            continue
        xml = model_xml(args.bundle, role)
        if xml is None:
            print(f"bench_models: bundle has no {role} model; skipped", file=sys.stderr)
            continue
        for hint in hints:
            for prec in precisions:
                print(f"bench_models: {role} {shape} {hint} {prec} ...", file=sys.stderr, flush=True)
                r = run_one(app, xml, shape, hint, args.seconds, args.static, args.extra.split(), prec)
                r["req_precision"] = prec
                rows.append((role, shape, what, hint, r))
                if "error" in r:
                    print(f"bench_models:   error {r['error']}", file=sys.stderr)
                else:
                    print(f"bench_models:   median {r['median']:.2f} ms, {r['items_s']:.2f} items/s", file=sys.stderr)
    load1 = os.getloadavg()

    out = ["# Per-model benchmark (benchmark_app)", "", f"Command: `{cmd_line}`", "",
           f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; wall time {time.time() - t_wall:.0f} s",
           f"- CPU: {cpu_name()}; load average before/after: {load0[0]:.1f} / {load1[0]:.1f} "
           "(the machine is shared, so absolute numbers are noisy)",
           f"- OpenVINO {ov.__version__}; {platform.platform()}; Python {platform.python_version()}",
           f"- Bundle: {os.path.relpath(args.bundle, ROOT)}",
           f"- benchmark_app flags: -d CPU -hint <hint> -infer_precision <{'|'.join(precisions)}> -ip f32 -t {args.seconds} -json_stats "
           + ("-shape <shape>" if args.static else "-data_shape <shape> -inference_only (IR stays dynamic)")
           + (f" {args.extra}" if args.extra else ""),
           "- Latency is per inference (the whole batch). inferences/s and items/s (batch x inferences/s) come from the "
           "iteration count and the measured duration.",
           "", "| model | input | stands for | hint | precision | api | streams | nireq | iters | median ms | avg ms | "
           "min ms | max ms | inferences/s | items/s | compile ms | first inf ms |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for role, shape, what, hint, r in rows:
        if "error" in r:
            out.append(f"| {role} | {shape} | {what} | {hint} | {r['req_precision']} | error: {r['error']} |" + " |" * 11)
            continue
        out.append(f"| {role} | {shape} | {what} | {hint} | {r['req_precision']} | {r['api']} | {r['streams']} | "
                   f"{r['nireq']} | {r['iterations']} | {fmt(r['median'], 2)} | {fmt(r['avg'], 2)} | "
                   f"{fmt(r['min'], 2)} | {fmt(r['max'], 2)} | {fmt(r['inf_s'], 2)} | {fmt(r['items_s'], 2)} | "
                   f"{fmt(r['compile_ms'], 0)} | {fmt(r['first_ms'], 1)} |")
    seen = sorted({f"{r['req_precision']} -> {r['precision']}" for *_, r in rows if "precision" in r})
    if seen:
        out += ["", f"Execution precision reported by the plugin (requested -> reported): {'; '.join(seen)}."]
    report = "\n".join(out) + "\n"
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
    return 0 if all("error" not in r for *_, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
