"""Recognition losses beyond CTC and SAR (train.models.rec): U-DML's mutual-learning terms (ppocrv3.md 4.9) and
distillation from a frozen copy of the starting model (the forgetting guard for fine-tuning).

Weights of the released U-DML recipe: DML on CTC logits 1.0, DML on SAR logits 0.5, MSE between the two models'
backbone maps 1.0, plus each model's own CTC (1.0) and SAR (1.0) against the ground truth.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from .models.rec import ctc_loss, sar_loss

EPS = 1e-10


def _kl_sum(target: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """sum over time and classes of target * (ln(target + eps) - ln(pred)), averaged over the batch."""
    return (target * (torch.log(target + EPS) - torch.log(pred))).sum() / target.shape[0]


def dml_loss(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """Symmetric KL between two models' softmax outputs (PaddleOCR's DMLLoss with softmax activation):
    p = softmax + 1e-10, L = (KL(p_b || p_a) + KL(p_a || p_b)) / 2, summed over steps and classes, mean over batch.
    Both sides get gradients (mutual learning)."""
    pa = F.softmax(logits_a.float(), dim=-1) + EPS
    pb = F.softmax(logits_b.float(), dim=-1) + EPS
    return 0.5 * (_kl_sum(pb, pa) + _kl_sum(pa, pb))


def distill_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float = 1.0
                 ) -> torch.Tensor:
    """KL(teacher || student) per time step, summed over classes and mean over steps and batch, against a frozen
    teacher's probabilities (no gradient to the teacher)."""
    t = teacher_probs.detach().float()
    if temperature != 1.0:
        t = F.softmax(torch.log(t + EPS) / temperature, dim=-1)
    log_s = F.log_softmax(student_logits.float() / temperature, dim=-1)
    return (t * (torch.log(t + EPS) - log_s)).sum(-1).mean() * temperature ** 2


def supervised_losses(out: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor], sar_pad: int,
                      weights: Mapping[str, float]) -> dict[str, torch.Tensor]:
    """CTC (and SAR when the model produced SAR logits) against the ground truth, each times its weight."""
    losses = {"ctc": weights.get("ctc", 1.0) * ctc_loss(out["ctc"], batch["ctc"], batch["length"])}
    if "sar" in out and weights.get("sar", 1.0) > 0:
        losses["sar"] = weights.get("sar", 1.0) * sar_loss(out["sar"].float(), batch["sar"], sar_pad)
    return losses


def udml_losses(student: Mapping[str, torch.Tensor], teacher: Mapping[str, torch.Tensor],
                weights: Mapping[str, float]) -> dict[str, torch.Tensor]:
    """The mutual terms between the two trainable models: dml_ctc, dml_sar (when both have SAR logits), feature MSE
    on the backbone maps."""
    losses = {"dml_ctc": weights.get("dml_ctc", 1.0) * dml_loss(student["ctc"], teacher["ctc"])}
    if "sar" in student and "sar" in teacher and weights.get("dml_sar", 0.5) > 0:
        losses["dml_sar"] = weights.get("dml_sar", 0.5) * dml_loss(student["sar"], teacher["sar"])
    if weights.get("feature", 1.0) > 0:
        losses["feature"] = weights.get("feature", 1.0) * F.mse_loss(student["backbone"].float(),
                                                                     teacher["backbone"].float())
    return losses
