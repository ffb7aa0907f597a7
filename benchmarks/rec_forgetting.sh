#!/usr/bin/env bash
# Forgetting study (issue 9): short fine-tunes of the official recognizer (English head) on synthetic lines, one
# change per row from train/configs/rec_forgetting.yaml, each scored on the IC15 even half every 25 steps.
#   bash benchmarks/rec_forgetting.sh [ROW ...]      (default: every row; runs/forget/ROW/log.csv)
#   python benchmarks/rec_forgetting_table.py runs/forget > benchmarks/results/rec_forgetting.md
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
OFFICIAL=${OFFICIAL:-auto}
SCENE="{type: synth, name: scene, size: 100000, synth: {config: train/configs/line_synth_scene.yaml}}"
GENERAL="{type: synth, name: general, size: 100000, synth: {}}"
row_args() {
  case "$1" in
    base) ;;
    no_l2) echo "optim.weight_decay=0"; echo "optim.fc_decay=0" ;;
    lr_1e-5) echo "optim.lr=1.0e-5" ;;
    no_aug) echo "augment.rec_aug=false"; echo "augment.text_con_aug=false" ;;
    no_distill) echo "distill.from_init=0" ;;
    distill_10) echo "distill.from_init=10.0" ;;
    freeze_backbone) echo "train.freeze=[backbone]" ;;
    scene) echo "data.train=[$SCENE]" ;;
    scene_mix) echo "data.train=[$GENERAL, $SCENE]" ;;
    *) echo "unknown row $1" >&2; return 1 ;;
  esac
}
ORDER=(base no_l2 lr_1e-5 no_aug no_distill distill_10 freeze_backbone scene scene_mix)
[ $# -gt 0 ] && ORDER=("$@")
mkdir -p runs/forget
for row in "${ORDER[@]}"; do
  sets=()
  while IFS= read -r kv; do [ -n "$kv" ] && sets+=(--set "$kv"); done < <(row_args "$row")
  echo "== $row: ${sets[*]:-}" >&2
  $PY -m train.rec --config rec_forgetting --out "runs/forget/$row" --device cpu \
      --set init.official="$OFFICIAL" "${sets[@]}" > "runs/forget/$row.log" 2>&1
done
