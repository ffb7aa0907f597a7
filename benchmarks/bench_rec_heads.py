"""Recognizer speed of two bundles side by side (benchmark_app, LATENCY, f32, alternating A/B runs, medians): e.g. an
English-head recognizer (96 classes) against the official 6625-class one.

    python benchmarks/bench_rec_heads.py A_BUNDLE B_BUNDLE [--shapes "[6,3,48,320]" "[1,3,48,160]"] [--rounds 5] [-t 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from convert.benchmark_app import cpu_name, find_benchmark_app, run_one  # noqa: E402
from ppocr_edge.bundle import load_bundle  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--shapes", nargs="+", default=["[6,3,48,320]", "[8,3,48,640]", "[1,3,48,160]"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("-t", type=int, default=5, help="seconds per benchmark_app run")
    a = p.parse_args(argv)
    app = find_benchmark_app()
    xml = {k: load_bundle(v).rec.xml for k, v in (("A", a.a), ("B", a.b))}
    print(f"CPU: {cpu_name()}\nA = {a.a} ({xml['A']})\nB = {a.b} ({xml['B']})\n")
    print("| rec input | A median ms | B median ms | A / B (median of per-round ratios) |")
    print("|---|---|---|---|")
    for shape in a.shapes:
        ms: dict[str, list[float]] = {"A": [], "B": []}
        ratios = []
        for r in range(a.rounds):
            order = ("A", "B") if r % 2 == 0 else ("B", "A")
            got = {k: run_one(app, xml[k], shape, "latency", a.t, False, [])["median"] for k in order}
            for k in order:
                ms[k].append(got[k])
            ratios.append(got["A"] / got["B"])
        print(f"| {shape} | {statistics.median(ms['A']):.2f} | {statistics.median(ms['B']):.2f} | "
              f"{statistics.median(ratios):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
