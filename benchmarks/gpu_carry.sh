#!/usr/bin/env bash
# Build .carry/ for benchmarks/gpu_checks.sh, here (where pip, wordfreq and the Debian fonts are; the lent GPU machine
# reaches no package registry and has none of them):
#
#     bash train/setup_fonts.sh && bash benchmarks/gpu_carry.sh
#
# .carry/ (git-ignored): rec.onnx (the official ch_PP-OCRv3_rec, from the rapidocr_onnxruntime 1.2.3 wheel),
# vocab.txt (wordfreq's 50,000 most frequent English words, what rec_en_finetune renders), fonts.tar.xz (every usable
# font, subset to Latin + punctuation + currency by `train.fonts --copy --subset`; for rendering there, not shipped).
# The working tree plus .carry/ must stay under the device tool's 64 MiB; the sizes are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
rm -rf .carry && mkdir -p .carry
"$PY" - <<'EOF'
import shutil
from train.rec import official_rec_onnx
from train.text_source import wordfreq_words
shutil.copy(official_rec_onnx("auto"), ".carry/rec.onnx")
with open(".carry/vocab.txt", "w", encoding="utf-8") as f:
    f.write("\n".join(wordfreq_words(50000)) + "\n")
EOF
tmp=$(mktemp -d)
"$PY" -m train.fonts --copy "$tmp/fonts" --subset > /dev/null
tar cJf .carry/fonts.tar.xz -C "$tmp" fonts
rm -rf "$tmp"
"$PY" - <<'EOF'
import os, subprocess
files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], capture_output=True,
                       check=True).stdout.decode().split("\0")
tree = sum(os.path.getsize(p) for p in files if p and os.path.isfile(p))
carry = sum(os.path.getsize(os.path.join(".carry", p)) for p in os.listdir(".carry"))
total = (tree + carry) / 2**20
print(f"working tree {tree / 2**20:.1f} MiB + .carry {carry / 2**20:.1f} MiB = {total:.1f} MiB (device limit 64 MiB)")
raise SystemExit(0 if total < 64 else "too large for the device tool")
EOF
