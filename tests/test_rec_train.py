"""Recognition training (train/rec.py and its parts): configs, label encoding and data sources, the English head made
from the official rows, strict weight loading, exact resume, DDP, and export of a trained checkpoint."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ocr_render import random_line, render_page

from train.config import load_config, parse_override
from train.dictionaries import ctc_characters, load_dictionary, remap_ctc_head
from train.models.rec import rec_svtr_lcnet
from train.rec_data import EpochBatchSampler, LabelCodec, LabelFileSource, Mixture
from train.weights import WeightLoadError, load_weights_strict

REPO = Path(__file__).resolve().parents[1]
EN = ctc_characters(load_dictionary("en"))


def write_rec_set(root: Path, texts: list[str], size: int = 28) -> Path:
    """Rendered crops (DejaVu Sans) and a PaddleOCR rec label file."""
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, t in enumerate(texts):
        page = render_page([t], size=size)
        x0, y0, x1, y1 = page.lines[0].box
        crop = page.image[max(0, int(y0) - 4):int(y1) + 4, max(0, int(x0) - 4):int(x1) + 4]
        cv2.imwrite(str(root / "img" / f"{i}.png"), crop)
        rows.append(f"img/{i}.png\t{t}")
    (root / "labels.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root / "labels.txt"


def tiny_config(train_labels: Path, val_labels: Path, **over) -> dict:
    """A small CTC-only model on label-file data: fast enough for tests."""
    cfg = {
        "seed": 3, "dictionary": "en",
        "model": {"kwargs": {"use_sar": False, "scale": 0.25, "neck_options": {"use_guide": False}}},
        "loss": {"ctc": 1.0, "sar": 0.0},
        "data": {"batch_size": 4, "workers": 0, "train": [{"type": "label_file", "path": str(train_labels)}]},
        "augment": {"rec_aug": {"prob": 0.4}},
        "optim": {"lr": 1e-3, "steps": 6, "warmup_steps": 2, "clip_norm": 10},
        "train": {"log_every": 1, "eval_every": 100, "save_every": 3, "progress": False, "threads": 1},
        "eval": {"sets": [{"name": "val", "path": str(val_labels)}], "best": "val/one_minus_ned"},
    }
    for k, v in over.items():
        from train.config import set_key

        set_key(cfg, k, v)
    return cfg


@pytest.fixture(scope="module")
def small_sets(tmp_path_factory) -> tuple[Path, Path]:
    rng = random.Random(5)
    root = tmp_path_factory.mktemp("recsets")
    train = write_rec_set(root / "train", [random_line(rng, 1, 2)[:20] for _ in range(16)])
    val = write_rec_set(root / "val", [random_line(rng, 1, 2)[:20] for _ in range(6)])
    return train, val


# ------------------------------------------------------------------------------------------------ config, data


def test_config_base_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("optim: {lr: 0.001, steps: 10}\ndata: {batch_size: 8}\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\noptim: {steps: 20}\n")
    cfg = load_config(tmp_path / "child.yaml", ["data.batch_size=16", "eval.sets=[]", "model.kwargs.scale=0.25"])
    assert cfg["optim"] == {"lr": 0.001, "steps": 20}
    assert cfg["data"]["batch_size"] == 16 and cfg["eval"]["sets"] == [] and cfg["model"]["kwargs"]["scale"] == 0.25
    assert parse_override("a.b=true") == ("a.b", True)
    with pytest.raises(ValueError):
        parse_override("novalue")
    smoke = load_config("rec_smoke")  # by name from train/configs
    assert smoke["optim"]["steps"] > 0


def test_label_codec_and_skipped_labels(tmp_path):
    codec = LabelCodec(EN, max_text_length=25, sar=True)
    assert codec.max_len == 23  # [start] + text + [end] must fit 25
    assert codec.ctc("Ab 1") == [EN.index("A") + 1, EN.index("b") + 1, len(EN), EN.index("1") + 1]
    sar = codec.sar_label("ab")
    assert sar[:4] == [codec.sar_start, EN.index("a"), EN.index("b"), codec.sar_start]
    assert len(sar) == 25 and set(sar[4:]) == {codec.sar_pad}
    img = np.full((20, 40, 3), 255, np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    (tmp_path / "labels.txt").write_text("a.png\tok\na.png\t中文\na.png\t" + "x" * 30 + "\na.png\tfine 2\n"
                                         "gone.png\tlost\n", encoding="utf-8")
    src = LabelFileSource(tmp_path / "labels.txt", codec)
    assert len(src) == 2 and src.skipped == {"out_of_dict": 1, "too_long": 1, "missing_image": 1}
    assert src.load(1)[1] == "fine 2"


def test_mixture_ratios_and_sampler_shards():
    class Fake:
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

    mix = Mixture([Fake(10), Fake(4)], [0.5, 2.0], seed=1)
    items = mix.epoch_items(0)
    assert len(items) == 5 + 8
    assert (items[:, 0] == 0).sum() == 5 and (items[:, 0] == 1).sum() == 8
    assert len(set(items[items[:, 0] == 0, 1])) == 5  # ratio < 1: distinct items
    assert not np.array_equal(items, mix.epoch_items(1)) and np.array_equal(items, mix.epoch_items(0))
    # two ranks: disjoint shards covering the epoch, the same number of batches each; resume skips batches
    r0 = [k for b in EpochBatchSampler(12, 3, epoch=2, rank=0, world_size=2) for k in b]
    r1 = [k for b in EpochBatchSampler(12, 3, epoch=2, rank=1, world_size=2) for k in b]
    assert sorted(p for _, p in r0 + r1) == list(range(12)) and not set(r0) & set(r1)
    later = list(EpochBatchSampler(12, 3, epoch=2, rank=0, world_size=2, start_batch=1))
    assert [k for b in later for k in b] == r0[3:]



def test_text_con_aug_partners_come_from_the_batch():
    """The DataLoader fetches whole batches: TextConAug joins each sample with other samples of its batch (nothing
    extra is loaded or rendered), deterministically, and a batch from the DataLoader equals a direct fetch."""
    from train.rec import sdk_rec_settings
    from train.rec_augment import TextConAug
    from train.rec_data import RecTrainSet, collate

    class Letters:  # sample i: label = one letter, a grey level that identifies it
        loads = 0

        def __len__(self):
            return 26

        def load(self, index, epoch=0):
            Letters.loads += 1
            return np.full((48, 40 + index, 3), 9 * index, np.uint8), chr(ord("a") + index)

    codec = LabelCodec([chr(c) for c in range(ord("a"), ord("z") + 1)], max_text_length=8)
    ds = RecTrainSet(Mixture([Letters()], seed=3), codec, sdk_rec_settings(None), 320,
                     con_aug=TextConAug(prob=1.0, ext_data_num=2, max_text_length=8, image_shape=(48, 320)), seed=5)
    keys = [(0, p) for p in range(8)]
    own = [ds._load_key(k)[1] for k in keys]
    Letters.loads = 0
    items = ds.__getitems__(keys)
    assert Letters.loads == len(keys)  # partners were not loaded again
    for i, it in enumerate(items):
        text = it["text"]
        assert text[0] == own[i] and len(text) == 3  # 40-65 px wide at 48 px: two partners always fit
        assert set(text[1:]) <= set(own) - {own[i]}  # other samples of the same batch, never itself
    assert any(it["text"] != items[0]["text"] for it in items[1:])
    assert [it["text"] for it in ds.__getitems__(keys)] == [it["text"] for it in items]  # deterministic
    loader = torch.utils.data.DataLoader(ds, batch_sampler=[keys], collate_fn=collate)
    batch = next(iter(loader))
    assert batch["text"] == [it["text"] for it in items]
    assert torch.equal(batch["image"], torch.stack([it["image"] for it in items]))
    assert ds.raw_sample(keys[0])[1][0] == own[0]  # a single key still works (partners from the mixture)


# ------------------------------------------------------------------------------------------------ weights


def test_strict_loading_lists_problems():
    model = rec_svtr_lcnet(num_classes=len(EN) + 1, scale=0.25)
    state = model.state_dict()
    state.pop("ctc_head.fc.bias")
    state["extra.weight"] = torch.zeros(2)
    state["neck.conv1.conv.weight"] = torch.zeros(1)
    with pytest.raises(WeightLoadError) as e:
        load_weights_strict(rec_svtr_lcnet(num_classes=len(EN) + 1, scale=0.25), state)
    msg = str(e.value)
    assert "missing: ctc_head.fc.bias" in msg and "unexpected: extra.weight" in msg and "neck.conv1.conv.weight" in msg
    ok = dict(model.state_dict())
    ok.pop("ctc_head.fc.bias")
    report = load_weights_strict(rec_svtr_lcnet(num_classes=len(EN) + 1, scale=0.25), ok, new=["ctc_head"])
    assert report.missing == ["ctc_head.fc.bias"]


@pytest.mark.needs_fonts
def test_english_head_reads_like_the_official_model(official):
    """Before any training, the English head (rows copied from the official model) reads English lines exactly as
    the official 6625-class model does, wherever the official reading uses English-dictionary characters only."""
    from ppocr_edge.ctc import ctc_greedy_decode
    from ppocr_edge.preprocess import prepare_line_batch
    from train.models.rec import load_official_rec
    from train.rec import official_state, sdk_rec_settings

    ref = rec_svtr_lcnet()
    load_official_rec(ref, official["rec"])
    en = rec_svtr_lcnet(num_classes=len(EN) + 1)
    load_weights_strict(en, official_state(official["rec"], EN))
    ch_chars = ctc_characters(load_dictionary("ch"))
    rng = random.Random(11)
    texts = [random_line(rng, 2, 4) for _ in range(16)]
    crops = []
    for t in texts:
        page = render_page([t], size=30)
        x0, y0, x1, y1 = page.lines[0].box
        crops.append(page.image[int(y0) - 4:int(y1) + 4, max(0, int(x0) - 4):int(x1) + 4])
    x, _ = prepare_line_batch(crops, sdk_rec_settings(), 640)
    with torch.no_grad():
        p_ref = ref.eval()(torch.from_numpy(x)).numpy()
        p_en = en.eval()(torch.from_numpy(x)).numpy()
    read_ref = [d.text for d in ctc_greedy_decode(p_ref, ch_chars)]
    read_en = [d.text for d in ctc_greedy_decode(p_en, EN)]
    english = [i for i, t in enumerate(read_ref) if set(t) <= set(EN)]
    assert len(english) >= 12
    assert [read_en[i] for i in english] == [read_ref[i] for i in english]
    assert sum(read_ref[i] == texts[i] for i in english) >= 10  # and those readings are mostly right


def test_remap_head_rows():
    fc = torch.nn.Linear(4, 4)  # blank + "a", "b", "c"
    new, missing = remap_ctc_head(fc, ["a", "b", "c"], ["c", "a", "z"])
    assert missing == ["z"]
    assert torch.equal(new.weight[0], fc.weight[0]) and torch.equal(new.weight[1], fc.weight[3])
    assert torch.equal(new.bias[2], fc.bias[1])


# ------------------------------------------------------------------------------------------------ training


def _weights(path: Path) -> dict:
    from train.checkpoint import load_checkpoint

    return load_checkpoint(path).model.state_dict()


@pytest.mark.needs_fonts
def test_resume_is_exact(small_sets, tmp_path):
    """N steps straight == N/2 steps, stop, --resume, N/2 more (same weights, optimizer state and data)."""
    from train.rec import run

    train, val = small_sets
    run(tiny_config(train, val), tmp_path / "straight", device="cpu")
    run(tiny_config(train, val, **{"train.stop_at_step": 3}), tmp_path / "half", device="cpu")
    half = _weights(tmp_path / "half" / "last.pt")
    run(tiny_config(train, val), tmp_path / "half", device="cpu", resume=True)
    a, b = _weights(tmp_path / "straight" / "last.pt"), _weights(tmp_path / "half" / "last.pt")
    assert any(not torch.equal(half[k], a[k]) for k in a)  # the second half did train
    for k in a:
        assert torch.equal(a[k], b[k]), k  # CPU, same threads: bit-exact
    log = (tmp_path / "half" / "log.csv").read_text().splitlines()
    assert sum(1 for ln in log if ln.startswith("train,")) == 6  # steps 1..6 once each after the resume


@pytest.mark.needs_fonts
def test_checkpoint_exports_without_sar(small_sets, tmp_path):
    """A GTC model (SAR branch) trains, exports to an OpenVINO bundle without the SAR branch, the IR equals the
    torch CTC branch, and the bundle runs in OCRPipeline and `ppocr-edge eval`."""
    ov = pytest.importorskip("openvino")
    from convert.torch_export import export_bundle
    from ppocr_edge import OCRPipeline
    from ppocr_edge.bundle import FP32_BUNDLE
    from ppocr_edge.cli import main as cli_main
    from train.checkpoint import load_checkpoint
    from train.rec import run

    train, val = small_sets
    cfg = tiny_config(train, val, **{"model.kwargs.use_sar": True, "model.kwargs.neck_options.use_guide": True,
                                     "loss.sar": 1.0, "optim.steps": 2})
    run(cfg, tmp_path / "run", device="cpu")
    ck = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ck.model.sar_head is not None
    core = ov.Core()
    official = {r: core.read_model(str(FP32_BUNDLE / f"{r}.xml")) for r in ("det", "cls")}
    bundle = export_bundle(tmp_path / "bundle", rec=ck.model, dictionary=ck.dictionary, **official).parent
    ir = core.read_model(str(bundle / "rec.xml"))
    assert not [op for op in ir.get_ops() if "LSTM" in op.get_type_name()]  # only the SAR branch has LSTMs
    assert (bundle / "rec.bin").stat().st_size < 4_000_000  # the SAR head alone holds ~25M weights
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 48, 160)).astype(np.float32)
    got = core.compile_model(ir, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]
    with torch.no_grad():
        want = ck.model.eval()(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() < 1e-4
    ocr = OCRPipeline(bundle)
    assert isinstance(ocr(str(val.parent / "img" / "0.png"), use_det=False).text, str)
    assert cli_main(["eval", str(val), "--task", "rec", "--bundle", str(bundle), "--json"]) == 0
    # the CLI: a rec-only export keeps the embedded det + cls and records how the checkpoint was trained
    import json

    from convert.torch_export import main as export_main

    export_main(["--rec", str(tmp_path / "run" / "last.pt"), "--out", str(tmp_path / "cli_bundle")])
    manifest = json.loads((tmp_path / "cli_bundle" / "manifest.json").read_text())
    assert set(manifest["models"]) == {"det", "rec", "cls"}
    rec_source = json.dumps(manifest["source"])
    assert '"step": 2' in rec_source and "use_sar" in rec_source


def test_ddp_two_ranks_keep_identical_weights(small_sets, tmp_path):
    """torchrun, 2 gloo processes: after training both ranks hold the same weights, and the epoch's samples were
    split between them with none seen twice."""
    train, val = small_sets
    import yaml

    cfg = tiny_config(train, val, **{"optim.steps": 3, "data.batch_size": 2})
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
           str(REPO / "tests" / "ddp_worker.py"), "rec", str(tmp_path / "cfg.yaml"), str(tmp_path / "out")]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    w0 = torch.load(tmp_path / "out" / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "out" / "rank1.pt", weights_only=True)
    params = [k for k in w0["state"] if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert len(params) > 50
    for k in params:  # BN statistics are rank-local between forwards (DDP broadcasts rank 0's at each forward)
        assert torch.equal(w0["state"][k], w1["state"][k]), k
    seen0, seen1 = w0["positions"], w1["positions"]
    assert not set(seen0) & set(seen1) and len(seen0) == len(seen1) == 3 * 2


def test_dml_loss_properties():
    from train.rec_losses import distill_loss, dml_loss

    a = torch.randn(3, 5, 7)
    b = torch.randn(3, 5, 7)
    assert float(dml_loss(a, a)) == pytest.approx(0.0, abs=1e-5)
    assert float(dml_loss(a, b)) == pytest.approx(float(dml_loss(b, a)), rel=1e-5) and float(dml_loss(a, b)) > 0
    # summed over steps and classes, averaged over the batch: doubling the steps doubles it
    assert float(dml_loss(torch.cat([a, a], 1), torch.cat([b, b], 1))) == pytest.approx(2 * float(dml_loss(a, b)),
                                                                                         rel=1e-4)
    assert float(distill_loss(a, torch.softmax(a, -1))) == pytest.approx(0.0, abs=1e-5)


def test_udml_trains_both_models(small_sets):
    """U-DML: two GTC recognizers, each loss term (CTC, SAR, DML on CTC and SAR, feature MSE) present, and both
    models' weights move."""
    from train.rec import RecTask
    from train.trainer import Trainer

    train, val = small_sets
    cfg = tiny_config(train, val, **{"model.kwargs.use_sar": True, "model.kwargs.neck_options.use_guide": True,
                                     "loss.sar": 1.0, "udml.enabled": True, "eval.sets": [], "eval.best": None})
    task = RecTask(cfg, torch.device("cpu"))
    assert set(task.trainable()) == {"student", "teacher"}
    before = {k: {n: p.detach().clone() for n, p in m.named_parameters()} for k, m in task.trainable().items()}
    assert any(not torch.equal(before["student"][n], before["teacher"][n]) for n in before["student"])
    trainer = Trainer(task, Path("/tmp/unused_udml"), torch.device("cpu"))
    task.set_train_mode(trainer.models)
    batch = next(task.batches(0, 0, 0, 1))
    losses, _ = task.train_step(trainer.models, batch, torch.device("cpu"))
    assert set(losses) == {"student_ctc", "student_sar", "teacher_ctc", "teacher_sar", "dml_ctc", "dml_sar",
                           "feature"}
    for name, model in task.trainable().items():
        model.zero_grad()
    losses["dml_ctc"].backward(retain_graph=True)
    for name, model in task.trainable().items():  # the mutual term reaches both models' CTC heads
        assert float(model.ctc_head.fc.weight.grad.abs().sum()) > 0, name
    trainer._train_one(batch)
    for k, m in task.trainable().items():
        assert any(not torch.equal(before[k][n], p) for n, p in m.named_parameters()), k


