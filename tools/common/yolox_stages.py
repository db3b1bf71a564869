"""Shared by the training recipes of towerwatch's own heads (tools/change, tools/smoke): paths, the input
convention, the frozen YOLOX-nano stages as torch modules, and ONNX clean-up for OpenCV 4.6.

Input convention (the C++ side does the same, tw::video::standardised_blob):
  BGR uint8 -> float -> per image and channel (x - mean) / max(std, STD_FLOOR) * STD_TARGET + MEAN_TARGET
  (the backbone's 0..255 range, with the image's own exposure and white balance taken out), 3xHxW, then edge
  padding to a multiple of the deepest stride used.
Deps (Debian): python3-torch python3-onnx python3-opencv python3-numpy.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN_TARGET, STD_TARGET = 114.0, 58.0  # per-channel statistics every image is brought to (0..255 scale)
STD_FLOOR = 4.0  # flat images are not amplified into noise
BACKBONE = "yolox_nano_416_coco80.onnx"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    env = os.environ.get("TOWERWATCH_DATA")
    return Path(env) if env else repo_root().parent / "shared" / "data"


def models_dir() -> Path:
    env = os.environ.get("TOWERWATCH_MODELS")
    return Path(env) if env else repo_root().parent / "shared" / "models"


def preprocess(bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 (or float 0..1) HxWx3 -> standardised BGR 3xHxW float32 in the backbone's range."""
    f = bgr.astype(np.float32)
    if bgr.dtype != np.uint8:
        f *= 255.0
    flat = f.reshape(-1, 3)
    mean = flat.mean(0)
    std = np.maximum(flat.std(0), STD_FLOOR)
    out = (f - mean) / std * STD_TARGET + MEAN_TARGET
    return out.transpose(2, 0, 1).astype(np.float32).copy()


def pad_to(x: np.ndarray, multiple: int) -> np.ndarray:
    """3xHxW -> edge-padded at the bottom and right to multiples of `multiple`."""
    h, w = x.shape[1:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return np.pad(x, ((0, 0), (0, ph), (0, pw)), mode="edge") if ph or pw else x


class OnnxPrefix(nn.Module):
    """The part of an ONNX graph (Conv, Sigmoid, Mul, Add, Concat, Slice, MaxPool, nearest Resize x2) that
    computes the named tensors, as torch modules (frozen unless `trainable`): traced again at export, so a head's
    ONNX carries the backbone stages it uses. `start`: the tensor the part begins at (default the graph's input),
    so a later stage can be trained on the cached output of an earlier one."""

    def __init__(self, outputs, path: Path | None = None, start: str | None = None, trainable: bool = False):
        super().__init__()
        path = path or models_dir() / BACKBONE
        if not path.is_file():
            raise SystemExit(f"{path}: backbone missing (set TOWERWATCH_MODELS)")
        g = onnx.load(str(path)).graph
        self.consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        needed, nodes = set(outputs), []
        for n in reversed(list(g.node)):
            if any(o in needed for o in n.output):
                nodes.append(n)
                needed.update(x for x in n.input if x and x not in self.consts and x != start)
        self.nodes = nodes[::-1]
        self.path = path
        self.input = start or g.input[0].name
        self.outputs = list(outputs)
        self.convs = nn.ModuleDict()
        for n in self.nodes:
            if n.op_type != "Conv":
                continue
            a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
            w = torch.from_numpy(self.consts[n.input[1]].copy())
            c = nn.Conv2d(w.shape[1] * a["group"], w.shape[0], tuple(a["kernel_shape"]), stride=tuple(a["strides"]),
                          padding=tuple(a["pads"][:2]), dilation=tuple(a["dilations"]), groups=a["group"])
            c.weight.data.copy_(w)
            c.bias.data.copy_(torch.from_numpy(self.consts[n.input[2]].copy()))
            self.convs[n.output[0]] = c
        for p in self.parameters():
            p.requires_grad_(trainable)

    def forward(self, x):
        env = {self.input: x}
        for n in self.nodes:
            i = [env.get(k) for k in n.input]
            t = n.op_type
            a = {q.name: onnx.helper.get_attribute_value(q) for q in n.attribute}
            if t == "Conv":
                y = self.convs[n.output[0]](i[0])
            elif t == "Sigmoid":
                y = torch.sigmoid(i[0])
            elif t == "Mul":
                y = i[0] * i[1]
            elif t == "Add":
                y = i[0] + i[1]
            elif t == "Concat":
                y = torch.cat(i, int(a["axis"]))
            elif t == "Slice":  # the Focus stem: every second row or column from an offset
                start, axis, step = (int(self.consts[n.input[k]][0]) for k in (1, 3, 4))
                y = i[0][:, :, start::step] if axis == 2 else i[0][:, :, :, start::step]
            elif t == "MaxPool":  # the SPP block
                y = F.max_pool2d(i[0], tuple(a["kernel_shape"]), tuple(a.get("strides", [1, 1])),
                                 tuple(a["pads"][:2]))
            elif t == "Resize" and a.get("mode") == b"nearest":  # the PAN's top-down path, x2
                y = F.interpolate(i[0], scale_factor=2.0, mode="nearest")
            else:
                raise SystemExit(f"{self.path}: unsupported op {t} before the feature tensors")
            env[n.output[0]] = y
        return [env[o] for o in self.outputs]


def fold_identity(m: onnx.ModelProto) -> None:
    """OpenCV 4.6 rejects some Identity nodes: rewire their consumers to the Identity input and drop them."""
    g = m.graph
    alias = {}
    keep = []
    for n in g.node:
        if n.op_type == "Identity":
            alias[n.output[0]] = n.input[0]
        else:
            keep.append(n)
    if not alias:
        return

    def res(x):
        while x in alias:
            x = alias[x]
        return x

    for n in keep:
        for i, x in enumerate(n.input):
            n.input[i] = res(x)
    for o in g.output:
        if o.name in alias:
            raise SystemExit("graph output produced by an Identity node")
    del g.node[:]
    g.node.extend(keep)
