#!/usr/bin/python3
"""Reproducible training recipe of the towerwatch change head (CPU, one thread).

  /usr/bin/python3 tools/change/train_change_head.py            # leave-one-pair-out + final model + export
  /usr/bin/python3 tools/change/train_change_head.py --no-loo   # final model only

The change head is a small fully convolutional network that turns a registered image pair into a per-pixel
probability that a building (or other new structure) appeared or disappeared. Each image is described by the
first stages of the COCO-pretrained YOLOX-nano (../shared/models, Apache-2.0; frozen: its weights are copied
from the ONNX file into the exported graph), at strides 2, 4 and 8. The trained part projects those features
and decodes them; it only sees |e(A) - e(B)| and e(A) + e(B), so it is symmetric in the order of the two
images by construction. Pretrained features matter here: ten training pairs are too few to learn good
features from scratch.

Stages:
  1. data: the LEVIR-CD sample pairs (A before, B after, label), 256x256.
  2. leave-one-pair-out validation: for each pair, a head trained on the other pairs predicts it; the
     out-of-fold masks give the honest pixel F1 (micro over all pairs) at the shipped threshold.
  3. final head trained on every pair, exported to tools/change/change_head.onnx (opset 11, Identity nodes
     folded), checked to load in OpenCV DNN and to agree with torch. Metrics go to tools/change/metrics.json.

Input convention (tools/common/yolox_stages.py: preprocess; the C++ side does the same, src/change/head.cpp):
  per-channel standardised BGR, tensors [1,3,H,W] with H, W multiples of 8 (edge padding), inputs "a" and "b"; output "prob" [1,1,H/2,W/2], upsampled
  bilinearly (x2) to the input size.
Deps (Debian): python3-torch python3-onnx python3-opencv python3-numpy.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
from yolox_stages import OnnxPrefix, data_dir, fold_identity, pad_to, preprocess, repo_root  # noqa: E402

SEED = 11
# YOLOX-nano tensors used as features: stem (stride 2, 16 ch), dark2 (stride 4, 32 ch), dark3 (stride 8, 64 ch).
BACKBONE_OUTPUTS = ("687", "721", "781")
CROP = 128
BATCH = 8
ITERS = 800
LR = 3e-3
THRESHOLD = 0.5  # shipped default (CompareOptions::head_threshold)
VIEWS = 4  # shipped default (CompareOptions::head_views): test-time flips averaged
ALL_VIEWS = (1, 4, 8)  # reported by the leave-one-pair-out validation
OUT_DIR = Path(__file__).resolve().parent


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


def conv(ci, co, dil=1):
    return nn.Conv2d(ci, co, 3, padding=dil, dilation=dil)


class ChangeHead(nn.Module):
    """Frozen backbone stages + symmetric fusion decoder. Output: change probability at half resolution."""

    def __init__(self, backbone: OnnxPrefix, c=(16, 24, 32)):
        super().__init__()
        self.backbone = backbone
        self.p2, self.p4, self.p8 = nn.Conv2d(16, c[0], 1), nn.Conv2d(32, c[1], 1), nn.Conv2d(64, c[2], 1)
        self.g8a, self.g8b, self.g8c = conv(2 * c[2], 32), conv(32, 32, 2), conv(32, 32, 4)
        self.g4a, self.g4b = conv(2 * c[1] + 32, 24), conv(24, 24, 2)
        self.g2 = conv(2 * c[0] + 24, 16)
        self.out = nn.Conv2d(16, 1, 1)

    def encode(self, x):
        f2, f4, f8 = self.backbone(x)
        return self.p2(f2), self.p4(f4), self.p8(f8)

    def logits(self, a, b):
        a2, a4, a8 = self.encode(a)
        b2, b4, b8 = self.encode(b)
        g = F.relu(self.g8a(torch.cat([torch.abs(a8 - b8), a8 + b8], 1)))
        g = F.relu(self.g8b(g)) + g
        g = F.relu(self.g8c(g)) + g
        g = F.interpolate(g, scale_factor=2.0, mode="nearest")
        g = F.relu(self.g4a(torch.cat([torch.abs(a4 - b4), a4 + b4, g], 1)))
        g = F.relu(self.g4b(g)) + g
        g = F.interpolate(g, scale_factor=2.0, mode="nearest")
        return self.out(F.relu(self.g2(torch.cat([torch.abs(a2 - b2), a2 + b2, g], 1))))

    def forward(self, a, b):
        return torch.sigmoid(self.logits(a, b))


def make_backbone() -> OnnxPrefix:
    return OnnxPrefix(BACKBONE_OUTPUTS)


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
    model = ChangeHead(make_backbone())
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=1e-3)
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


@torch.no_grad()
def predict_once(model, a_bgr, b_bgr) -> np.ndarray:
    h, w = a_bgr.shape[:2]
    a = torch.from_numpy(pad_to(preprocess(a_bgr), 8))[None]
    b = torch.from_numpy(pad_to(preprocess(b_bgr), 8))[None]
    p = model(a, b)[0, 0].numpy()
    full = cv2.resize(p, (p.shape[1] * 2, p.shape[0] * 2), interpolation=cv2.INTER_LINEAR)
    return full[:h, :w]


# Test-time views (as src/change/head.cpp): identity, flips about each axis and both, then the same four of the
# transposed pair. The probability is the mean of the views mapped back.
def _view(x, k):
    x = x.T if x.ndim == 2 and k >= 4 else (x.transpose(1, 0, 2) if k >= 4 else x)
    k %= 4
    return np.ascontiguousarray(x if k == 0 else x[:, ::-1] if k == 1 else x[::-1] if k == 2 else x[::-1, ::-1])


def _unview(p, k):
    j = k % 4
    p = p if j == 0 else p[:, ::-1] if j == 1 else p[::-1] if j == 2 else p[::-1, ::-1]
    return np.ascontiguousarray(p.T if k >= 4 else p)


def predict(model, a_bgr, b_bgr, views=VIEWS) -> np.ndarray:
    acc = None
    for k in range(views):
        p = _unview(predict_once(model, _view(a_bgr, k), _view(b_bgr, k)), k)
        acc = p if acc is None else acc + p
    return acc / views


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


def check_opencv(model, path: Path, pairs):
    net = cv2.dnn.readNetFromONNX(str(path))
    worst = 0.0
    for _, a_bgr, b_bgr, _ in pairs[:3]:
        for (h, w) in ((256, 256), (144, 256)):
            a = pad_to(preprocess(cv2.resize(a_bgr, (w, h))), 8)[None]
            b = pad_to(preprocess(cv2.resize(b_bgr, (w, h))), 8)[None]
            net.setInput(a, "a")
            net.setInput(b, "b")
            out = net.forward("prob")
            with torch.no_grad():
                ref = model(torch.from_numpy(a), torch.from_numpy(b)).numpy()
            if out.shape != ref.shape:
                raise SystemExit(f"OpenCV output shape {out.shape} != torch {ref.shape}")
            worst = max(worst, float(np.abs(out - ref).max()))
    return worst


def one_thread():
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def held_out(job):
    """Leave-one-pair-out fold: trains without pair i, returns its predicted probability map."""
    pairs, i, iters = job
    name, a, b, y = pairs[i]
    model = train(pairs[:i] + pairs[i + 1:], iters=iters, log=f"loo {i + 1}/{len(pairs)} {name}")
    probs = {v: predict(model, a, b, v) for v in ALL_VIEWS}
    sym = float(np.abs(probs[1] - predict(model, b, a, 1)).max())  # order symmetry of the held-out prediction
    m = {v: metrics([probs[v]], [y], THRESHOLD) for v in ALL_VIEWS}
    print(f"  held out {name}: F1 " + ", ".join(f"{m[v]['per_pair_f1'][0]:.3f} ({v} views)" for v in ALL_VIEWS) +
          f", swap max diff {sym:.1e}", flush=True)
    return probs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-loo", action="store_true", help="skip leave-one-pair-out validation")
    ap.add_argument("--iters", type=int, default=ITERS)
    ap.add_argument("--folds", type=str, default="", help="comma-separated pair indices to hold out (default all)")
    ap.add_argument("--jobs", type=int, default=1, help="leave-one-pair-out folds trained in parallel (one thread each)")
    args = ap.parse_args()
    one_thread()
    pairs = load_pairs()
    labels = [p[3] for p in pairs]
    out = {"data": "LEVIR-CD samples (%d pairs, 256x256)" % len(pairs), "iters": args.iters, "seed": SEED,
           "threshold": THRESHOLD}
    if not args.no_loo:
        folds = [int(x) for x in args.folds.split(",")] if args.folds else list(range(len(pairs)))
        labels = [labels[i] for i in folds]
        jobs = [(pairs, i, args.iters) for i in folds]
        if args.jobs > 1:
            with multiprocessing.get_context("fork").Pool(args.jobs, initializer=one_thread) as pool:
                probs = pool.map(held_out, jobs, chunksize=1)
        else:
            probs = [held_out(j) for j in jobs]
        by_views = {v: [p[v] for p in probs] for v in ALL_VIEWS}
        probs = by_views[VIEWS]
        (repo_root() / "build").mkdir(exist_ok=True)
        np.save(repo_root() / "build" / "change_loo_probs.npy", np.stack(probs))
        loo = {"views": VIEWS, "at_threshold": metrics(probs, labels, THRESHOLD),
               "f1_by_views": {str(v): metrics(by_views[v], labels, THRESHOLD)["f1"] for v in ALL_VIEWS}}
        sweep = {f"{t:.2f}": metrics(probs, labels, t)["f1"] for t in np.arange(0.2, 0.85, 0.05)}
        loo["f1_by_threshold"] = sweep
        loo["gated_by_decision"] = gated_metrics(probs, labels, THRESHOLD)
        loo["pairs"] = [pairs[i][0] for i in folds]
        if args.folds:
            print(json.dumps(loo["at_threshold"]), {k: round(v, 3) for k, v in sweep.items()})
            return 0
        out["leave_one_pair_out"] = loo
        print("LOO micro F1 %.3f (P %.3f R %.3f) at %.2f with %d views; by views %s; sweep %s" % (
            loo["at_threshold"]["f1"], loo["at_threshold"]["precision"], loo["at_threshold"]["recall"], THRESHOLD,
            VIEWS, {k: round(v, 3) for k, v in loo["f1_by_views"].items()},
            {k: round(v, 3) for k, v in sweep.items()}), flush=True)
    model = train(pairs, iters=args.iters, log="final")
    probs = [predict(model, a, b) for _, a, b, _ in pairs]  # shipped views
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