@pytest.mark.needs_fonts
def test_smoke_config_learns_from_scratch(tmp_path):
    """train/configs/rec_smoke.yaml as shipped (~5 minutes on 2 cores): from scratch, the CTC loss falls by more than
    4x and the synthetic validation accuracy (200 held-out lines) ends clearly non-trivial. Measured on an AMD EPYC
    (2 vCPUs): loss 33 -> 0.9, 72.5% exact / 90% case-insensitive alphanumeric at step 900. A broken label encoding,
    loss or decoder stays at 0 (the CTC plateau lasts ~400 steps, then accuracy rises)."""
    import csv
    import statistics

    from train.rec import run

    best = run(load_config("rec_smoke", ["train.progress=false"]), tmp_path, device="cpu")
    rows = list(csv.DictReader(open(tmp_path / "log.csv", encoding="utf-8")))
    losses = [float(r["loss"]) for r in rows if r["kind"] == "train"]
    assert statistics.mean(losses[-5:]) < 0.25 * statistics.mean(losses[:3])
    assert best["synth_val/acc_alnum"] >= 0.6 and best["synth_val/acc"] >= 0.4
    assert (tmp_path / "curves.png").stat().st_size > 10_000


def test_learning_rate_schedules():
    from train.trainer import lr_at

    cos = {"lr": 1e-3, "steps": 100, "warmup_steps": 10}
    assert lr_at(0, cos) == pytest.approx(1e-4) and lr_at(9, cos) == pytest.approx(1e-3)
    assert lr_at(10, cos) == pytest.approx(1e-3) and lr_at(55, cos) == pytest.approx(5e-4)
    assert lr_at(100, cos) == pytest.approx(0.0, abs=1e-12)
    pw = {"lr": 5e-4, "steps": 100, "schedule": "piecewise", "boundaries": [70], "values": [5e-5]}
    assert lr_at(69, pw) == 5e-4 and lr_at(70, pw) == 5e-5
    with pytest.raises(ValueError):
        lr_at(0, {"lr": 1, "steps": 1, "schedule": "linear"})


