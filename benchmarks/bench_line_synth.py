"""Speed of the synthetic text-line renderer (train/line_synth.py) and a contact sheet of its output.

    python benchmarks/bench_line_synth.py [--lines 2000] [--runs 5] \
        [--out benchmarks/results/line_synth.md] [--sheet benchmarks/results/line_synth_samples.png]

Single process with one thread (OMP_NUM_THREADS=1, cv2.setNumThreads(1)): lines/s per core, median of --runs runs
of --lines lines each (different seeds). Then two processes rendering at once (the 2-process aggregate).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy / cv2 load

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from train.line_synth import LineSynth, LineSynthConfig  # noqa: E402


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
        if "Model name" in fields:
            return f"{fields['Model name']} (lscpu: CPU family {fields.get('CPU family', '?')}, " \
                   f"model {fields.get('Model', '?')})"
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def rate(synth: LineSynth, lines: int, seed: int) -> float:
    t = time.perf_counter()
    for i in range(lines):
        synth.render(i, seed)
    return lines / (time.perf_counter() - t)


def _worker(args: tuple[LineSynth, int, int]) -> float:
    cv2.setNumThreads(1)
    synth, lines, seed = args
    synth.render(0, seed + 1000)  # warm the font cache outside the timing
    return rate(synth, lines, seed)


def two_process(synth: LineSynth, lines: int, seed: int) -> float:
    """Aggregate lines/s of two processes rendering `lines` each at the same time."""
    with mp.get_context("fork").Pool(2, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        pool.map(_worker, [(synth, 50, seed + 99), (synth, 50, seed + 98)])  # start-up outside the timing
        t = time.perf_counter()
        pool.map(_worker, [(synth, lines, seed), (synth, lines, seed + 1)])
        return 2 * lines / (time.perf_counter() - t)


def contact_sheet(synth: LineSynth, path: Path, n: int = 40, seed: int = 2026) -> None:
    """n rendered lines in two columns, each scaled to 40 px high, its label printed under it."""
    from PIL import Image

    h, col_w = 40, 560
    tiles = []
    for i in range(n):
        img, label = synth.render(i, seed)
        w = min(col_w, int(img.shape[1] * h / img.shape[0]))
        tile = np.full((h + 16, col_w, 3), 255, np.uint8)
        tile[:h, :w] = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, repr(label), (2, h + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 190), 1, cv2.LINE_AA)
        tiles.append(tile)
    half = (n + 1) // 2
    left, right = np.vstack(tiles[:half]), np.vstack(tiles[half:] + [np.full_like(tiles[0], 255)] * (2 * half - n))
    sheet = np.hstack([left, np.full((left.shape[0], 6, 3), 160, np.uint8), right])
    rgb = Image.fromarray(cv2.cvtColor(sheet, cv2.COLOR_BGR2RGB))
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/line_synth.md"))
    ap.add_argument("--sheet", type=Path, default=Path("benchmarks/results/line_synth_samples.png"))
    args = ap.parse_args()
    cv2.setNumThreads(1)
    load_before = os.getloadavg()[0]
    synth = LineSynth(LineSynthConfig())
    clean = LineSynth(LineSynthConfig.clean(), fonts=synth.fonts, text_source=synth.text_source)
    rate(synth, 200, 999)  # warm-up
    single = [rate(synth, args.lines, seed) for seed in range(args.runs)]
    single_clean = [rate(clean, args.lines, seed) for seed in range(args.runs)]
    dual = [two_process(synth, args.lines, 100 + seed) for seed in range(3)]
    contact_sheet(synth, args.sheet)
    sizes = np.array([synth.render(i, 77)[0].shape[:2] for i in range(300)])
    rows = [
        ("default config, 1 process, 1 thread", single),
        ("clean config (no effects), 1 process, 1 thread", single_clean),
        ("default config, 2 processes together (aggregate)", dual),
    ]
    lines = [
        "# Synthetic text-line renderer speed (train/line_synth.py)",
        "",
        f"CPU: {cpu_name()} ({os.cpu_count()} logical cores visible); Python {platform.python_version()}, "
        f"OpenCV {cv2.__version__}, numpy {np.__version__}; {len(synth.fonts)} fonts in "
        f"{len({f.family for f in synth.fonts})} families (train/setup_fonts.sh).",
        f"Command: `python benchmarks/bench_line_synth.py --lines {args.lines} --runs {args.runs}` "
        "(OMP_NUM_THREADS=1, cv2.setNumThreads(1)).",
        "",
        "| setting | lines/s (median) | runs |",
        "|---|---:|---|",
    ]
    for name, vals in rows:
        lines.append(f"| {name} | {statistics.median(vals):.0f} | {', '.join(f'{v:.0f}' for v in vals)} |")
    lines += [
        "",
        f"Each run renders {args.lines} lines (a fresh seed per run); the 2-process rows run {args.lines} lines in "
        "each process at the same time (3 runs).",
        f"Output crop size over 300 lines: height {sizes[:, 0].min()}-{sizes[:, 0].max()} px, "
        f"width median {int(np.median(sizes[:, 1]))} px (max {sizes[:, 1].max()}).",
        f"Contact sheet: `{args.sheet.name}` (40 lines, seed 2026, default config).",
        f"1-minute load average before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f} (the machine is "
        "shared; a load above the benchmark's own processes means the numbers are low).",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
