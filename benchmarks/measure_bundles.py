"""Accuracy and speed of every embedded bundle, side by side: the table to choose a bundle from.

    python benchmarks/measure_bundles.py [--bundles ch_pp_ocrv3_int8,en,ppocrv4,ppocrv6_small] [--rounds 3]
        [--limit 20] [--out benchmarks/results/bundles.md] [--write-measured]

Accuracy: benchmarks/eval_accuracy.py on the full real_dev sets for each bundle (its JSON and Markdown reports go
to benchmarks/results/bundles/NAME.{json,md}). Speed: in one process, every bundle loaded, the first --limit
receipts (sroie_dev) and scenes (ic15_sample) visited in --rounds rounds; per image the bundles run one after
another in an order that rotates with the image and the round; the engine's own time per image
(OCRResult.elapsed_ms, decoded image to result) is kept as the median over rounds, and per set the median over
images. Ratios to the first bundle are medians of per-image ratios. --write-measured stores the numbers in
ppocr_edge/models/measured.json, which `ppocr-edge bundles` shows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from convert.benchmark_app import cpu_name  # noqa: E402
from ppocr_edge import OCRPipeline  # noqa: E402
from ppocr_edge.bundle import MEASURED, bundle_summary, resolve_bundle  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "real_dev"
SPEED_SETS = {"receipts": DATA / "det/sroie_dev/images", "scenes": DATA / "det/ic15_sample/images"}


def accuracy(name: str, out_dir: Path) -> dict:
    """eval_accuracy.py on real_dev -> the headline scores (in %)."""
    js, md = out_dir / f"{name}.json", out_dir / f"{name}.md"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/eval_accuracy.py"), "--bundle", name, "--json", str(js),
                    "--out", str(md), "--quiet"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return accuracy_from_json(js)


def speed(names: list[str], rounds: int, limit: int) -> tuple[dict, dict]:
    """Per set and bundle: median over images of the per-image median ms; and ratios to names[0]."""
    pipes = {n: OCRPipeline(n) for n in names}
    times: dict[str, dict[str, dict[str, list[float]]]] = {s: {n: {} for n in names} for s in SPEED_SETS}
    for s, folder in SPEED_SETS.items():
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".png", ".jpeg"})[:limit]
        images = [(p.name, cv2.imread(str(p), cv2.IMREAD_COLOR)) for p in files]
        for n in names:  # warm-up: compile, first shapes
            pipes[n](images[0][1])
        for r in range(rounds):
            for i, (key, img) in enumerate(images):
                shift = (i + r) % len(names)
                for n in names[shift:] + names[:shift]:
                    times[s][n].setdefault(key, []).append(pipes[n](img).elapsed_ms)
            print(f"speed: {s} round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    ms = {s: {n: round(statistics.median(statistics.median(v) for v in times[s][n].values()), 1) for n in names}
          for s in SPEED_SETS}
    ref = names[0]
    ratio = {s: {n: round(statistics.median(statistics.median(times[s][n][k]) / statistics.median(times[s][ref][k])
                                            for k in times[s][ref]), 2) for n in names} for s in SPEED_SETS}
    for p in pipes.values():
        p.close()
    return ms, ratio


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundles", default="ch_pp_ocrv3_int8,en,ppocrv4,ppocrv6_small")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--limit", type=int, default=20, help="images per speed set")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/bundles.md")
    p.add_argument("--skip-accuracy", action="store_true", help="reuse the JSON reports already written")
    p.add_argument("--write-measured", action="store_true", help="store the numbers in " + str(MEASURED))
    a = p.parse_args(argv)
    names = [n.strip() for n in a.bundles.split(",") if n.strip()]
    out_dir = a.out.parent / "bundles"
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    acc = {}
    for n in names:
        if a.skip_accuracy and (out_dir / f"{n}.json").is_file():
            acc[n] = accuracy_from_json(out_dir / f"{n}.json")
        else:
            print(f"accuracy: {n}", file=sys.stderr, flush=True)
            acc[n] = accuracy(n, out_dir)
    ms, ratio = speed(names, a.rounds, a.limit)
    cpu = cpu_name()
    info = {n: bundle_summary(resolve_bundle(n)) for n in names}
    lines = ["# Embedded bundles: accuracy and speed", "",
             f"Command: `python benchmarks/measure_bundles.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
             "", f"- {time.strftime('%Y-%m-%d')}; CPU: {cpu}, shared; wall {time.time() - t0:.0f} s",
             "- Accuracy: `benchmarks/eval_accuracy.py --bundle NAME` on the full real_dev sets (reports in "
             "`bundles/NAME.md`); H = hmean at IoU 0.5, e2e = box matched and text equal (case-insensitive); "
             "ic15 lines / words: our line boxes / word boxes against the word-level GT; crops = ICDAR 2015 word "
             "crops, lowercase alphanumeric accuracy.",
             f"- Speed: first {a.limit} images of each set, {a.rounds} rounds, bundles alternating per image; "
             "median over images of the per-image median `OCRResult.elapsed_ms`; ratio = median of per-image "
             f"ratios to `{names[0]}` (same run).", "",
             "| bundle | ic15 det H lines / words | ic15 e2e H lines / words | sroie det H | sroie e2e H | "
             "IC15 crops acc | receipts ms (ratio) | scenes ms (ratio) | size MB | licence |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for n in names:
        c = acc[n]
        lines.append(f"| `{n}` | {c['ic15_det_h_lines']} / {c['ic15_det_h_words']} | {c['ic15_e2e_h_lines']} / "
                     f"{c['ic15_e2e_h_words']} | {c['sroie_det_h']} | {c['sroie_e2e_h']} | {c['ic15_crops_acc_alnum']}"
                     f" | {ms['receipts'][n]} ({ratio['receipts'][n]}) | {ms['scenes'][n]} ({ratio['scenes'][n]}) | "
                     f"{info[n]['size_bytes'] / 1e6:.1f} | {info[n]['license']} |")
    a.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    if a.write_measured:
        old = json.loads(MEASURED.read_text(encoding="utf-8")) if MEASURED.is_file() else {}
        for n in names:
            old[n] = {"cpu": cpu, "date": time.strftime("%Y-%m-%d"), "accuracy_pct": acc[n],
                      "ms_per_image": {"receipts": ms["receipts"][n], "scenes": ms["scenes"][n]},
                      "report": "benchmarks/results/bundles.md"}
        MEASURED.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def accuracy_from_json(path: Path) -> dict:
    sets = {s["name"]: s for s in json.loads(path.read_text(encoding="utf-8"))["sets"]}
    ic15, sroie, crops = sets["ic15_sample"]["scores"], sets["sroie_dev"]["scores"]["lines"], sets["ic15_test_2077"]

    def pct(x: float) -> float:
        return round(100 * x, 1)

    return {"ic15_det_h_lines": pct(ic15["lines"]["hmean"]), "ic15_det_h_words": pct(ic15["words"]["hmean"]),
            "ic15_e2e_h_lines": pct(ic15["lines"]["e2e_hmean"]), "ic15_e2e_h_words": pct(ic15["words"]["e2e_hmean"]),
            "sroie_det_h": pct(sroie["hmean"]), "sroie_e2e_h": pct(sroie["e2e_hmean"]),
            "ic15_crops_acc_alnum": pct(crops["scores"]["rec"]["accuracy_alnum"])}


if __name__ == "__main__":
    sys.exit(main())
