"""Markdown table of the detection ablation's runs: synthetic-validation and real-dev hmean (last and best step),
wall time.

    python benchmarks/det_ablation_table.py RUNS_DIR ROW [ROW ...]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_rec_train import cpu_name  # noqa: E402

ROWS = {"teacher": "CML teacher: det_teacher_small (ResNet18_vd x0.5 + LK-PAN 64), DML of two",
        "student": "student alone (MobileNetV3 x0.5 + RSE-FPN + DB)", "cml": "+ CML (2 students, teacher above)",
        "copypaste": "+ CopyPaste", "fpn": "same with plain FPN instead of RSE-FPN"}
SETS = ("synth_val", "sroie_dev", "ic15_sample")


def main(root: str, rows: list[str]) -> None:
    print("# Detection ablation at a CPU budget\n")
    print(f"Machine: {cpu_name()}, 2 cores. Command: `bash benchmarks/det_ablation.sh` (config "
          "`train/configs/det_ablation.yaml`: from scratch, synthetic pages of train/page_synth.py, 320 px crops, "
          "400 steps x 8, seed 0; each student row changes one thing from the row above, the last row only the "
          "neck). hmean at IoU 0.5 through the SDK's DB post-processing (every box counted, as PaddleOCR's DetMetric; "
          "no recognizer filter); synth_val = 40 held-out synthetic pages; sroie_dev (63 receipts) and ic15_sample "
          "(17 scene images) are real and never trained on. The best step is chosen on synth_val.\n")
    print("| row | " + " | ".join(f"{s} hmean (last)" for s in SETS) + " | best step: " + " / ".join(SETS)
          + " | train minutes |")
    print("|---|" + "---|" * (len(SETS) + 2))
    for r in rows:
        log = list(csv.DictReader(open(Path(root) / r / "log.csv", encoding="utf-8")))
        evals = [x for x in log if x["kind"] == "eval"]
        last, best = evals[-1], max(evals, key=lambda x: float(x["synth_val/hmean"]))
        minutes = ((Path(root) / r / "log.csv").stat().st_mtime - (Path(root) / r / "config.yaml").stat().st_mtime) / 60
        print(f"| {ROWS.get(r, r)} | " + " | ".join(f"{100 * float(last[f'{s}/hmean']):.1f}" for s in SETS)
              + f" | {best['step']}: " + " / ".join(f"{100 * float(best[f'{s}/hmean']):.1f}" for s in SETS)
              + f" | {minutes:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
