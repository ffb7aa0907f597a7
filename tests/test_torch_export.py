"""convert/torch_export.py: torch networks -> OpenVINO IR bundle.

(1) the exported IR computes what the torch module computes; (2) a bundle exported from the torch networks holding
the official weights reads the same lines as the embedded bundle; checkpoints round-trip through the CLI.
det/rec torch networks (train/models/det.py, rec.py) are used when they exist; until then the bundle takes the
official det/rec ONNX as OpenVINO models and only the classifier goes through torch.
"""

from __future__ import annotations

import importlib
import json
import random
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
import openvino as ov  # noqa: E402

from ocr_render import random_line, render_page  # noqa: E402

from ppocr_edge import OCRPipeline  # noqa: E402
from ppocr_edge.bundle import FP32_BUNDLE, load_bundle  # noqa: E402
from ppocr_edge.image_io import load_image  # noqa: E402
from ppocr_edge.preprocess import prepare_det, prepare_line_batch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECEIPT = REPO / "examples" / "receipt.png"
TOL = 1e-4
F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def _has(module: str, *names: str) -> bool:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:  # the file exists but fails to import: a real error
            raise
        return False
    return all(hasattr(mod, n) for n in names)


HAVE = {"det": _has("train.models.det", "det_student", "load_official_det"),
        "rec": _has("train.models.rec", "rec_svtr_lcnet", "load_official_rec"),
        "cls": _has("train.models.cls", "cls_mobilenet_v3_small", "load_official_cls")}
TORCH_ROLES = tuple(r for r in ("det", "rec", "cls") if HAVE[r])


@pytest.fixture(scope="module")
def modules(official):
    """Torch networks holding the official weights (the roles that have a torch implementation)."""
    from convert.torch_export import official_modules

    return official_modules(official, TORCH_ROLES)


@pytest.fixture(scope="module")
def exported(official, modules, tmp_path_factory) -> Path:
    """A bundle exported from the torch networks; official ONNX (as OpenVINO models) for roles without one.
    With all three in torch this runs the CLI's --from-official, the end-to-end path."""
    from convert.torch_export import export_bundle, main

    out = tmp_path_factory.mktemp("torch_bundle")
    if len(TORCH_ROLES) == 3:
        main(["--from-official", "--download-dir", str(official["det"].parent), "--out", str(out)])
        return out
    core = ov.Core()
    nets = {r: modules[r] if r in modules else core.read_model(str(official[r])) for r in ("det", "rec", "cls")}
    export_bundle(out, **nets, name="mixed torch/ONNX export")
    return out


def _ir(bundle_dir: Path, role: str):
    return ov.Core().compile_model(str(bundle_dir / f"{role}.xml"), "CPU", F32)


