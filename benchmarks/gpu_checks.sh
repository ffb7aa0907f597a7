#!/usr/bin/env bash
# Issue 9's GPU measurements in one call of the device tool (a few minutes on one H100/H200 with 16 cores):
#
#     bash benchmarks/gpu_carry.sh                        # here first: official weights, word list, fonts -> .carry/
#     device run: command "bash benchmarks/gpu_checks.sh", carry [".carry"], timeout_s 540
#
# Writes to $OUT:
#   machine.txt  the GPU, the CPU, torch, the fonts found
#   bench.md     rec_en_finetune (batch 256): the data side alone from $WORKERS DataLoader workers (issue target:
#                >= 3,000 lines/s from 16), and whole training steps with bf16 autocast (the config's amp)
#   resume.txt   rec_smoke with fp16 autocast + GradScaler (the CUDA-only path): N steps twice straight, and N/2 +
#                --resume + N/2; the largest weight difference between the two straight runs (the device's own
#                nondeterminism, e.g. CTC's backward) beside the one between straight and resumed
#   *.csv / *.png the resumed run's log and curves
# DDP with nccl needs two GPUs (NCCL refuses two ranks on one device); the lent machines have one.
# Dry run on a CPU (gloo, bf16 where native, exact resume expected):
#     DEVICE=cpu WORKERS=2 STEPS=6 DATA_SECONDS=5 TRAIN_STEPS=3 BATCH=16 PY=.venv/bin/python OUT=/tmp/gpu_dry \
#         bash benchmarks/gpu_checks.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}; DEVICE=${DEVICE:-cuda}; WORKERS=${WORKERS:-16}; STEPS=${STEPS:-40}
DATA_SECONDS=${DATA_SECONDS:-20}; TRAIN_STEPS=${TRAIN_STEPS:-20}; BATCH=${BATCH:-256}; OUT=${OUT:-out/gpu_checks}
AMP=$([ "$DEVICE" = cuda ] && echo fp16 || echo bf16)
WORK=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
tar xJf .carry/fonts.tar.xz -C "$WORK" && export PPOCR_EDGE_FONT_DIRS=$WORK/fonts

{
    date -u
    nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
    grep -m1 "model name" /proc/cpuinfo; echo "cpus: $(nproc)"
    "$PY" -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')"
    "$PY" -m train.fonts 2>&1 >/dev/null | tail -n 1
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

echo "== 1. data side from $WORKERS workers, and training steps with bf16 autocast"
"$PY" benchmarks/bench_rec_train.py --config rec_en_finetune --device "$DEVICE" \
    --set init.official=.carry/rec.onnx --set data.train.0.synth.vocab_file=.carry/vocab.txt \
    --set data.workers="$WORKERS" --set data.batch_size="$BATCH" --data-seconds "$DATA_SECONDS" \
    --train-steps "$TRAIN_STEPS" --out "$OUT/bench.md"

echo "== 2. exact resume with $AMP autocast: $STEPS steps straight (twice) vs $((STEPS / 2)) + --resume"
smoke=(--config rec_smoke --device "$DEVICE" --set data.workers="$WORKERS" --set train.amp="$AMP"
       --set optim.steps="$STEPS" --set optim.warmup_steps=$((STEPS / 4)) --set train.eval_every="$STEPS"
       --set train.log_every=$((STEPS / 4)) --set train.progress=false)
"$PY" -m train.rec "${smoke[@]}" --out "$WORK/a" > "$WORK/a.log" 2>&1 \
  && "$PY" -m train.rec "${smoke[@]}" --out "$WORK/b" > "$WORK/b.log" 2>&1 \
  && "$PY" -m train.rec "${smoke[@]}" --set train.stop_at_step=$((STEPS / 2)) --out "$WORK/r" > "$WORK/r1.log" 2>&1 \
  && "$PY" -m train.rec "${smoke[@]}" --resume --out "$WORK/r" > "$WORK/r2.log" 2>&1 \
  || { tail -n 30 "$WORK"/*.log; exit 1; }
"$PY" - "$WORK" "$OUT/resume.txt" "$AMP" <<'EOF'
import sys
from pathlib import Path
from train.checkpoint import load_checkpoint

work, out, amp = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
ck = {k: load_checkpoint(work / k / "last.pt") for k in ("a", "b", "r")}
w = {k: c.model.state_dict() for k, c in ck.items()}

def largest(x, y):
    return max(float((x[n].float() - y[n].float()).abs().max()) for n in x if x[n].is_floating_point())

lines = [f"rec_smoke, amp {amp}, steps: " + ", ".join(f"{k} {c.metadata.get('step')}" for k, c in ck.items()),
         f"largest |weight difference|, straight run vs straight run: {largest(w['a'], w['b']):.3g}",
         f"largest |weight difference|, straight run vs resumed run: {largest(w['a'], w['r']):.3g}",
         "synthetic validation: " + ", ".join(f"{k} {c.metadata.get('metrics')}" for k, c in ck.items())]
out.write_text("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
cp "$WORK/r/log.csv" "$OUT/resume_log.csv"; cp "$WORK/r/curves.png" "$OUT/resume_curves.png" 2>/dev/null
rm -rf "$WORK"
