"""Markdown table of an ablation's runs: final and best synthetic-validation and real-crop accuracy, wall time.

    python benchmarks/rec_ablation_table.py RUNS_DIR ROW [ROW ...]
"""

from __future__ import annotations

import csv
import platform
import sys
from pathlib import Path

ROWS = {"ctc": "CTC (SVTR_LCNet x0.25, from scratch)", "gtc": "+ GTC (SAR branch, use_guide)",
        "conaug": "+ TextConAug (p 0.5)", "udml": "+ U-DML (two models, DML + feature loss)",
        "rotnet_ctc": "CTC, backbone from TextRotNet (vs the CTC row)",
        "ctc_1800": "CTC, 1800 steps (vs the TextRotNet row: its pre-training time spent on labelled steps)"}


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main(root: str, rows: list[str]) -> None:
    print("# Recognition ablation at a CPU budget\n")
    print(f"Machine: {cpu()}, 2 cores. Command: `bash benchmarks/rec_ablation.sh` (config `train/configs/"
          "rec_ablation.yaml`: rec_smoke's model and data, 900 steps x 32 lines, seed 0, each row adds one thing to "
          "the row above). synth = 200 held-out synthetic lines (exact match); ic15 numbers = the 37 real IC15 word "
          "crops whose labels are numbers (the model's dictionary), alnum match.\n")
    print("| row | synth acc (last) | synth acc (best) | ic15 numbers acc (last) | train minutes |")
    print("|---|---|---|---|---|")
    for r in rows:
        log = list(csv.DictReader(open(Path(root) / r / "log.csv", encoding="utf-8")))
        evals = [x for x in log if x["kind"] == "eval"]
        last, best = evals[-1], max(evals, key=lambda x: float(x["synth_val/acc"]))
        mtime = (Path(root) / r / "log.csv").stat().st_mtime - (Path(root) / r / "config.yaml").stat().st_mtime
        minutes = mtime / 60
        print(f"| {ROWS.get(r, r)} | {100 * float(last['synth_val/acc']):.1f} | {100 * float(best['synth_val/acc']):.1f}"
              f" (step {best['step']}) | {100 * float(last['ic15_numbers/acc_alnum']):.1f} | {minutes:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