def _torch(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def _inputs(role: str) -> list[np.ndarray]:
    """Real-looking inputs for each role, prepared with the runtime's preprocessing."""
    b = load_bundle()
    img = load_image(RECEIPT)
    if role == "det":
        return [prepare_det(img, {**b.det.preprocess, "limit_side_len": 640}).tensor]
    crops = [img[40:90, 30:520], img[110:150, 30:400], img[200:240, 60:200]]
    entry = b.rec if role == "rec" else b.cls
    widths = [320, 640] if role == "rec" else [int(entry.preprocess["width"])]
    return [prepare_line_batch(crops, entry.preprocess, w)[0] for w in widths]


@pytest.mark.parametrize("role", TORCH_ROLES)
def test_ir_equals_torch(exported, modules, role):
    compiled = _ir(exported, role)
    for x in _inputs(role):
        ours, ir = _torch(modules[role], x), compiled(x)[0]
        assert ir.shape == ours.shape
        assert np.abs(ir - ours).max() < TOL, role


def test_ir_names_and_shapes(exported):
    core = ov.Core()
    expect = {"det": [-1, 3, -1, -1], "rec": [-1, 3, 48, -1], "cls": [-1, 3, 48, 192]}
    for role in TORCH_ROLES:
        m = core.read_model(str(exported / f"{role}.xml"))
        assert m.inputs[0].get_partial_shape() == ov.PartialShape(expect[role])
        assert m.inputs[0].get_any_name() == "x"
        assert m.outputs[0].get_any_name() == f"{role}_{'prob' if role == 'det' else 'probs'}"
        assert not any(op.get_type_name() == "Convert" for op in m.get_ops()), "weights must stay f32"


def test_manifest_settings_match_paddle_onnx_layout(exported):
    ours = json.loads((exported / "manifest.json").read_text())["models"]
    ref = json.loads((FP32_BUNDLE / "manifest.json").read_text())["models"]
    assert set(ours) == set(ref)
    for role in ref:
        for key in ("preprocess", "postprocess"):
            assert ours[role][key] == ref[role][key], (role, key)
    assert ours["rec"]["use_space_char"] is True
    assert load_bundle(exported).characters == load_bundle().characters


def _pages() -> dict[str, np.ndarray]:
    rng = random.Random(11)
    page = render_page([random_line(rng, 3, 6) for _ in range(5)], size=26).image
    return {"receipt": load_image(RECEIPT), "rendered": page, "rendered_180": np.ascontiguousarray(page[::-1, ::-1])}


@pytest.mark.needs_fonts
def test_pipeline_matches_default(exported, ocr_fp32, ov_cache_dir):
    pipeline = OCRPipeline(bundle=exported, cache_dir=str(ov_cache_dir))
    try:
        for name, img in _pages().items():
            want, got = ocr_fp32(img), pipeline(img)
            assert [ln.text for ln in got.lines] == [ln.text for ln in want.lines], name
            assert [ln.angle for ln in got.lines] == [ln.angle for ln in want.lines], name
            for a, b in zip(got.lines, want.lines):
                assert np.abs(np.array(a.box) - np.array(b.box)).max() <= 1.0, (name, a.text)
            assert want.lines, name
    finally:
        pipeline.close()


def test_cls_checkpoint_round_trip(modules, tmp_path):
    from train.checkpoint import load_checkpoint, resolve_factory, save_checkpoint

    path = save_checkpoint(tmp_path / "cls.pt", modules["cls"], "cls_mobilenet_v3_small", {"scale": 0.35},
                           metadata={"note": "official weights"})
    ckpt = load_checkpoint(path)
    assert ckpt.factory == "train.models.cls.cls_mobilenet_v3_small" and ckpt.kwargs == {"scale": 0.35}
    assert ckpt.metadata == {"note": "official weights"} and ckpt.dictionary is None
    x = _inputs("cls")[0]
    assert np.array_equal(_torch(ckpt.model, x), _torch(modules["cls"], x))
    with pytest.raises(ValueError, match="train.models"):
        resolve_factory("os.system")


@pytest.mark.skipif(not HAVE["rec"], reason="train/models/rec.py (rec_svtr_lcnet, load_official_rec) not written yet")
def test_cli_exports_checkpoints(modules, exported, tmp_path):
    """--rec/--cls checkpoints (rec with its dictionary) give the same IR outputs as the official-weight bundle."""
    from convert.torch_export import main
    from ppocr_edge.bundle import read_dictionary
    from train.checkpoint import save_checkpoint

    chars = read_dictionary(FP32_BUNDLE / "dict.txt")
    rec = save_checkpoint(tmp_path / "rec.pt", modules["rec"], "rec_svtr_lcnet", _factory_kwargs(modules["rec"]),
                          dictionary=chars)
    cls = save_checkpoint(tmp_path / "cls.pt", modules["cls"], "cls_mobilenet_v3_small")
    out = tmp_path / "bundle"
    main(["--rec", str(rec), "--cls", str(cls), "--no-det", "--out", str(out)])  # default: the embedded det
    b = load_bundle(out)
    assert b.det is None and b.characters == load_bundle().characters
    for role in ("rec", "cls"):
        x = _inputs(role)[0]
        assert np.abs(_ir(out, role)(x)[0] - _ir(exported, role)(x)[0]).max() < TOL, role


def _factory_kwargs(model) -> dict:
    """kwargs that rebuild the official rec network (its class count when the factory takes one)."""
    import inspect

    from train.models.rec import rec_svtr_lcnet

    params = inspect.signature(rec_svtr_lcnet).parameters
    n = _torch(model.eval(), _inputs("rec")[0][:1]).shape[-1]
    return next(({k: n} for k in ("num_classes", "out_channels") if k in params), {})