def test_frozen_modules_keep_their_weights_and_statistics(small_sets, tmp_path):
    """train.freeze: the named modules' parameters and BN statistics stay fixed while the rest trains; an unknown
    name is an error."""
    from train.rec import RecTask, run

    train, val = small_sets
    cfg = tiny_config(train, val, **{"train.freeze": ["backbone"], "optim.steps": 3})
    run(cfg, tmp_path / "frozen", device="cpu")
    start = RecTask(cfg, torch.device("cpu")).student.state_dict()  # same seed: the same initial weights
    end = _weights(tmp_path / "frozen" / "last.pt")
    assert all(torch.equal(start[k], end[k]) for k in start if k.startswith("backbone."))  # running stats too
    assert any(not torch.equal(start[k], end[k]) for k in start if k.startswith("neck."))
    with pytest.raises(ValueError, match="no parameter under 'backbon'"):
        RecTask(tiny_config(train, val, **{"train.freeze": ["backbon"]}), torch.device("cpu"))


def test_space_class_follows_the_class_count():
    from ppocr_edge.bundle import has_space_class
    from ppocr_edge.errors import BundleError

    assert has_space_class(97, 95) and not has_space_class(96, 95)
    with pytest.raises(BundleError, match="needs 96 \\(or 97 with the space class\\)"):
        has_space_class(98, 95)


