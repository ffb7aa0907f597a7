"""DB losses and the CML distillation terms (brief sections 2.4 and 2.5).

The model's training output is maps = [P, T, B_hat] ([N, 3, H, W]): probability, threshold and approximate binary
maps. The batch carries the DB targets of train/det_targets.py as [N, H, W] tensors.

    db_loss(maps, batch)          alpha * L_s + beta * L_t + L_b   (alpha 5, beta 10)
    dila_db_loss(maps, teacher_p, shrink_mask)    student vs the teacher's binarised, dilated map (CML)
    dml_loss(p1, p2)              symmetric KL between two students' probability maps (CML)

L_s: the official configs use main_loss_type DiceLoss, under which BalanceLoss reduces to Dice(P, G, M); 'bce' is
the DB paper's BCE with 3:1 hard-negative mining.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

EPS = 1e-6


def dice_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """1 - 2 sum(p g m) / (sum(p m) + sum(g m) + eps), over the whole batch."""
    inter = (pred * gt * mask).sum()
    union = (pred * mask).sum() + (gt * mask).sum() + eps
    return 1 - 2.0 * inter / union


def balanced_bce_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, negative_ratio: float = 3.0,
                      eps: float = EPS) -> torch.Tensor:
    """BCE over all positives and the k hardest negatives, k = min(#neg, ratio * #pos)."""
    positive = gt * mask
    negative = (1 - gt) * mask
    n_pos = int(positive.sum().item())
    n_neg = min(int(negative.sum().item()), int(n_pos * negative_ratio))
    loss = F.binary_cross_entropy(pred.clamp(eps, 1 - eps), gt, reduction="none")
    pos_loss = (loss * positive).sum()
    neg_loss = torch.topk((loss * negative).flatten(), n_neg).values.sum() if n_neg > 0 else loss.new_zeros(())
    return (pos_loss + neg_loss) / (n_pos + n_neg + eps)


def masked_l1_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    return ((pred - gt).abs() * mask).sum() / (mask.sum() + eps)


def prob_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, main: str = "dice") -> torch.Tensor:
    if main == "dice":
        return dice_loss(pred, gt, mask)
    if main == "bce":
        return balanced_bce_loss(pred, gt, mask)
    raise ValueError(f"loss.main must be 'dice' (official) or 'bce' (DB paper), not {main!r}")


def db_loss(maps: torch.Tensor, batch: Mapping[str, torch.Tensor], *, alpha: float = 5.0, beta: float = 10.0,
            main: str = "dice") -> dict[str, torch.Tensor]:
    """The DB loss terms, already weighted: {'shrink': alpha L_s, 'threshold': beta L_t, 'binary': L_b}."""
    maps = maps.float()
    p, t, b = maps[:, 0], maps[:, 1], maps[:, 2]
    gt, mask = batch["shrink_map"], batch["shrink_mask"]
    return {"shrink": alpha * prob_loss(p, gt, mask, main),
            "threshold": beta * masked_l1_loss(t, batch["threshold_map"], batch["threshold_mask"]),
            "binary": dice_loss(b, gt, mask)}


def dilated_teacher_map(teacher_p: torch.Tensor, thresh: float = 0.3) -> torch.Tensor:
    """The teacher's probability map binarised at > thresh and dilated with a 2x2 ones kernel (OpenCV's anchor:
    each pixel takes the max over itself, its left, upper and upper-left neighbours). [N, H, W] -> [N, H, W]."""
    binary = (teacher_p > thresh).float().unsqueeze(1)
    return F.max_pool2d(F.pad(binary, (1, 0, 1, 0)), kernel_size=2, stride=1).squeeze(1)


def dila_db_loss(maps: torch.Tensor, teacher_p: torch.Tensor, shrink_mask: torch.Tensor, *, alpha: float = 5.0,
                 main: str = "dice") -> torch.Tensor:
    """CML's DistillationDilaDBLoss: alpha L_s(P_s, G_t) + Dice(B_hat_s, G_t), masked by the GT shrink mask."""
    maps = maps.float()
    g = dilated_teacher_map(teacher_p.float())
    return alpha * prob_loss(maps[:, 0], g, shrink_mask, main) + dice_loss(maps[:, 2], g, shrink_mask)


def dml_loss(p1: torch.Tensor, p2: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """CML's DistillationDMLLoss on two probability maps ([N, H, W]): per pixel
    1/2 [p2 ln((p2+e)/(p1+e) + e) + p1 ln((p1+e)/(p2+e) + e)], averaged over pixels and the batch."""
    p1, p2 = p1.float(), p2.float()
    kl = p2 * torch.log((p2 + eps) / (p1 + eps) + eps) + p1 * torch.log((p1 + eps) / (p2 + eps) + eps)
    return 0.5 * kl.mean()
