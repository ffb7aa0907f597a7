#!/usr/bin/env bash
# Create isolated virtual environments for the peer OCR engines used by bench_e2e.py.
#
#   .bench/venv-rapidocr-ort  rapidocr_onnxruntime==1.2.3  (PP-OCRv3 ONNX models on onnxruntime)
#   .bench/venv-rapidocr-ov   rapidocr_openvino==1.4.4     (PP-OCRv4 models on OpenVINO <= 2024.0)
#   .bench/venv-rapidocr3     rapidocr==3.10.0 + onnxruntime 1.32.0 + openvino 2026.4.1 (PP-OCRv6 small on its
#                             onnxruntime default engine and on its OpenVINO engine)
#
# Each peer gets its own venv because rapidocr_openvino pins an old openvino that must not meet ours.
# Idempotent: an existing venv whose package already imports at the right version is left alone.
# Usage: bash benchmarks/setup_peers.sh [--force]     (PYTHON=python3.11 to pick the interpreter)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/.bench"
PYTHON="${PYTHON:-python3.11}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

command -v "$PYTHON" >/dev/null || { echo "setup_peers: $PYTHON not found (set PYTHON=...)" >&2; exit 1; }
mkdir -p "$BENCH"

# make_venv DIR DIST VERSION IMPORT_NAME [EXTRA_REQUIREMENT...]
make_venv() {
    local dir="$1" dist="$2" version="$3" module="$4"
    shift 4
    local py="$dir/bin/python"
    if [[ $FORCE -eq 0 && -x "$py" ]] && \
       "$py" -c "import importlib.metadata as m, $module; assert m.version('$dist') == '$version'" 2>/dev/null; then
        echo "setup_peers: $dist==$version already installed in ${dir#$ROOT/}"
        return
    fi
    echo "setup_peers: creating ${dir#$ROOT/} with $dist==$version"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$py" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$py" -m pip install --quiet --disable-pip-version-check "$dist==$version" "$@"
    "$py" -c "import importlib.metadata as m, $module; print('setup_peers: OK', '$dist', m.version('$dist'))"
}

make_venv "$BENCH/venv-rapidocr-ort" rapidocr_onnxruntime 1.2.3 rapidocr_onnxruntime
make_venv "$BENCH/venv-rapidocr-ov"  rapidocr_openvino    1.4.4 rapidocr_openvino
make_venv "$BENCH/venv-rapidocr3"     rapidocr             3.10.0 rapidocr onnxruntime==1.32.0 openvino==2026.4.1
