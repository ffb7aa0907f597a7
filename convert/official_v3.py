"""Build the embedded default bundle from the official PP-OCRv3 models (Apache-2.0).

    python -m convert.official_v3 [--out ppocr_edge/models/ch_pp_ocrv3]

The ONNX exports of ch_PP-OCRv3_det, ch_PP-OCRv3_rec (dictionary in its metadata) and ch_ppocr_mobile_v2.0_cls
ship in the rapidocr_onnxruntime==1.2.3 wheel on PyPI; this fetches that wheel with pip (no code of it is used).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .paddle_onnx import convert

WHEEL = "rapidocr_onnxruntime==1.2.3"
FILES = {"det": "ch_PP-OCRv3_det_infer.onnx", "rec": "ch_PP-OCRv3_rec_infer.onnx",
         "cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx"}
REPO = Path(__file__).resolve().parents[1]


def fetch_wheel_files(wheel: str, files: dict[str, str], dest: Path) -> dict[str, Path]:
    """pip-download the wheel `dist==version` (no dependencies, no code of it is run) and extract the named model
    files (role -> file name inside the wheel) into dest; files already in dest are reused."""
    dest.mkdir(parents=True, exist_ok=True)
    found = {k: dest / v for k, v in files.items()}
    if all(p.is_file() for p in found.values()):
        return found
    dist, version = wheel.split("==")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", wheel, "-d", str(dest)], check=True)
    wheel_file = next(dest.glob(f"{dist}-{version}-*.whl"))
    with zipfile.ZipFile(wheel_file) as z:
        for role, name in files.items():
            member = next((n for n in z.namelist() if n.endswith("/" + name)), None)
            if member is None:
                raise SystemExit(f"{wheel_file.name} holds no {name}")
            found[role].write_bytes(z.read(member))
    return found


def fetch_official_onnx(dest: Path) -> dict[str, Path]:
    """Download the wheel and extract the three ONNX files into dest."""
    return fetch_wheel_files(WHEEL, FILES, dest)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "ppocr_edge" / "models" / "ch_pp_ocrv3")
    p.add_argument("--download-dir", type=Path, default=Path(tempfile.gettempdir()) / "ppocr_edge_official")
    a = p.parse_args(argv)
    onnx = fetch_official_onnx(a.download_dir)
    path = convert(onnx["det"], onnx["rec"], onnx["cls"], a.out, source=f"PyPI {WHEEL} (PaddleOCR inference models "
                   "converted to ONNX by RapidAI)", notice=REPO / "NOTICE")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