def test_det_label_file_as_recognition_eval_set(small_sets, tmp_path):
    """eval.sets type det_crops: the lines of a detection label file, cut with the SDK's crop_quad; '###' regions
    are left out."""
    import json

    from train.rec import RecTask

    texts = ["RECEIPT 42", "Total 17.50", "thank you"]
    page = render_page(texts, size=30)
    cv2.imwrite(str(tmp_path / "page.png"), page.image)
    regions = [{"transcription": ln.text, "points": [[ln.box[0] - 3, ln.box[1] - 3], [ln.box[2] + 3, ln.box[1] - 3],
                                                     [ln.box[2] + 3, ln.box[3] + 3], [ln.box[0] - 3, ln.box[3] + 3]]}
               for ln in page.lines]
    regions[2]["transcription"] = "###"
    (tmp_path / "det.txt").write_text(f"page.png\t{json.dumps(regions)}\n", encoding="utf-8")
    train, val = small_sets
    task = RecTask(tiny_config(train, val, **{"eval.sets": [{"name": "lines", "type": "det_crops",
                                                              "path": str(tmp_path / "det.txt")}]}),
                   torch.device("cpu"))
    (s,) = task.eval_sets
    assert s.name == "lines" and s.labels == texts[:2]
    for img, ln in zip(s.images, page.lines):
        x0, y0, x1, y1 = ln.box
        assert abs(img.shape[1] - (x1 - x0 + 6)) <= 2 and abs(img.shape[0] - (y1 - y0 + 6)) <= 2


