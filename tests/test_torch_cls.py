"""The torch direction classifier (train/models/cls.py) with imported official weights reproduces the official
ch_ppocr_mobile_v2.0_cls ONNX run in OpenVINO, on random inputs and on rendered text-line crops."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from ocr_render import random_line, render_page  # noqa: E402

from ppocr_edge.bundle import load_bundle  # noqa: E402
from ppocr_edge.preprocess import prepare_line_batch  # noqa: E402
from train.models.cls import cls_mobilenet_v3_small, load_official_cls, onnx_weight_count  # noqa: E402

TOL = 1e-4


@pytest.fixture(scope="module")
def cls_onnx(official):
    return official["cls"]


@pytest.fixture(scope="module")
def torch_cls(cls_onnx):
    return load_official_cls(cls_mobilenet_v3_small(), cls_onnx).eval()


@pytest.fixture(scope="module")
def onnx_cls(cls_onnx):
    import openvino as ov

    return ov.Core().compile_model(str(cls_onnx), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})


def _both(torch_cls, onnx_cls, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        ours = torch_cls(torch.from_numpy(batch)).numpy()
    return ours, onnx_cls(batch)[0]


def _line_crops(n: int, seed: int) -> list[np.ndarray]:
    """Rendered one-line images cut to their ink box with a few pixels of margin, like detector crops."""
    rng = random.Random(seed)
    crops = []
    for i in range(n):
        page = render_page([random_line(rng, 2, 4)], font=["sans", "serif", "bold"][i % 3], size=28 + 4 * (i % 3))
        x0, y0, x1, y1 = (int(v) for v in page.lines[0].box)
        pad = 4
        crops.append(page.image[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad].copy())
    return crops


def test_param_count_equals_onnx_weights(torch_cls, cls_onnx):
    params = sum(p.numel() for p in torch_cls.parameters())
    stats = sum(b.numel() for name, b in torch_cls.named_buffers() if name.endswith(("running_mean", "running_var")))
    assert params + stats == onnx_weight_count(cls_onnx)
    assert params == 129_356


def test_random_inputs_match_official(torch_cls, onnx_cls):
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, (6, 3, 48, 192)).astype(np.float32)
    ours, ref = _both(torch_cls, onnx_cls, batch)
    assert ours.shape == ref.shape == (6, 2)
    assert np.abs(ours - ref).max() < TOL
    assert (ours.argmax(1) == ref.argmax(1)).all()


@pytest.mark.needs_fonts
def test_rendered_crops_upright_and_flipped(torch_cls, onnx_cls):
    cls_entry = load_bundle().cls
    assert cls_entry is not None
    pre, labels = cls_entry.preprocess, cls_entry.postprocess["labels"]
    crops = _line_crops(4, seed=7)
    flipped = [np.ascontiguousarray(c[::-1, ::-1]) for c in crops]
    batch, _ = prepare_line_batch(crops + flipped, pre, int(pre["width"]))  # the runtime's own preprocessing
    ours, ref = _both(torch_cls, onnx_cls, batch)
    assert np.abs(ours - ref).max() < TOL
    assert (ours.argmax(1) == ref.argmax(1)).all()
    said = [labels[i] for i in ours.argmax(1)]
    assert said[len(crops):] == ["180"] * len(crops), said
    assert said[:len(crops)] == ["0"] * len(crops), said


def test_train_mode_gives_logits(torch_cls):
    model = cls_mobilenet_v3_small()
    model.load_state_dict(torch_cls.state_dict())
    x = torch.zeros(2, 3, 48, 192)
    with torch.no_grad():
        logits = model.train()(x)
        probs = model.eval()(x)
    assert torch.allclose(torch.softmax(logits, 1).sum(1), torch.ones(2))
    assert not torch.allclose(logits, probs)


def test_mismatched_architecture_is_a_value_error(cls_onnx):
    with pytest.raises(ValueError, match="shape"):
        load_official_cls(cls_mobilenet_v3_small(scale=0.5), cls_onnx)
    with pytest.raises(ValueError, match="layers"):
        load_official_cls(cls_mobilenet_v3_small(model_name="large"), cls_onnx)
