#!/usr/bin/env bash
# Forgetting study (issue 9): short fine-tunes of the official recognizer (English head) on synthetic lines, one
# change per row from train/configs/rec_forgetting.yaml, each scored on the IC15 even half every 25 steps.
#   bash benchmarks/rec_forgetting.sh [ROW ...]      (default: every row; runs/forget/ROW/log.csv)
#   python benchmarks/rec_forgetting_table.py runs/forget > benchmarks/results/rec_forgetting.md
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
OFFICIAL=${OFFICIAL:-auto}
declare -A ROWS=(
  [base]=""
  [no_l2]="--set optim.weight_decay=0 --set optim.fc_decay=0"
  [lr_1e-5]="--set optim.lr=1.0e-5"
  [no_aug]="--set augment.rec_aug=false --set augment.text_con_aug=false"
  [distill_only]="--set loss.ctc=0"
  [distill_10]="--set distill.from_init=10.0"
  [freeze_backbone]="--set train.freeze=[backbone]"
)
ORDER=(base no_l2 lr_1e-5 no_aug distill_only distill_10 freeze_backbone)
[ $# -gt 0 ] && ORDER=("$@")
for row in "${ORDER[@]}"; do
  echo "== $row: ${ROWS[$row]}" >&2
  # shellcheck disable=SC2086
  $PY -m train.rec --config rec_forgetting --out "runs/forget/$row" --device cpu \
      --set init.official="$OFFICIAL" ${ROWS[$row]} > "runs/forget/$row.log" 2>&1
done
