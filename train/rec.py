"""Train the PP-OCRv3 recognizer (SVTR_LCNet): CTC, GTC (SAR branch), TextConAug, RecAug, U-DML, fine-tuning with a
forgetting guard.

    python -m train.rec --config train/configs/rec_smoke.yaml --out runs/smoke [--set optim.lr=5e-4 ...]
                        [--resume] [--device cpu|cuda]
    torchrun --nproc_per_node 2 -m train.rec --config ... --out ...

Writes OUT/last.pt (with the trainer state, for --resume), OUT/best.pt (by eval.best), OUT/log.csv, OUT/curves.png
and OUT/config.yaml (the resolved config). Checkpoints are train/checkpoint.py files: `python -m convert.torch_export
--rec OUT/best.pt --out BUNDLE` makes a bundle (the SAR branch is dropped there).

Config sections (see train/configs/*.yaml): seed, dictionary, use_space_char, model, init, loss, distill, data,
augment, optim, train, eval. Data sources: `label_file` (PaddleOCR rec labels) and `synth` (train/line_synth.py;
`synth: {config: FILE, ...}` starts from a LineSynth YAML). Evaluation sets: `label_file`, `synth`, and `det_crops`
(the lines of a detection label file cut with the SDK's crop_quad, e.g. receipts); `every`/`offset` take a split.
`train.freeze: [backbone, ...]` fixes modules (weights and BN statistics). `init.backbone: CKPT` starts the backbone
from a TextRotNet checkpoint (train/rotnet.py).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from ppocr_edge.bundle import FP32_BUNDLE, has_space_class, load_bundle
from ppocr_edge.ctc import ctc_greedy_decode
from ppocr_edge.image_io import load_image

from .config import get, repo_path
from .dictionaries import ctc_characters, load_dictionary, num_classes, remap_ctc_head
from .models.rec import load_official_rec, rec_svtr_lcnet
from .rec_data import EpochBatchSampler, LabelCodec, LabelFileSource, Mixture, RecTrainSet, SynthSource, collate
from .rec_eval import EvalSet, evaluate_set
from .rec_losses import distill_loss, supervised_losses, udml_losses
from .task_common import epoch_loader, frozen_modules, set_train_mode
from .trainer import cli_main, run_task
from .weights import load_weights_strict

FACTORY = "train.models.rec.rec_svtr_lcnet"
OFFICIAL_CACHE = Path.home() / ".cache" / "ppocr_edge" / "official"


def sdk_rec_settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The recognizer's preprocessing settings of the embedded bundle (height, mean/std, width buckets, ...)."""
    pre = dict(load_bundle(FP32_BUNDLE).rec.preprocess)
    pre.update(overrides or {})
    return pre


def official_rec_onnx(path: str | None) -> Path:
    """The official ch_PP-OCRv3_rec ONNX file: the given path, or fetched once into ~/.cache (pip download)."""
    if path and path != "auto":
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"init.official: {p} does not exist")
        return p
    from convert.official_v3 import fetch_official_onnx

    return fetch_official_onnx(OFFICIAL_CACHE)["rec"]


# ------------------------------------------------------------------------------------------------ model + init


def model_kwargs(cfg: Mapping[str, Any], n_classes: int) -> dict[str, Any]:
    kwargs = copy.deepcopy(dict(get(cfg, "model.kwargs", {}) or {}))
    kwargs["num_classes"] = n_classes
    kwargs.setdefault("use_sar", bool(get(cfg, "loss.sar", 1.0)))
    return kwargs


def official_state(onnx: Path, characters: Sequence[str]) -> dict[str, torch.Tensor]:
    """The official model's weights with its CTC head re-mapped to `characters` (rows of the same characters)."""
    ref = rec_svtr_lcnet()
    load_official_rec(ref, onnx)
    official_chars = ctc_characters(load_dictionary("ch"))
    fc, missing = remap_ctc_head(ref.ctc_head.fc, official_chars, characters)
    if missing:
        print(f"init: {len(missing)} characters have no official row and start fresh: {''.join(missing)[:60]}",
              file=sys.stderr)
    ref.ctc_head.fc = fc
    return ref.state_dict()


