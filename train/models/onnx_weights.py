"""Read the weights of an official PaddleOCR ONNX export (paddle2onnx stores them as Constant nodes) so they can be
copied into our torch modules, layer by layer in execution order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn


@dataclass
class OnnxNode:
    op_type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict


class OnnxGraph:
    """Constants (Constant nodes and initializers) by output name, and the compute nodes in graph order."""

    def __init__(self, path: str | Path) -> None:
        model = onnx.load(str(path))
        self.consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.nodes: list[OnnxNode] = []
        for n in model.graph.node:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            if n.op_type == "Constant" and "value" in attrs:
                self.consts[n.output[0]] = numpy_helper.to_array(attrs["value"])
                continue
            self.nodes.append(OnnxNode(n.op_type, n.name, list(n.input), list(n.output), attrs))
        self.metadata = {p.key: p.value for p in model.metadata_props}

    def ops(self, *types: str) -> list[OnnxNode]:
        return [n for n in self.nodes if n.op_type in types]

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def conv_weights(self, node: OnnxNode) -> tuple[np.ndarray, np.ndarray | None]:
        """Weight and optional bias of a Conv / ConvTranspose node."""
        w = self.consts[node.inputs[1]]
        b = self.consts[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
        return w, b

    def bn_weights(self, node: OnnxNode) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        """scale, bias, running mean, running var, eps of a BatchNormalization node."""
        scale, bias, mean, var = (self.consts[n] for n in node.inputs[1:5])
        return scale, bias, mean, var, float(node.attrs.get("epsilon", 1e-5))


def modules_in_call_order(model: nn.Module, example: torch.Tensor, types: tuple[type, ...]) -> list[nn.Module]:
    """The modules of the given types in the order a forward pass calls them (each listed once)."""
    order: list[nn.Module] = []
    seen: set[int] = set()

    def hook(mod: nn.Module, _inp, _out) -> None:
        if id(mod) not in seen:
            seen.add(id(mod))
            order.append(mod)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, types)]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
    return order


def copy_param(dst: torch.Tensor, src: np.ndarray, what: str) -> None:
    """Copy an ONNX array into a torch parameter/buffer, with a clear error on a shape mismatch."""
    if tuple(dst.shape) != tuple(src.shape):
        raise ValueError(f"{what}: shape {tuple(src.shape)} in ONNX, {tuple(dst.shape)} in torch")
    with torch.no_grad():
        dst.copy_(torch.from_numpy(np.ascontiguousarray(src)).to(dst.dtype))


def load_conv(graph: OnnxGraph, node: OnnxNode, conv: nn.Conv2d | nn.ConvTranspose2d) -> None:
    w, b = graph.conv_weights(node)
    copy_param(conv.weight, w, f"{node.name} weight")
    if (b is None) != (conv.bias is None):
        raise ValueError(f"{node.name}: bias present in {'torch' if b is None else 'ONNX'} only")
    if b is not None:
        copy_param(conv.bias, b, f"{node.name} bias")


def load_bn(graph: OnnxGraph, node: OnnxNode, bn: nn.BatchNorm2d) -> None:
    scale, bias, mean, var, eps = graph.bn_weights(node)
    for dst, src, what in ((bn.weight, scale, "scale"), (bn.bias, bias, "bias"), (bn.running_mean, mean, "mean"),
                           (bn.running_var, var, "var")):
        copy_param(dst, src, f"{node.name} {what}")
    bn.eps = eps


def load_conv_bn_sequence(graph: OnnxGraph, modules: Iterable[nn.Module]) -> int:
    """Copy ONNX Conv/ConvTranspose/BatchNormalization weights, in graph order, into the torch modules given in call
    order (as modules_in_call_order returns them). Types must line up one to one. Returns the count copied."""
    nodes = graph.ops("Conv", "ConvTranspose", "BatchNormalization")
    mods = list(modules)
    if len(nodes) != len(mods):
        raise ValueError(f"{len(nodes)} conv/bn layers in ONNX, {len(mods)} in torch")
    kinds = {"Conv": nn.Conv2d, "ConvTranspose": nn.ConvTranspose2d, "BatchNormalization": nn.BatchNorm2d}
    for i, (node, mod) in enumerate(zip(nodes, mods)):
        if type(mod) is not kinds[node.op_type]:
            raise ValueError(f"layer {i}: ONNX {node.op_type} {node.name} vs torch {type(mod).__name__}")
        if node.op_type == "BatchNormalization":
            load_bn(graph, node, mod)
        else:
            load_conv(graph, node, mod)
    return len(nodes)


def attach_folded_biases(graph: OnnxGraph) -> int:
    """paddle2onnx writes a conv's bias as a separate Reshape(bias) + Add after a bias-less Conv/ConvTranspose.
    Re-attach each such bias as the node's third input (registering the array in graph.consts) so the generic
    loaders see an ordinary biased conv. Returns how many biases were attached."""
    reshaped = {}  # Reshape output -> constant it reshapes
    for n in graph.ops("Reshape"):
        if n.inputs[0] in graph.consts:
            reshaped[n.outputs[0]] = graph.consts[n.inputs[0]]
    adds_by_input: dict[str, list] = {}
    for n in graph.ops("Add"):
        for name in n.inputs:
            adds_by_input.setdefault(name, []).append(n)
    count = 0
    for node in graph.ops("Conv", "ConvTranspose"):
        if len(node.inputs) > 2 and node.inputs[2]:
            continue
        for add in adds_by_input.get(node.outputs[0], []):
            other = [i for i in add.inputs if i != node.outputs[0]]
            if len(other) != 1:
                continue
            w = graph.consts[node.inputs[1]]
            out_ch = w.shape[0] if node.op_type == "Conv" else w.shape[1] * int(node.attrs.get("group", 1))
            if other[0] in reshaped:  # Reshape(bias [C]) -> [1, C, 1, 1]
                bias = np.asarray(reshaped[other[0]]).reshape(-1)
                if bias.size != out_ch:
                    raise ValueError(f"{node.name}: folded bias has {bias.size} values for {out_ch} channels")
            elif other[0] in graph.consts and graph.consts[other[0]].shape in ((out_ch, 1, 1), (1, out_ch, 1, 1)):
                bias = np.asarray(graph.consts[other[0]]).reshape(-1)  # already shaped for broadcasting
            else:
                continue
            name = f"{node.name}__folded_bias"
            graph.consts[name] = bias
            node.inputs = node.inputs[:2] + [name]
            count += 1
            break
    return count


def matmul_bias(graph: OnnxGraph, node: OnnxNode) -> np.ndarray | None:
    """The bias of a paddle2onnx Linear: the constant of the Add that consumes the MatMul's output."""
    for n in graph.ops("Add"):
        if n.inputs[0] == node.outputs[0] and n.inputs[1] in graph.consts:
            return np.asarray(graph.consts[n.inputs[1]]).reshape(-1)
    return None
