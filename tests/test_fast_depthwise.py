"""train/fast_depthwise.py: the compiled depthwise weight gradient equals PyTorch's (fp32), forward unchanged."""

import copy

import pytest
import torch
from torch import nn

from train.fast_depthwise import FastDepthwiseConv2d, enable_fast_depthwise, fast_depthwise_available


@pytest.mark.skipif(not fast_depthwise_available(), reason="no C++ compiler for TorchInductor")
@pytest.mark.parametrize("stride", [(1, 1), (2, 1)])
def test_gradients_equal_pytorch(stride):
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Conv2d(8, 8, 5, stride, 2, groups=8, bias=False), nn.Conv2d(8, 4, 1))
    fast = copy.deepcopy(ref)
    assert enable_fast_depthwise(fast) == 1 and isinstance(fast[0], FastDepthwiseConv2d)
    assert type(fast[1]) is nn.Conv2d  # not depthwise: untouched
    x = torch.randn(4, 8, 6, 20)
    grads = []
    for m in (ref, fast):
        xi = x.clone().requires_grad_(True)
        y = m(xi)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        grads.append((y.detach(), xi.grad, m[0].weight.grad))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)
    assert fast.state_dict().keys() == ref.state_dict().keys()
