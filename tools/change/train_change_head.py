#!/usr/bin/python3
"""Reproducible training recipe of the towerwatch change head (CPU, one thread).

  /usr/bin/python3 tools/change/train_change_head.py            # leave-one-pair-out + final model + export
  /usr/bin/python3 tools/change/train_change_head.py --no-loo   # final model only

The change head is a tiny fully convolutional network that turns a registered image pair into a per-pixel
probability that a building (or other new structure) appeared or disappeared. It is symmetric in the order of
the two images by construction: one shared encoder describes each image, and the decoder only sees
|e(A) - e(B)| and e(A) + e(B).

Stages:
  1. data: the LEVIR-CD sample pairs (A before, B after, label), 256x256.
  2. leave-one-pair-out validation: for each pair, a head trained on the other pairs predicts it; the
     out-of-fold masks give the honest pixel F1 (micro over all pairs) at the shipped threshold.
  3. final head trained on every pair, exported to tools/change/change_head.onnx (opset 11, Identity nodes
     folded), checked to load in OpenCV DNN and to agree with torch. Metrics go to tools/change/metrics.json.

Input convention (the C++ side does exactly the same, src/change/head.cpp):
  BGR uint8 -> float /255 -> Lab (OpenCV, L 0..100) -> per image and channel (x - mean) / max(std, floor),
  floors (L, a, b) = STD_FLOOR; tensors [1,3,H,W] with H, W multiples of 4 (edge padding), inputs "a" and
  "b"; output "prob" [1,1,H/2,W/2], upsampled bilinearly (x2) to the input size.
Deps (Debian): python3-torch python3-onnx python3-opencv python3-numpy.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 11
STD_FLOOR = (4.0, 2.0, 2.0)  # Lab std floors: flat images are not amplified into noise
CROP = 128
BATCH = 8
ITERS = 800
LR = 3e-3
THRESHOLD = 0.5  # shipped default (CompareOptions::head_threshold)
OUT_DIR = Path(__file__).resolve().parent


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    env = os.environ.get("TOWERWATCH_DATA")
    return Path(env) if env else repo_root().parent / "shared" / "data"


def load_pairs():
    root = data_dir() / "change" / "levir_cd_samples"
    pairs = []
    for p in sorted((root / "A").glob("*.png")):
        a = cv2.imread(str(p), cv2.IMREAD_COLOR)
        b = cv2.imread(str(root / "B" / p.name), cv2.IMREAD_COLOR)
        y = cv2.imread(str(root / "label" / p.name), cv2.IMREAD_GRAYSCALE)
        if a is None or b is None or y is None:
            raise SystemExit(f"{p.name}: missing or unreadable A/B/label")
        pairs.append((p.stem, a, b, (y > 127).astype(np.float32)))
    return pairs


def preprocess(bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 (or float 0..1) HxWx3 -> standardised Lab 3xHxW float32."""
    f = bgr.astype(np.float32)
    if bgr.dtype == np.uint8:
        f /= 255.0
    lab = cv2.cvtColor(f, cv2.COLOR_BGR2Lab).reshape(-1, 3)
    mean = lab.mean(0)
    std = np.maximum(lab.std(0), np.array(STD_FLOOR, np.float32))
    out = (lab - mean) / std
    return out.reshape(bgr.shape[0], bgr.shape[1], 3).transpose(2, 0, 1).astype(np.float32).copy()


def conv(ci, co, stride=1, dil=1):
    return nn.Conv2d(ci, co, 3, stride=stride, padding=dil, dilation=dil)


class ChangeHead(nn.Module):
    """Siamese encoder + symmetric fusion decoder. Output: change probability at half resolution."""

    def __init__(self, c1=16, c2=32):
        super().__init__()
        self.e1 = conv(3, c1, stride=2)      # H/2
        self.e2 = conv(c1, c1)
        self.e3 = conv(c1, c2, stride=2)     # H/4
        self.e4 = conv(c2, c2, dil=2)
        self.e5 = conv(c2, c2, dil=4)
        self.e6 = conv(c2, c2, dil=8)
        self.f4 = conv(2 * c2, c2)
        self.f4b = conv(c2, c2, dil=2)
        self.f2 = conv(2 * c1 + c2, c1)
        self.out = nn.Conv2d(c1, 1, 1)

    def encode(self, x):
        h1 = F.relu(self.e1(x))
        h2 = F.relu(self.e2(h1))
        h3 = F.relu(self.e3(h2))
        h4 = F.relu(self.e4(h3))
        h5 = F.relu(self.e5(h4))
        h6 = F.relu(self.e6(h5)) + h4
        return h2, h6

    def logits(self, a, b):
        a2, a4 = self.encode(a)
        b2, b4 = self.encode(b)
        d4 = torch.cat([torch.abs(a4 - b4), a4 + b4], 1)
        g = F.relu(self.f4(d4))
        g = F.relu(self.f4b(g)) + g
        g = F.interpolate(g, scale_factor=2.0, mode="nearest")
        d2 = torch.cat([torch.abs(a2 - b2), a2 + b2, g], 1)
        return self.out(F.relu(self.f2(d2)))

    def forward(self, a, b):
        return torch.sigmoid(self.logits(a, b))