@pytest.mark.needs_fonts
def test_trainer_evaluation_reads_like_the_pipeline(official):
    """train.rec_eval.recognize (the trainer's evaluation) gives the pipeline's readings for the same weights:
    OCRPipeline(use_det=False, use_cls=False) on the FP32 official bundle, upright lines and tall (turned) crops
    alike, so trainer numbers equal `ppocr-edge eval --task rec --no-cls`."""
    from ppocr_edge import OCRPipeline
    from ppocr_edge.bundle import FP32_BUNDLE
    from train.models.rec import load_official_rec
    from train.rec import sdk_rec_settings
    from train.rec_eval import recognize

    ref = rec_svtr_lcnet()
    load_official_rec(ref, official["rec"])
    rng = random.Random(12)
    crops = []
    for i in range(8):
        page = render_page([random_line(rng, 1, 3)], size=30)
        x0, y0, x1, y1 = page.lines[0].box
        crop = page.image[int(y0) - 4:int(y1) + 4, max(0, int(x0) - 4):int(x1) + 4]
        # every other crop stands on its side (read bottom-up or top-down): the pipeline turns it and reads both ways
        crops.append(np.ascontiguousarray(np.rot90(crop, 1 if i % 4 == 1 else -1)) if i % 2 else crop)
    ours = recognize(ref, crops, ctc_characters(load_dictionary("ch")), sdk_rec_settings())
    ocr = OCRPipeline(FP32_BUNDLE, use_cls=False, drop_score=0.0)
    theirs = [ocr(c, use_det=False).text for c in crops]
    assert [d.text for d in ours] == theirs
    assert sum(t != "" for t in theirs[1::2]) == 4  # the tall crops were read, not dropped


def test_weight_interpolation_ends_and_middle():
    """train.interpolate: alpha 0 gives the starting weights, 1 the tuned ones, 0.5 their mean; BN batch counters
    come from the tuned model; different architectures are refused."""
    from train.interpolate import interpolate

    torch.manual_seed(0)
    a, b = rec_svtr_lcnet(num_classes=11, scale=0.25), rec_svtr_lcnet(num_classes=11, scale=0.25)
    sa, sb = a.state_dict(), b.state_dict()
    counter = next(k for k in sb if k.endswith("num_batches_tracked"))
    sb[counter] += 7
    for alpha, want in ((0.0, sa), (1.0, sb)):
        got = interpolate(sa, sb, alpha)
        assert all(torch.equal(got[k], want[k]) for k in sa if sa[k].is_floating_point())
    mid = interpolate(sa, sb, 0.5)
    k = "ctc_head.fc.weight"
    assert torch.allclose(mid[k], (sa[k] + sb[k]) / 2) and int(mid[counter]) == int(sb[counter])
    with pytest.raises(ValueError, match="shape"):
        interpolate(sa, rec_svtr_lcnet(num_classes=12, scale=0.25).state_dict(), 0.5)
