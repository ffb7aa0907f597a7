#!/usr/bin/env bash
# The recognition ablation (train/configs/rec_ablation.yaml): four rows from scratch, same data, steps and seed,
# each adding one thing to the row above; then the table in benchmarks/results/rec_ablation.md.
#   bash benchmarks/rec_ablation.sh [OUT_DIR]      (about 70 minutes on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/rec_ablation}
GTC=(--set model.kwargs.use_sar=true --set model.kwargs.neck_options.use_guide=true --set loss.sar=1.0)
CONAUG=(--set "augment.text_con_aug={prob: 0.5, ext_data_num: 2}")
UDML=(--set udml.enabled=true)
run() { local name=$1; shift; [ -f "$OUT/$name/best.pt" ] || python -m train.rec --config rec_ablation --out "$OUT/$name" --set train.progress=false "$@"; }
run ctc
run gtc "${GTC[@]}"
run conaug "${GTC[@]}" "${CONAUG[@]}"
run udml "${GTC[@]}" "${CONAUG[@]}" "${UDML[@]}"
# TextRotNet: the CTC row again, its backbone first pre-trained on unlabeled lines (train/rotnet.py, 300 steps)
[ -f "$OUT/rotnet/best.pt" ] || python -m train.rotnet --config rotnet_ablation --out "$OUT/rotnet" --set train.progress=false
run rotnet_ctc --set init.backbone="$OUT/rotnet/best.pt"
run ctc_1800 --set optim.steps=1800   # the same wall time as pre-training + the row above, on labelled steps
python benchmarks/rec_ablation_table.py "$OUT" ctc gtc conaug udml rotnet_ctc ctc_1800 > benchmarks/results/rec_ablation.md
cat benchmarks/results/rec_ablation.md