# ---------------------------------------------------------------------------------------------- augmentation
def jitter_colour(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    f = img.astype(np.float32) / 255.0
    f = f * rng.uniform(0.85, 1.15, 3).astype(np.float32)          # white balance
    f = np.clip(f * rng.uniform(0.6, 1.4), 0, 1)                     # exposure
    f = f ** rng.uniform(0.7, 1.4)                                   # gamma
    grey = f.mean(2, keepdims=True)
    f = grey + (f - grey) * rng.uniform(0.5, 1.5)                    # saturation
    if rng.random() < 0.3:
        f = cv2.GaussianBlur(f, (0, 0), rng.uniform(0.4, 1.2))
    if rng.random() < 0.3:
        f = f + rng.normal(0, rng.uniform(0.005, 0.03), f.shape).astype(np.float32)
    return np.clip(f, 0, 1)


def geometric(arrs, rng, crop):
    """Same random scale, crop, flip and 90-degree rotation for every array of the list."""
    s = float(np.exp(rng.uniform(np.log(0.75), np.log(1.35))))
    h, w = arrs[0].shape[:2]
    nh, nw = max(crop, int(round(h * s))), max(crop, int(round(w * s)))
    out = [cv2.resize(x, (nw, nh), interpolation=cv2.INTER_LINEAR) for x in arrs]
    y0, x0 = rng.integers(0, nh - crop + 1), rng.integers(0, nw - crop + 1)
    out = [x[y0:y0 + crop, x0:x0 + crop] for x in out]
    if rng.random() < 0.5:
        out = [x[:, ::-1] for x in out]
    k = int(rng.integers(0, 4))
    out = [np.ascontiguousarray(np.rot90(x, k)) for x in out]
    return out


def shift(img: np.ndarray, rng: np.random.Generator, max_px=1.5) -> np.ndarray:
    dx, dy = rng.uniform(-max_px, max_px, 2)
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


def sample(pairs, rng, crop=CROP):
    _, a, b, y = pairs[int(rng.integers(0, len(pairs)))]
    r = rng.random()
    if r < 0.15:  # same scene twice, under different light: nothing changed
        src = a if rng.random() < 0.5 else b
        a, b, y = src, src, np.zeros_like(y)
    if rng.random() < 0.5:
        a, b = b, a
    a, b, y = geometric([a, b, y], rng, crop)
    a8 = (jitter_colour(a, rng) * 255).astype(np.uint8)
    b8 = (jitter_colour(shift(b, rng), rng) * 255).astype(np.uint8)
    return preprocess(a8), preprocess(b8), (y > 0.5).astype(np.float32)


def loss_fn(logit_half, y_full):
    logit = F.interpolate(logit_half, scale_factor=2.0, mode="bilinear", align_corners=False)
    bce = F.binary_cross_entropy_with_logits(logit, y_full, pos_weight=torch.tensor(1.0))
    p = torch.sigmoid(logit)
    inter = (p * y_full).sum()
    dice = 1 - (2 * inter + 1) / (p.sum() + y_full.sum() + 1)
    return bce + dice


def train(pairs, iters=ITERS, seed=SEED, log=""):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = ChangeHead()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=iters, pct_start=0.1)
    t0 = time.time()
    run = 0.0
    for it in range(iters):
        batch = [sample(pairs, rng) for _ in range(BATCH)]
        a = torch.from_numpy(np.stack([x[0] for x in batch]))
        b = torch.from_numpy(np.stack([x[1] for x in batch]))
        y = torch.from_numpy(np.stack([x[2] for x in batch]))[:, None]
        loss = loss_fn(model.logits(a, b), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run = 0.98 * run + 0.02 * loss.item() if it else loss.item()
        if log and (it % 300 == 0 or it == iters - 1):
            print(f"  {log} it {it} loss {run:.3f} {time.time() - t0:.0f}s", flush=True)
    model.eval()
    return model


def pad4(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[1:]
    ph, pw = (-h) % 4, (-w) % 4
    return np.pad(x, ((0, 0), (0, ph), (0, pw)), mode="edge") if ph or pw else x


@torch.no_grad()
def predict(model, a_bgr, b_bgr) -> np.ndarray:
    h, w = a_bgr.shape[:2]
    a = torch.from_numpy(pad4(preprocess(a_bgr)))[None]
    b = torch.from_numpy(pad4(preprocess(b_bgr)))[None]
    p = model(a, b)[0, 0].numpy()
    full = cv2.resize(p, (p.shape[1] * 2, p.shape[0] * 2), interpolation=cv2.INTER_LINEAR)
    return full[:h, :w]


def metrics(probs, labels, t):
    tp = fp = fn = 0
    per = []
    for p, y in zip(probs, labels):
        m = p >= t
        g = y > 0.5
        a, b_, c = int((m & g).sum()), int((m & ~g).sum()), int((~m & g).sum())
        tp, fp, fn = tp + a, fp + b_, fn + c
        per.append(2 * a / (2 * a + b_ + c) if (2 * a + b_ + c) else 1.0)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return {"f1": f1, "precision": prec, "recall": rec, "per_pair_f1": per}


def gated_metrics(probs, labels, t):
    """Metrics of the masks as towerwatch ships them: empty when the pair is not a change. The structural pair
    decision is computed in C++ (it is right on all 11 pairs), so here a pair is a change when its label marks
    more than 1 % of the pixels, the rule the evaluation uses."""
    gated = [p if (y > 0.5).mean() > 0.01 else np.zeros_like(p) for p, y in zip(probs, labels)]
    m = metrics(gated, labels, t)
    return {k: m[k] for k in ("f1", "precision", "recall")}


def export(model, path: Path):
    a = torch.randn(1, 3, 64, 96)
    b = torch.randn(1, 3, 64, 96)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(model, (a, b), str(tmp), opset_version=11, input_names=["a", "b"], output_names=["prob"],
                      dynamic_axes={"a": {2: "h", 3: "w"}, "b": {2: "h", 3: "w"}, "prob": {2: "h2", 3: "w2"}},
                      do_constant_folding=True)
    m = onnx.load(str(tmp))
    fold_identity(m)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    tmp.unlink()


def fold_identity(m):
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


def check_opencv(model, path: Path, pairs):
    net = cv2.dnn.readNetFromONNX(str(path))
    worst = 0.0
    for _, a_bgr, b_bgr, _ in pairs[:3]:
        for (h, w) in ((256, 256), (144, 256)):
            a = pad4(preprocess(cv2.resize(a_bgr, (w, h))))[None]
            b = pad4(preprocess(cv2.resize(b_bgr, (w, h))))[None]
            net.setInput(a, "a")
            net.setInput(b, "b")
            out = net.forward("prob")
            with torch.no_grad():
                ref = model(torch.from_numpy(a), torch.from_numpy(b)).numpy()
            if out.shape != ref.shape:
                raise SystemExit(f"OpenCV output shape {out.shape} != torch {ref.shape}")
            worst = max(worst, float(np.abs(out - ref).max()))
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-loo", action="store_true", help="skip leave-one-pair-out validation")
    ap.add_argument("--iters", type=int, default=ITERS)
    ap.add_argument("--folds", type=str, default="", help="comma-separated pair indices to hold out (default all)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    pairs = load_pairs()
    labels = [p[3] for p in pairs]
    out = {"data": "LEVIR-CD samples (%d pairs, 256x256)" % len(pairs), "iters": args.iters, "seed": SEED,
           "threshold": THRESHOLD}
    if not args.no_loo:
        probs = []
        folds = [int(x) for x in args.folds.split(",")] if args.folds else range(len(pairs))
        labels = [labels[i] for i in folds]
        for i in folds:
            name, a, b, y = pairs[i]
            model = train(pairs[:i] + pairs[i + 1:], iters=args.iters, log=f"loo {i + 1}/{len(pairs)} {name}")
            probs.append(predict(model, a, b))
            # Order symmetry check of the held-out prediction.
            sym = float(np.abs(probs[-1] - predict(model, b, a)).max())
            m = metrics([probs[-1]], [y], THRESHOLD)
            print(f"  held out {name}: F1 {m['per_pair_f1'][0]:.3f} (P {m['precision']:.2f} R {m['recall']:.2f}),"
                  f" swap max diff {sym:.1e}", flush=True)
        (repo_root() / "build").mkdir(exist_ok=True)
        np.save(repo_root() / "build" / "change_loo_probs.npy", np.stack(probs))
        loo = {"at_threshold": metrics(probs, labels, THRESHOLD)}
        sweep = {f"{t:.2f}": metrics(probs, labels, t)["f1"] for t in np.arange(0.2, 0.85, 0.05)}
        loo["f1_by_threshold"] = sweep
        loo["gated_by_decision"] = gated_metrics(probs, labels, THRESHOLD)
        loo["pairs"] = [pairs[i][0] for i in folds]
        if args.folds:
            print(json.dumps(loo["at_threshold"]), {k: round(v, 3) for k, v in sweep.items()})
            return 0
        out["leave_one_pair_out"] = loo
        print("LOO micro F1 %.3f (P %.3f R %.3f) at %.2f; sweep %s" % (
            loo["at_threshold"]["f1"], loo["at_threshold"]["precision"], loo["at_threshold"]["recall"], THRESHOLD,
            {k: round(v, 3) for k, v in sweep.items()}), flush=True)
    model = train(pairs, iters=args.iters, log="final")
    probs = [predict(model, a, b) for _, a, b, _ in pairs]
    out["in_sample"] = metrics(probs, labels, THRESHOLD)
    path = OUT_DIR / "change_head.onnx"
    export(model, path)
    out["opencv_max_abs_diff"] = check_opencv(model, path, pairs)
    out["onnx_bytes"] = path.stat().st_size
    with open(OUT_DIR / "metrics.json", "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({k: v for k, v in out.items() if k != "leave_one_pair_out"}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
