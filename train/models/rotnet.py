"""TextRotNet's network (brief 4.8): the recognizer's PP-LCNet backbone + global average pooling + FC to the four
rotations 0 / 90 / 180 / 270 degrees. Trained by train/rotnet.py; its backbone initialises a recognizer."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .rec import PPLCNetRec

N_ROTATIONS = 4


class RotNet(nn.Module):
    def __init__(self, **backbone_options: Any) -> None:
        super().__init__()
        self.backbone = PPLCNetRec(**backbone_options)
        self.fc = nn.Linear(self.backbone.out_channels, N_ROTATIONS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.backbone(x).mean(dim=(2, 3)))


def rotnet_pplcnet(**backbone_options: Any) -> RotNet:
    """RotNet on PPLCNetRec(**backbone_options) (the same options as rec_svtr_lcnet's backbone, e.g. scale)."""
    return RotNet(**backbone_options)
