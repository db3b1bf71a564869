"""Shared helpers of the smoke-head recipe: data listing, YOLOX-nano feature extraction, camera views.

The backbone is the COCO-pretrained YOLOX-nano (Apache-2.0) read through OpenCV DNN. We take two
of its PAN outputs (stride 16: 128 channels, stride 32: 256 channels) and train only a small head on
them, so the C++ side runs exactly the same two networks (backbone via OpenCV DNN, then the head).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np

INPUT = 416
PAD_VALUE = 114.0
# OpenCV DNN layer names of the YOLOX-nano PAN outputs (ONNX tensors 990 and 1024).
LAYER_S16 = "onnx_node!Mul_272"
LAYER_S32 = "onnx_node!Mul_298"
GRID = INPUT // 16  # 26: the head works on the stride-16 grid


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    env = os.environ.get("TOWERWATCH_DATA")
    return Path(env) if env else repo_root().parent / "shared" / "data"


def models_dir() -> Path:
    env = os.environ.get("TOWERWATCH_MODELS")
    return Path(env) if env else repo_root().parent / "shared" / "models"


def list_hpwren():
    """Returns [(path, label, box or None)] for every image; box = (x0, y0, x1, y1) in pixels."""
    root = data_dir() / "wildfire" / "hpwren_smoke"
    boxes = {}
    with open(root / "boxes.csv", newline="") as f:
        for row in csv.DictReader(f):
            boxes[row["file"]] = tuple(float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
    items = []
    for p in sorted((root / "smoke").iterdir()):
        if p.name in boxes:
            items.append((p, 1, boxes[p.name]))
    for p in sorted((root / "no_smoke_probable").iterdir()):
        items.append((p, 0, None))
    return items


def letterbox(img: np.ndarray):
    h, w = img.shape[:2]
    r = min(INPUT / h, INPUT / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    canvas = np.full((INPUT, INPUT, 3), PAD_VALUE, np.uint8)
    canvas[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, r, nw, nh


class Backbone:
    def __init__(self):
        self.net = cv2.dnn.readNetFromONNX(str(models_dir() / "yolox_nano_416_coco80.onnx"))
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)

    def features(self, img: np.ndarray):
        canvas, r, nw, nh = letterbox(img)
        blob = cv2.dnn.blobFromImage(canvas, 1.0, (INPUT, INPUT), (0, 0, 0), swapRB=False)
        self.net.setInput(blob)
        f16, f32 = self.net.forward([LAYER_S16, LAYER_S32])
        return f16[0], f32[0], r, nw, nh


def view_signature(img: np.ndarray) -> np.ndarray:
    """A small, illumination-normalised gradient thumbnail: terrain and horizon shape of a camera view."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    g = cv2.resize(g, (64, 48), interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1)
    m = np.sqrt(gx * gx + gy * gy).ravel()
    m -= m.mean()
    return m / (np.linalg.norm(m) + 1e-6)


def cluster_views(sigs: np.ndarray, threshold: float) -> np.ndarray:
    """Single-linkage clustering: two frames are the same view when their signatures correlate > threshold."""
    n = len(sigs)
    sim = sigs @ sigs.T
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i in range(n):
        for j in range(i + 1, n):
            if sim[i, j] > threshold:
                parent[find(i)] = find(j)
    roots = {}
    return np.array([roots.setdefault(find(i), len(roots)) for i in range(n)])


def cell_stats(img: np.ndarray) -> np.ndarray:
    """Colour statistics of each 16x16 cell of the letterboxed 416x416 input, and the cell's row position:
    [7, 26, 26] = mean B, G, R, std B, G, R (all /255) and row / 25. The C++ side computes the same."""
    canvas, _, _, _ = letterbox(img)
    f = canvas.astype(np.float32) / 255.0
    mean = cv2.resize(f, (GRID, GRID), interpolation=cv2.INTER_AREA)
    sq = cv2.resize(f * f, (GRID, GRID), interpolation=cv2.INTER_AREA)
    std = np.sqrt(np.maximum(sq - mean * mean, 0.0))
    row = np.repeat((np.arange(GRID, dtype=np.float32) / (GRID - 1))[:, None], GRID, 1)
    return np.concatenate([mean.transpose(2, 0, 1), std.transpose(2, 0, 1), row[None]], 0)
