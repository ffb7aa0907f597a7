"""The PyTorch SVTR_LCNet recognizer (train/models/rec.py) with the official weights computes what the official
ch_PP-OCRv3_rec ONNX model computes (run by OpenVINO in f32), reads rendered text, converts to OpenVINO at any width,
and its training-only parts (SAR head, PP-LCNet ablation options) build and run."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ov = pytest.importorskip("openvino")

from ocr_render import norm_space, random_line, render_page

from ppocr_edge.bundle import FP32_BUNDLE, load_bundle
from ppocr_edge.ctc import ctc_greedy_decode
from ppocr_edge.image_io import load_image
from ppocr_edge.preprocess import prepare_line_batch, rec_resized_width
from train.models.onnx_weights import OnnxGraph
from train.models.profile import count_macs
from train.models.rec import (
    GlobalAttention,
    LCNetClassifier,
    PPLCNetRec,
    SARHead,
    ctc_loss,
    inference_weight_count,
    load_official_rec,
    onnx_weight_count,
    rec_svtr_lcnet,
    sar_loss,
)

REPO = Path(__file__).resolve().parents[1]
F32 = {"INFERENCE_PRECISION_HINT": "f32"}
TOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The tensors here are small: one intra-op thread is as fast, and much faster on a busy machine, where every op
    of a 2-thread pool waits for a descheduled worker."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def graph(official):
    return OnnxGraph(official["rec"])


@pytest.fixture(scope="module")
def model(graph):
    torch.manual_seed(0)
    return load_official_rec(rec_svtr_lcnet(), graph).eval()


@pytest.fixture(scope="module")
def reference(official):
    return ov.Core().compile_model(str(official["rec"]), "CPU", F32)


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(FP32_BUNDLE)


def _torch_probs(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def _compare(model, reference, characters, x: np.ndarray) -> tuple[list[str], np.ndarray]:
    got = _torch_probs(model, x)
    ref = reference(x)[0]
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() < TOL
    texts = [d.text for d in ctc_greedy_decode(got, characters)]
    assert texts == [d.text for d in ctc_greedy_decode(ref, characters)]
    return texts, got


def test_random_inputs_match_official(model, reference, bundle):
    rng = np.random.default_rng(0)
    for shape in ((2, 3, 48, 320), (2, 3, 48, 200), (1, 3, 48, 333)):
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        _, probs = _compare(model, reference, bundle.characters, x)
        assert probs.shape[1] == math.ceil(math.ceil(shape[3] / 2) / 2) // 2


@pytest.mark.needs_fonts
def test_rendered_text_matches_official_and_is_read(model, reference, bundle):
    rng = random.Random(7)
    pre = bundle.rec.preprocess
    truth, read = [], []
    for page_no, (font, size) in enumerate((("sans", 28), ("serif", 32), ("mono", 24))):
        lines = [random_line(rng) for _ in range(3)]
        page = render_page(lines, font=font, size=size)
        crops = []
        for line in page.lines:
            x0, y0, x1, y1 = (int(v) for v in line.box)
            m = max(3, size // 6)
            crops.append(page.image[max(0, y0 - m):y1 + m, max(0, x0 - m):x1 + m])
        widest = max(rec_resized_width(c.shape[0], c.shape[1], 48, 10_000) for c in crops)
        # padded to a multiple of 8 (and, once, to an odd width): both must give the official result
        widths = [-(-widest // 8) * 8] + ([widest + 13 + (widest % 2 == 0)] if page_no == 0 else [])
        for width in widths:
            x, _ = prepare_line_batch(crops, pre, width)
            texts, _ = _compare(model, reference, bundle.characters, x)
        truth += lines
        read += texts
    correct = sum(norm_space(t) == norm_space(r) for t, r in zip(truth, read))
    assert correct >= 0.8 * len(truth), list(zip(truth, read))


def test_receipt_crops_match_official(model, reference, bundle):
    img = load_image(REPO / "examples" / "receipt.png")
    crops = [img[40:90, 30:520], img[110:150, 30:400]]
    for width in (320, 640):
        x, _ = prepare_line_batch(crops, bundle.rec.preprocess, width)
        _compare(model, reference, bundle.characters, x)


def test_openvino_conversion_any_width(model, reference):
    with torch.no_grad():
        converted = ov.convert_model(model, example_input=torch.zeros(1, 3, 48, 320), input=[-1, 3, 48, -1])
    compiled = ov.Core().compile_model(converted, "CPU", F32)
    rng = np.random.default_rng(1)
    for n, w in ((2, 160), (1, 333), (1, 1280), (1, 45)):
        x = rng.uniform(-1, 1, (n, 3, 48, w)).astype(np.float32)
        got, ref = compiled(x)[0], reference(x)[0]
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() < TOL, w


def test_parameter_counts(model, graph):
    stored = inference_weight_count(model)
    assert stored == onnx_weight_count(graph) == 2_652_257
    backbone = sum(p.numel() for p in model.backbone.parameters())
    neck = sum(p.numel() for p in model.neck.parameters())
    head = sum(p.numel() for p in model.ctc_head.parameters())
    assert head == 64 * 6625 + 6625
    # 2.64M parameters = 10.6 MB of float32: the "12M" of the PP-OCRv3 ablation table is the inference model's size
    # on disk (12.4 MB with the program file), not a parameter count
    assert 2.5e6 < backbone + neck + head < 2.8e6
    macs = count_macs(model, torch.zeros(1, 3, 48, 320))
    attn = sum(m.count_macs((torch.zeros(1, 40, 120),), None) for m in model.modules()
               if isinstance(m, GlobalAttention))
    print(f"\nrec params: backbone {backbone}, neck {neck}, CTC head {head}; stored values {stored}; "
          f"MACs at 1x3x48x320: {macs} (+{attn} attention matmuls)")
    assert 5e8 < macs < 8e8


def test_load_rejects_mismatches(graph):
    with pytest.raises(ValueError, match="shape"):
        load_official_rec(rec_svtr_lcnet(num_classes=97), graph)  # English dictionary size
    with pytest.raises(ValueError, match="layers"):
        load_official_rec(rec_svtr_lcnet(se="none"), graph)
    with pytest.raises(ValueError, match="not used"):
        load_official_rec(rec_svtr_lcnet(head_conv=1280), graph)
    with pytest.raises(ValueError, match="ONNX"):
        load_official_rec(rec_svtr_lcnet(last_conv_stride=1), graph)  # conv6 stride (1, 2) in the export


def _count(module, kind, pred=lambda m: True) -> int:
    return sum(1 for m in module.modules() if isinstance(m, kind) and pred(m))


def test_ablation_options_build_and_run():
    x = torch.zeros(1, 3, 48, 96)
    dw5 = lambda m: m.groups > 1 and m.kernel_size == (5, 5)
    for opts, n_se, n_k5 in (({}, 2, 7), ({"act": "relu"}, 2, 7), ({"se": "none"}, 0, 7), ({"se": "all"}, 13, 7),
                             ({"se": "0000001100000"}, 2, 7), ({"large_kernels": 0}, 2, 0),
                             ({"large_kernels": 13}, 2, 13), ({"large_kernels": "1111111000000"}, 2, 7)):
        model = rec_svtr_lcnet(num_classes=97, **opts).eval()
        assert _count(model.backbone, torch.nn.Conv2d, dw5) == n_k5, opts
        assert sum(b.se is not None for b in model.backbone.blocks) == n_se, opts
        with torch.no_grad():
            probs = model(x)
        assert probs.shape == (1, 12, 97)
        assert torch.allclose(probs.sum(-1), torch.ones(1, 12), atol=1e-5)
    relu = PPLCNetRec(act="relu")
    assert _count(relu, torch.nn.ReLU) == 2 * 13 + 1  # stem, dw + pw of each block (the SE uses F.relu)
    assert _count(relu, torch.nn.Hardswish) == 0
    # TextRotNet pre-training backbone: conv6 stride 1 and MaxPool 2x2 -> 1 x W/4
    rot = LCNetClassifier(PPLCNetRec(last_conv_stride=1, last_pool_type="max"), 4)
    assert rot.backbone(torch.zeros(2, 3, 48, 320)).shape == (2, 512, 1, 80)
    assert rot.eval()(torch.zeros(2, 3, 48, 320)).shape == (2, 4)
    # PP-LCNet x1.0 ImageNet classifier (1280-channel conv after GAP): about 3.0M parameters as in the paper
    imagenet = LCNetClassifier(PPLCNetRec(head_conv=1280), 1000)
    assert abs(sum(p.numel() for p in imagenet.parameters()) - 2.95e6) < 0.05e6
    assert imagenet.train()(torch.zeros(2, 3, 48, 96)).shape == (2, 1000)
    for bad in ({"se": "tail2"}, {"se": [1, 0]}, {"large_kernels": 14}, {"last_pool_type": "gem"}):
        with pytest.raises(ValueError):
            PPLCNetRec(**bad)


def test_sar_training_outputs_and_losses():
    torch.manual_seed(0)
    num_classes = 97  # 95 dictionary entries + space + blank
    model = rec_svtr_lcnet(num_classes=num_classes, use_sar=True).train()
    sar = model.sar_head
    assert isinstance(sar, SARHead) and sar.embedding.num_embeddings == num_classes + 2
    assert (sar.unknown_index, sar.start_index, sar.pad_index) == (96, 97, 98)
    x = torch.randn(2, 3, 48, 160)
    label_sar = torch.full((2, 25), sar.pad_index)
    label_sar[:, 0] = sar.start_index
    label_sar[0, 1:4], label_sar[0, 4] = torch.tensor([10, 11, 12]), sar.start_index  # end = start index
    label_sar[1, 1:3], label_sar[1, 3] = torch.tensor([20, 21]), sar.start_index
    label_ctc = torch.tensor([[11, 12, 13], [21, 22, 0]])  # CTC index = SAR index + 1
    out = model(x, sar_targets=label_sar, valid_ratios=torch.tensor([1.0, 0.6]))
    assert out["ctc"].shape == (2, 20, num_classes)
    assert out["backbone"].shape == (2, 512, 1, 20) and out["neck"].shape == (2, 20, 64)
    assert out["sar"].shape == (2, 25, num_classes + 1)
    loss_ctc = ctc_loss(out["ctc"], label_ctc, torch.tensor([3, 2]))
    loss_sar = sar_loss(out["sar"], label_sar, sar.pad_index)
    assert torch.isfinite(loss_ctc) and torch.isfinite(loss_sar)
    # use_guide: the CTC loss does not reach the backbone, the SAR loss does
    loss_ctc.backward(retain_graph=True)
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.neck.conv1.conv.weight.grad is not None
    loss_sar.backward()
    assert model.backbone.stem.conv.weight.grad.abs().sum() > 0
    # without targets, train mode gives no SAR output; eval mode returns the CTC softmax only
    assert "sar" not in model(x)
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, 20, num_classes)
        greedy = sar(model.backbone(x[:, :, :, :64]), valid_ratios=[1.0, 0.5])
    assert greedy.shape == (2, 25, num_classes + 1)