def initial_state(cfg: Mapping[str, Any], characters: Sequence[str]) -> dict[str, torch.Tensor] | None:
    """Weights to start from: init.checkpoint (a train/checkpoint.py file, head re-mapped if its dictionary
    differs) or init.official (official ONNX weights); None = from scratch."""
    ckpt = get(cfg, "init.checkpoint")
    if ckpt:
        from .checkpoint import load_checkpoint

        c = load_checkpoint(ckpt)
        state = c.model.state_dict()
        src_chars = ctc_characters(c.dictionary, has_space_class(c.model.ctc_head.fc.out_features,
                                                                 len(c.dictionary), str(ckpt))) \
            if c.dictionary is not None else None
        if src_chars is not None and src_chars != list(characters):
            fc, _ = remap_ctc_head(c.model.ctc_head.fc, src_chars, characters)
            state["ctc_head.fc.weight"], state["ctc_head.fc.bias"] = fc.weight.detach(), fc.bias.detach()
        return state
    if get(cfg, "init.official"):
        return official_state(official_rec_onnx(get(cfg, "init.official")), characters)
    return None


# ------------------------------------------------------------------------------------------------ task


class RecTask:
    """Recognition for train.trainer.Trainer."""

    def __init__(self, config: dict[str, Any], device: torch.device, rank: int = 0) -> None:
        self.config = config
        cfg = config
        self.device = device
        self.seed = int(cfg.get("seed", 0))
        self.dictionary = load_dictionary(cfg.get("dictionary", "en"))
        self.characters = ctc_characters(self.dictionary, bool(cfg.get("use_space_char", True)))
        self.n_classes = num_classes(self.dictionary, bool(cfg.get("use_space_char", True)))
        self.kwargs = model_kwargs(cfg, self.n_classes)
        self.use_sar = bool(self.kwargs.get("use_sar"))
        self.codec = LabelCodec(self.characters, int(get(cfg, "data.max_text_length", 25)), sar=self.use_sar)
        self.pre = sdk_rec_settings(get(cfg, "data.preprocess"))
        self.width = int(get(cfg, "data.width", 320))
        self.loss_w = {"ctc": 1.0, "sar": 1.0, "dml_ctc": 1.0, "dml_sar": 0.5, "feature": 1.0,
                       **(get(cfg, "loss", {}) or {})}
        self.udml = bool(get(cfg, "udml.enabled", False))
        self.distill_w = float(get(cfg, "distill.from_init", 0.0) or 0.0)

        torch.manual_seed(self.seed)
        self.student = rec_svtr_lcnet(**self.kwargs)
        state = initial_state(cfg, self.characters)
        new = list(get(cfg, "init.new", []) or [])
        self.init_report = None
        if state is not None:
            self.init_report = load_weights_strict(self.student, state, new=new)
            if rank == 0:
                print(f"init: {self.init_report.summary()}", file=sys.stderr)
        if get(cfg, "init.backbone"):  # a TextRotNet checkpoint (train/rotnet.py): its backbone, all of it
            from .checkpoint import load_checkpoint

            src = load_checkpoint(get(cfg, "init.backbone")).model.backbone.state_dict()
            report = load_weights_strict(self.student.backbone, src)
            if rank == 0:
                print(f"init.backbone: {report.summary()}", file=sys.stderr)
        # channels-last: depthwise conv backward is ~1.35x faster on CPU (mkldnn), and it suits tensor cores
        self.channels_last = bool(get(cfg, "train.channels_last", True))
        self.models: dict[str, nn.Module] = {"student": self.student}
        if self.udml:
            torch.manual_seed(self.seed + 1)
            teacher = rec_svtr_lcnet(**self.kwargs)
            if state is not None:
                load_weights_strict(teacher, state, new=new)
            self.models["teacher"] = teacher
        if self.channels_last:
            for m in self.models.values():
                m.to(memory_format=torch.channels_last)
        self.freeze = [str(x) for x in (get(cfg, "train.freeze", []) or [])]
        for m in self.models.values():
            for mod in frozen_modules(m, self.freeze):
                mod.requires_grad_(False)
        self.frozen: nn.Module | None = None
        if self.distill_w > 0:
            self.frozen = copy.deepcopy(self.student).to(device).eval()
            for p in self.frozen.parameters():
                p.requires_grad_(False)
        if int(get(cfg, "data.workers", 0)) > 0:
            # OpenCV single-threaded in this process, so forked workers inherit it: calling cv2.setNumThreads in a
            # worker after this process has used OpenCV's thread pool deadlocks (measured: training hung after
            # the step-0 evaluation); the main process only resizes evaluation crops
            cv2.setNumThreads(1)
        self.train_set = self._train_set()
        self.eval_sets = self._eval_sets() if rank == 0 else []

    # -------------------------------------------------------------------------------------------- data

    def _synth(self, scfg: Mapping[str, Any]) -> Any:
        """A LineSynth for the dictionary's characters, its texts within the codec's length limit. `config: FILE`
        (a LineSynth YAML, e.g. train/configs/line_synth_scene.yaml; relative to the repository) gives the base
        settings that the other keys override."""
        from .line_synth import LineSynth, LineSynthConfig, load_config

        scfg = dict(scfg or {})
        base = {}
        if scfg.get("config"):
            base = load_config(str(repo_path(scfg.pop("config")))).to_dict()
        return LineSynth(LineSynthConfig.from_dict({**base, **scfg, "max_len": self.codec.max_len}),
                         charset="".join(self.characters))

    def _source(self, spec: Mapping[str, Any], seed_offset: int) -> Any:
        kind = spec.get("type", "label_file")
        if kind == "label_file":
            src = LabelFileSource(Path(spec["path"]), self.codec, name=spec.get("name", ""))
            if src.skipped:
                print(f"data: {src.path}: skipped {dict(src.skipped)} of {len(src) + sum(src.skipped.values())} "
                      f"labels", file=sys.stderr)
            if len(src) == 0:
                raise ValueError(f"data: {src.path} has no usable samples")
            return src
        if kind == "synth":
            return SynthSource(self._synth(spec.get("synth", {})), int(spec.get("size", 10000)),
                               int(spec.get("seed", self.seed + seed_offset)), self.codec,
                               name=spec.get("name", "synth"))
        raise ValueError(f"data source type {kind!r}: label_file or synth")

    def _train_set(self) -> RecTrainSet:
        specs = get(self.config, "data.train", []) or []
        sources = [self._source(s, 100 + i) for i, s in enumerate(specs)]
        ratios = [float(s.get("ratio", 1.0)) for s in specs]
        aug_cfg = get(self.config, "augment", {}) or {}
        augment = con_aug = None
        if aug_cfg.get("rec_aug") is not None and aug_cfg["rec_aug"] is not False:
            from .rec_augment import RecAug

            augment = RecAug.from_config(aug_cfg["rec_aug"] or {})
        if aug_cfg.get("text_con_aug") is not None and aug_cfg["text_con_aug"] is not False:
            from .rec_augment import TextConAug

            c = dict(aug_cfg["text_con_aug"] or {})
            c.setdefault("max_text_length", self.codec.max_len)
            c.setdefault("image_shape", (int(self.pre["height"]), self.width))
            con_aug = TextConAug.from_config(c)
        return RecTrainSet(Mixture(sources, ratios, self.seed), self.codec, self.pre, self.width, augment, con_aug,
                           self.seed)

    def _eval_sets(self) -> list[EvalSet]:
        sets = []
        for i, spec in enumerate(get(self.config, "eval.sets", []) or []):
            limit = spec.get("limit")
            if spec.get("type", "label_file") == "label_file":
                from ppocr_edge.datasets import read_rec_labels

                every, offset = int(spec.get("every", 1)), int(spec.get("offset", 0))
                samples = read_rec_labels(spec["path"])[offset::every]
                if spec.get("in_dictionary_only"):  # e.g. the number crops of a word set, for a digits model
                    samples = [x for x in samples if self.codec.reject_reason(x.label) is None]
                samples = samples[:limit]
                sets.append(EvalSet(spec.get("name", Path(spec["path"]).parent.name),
                                    [load_image(s.image_path) for s in samples], [s.label for s in samples]))
            elif spec.get("type") == "det_crops":  # the text lines of a detection label file, cut as the SDK cuts
                from ppocr_edge.datasets import read_det_labels
                from ppocr_edge.geometry import crop_quad

                images, labels = [], []
                for sample in read_det_labels(spec["path"])[int(spec.get("offset", 0))::int(spec.get("every", 1))]:
                    page = load_image(sample.image_path)
                    for r in sample.regions:
                        if not r.ignore and len(r.points) == 4:
                            images.append(crop_quad(page, r.points).image)
                            labels.append(r.text)
                sets.append(EvalSet(spec.get("name", Path(spec["path"]).parent.name), images[:limit], labels[:limit]))
            else:
                synth = self._synth(spec.get("synth", {}))
                seed = int(spec.get("seed", 10_000 + i))
                pairs = [synth.render(j, seed) for j in range(int(spec.get("size", 500)))]
                sets.append(EvalSet(spec.get("name", "synth_val"), [p[0] for p in pairs], [p[1] for p in pairs]))
        return sets

    # -------------------------------------------------------------------------------------------- Task protocol

    def trainable(self) -> dict[str, nn.Module]:
        return self.models

    def param_groups(self, models: Mapping[str, nn.Module]) -> list[dict[str, Any]]:
        """PaddleOCR's regularisers: L2 (coupled, as Adam's weight_decay) optim.weight_decay on weights, 0 on BN
        parameters of the backbone, optim.fc_decay on the CTC head."""
        wd = float(get(self.config, "optim.weight_decay", 3e-5))
        fc_wd = float(get(self.config, "optim.fc_decay", 1e-5))
        groups: dict[str, list[nn.Parameter]] = {"default": [], "no_decay": [], "fc": []}
        for model in models.values():
            bn_params = {id(p) for m in model.backbone.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                         for p in m.parameters()}
            fc_params = {id(p) for p in model.ctc_head.parameters()}
            for p in model.parameters():
                if not p.requires_grad:
                    continue
                key = "no_decay" if id(p) in bn_params else "fc" if id(p) in fc_params else "default"
                groups[key].append(p)
        return [{"params": groups["default"], "weight_decay": wd}, {"params": groups["no_decay"], "weight_decay": 0.0},
                {"params": groups["fc"], "weight_decay": fc_wd}]

    def steps_per_epoch(self, world_size: int) -> int:
        return len(self.train_set) // world_size // int(get(self.config, "data.batch_size", 64))

    def batches(self, epoch: int, start_batch: int, rank: int, world_size: int) -> Iterator[dict[str, Any]]:
        bs = int(get(self.config, "data.batch_size", 64))
        sampler = EpochBatchSampler(len(self.train_set), bs, epoch, rank, world_size, start_batch)
        return epoch_loader(self.train_set, sampler, collate, self.config, self.seed, epoch, self.device, 4)

    def set_train_mode(self, models: Mapping[str, nn.Module]) -> None:
        set_train_mode(models, self.config, self.freeze)

    def train_step(self, models: Mapping[str, nn.Module], batch: Mapping[str, Any], device: torch.device
                   ) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        non_blocking = device.type == "cuda"
        b = {k: v.to(device, non_blocking=non_blocking) for k, v in batch.items() if isinstance(v, torch.Tensor)}
        x = b["image"].contiguous(memory_format=torch.channels_last) if self.channels_last else b["image"]
        sar_targets = b.get("sar") if self.use_sar else None
        outs = {name: m(x, sar_targets=sar_targets, valid_ratios=b["valid_ratio"]) for name, m in models.items()}
        losses: dict[str, torch.Tensor] = {}
        for name, out in outs.items():
            prefix = "" if len(outs) == 1 else f"{name}_"
            for k, v in supervised_losses(out, b, self.codec.sar_pad, self.loss_w).items():
                losses[prefix + k] = v
        if self.udml:
            losses.update(udml_losses(outs["student"], outs["teacher"], self.loss_w))
        if self.frozen is not None:
            with torch.no_grad():
                self.frozen.eval()
                ref = self.frozen(x)
            losses["distill"] = self.distill_w * distill_loss(outs["student"]["ctc"], ref)
        stats = {"items": float(x.shape[0])}
        probs = torch.softmax(outs["student"]["ctc"].detach().float(), -1).cpu().numpy()  # cheap: [N, T, C]
        decoded = ctc_greedy_decode(probs, self.characters)
        stats["train_acc"] = float(np.mean([d.text == t for d, t in zip(decoded, batch["text"])]))
        return losses, stats

    def evaluate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        metrics = {}
        bs = int(get(self.config, "eval.batch_size", 0) or 0) or None
        for s in self.eval_sets:
            for k, v in evaluate_set(model, s, self.characters, self.pre, device, bs).items():
                metrics[f"{s.name}/{k}"] = v
        return metrics

    def checkpoint_arch(self) -> tuple[str, dict[str, Any], list[str] | None]:
        return FACTORY, dict(self.kwargs), list(self.dictionary)


# ------------------------------------------------------------------------------------------------ CLI


def run(config: dict[str, Any], out: str | Path, *, device: str | None = None, resume: bool = False
        ) -> dict[str, float]:
    """Train with a resolved config (the CLI's body; also used by tests)."""
    return run_task(RecTask, config, out, device=device, resume=resume)


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(RecTask, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
