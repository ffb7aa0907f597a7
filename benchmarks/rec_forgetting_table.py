"""Markdown table of the forgetting study's runs (benchmarks/rec_forgetting.sh): real-crop accuracy at every
evaluation and the synthetic accuracy before/after, one row per run.

    python benchmarks/rec_forgetting_table.py runs/forget [runs/forget_old]

The second directory holds rows scored before the trainer's evaluation turned tall crops as the pipeline does
(their IC15 numbers are ~2.6 points lower at every step; compare them by their change from step 0).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from rec_ablation_table import cpu

CHANGES = {
    "base": "base: lr 1e-4, coupled L2 3e-5, RecAug + TextConAug, distill 1.0, BN frozen, default synth lines",
    "no_l2": "L2 off (weight_decay 0, fc_decay 0)", "lr_1e-5": "lr 1e-5",
    "no_aug": "RecAug and TextConAug off", "no_distill": "no distillation from the starting model",
    "distill_10": "distillation weight 10", "freeze_backbone": "backbone frozen (neck + head train)",
    "scene": "scene-like synthetic words instead of the default lines (line_synth_scene.yaml)",
    "scene_mix": "default lines + scene-like words, 1:1",
}


def table(root: Path) -> list[str]:
    rows = [r for r in CHANGES if (root / r / "log.csv").is_file()]
    evals = {r: [x for x in csv.DictReader(open(root / r / "log.csv", encoding="utf-8")) if x["kind"] == "eval"]
             for r in rows}
    steps = sorted({int(x["step"]) for e in evals.values() for x in e})
    head = " | ".join(f"IC15 @{s}" for s in steps)
    out = [f"| row | change | {head} | IC15 change | synth @0 -> @{steps[-1]} |",
           "|---|---|" + "---|" * len(steps) + "---|---|"]
    for r, e in evals.items():
        by = {int(x["step"]): x for x in e}
        cells = " | ".join(f"{100 * float(by[s]['ic15_even/acc_alnum']):.1f}" if s in by else "-" for s in steps)
        first, last = e[0], e[-1]
        delta = 100 * (float(last["ic15_even/acc_alnum"]) - float(first["ic15_even/acc_alnum"]))
        out.append(f"| {r} | {CHANGES.get(r, '')} | {cells} | {delta:+.1f} | {100 * float(first['synth_val/acc']):.1f}"
                   f" -> {100 * float(last['synth_val/acc']):.1f} |")
    return out


def main(root: str, old: str | None = None) -> None:
    print("# Forgetting study: what erodes real-image accuracy in a synthetic fine-tune\n")
    print(f"Machine: {cpu()}, 2 vCPUs (shared). Command: `bash benchmarks/rec_forgetting.sh` (config "
          "`train/configs/rec_forgetting.yaml`: official PP-OCRv3 rec weights with the English head, batch 32, "
          "75 steps, warm-up 10, cosine, seed 0; each row changes one thing from `base`). IC15 = the even "
          "half of `real_dev/rec/ic15_test_2077` (1039 real word crops, case-insensitive alphanumeric, the trainer's "
          "evaluation = `ppocr-edge eval --no-cls`); synth = 200 held-out default synthetic lines (exact).\n")
    print("\n".join(table(Path(root))))
    if old:
        print("\nRows run before the evaluation fix (tall crops read unturned, so every IC15 number is lower; "
              "the change from step 0 compares):\n")
        print("\n".join(table(Path(old))))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main(*sys.argv[1:3])
