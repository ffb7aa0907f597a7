#!/usr/bin/env bash
# The detection ablation (train/configs/det_ablation.yaml): the CML teacher trained first (DML, det_teacher_small),
# then four student rows from scratch with the same data, steps and seed, each changing one thing; then the table in
# benchmarks/results/det_ablation.md.
#   bash benchmarks/det_ablation.sh [OUT_DIR]      (about 75 minutes on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/det_ablation}
CML=(--set recipe=cml --set teacher.checkpoint="$OUT/teacher/best.pt")
CP=(--set augment.copy_paste=true)
STEPS=$(python -c "from train.config import load_config; print(load_config('det_ablation')['optim']['steps'])")
run() {  # a finished row is kept; an interrupted one resumes from its last.pt
  local name=$1; shift; local d="$OUT/$name" resume=()
  grep -qs "^eval,$STEPS," "$d/log.csv" && return
  [ -f "$d/last.pt" ] && resume=(--resume)
  python -m train.det --config det_ablation --out "$d" --set train.progress=false "${resume[@]}" "$@"
}
run teacher --set recipe=dml --set model.factory=det_teacher_small --set optim.weight_decay=0.0
run student
run cml "${CML[@]}"
run copypaste "${CML[@]}" "${CP[@]}"
run fpn "${CML[@]}" "${CP[@]}" --set model.kwargs.neck=fpn
python benchmarks/det_ablation_table.py "$OUT" teacher student cml copypaste fpn > benchmarks/results/det_ablation.md
cat benchmarks/results/det_ablation.md
