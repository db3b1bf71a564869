#!/usr/bin/python3
"""Reproducible training recipe of the towerwatch smoke head (CPU, about 55 min on 2 cores).

  /usr/bin/python3 tools/smoke/train_smoke_head.py [--jobs N]   # extract (cached) + cross-validate + train + export

The head is a small fully convolutional network on the stages of the COCO-pretrained YOLOX-nano
(../shared/models, Apache-2.0; their weights are copied from the ONNX file into the exported graph): the stages up
to dark3 (stride 8) stay frozen; dark4 and dark5 (strides 16 and 32) are fine-tuned, at a tenth of the decoder's
learning rate, together with a decoder (1x1 projections, a top-down path with 3x3 convolutions) that turns the
three scales into a smoke heat-map at stride 8. The head outputs the mean of such members (ENSEMBLE_SEEDS).
The frame is used at its native resolution (longer side at most 640): HPWREN plumes are small, and letterboxing to
416 throws away a third of their pixels. It is also looked at a second time, upscaled ZOOM (2) times: the heat-map
that is scored is the cell-wise maximum of both looks (two_scale_heat), so that plumes of one or two cells, which
only the second look sees, score as high as large ones.

Stages:
  1. features: the frozen stages' outputs for every hpwren_smoke frame and its mirror image, computed once and
     cached in build/wildfire_cache/ (never committed); plus synthetic negatives (uniform frames, and a blurred
     copy of every probable negative) so that flat, foggy frames are not called smoke.
  2. views: frames are grouped into camera views by clustering gradient thumbnails (single linkage,
     corr > 0.5, deliberately coarse so near-identical views never straddle train and test).
     Zoom-out augmentation: every frame also appears at half size in a 2x2 mosaic with frames of its own view
     (features cached too), so plumes are also learnt as a more distant camera sees them; zoom-in augmentation:
     a frame-sized crop of every frame upscaled ZOOM times (holding its plume), the scale of the second look.
  3. cross-validation: 5 folds of whole camera views (a blurred negative stays in its source view's fold), one
     member (fine-tuned dark4/dark5 + decoder, trained on the cached dark3 features) per fold and seed; out-of-fold
     image scores (maximum of the two-scale heat-map of the fold's members' mean) give AP, F1 at the best threshold
     with FPR <= 5% and at 0.5, and the false-positive rate on the probable negatives.
  4. final members trained on every view (in the same pool of jobs as the folds), exported with the frozen stages
     to tools/smoke/smoke_head.onnx (opset 11, Identity nodes folded), checked to load and agree in OpenCV DNN;
     metrics and golden scores (checked by the C++ tests) go to tools/smoke/metrics.json.

Input convention (tools/common/yolox_stages.py: preprocess; the C++ side does the same, src/wildfire/smoke_model.cpp):
  frames larger than WORK_SIDE are scaled down (INTER_AREA) so that the longer side is WORK_SIDE; per-channel
  standardised BGR, edge-padded to multiples of MULTIPLE; input "image" [1,3,H,W], output "heat" [1,1,H/8,W/8].
  The frame upscaled ZOOM times is run too, and the two heat-maps are combined (two_scale_heat).
  The top BANNER_PX network pixels are never scored.
Deps (Debian): python3-torch python3-onnx python3-opencv python3-numpy.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import inspect
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

SEED = 7
# The shipped head averages the heat-maps of members trained with these seeds. With frozen dark4/dark5, three
# decoders were averaged (single ones differ a lot at a 5% false-positive rate); a fine-tuned member costs about
# 10 min of training per fold on one core and its own dark4/dark5 at inference, and one fine-tuned member scored
# above the three-decoder mean (tools/smoke/README.md).
ENSEMBLE_SEEDS = (7,)
# YOLOX-nano tensors used as features (strides 8, 16 and 32; 64, 128 and 256 channels).
STAGES = ("781", "841", "886")  # CSPDarknet dark3, dark4, dark5 (after the SPP block): the cached features
FROZEN = STAGES[0]  # dark3: frozen; dark4 and dark5 are fine-tuned from it
WORK_SIDE = 640
STRIDE = 8
MULTIPLE = 32
# HPWREN frames carry a text banner (date, camera name) in the top ~12 px: those rows are never scored, otherwise
# the head learns the banner (a camera/date give-away) instead of smoke.
BANNER_PX = 24
BANNER_ROWS = -(-BANNER_PX // STRIDE)
EPOCHS = 15
BATCH = 16
LR = 3e-3
TAIL_LR = 3e-4  # fine-tuned dark4/dark5: a tenth of the decoder's rate, so the COCO features adapt, not restart
POS_WEIGHT = 5.0  # in-box cells against background cells in the per-cell term
# Weight of the ranking term: the strongest cell of every negative frame in a batch should score below the
# strongest in-box cell of every positive frame (softplus of the difference). The metric is image-level at a low
# false-positive rate, so the hard negatives matter most.
HINGE = 1.0
# Hard negatives inside smoke frames: the strongest cell outside a frame's boxes (dilated by OUTSIDE_MARGIN cells, as
# boxes are loose and plumes drift) must also rank below the plume. Clouds, haze and glare fill many smoke frames, so
# this gives the ranking term a negative per smoke frame instead of one per probable negative.
OUTSIDE = 1.0
OUTSIDE_MARGIN = 3
FOLDS = 5
VIEW_THRESHOLD = 0.5
MOSAIC_GRIDS = (2,)  # zoom-out augmentation (extract_mosaics): 2x2 mosaics of half-size frames
# Second look at twice the size: the frame upscaled ZOOM times is scored too, and its heat-map (max-pooled back to
# the frame's grid) is combined with the frame's own by a cell-wise maximum (two_scale_heat;
# src/wildfire/smoke_model.cpp does the same). Horizon plumes of 10-15 px cover one or two stride-8 cells at the
# frame's own size. The head learns that scale from zoom-in crops (extract_zoom). With fine-tuned dark4/dark5 the
# second look is the stronger one (alone: AP 0.985 against 0.96 for the frame's own), and a mean of the two put
# plumes seen by one look only at 0.5, among the hardest negatives (tools/smoke/README.md).
ZOOM = 2
CACHE = repo_root() / "build" / "wildfire_cache"
OUT_DIR = Path(__file__).resolve().parent


# ------------------------------------------------------------------------------------------------------ data
def list_hpwren():
    """Returns [(path, label, box or None)] for every image; box = (x0, y0, x1, y1) in pixels."""
    root = data_dir() / "wildfire" / "hpwren_smoke"
    boxes = {}
    with open(root / "boxes.csv", newline="") as f:
        for row in csv.DictReader(f):
            boxes[row["file"]] = tuple(float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
    items = [(p, 1, boxes[p.name]) for p in sorted((root / "smoke").iterdir()) if p.name in boxes]
    items += [(p, 0, None) for p in sorted((root / "no_smoke_probable").iterdir())]
    return items


def work_frame(bgr: np.ndarray):
    """The frame the network sees (longer side at most WORK_SIDE) and its scale."""
    s = min(1.0, WORK_SIDE / max(bgr.shape[:2]))
    if s < 1.0:
        bgr = cv2.resize(bgr, (max(1, round(bgr.shape[1] * s)), max(1, round(bgr.shape[0] * s))),
                         interpolation=cv2.INTER_AREA)
    return bgr, s


def network_input(work: np.ndarray) -> np.ndarray:
    """The network's input blob of a work frame (work_frame's output)."""
    return pad_to(preprocess(work), MULTIPLE)[None]


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


def synthetic_frames(items):
    """Flat and low-texture frames the head must not call smoke (fog, overcast, a grey test card): uniform frames
    of a few grey levels and tints (source -1: always in training) and a strongly blurred copy of every probable
    negative (source = that image, so it stays in its view's fold and a held-out view never leaks into training)."""
    out = []
    for level in (30, 60, 90, 120, 150, 180, 210, 240):
        for tint in ((0, 0, 0), (12, 0, -12), (-12, 0, 12)):
            out.append((np.clip(np.full((480, 640, 3), level, np.int32) + np.array(tint), 0, 255).astype(np.uint8),
                        -1))
    for i, (p, label, _) in enumerate(items):
        if label == 0:
            out.append((cv2.GaussianBlur(cv2.imread(str(p)), (0, 0), 25), i))
    return out


def frame_rows(prefix, work: np.ndarray, boxes: np.ndarray, **meta):
    """The two rows of a work frame with boxes [K,4] (-1: none): the frame and its mirror image, each with its
    frozen-stage features (f8, f16, f32 as float16), its boxes, flip and `meta` (label, index, synthetic)."""
    rows = []
    for flip in (0, 1):
        with torch.no_grad():
            feats = prefix(torch.from_numpy(network_input(cv2.flip(work, 1) if flip else work)))
        rows.append(dict(zip(("f8", "f16", "f32"), (f[0].half().numpy() for f in feats)),
                         box=mirrored(boxes, work.shape[1]) if flip else boxes, flip=flip, **meta))
    return rows


def mirrored(boxes: np.ndarray, width: int) -> np.ndarray:
    """Boxes [..., 4] (x0, y0, x1, y1) of a frame of the given width, mirrored left-right; -1 rows stay -1."""
    out = boxes.copy()
    real = boxes[..., 0] >= 0
    out[real, 0], out[real, 2] = width - boxes[real, 2], width - boxes[real, 0]
    return out


def cached(path: Path, key: str, n: int):
    """The arrays cached in path (dict), or None when it is missing or its `key` array does not have n rows."""
    if not path.exists():
        return None
    z = np.load(path)
    return {k: z[k] for k in z.files} if len(z[key]) == n else None


def collect(rows):
    """rows: dicts with f8/f16/f32/box/label/index/flip/synthetic -> dict of stacked arrays."""
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def extract():
    """Frozen-stage features of every frame and its mirror (rows 2k, 2k+1), then of the synthetic negatives.
    box: [N,1,4] in work-frame pixels (-1: none)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"stages_{'_'.join(STAGES)}_{WORK_SIDE}.npz"
    items = list_hpwren()
    if (z := cached(path, "sig", len(items))) is not None:
        return z
    prefix = OnnxPrefix(STAGES)
    rows, sigs = [], []
    t0 = time.time()

    def add(img, label, index, box, synthetic):
        work, scale = work_frame(img)
        b = np.full((1, 4), -1.0, np.float32) if box is None else np.array([box], np.float32) * scale
        rows.extend(frame_rows(prefix, work, b, label=label, index=index, synthetic=synthetic))

    for i, (p, label, box) in enumerate(items):
        img = cv2.imread(str(p))
        if img is None:
            raise SystemExit(f"{p}: cannot decode image")
        sigs.append(view_signature(img))
        add(img, label, i, box, 0)
        if i % 100 == 0:
            print(f"  features {i}/{len(items)} {time.time() - t0:.0f}s", flush=True)
    for img, i in synthetic_frames(items):
        add(img, 0, i, None, 1)
    z = collect(rows)
    z["sig"] = np.stack(sigs)
    np.savez(path, **z)
    return z


def extract_mosaics(items, view, grid: int):
    """Zoom-out augmentation: for every real frame, a grid x grid mosaic (WORK_SIDE x 3/4 WORK_SIDE) of that frame
    in a random cell and other frames of the same camera view, each at 1/grid of the size. The head then also learns
    plumes as a more distant camera sees them: HPWREN plumes range from a few pixels at the horizon to a tenth of
    the frame, and cameras it never saw may be anywhere in that range. A mosaic belongs to its frames' view (so to
    its fold) and is never scored. Cached apart from the frames, as it depends on the view clustering."""
    path = CACHE / f"mosaics{grid}_{'_'.join(STAGES)}_{WORK_SIDE}.npz"
    if (z := cached(path, "index", 2 * len(items))) is not None:
        return z
    width, height = WORK_SIDE, WORK_SIDE * 3 // 4
    tw, th = width // grid, height // grid
    banner = -(-BANNER_PX * th // height)  # rows of a cell that hold its frame's (scaled) banner
    rng = np.random.default_rng(SEED + grid)
    by_view = {}
    for i, v in enumerate(view):
        by_view.setdefault(int(v), []).append(i)
    cells = {}

    def cell(i):
        if i not in cells:
            img = cv2.imread(str(items[i][0]))
            t = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)
            t[:banner] = t[banner]  # the frame's banner is no give-away inside the scored area
            b = items[i][2]
            sx, sy = tw / img.shape[1], th / img.shape[0]
            cells[i] = (t, None if b is None else np.array([b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy], np.float32))
        return cells[i]

    prefix = OnnxPrefix(STAGES)
    rows = []
    t0 = time.time()
    for i in range(len(items)):
        order = list(rng.choice(by_view[int(view[i])], grid * grid - 1))
        order.insert(int(rng.integers(0, grid * grid)), i)
        m = np.zeros((height, width, 3), np.uint8)
        boxes = np.full((grid * grid, 4), -1.0, np.float32)
        for q, j in enumerate(order):
            oy, ox = (q // grid) * th, (q % grid) * tw
            t, b = cell(int(j))
            m[oy:oy + th, ox:ox + tw] = t
            if b is not None:
                boxes[q] = b + np.array([ox, oy, ox, oy], np.float32)
        rows.extend(frame_rows(prefix, m, boxes, label=int((boxes[:, 0] >= 0).any()), index=i, synthetic=1))
        if i % 200 == 0:
            print(f"  mosaics {grid}x{grid}: {i}/{len(items)} {time.time() - t0:.0f}s", flush=True)
    z = collect(rows)
    np.savez(path, **z)
    return z


def upscaled(bgr: np.ndarray) -> np.ndarray:
    """The frame as the second look sees it: ZOOM times larger (bilinear)."""
    return cv2.resize(bgr, None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_LINEAR)


def extract_zoom(items):
    """Zoom-in augmentation: for every real frame, a crop of the frame's size out of the frame upscaled ZOOM times,
    holding its plume when it has one (placed at random), anywhere when it has none. The head then knows plumes,
    clouds and ridges at the scale of the second look (two_scale_heat). A crop belongs to its frame's view (so to
    its fold) and is never scored."""
    path = CACHE / f"zoom{ZOOM}_{'_'.join(STAGES)}_{WORK_SIDE}.npz"
    if (z := cached(path, "index", 2 * len(items))) is not None:
        return z
    rng = np.random.default_rng(SEED + 100 * ZOOM)
    prefix = OnnxPrefix(STAGES)
    rows = []
    t0 = time.time()
    for i, (p, label, box) in enumerate(items):
        img, scale = work_frame(cv2.imread(str(p)))
        img[:BANNER_PX // 2] = img[BANNER_PX // 2]  # the banner is no give-away inside a crop's scored area
        up = upscaled(img)
        (height, width), (ch, cw) = up.shape[:2], img.shape[:2]
        if box is None:
            x0, y0 = int(rng.integers(0, width - cw + 1)), int(rng.integers(0, height - ch + 1))
            b = np.full((1, 4), -1.0, np.float32)
        else:
            bx = np.array(box, np.float32) * scale * ZOOM
            # Crop origins keeping the box inside (or, for a box larger than the crop, the crop inside the box).
            xs = sorted((max(0, int(bx[2]) - cw), min(width - cw, int(bx[0]))))
            ys = sorted((max(0, int(bx[3]) - ch), min(height - ch, int(bx[1]))))
            x0, y0 = int(rng.integers(xs[0], xs[1] + 1)), int(rng.integers(ys[0], ys[1] + 1))
            b = (bx - np.array([x0, y0, x0, y0], np.float32)).clip(0, [cw, ch, cw, ch])[None]
        crop = np.ascontiguousarray(up[y0:y0 + ch, x0:x0 + cw])
        rows.extend(frame_rows(prefix, crop, b, label=label, index=i, synthetic=1))
        if i % 200 == 0:
            print(f"  zoom-in crops: {i}/{len(items)} {time.time() - t0:.0f}s", flush=True)
    z = collect(rows)
    np.savez(path, **z)
    return z


def cell_targets(boxes: np.ndarray, h: int, w: int) -> np.ndarray:
    """Per-cell target from boxes [N,K,4] (work-frame pixels, -1: none): 1 on stride-8 cells whose centre lies in
    a box, at least each box's centre cell."""
    gy, gx = np.mgrid[0:h, 0:w] + 0.5
    out = np.zeros((len(boxes), h, w), np.float32)
    for t, bs in zip(out, boxes / STRIDE):
        for b in bs:
            if b[0] < 0:
                continue
            t[(gx >= b[0]) & (gx <= b[2]) & (gy >= b[1]) & (gy <= b[3])] = 1
            t[min(int((b[1] + b[3]) / 2), h - 1), min(int((b[0] + b[2]) / 2), w - 1)] = 1
    out[:, :BANNER_ROWS] = 0
    return out


def training_rows(items):
    """Every row the head is trained and evaluated on: frames (rows 2k, 2k+1 = frame k and its mirror), synthetic
    negatives, mosaics and zoom-in crops; their per-cell targets; the camera view of every frame."""
    z = extract()
    view = cluster_views(z["sig"], VIEW_THRESHOLD)
    parts = [z] + [extract_mosaics(items, view, g) for g in MOSAIC_GRIDS] + [extract_zoom(items)]
    # Training reads dark3 (f8) only: dark4/dark5 are recomputed by each member's fine-tuned tail, so the cached
    # frozen f16/f32 are not gathered (about 40% of the rows' memory).
    keys = ("f8", "label", "index", "flip", "synthetic")
    h, w = z["f8"].shape[2:]
    target = np.concatenate([cell_targets(p["box"].reshape(len(p["box"]), -1, 4), h, w) for p in parts])
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}, target, view


# ----------------------------------------------------------------------------------------------------- model
def conv3(ci, co, dil=1):
    return nn.Conv2d(ci, co, 3, padding=dil, dilation=dil)


class Decoder(nn.Module):
    """Stride 8/16/32 features -> smoke logits at stride 8 [N,1,H/8,W/8]."""

    def __init__(self):
        super().__init__()
        self.p8, self.p16, self.p32 = nn.Conv2d(64, 16, 1), nn.Conv2d(128, 32, 1), nn.Conv2d(256, 32, 1)
        self.g32 = conv3(32, 32)
        self.g16, self.g16b = conv3(64, 32), conv3(32, 32, 2)
        self.g8 = conv3(48, 16)
        self.out = nn.Conv2d(16, 1, 1)
        self.drop = nn.Dropout2d(0.1)

    def forward(self, f8, f16, f32):
        g = F.relu(self.g32(self.p32(f32)))
        g = F.relu(self.g16(torch.cat([self.p16(f16), F.interpolate(g, scale_factor=2.0, mode="nearest")], 1)))
        g = g + F.relu(self.g16b(g))
        g = torch.cat([self.p8(f8), F.interpolate(g, scale_factor=2.0, mode="nearest")], 1)
        return self.out(F.relu(self.g8(self.drop(g))))


class Member(nn.Module):
    """One ensemble member: dark4 and dark5 (initialised from YOLOX-nano, fine-tuned) and a decoder;
    dark3 features -> smoke logits at stride 8."""

    def __init__(self):
        super().__init__()
        self.tail = OnnxPrefix(STAGES[1:], start=FROZEN, trainable=True)
        self.decoder = Decoder()

    def forward(self, f8):
        return self.decoder(f8, *self.tail(f8))


class SmokeHead(nn.Module):
    """The exported network: frozen stages + members, image -> smoke probability heat-map (the members' mean)."""

    def __init__(self, members: list[Member]):
        super().__init__()
        self.stages = OnnxPrefix((FROZEN,))
        self.members = nn.ModuleList(members)

    def forward(self, image):
        f8 = self.stages(image)[0]
        return torch.stack([torch.sigmoid(m(f8)) for m in self.members]).mean(0)


def dark3(z, rows):
    return torch.from_numpy(z["f8"][rows].astype(np.float32))


def train(z, target, rows, seed=SEED, log=""):
    """rows: unflipped rows (even indices); every epoch each frame is seen once, mirrored or not at random."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Member()
    groups = [dict(params=model.decoder.parameters(), lr=LR), dict(params=model.tail.parameters(), lr=TAIL_LR)]
    opt = torch.optim.AdamW(groups, lr=LR, weight_decay=1e-3)
    steps = EPOCHS * (-(-len(rows) // BATCH))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, [LR, TAIL_LR], total_steps=steps, pct_start=0.1)
    lab = z["label"].astype(np.float32)
    wneg = float((lab[rows] == 1).sum() / max(1, (lab[rows] == 0).sum()))  # balance the image-level term
    valid = torch.ones(target.shape[1:])
    valid[:BANNER_ROWS] = 0
    t0 = time.time()
    for ep in range(EPOCHS):
        model.train()
        order = rng.permutation(rows) + rng.integers(0, 2, len(rows))
        for s in range(0, len(order), BATCH):
            b = order[s:s + BATCH]
            lg = model(dark3(z, b))[:, 0]
            t = torch.from_numpy(target[b])
            y = torch.from_numpy(lab[b])
            w = valid * (1 + (POS_WEIGHT - 1) * t)
            loss = (F.binary_cross_entropy_with_logits(lg, t, reduction="none") * w).sum() / w.sum()
            # Multiple-instance term: the strongest cell of a frame says whether the frame has smoke.
            mx = (lg + (valid - 1) * 1e4).flatten(1).max(1).values
            wi = torch.where(y > 0.5, torch.ones_like(mx), torch.full_like(mx, wneg))
            loss = loss + (F.binary_cross_entropy_with_logits(mx, y, reduction="none") * wi).mean()
            pos = (y > 0.5) & (t.flatten(1).sum(1) > 0)
            negatives = mx[y < 0.5]
            if OUTSIDE and pos.any():
                near = F.max_pool2d(t[:, None], 2 * OUTSIDE_MARGIN + 1, 1, OUTSIDE_MARGIN)[:, 0]
                outside = (lg + (valid * (1 - near) - 1) * 1e4).flatten(1).max(1).values[pos]
                loss = loss + OUTSIDE * F.binary_cross_entropy_with_logits(outside, torch.zeros_like(outside))
                negatives = torch.cat([negatives, outside])
            if HINGE and pos.any() and len(negatives):
                best_in_box = (lg + (t - 1) * 1e4).flatten(1).max(1).values[pos]
                loss = loss + HINGE * F.softplus(negatives[None, :] - best_in_box[:, None]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if ep == 0:
            print(f"  {log}epoch time {time.time() - t0:.1f}s", flush=True)
    model.eval()
    return model


# --------------------------------------------------------------------------------------------------- metrics
def assign_folds(view, folds):
    """Whole views to folds, largest first, each to the currently smallest fold (deterministic)."""
    sizes = np.bincount(view)
    load = np.zeros(folds)
    out = np.zeros(len(sizes), int)
    for v in np.argsort(-sizes, kind="stable"):
        f = int(np.argmin(load))
        out[v] = f
        load[f] += sizes[v]
    return out


def average_precision(scores, labels):
    order = np.argsort(-scores, kind="stable")
    l = labels[order]
    tp = np.cumsum(l)
    prec = tp / np.arange(1, len(l) + 1)
    return float((prec * l).sum() / max(1, l.sum()))


def f1_fpr(scores, labels, th):
    pred = scores >= th
    tp = int((pred & (labels == 1)).sum())
    fp = int((pred & (labels == 0)).sum())
    fn = int((~pred & (labels == 1)).sum())
    prec = tp / max(1, tp + fp)
    rec = tp / max(1, tp + fn)
    f1 = 2 * prec * rec / max(1e-9, prec + rec)
    fpr = fp / max(1, int((labels == 0).sum()))
    return dict(f1=f1, precision=prec, recall=rec, fpr=fpr, tp=tp, fp=fp, fn=fn)


# ---------------------------------------------------------------------------------------------------- export
def export(members: list[Member], path: Path):
    model = SmokeHead(members).eval()
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, 96, 128), str(tmp), opset_version=11, input_names=["image"],
                      output_names=["heat"], dynamic_axes={"image": {2: "h", 3: "w"}, "heat": {2: "h8", 3: "w8"}},
                      do_constant_folding=True)
    m = onnx.load(str(tmp))
    fold_identity(m)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    tmp.unlink()
    return model


def two_scale_heat(heat_of, work: np.ndarray) -> np.ndarray:
    """The heat-map the shipped head scores (src/wildfire/smoke_model.cpp does the same): heat_of(blob) [H/8,W/8]
    of the frame and of its ZOOM times upscaled copy, each cut to its own cells (no padding); the second
    max-pooled ZOOM x ZOOM back to the frame's grid; their cell-wise maximum, banner rows set to 0. The image score
    is its maximum."""
    looks = []
    for img in (work, upscaled(work)):
        h = heat_of(network_input(img))
        looks.append(h[: -(-img.shape[0] // STRIDE), : -(-img.shape[1] // STRIDE)])
    rows, cols = looks[0].shape
    up = np.pad(looks[1], ((0, rows * ZOOM - looks[1].shape[0]), (0, cols * ZOOM - looks[1].shape[1])))
    out = np.maximum(looks[0], up.reshape(rows, ZOOM, cols, ZOOM).max((1, 3)))
    out[:BANNER_ROWS] = 0
    return out


def members_heat(prefix, members):
    """heat_of for two_scale_heat: the mean heat-map of members on the frozen stages' features of a blob."""
    @torch.no_grad()
    def heat_of(blob):
        f8 = prefix(torch.from_numpy(blob))[0]
        return torch.stack([torch.sigmoid(m(f8)) for m in members]).mean(0)[0, 0].numpy()
    return heat_of


# ------------------------------------------------------------------------------------------------------ main
_Z = {}


def member_key(seed, rows) -> str:
    """What a trained member depends on: the training code and settings, the seed, the rows, their targets and
    (a sample of) their features."""
    h = hashlib.sha256()
    for obj in (conv3, Decoder, Member, train, OnnxPrefix):
        h.update(inspect.getsource(obj).encode())
    h.update(json.dumps([STAGES, WORK_SIDE, ZOOM, MOSAIC_GRIDS, EPOCHS, BATCH, LR, TAIL_LR, POS_WEIGHT, HINGE, OUTSIDE,
                         OUTSIDE_MARGIN, BANNER_PX, seed, torch.__version__]).encode())
    h.update(np.ascontiguousarray(rows).tobytes())
    for k in ("label", "index", "flip", "synthetic"):
        h.update(np.ascontiguousarray(_Z["z"][k][rows]).tobytes())
    h.update(np.ascontiguousarray(_Z["target"][rows]).tobytes())
    h.update(np.ascontiguousarray(_Z["z"]["f8"][rows[:: max(1, len(rows) // 8)]]).tobytes())
    return h.hexdigest()[:20]


def fold_job(job):
    """One member's weights: trained, or read back from build/wildfire_cache/members/ when the same member (same
    code, settings, seed and rows) was trained before; training on CPU with one thread is deterministic."""
    torch.set_num_threads(1)
    fold, seed, train_rows = job
    path = CACHE / "members" / f"member_{member_key(seed, train_rows)}.pt"
    if path.exists():
        print(f"  fold {fold} seed {seed}: cached {path.name}", flush=True)
        return torch.load(path)
    state = train(_Z["z"], _Z["target"], train_rows, seed=seed, log=f"fold {fold} seed {seed}: ").state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)
    return state


def trained(state) -> Member:
    m = Member()
    m.load_state_dict(state)
    return m.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2, help="folds trained in parallel (one thread each)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, args.jobs))
    t0 = time.time()
    items = list_hpwren()
    z, target, view = training_rows(items)
    print(f"features ready ({len(z['label'])} rows) {time.time() - t0:.0f}s", flush=True)
    n_img = len(items)
    labels_img = np.array([label for _, label, _ in items])
    fold_of_view = assign_folds(view, FOLDS)
    src = z["index"]
    row_fold = np.where(src >= 0, fold_of_view[view[np.maximum(src, 0)]], -1)
    even = z["flip"] == 0
    # The final members (fold -1: every view, the longest jobs, first) and one job per fold and seed, one pool.
    jobs = [(-1, seed, np.where(even)[0]) for seed in ENSEMBLE_SEEDS]
    jobs += [(f, seed, np.where((row_fold != f) & even)[0]) for seed in ENSEMBLE_SEEDS for f in range(FOLDS)]
    _Z.update(z=z, target=target)
    torch.set_num_threads(1)
    with multiprocessing.get_context("fork").Pool(max(1, args.jobs)) as pool:
        states = pool.map(fold_job, jobs, chunksize=1)
    _Z.clear()
    # Out-of-fold image scores as the shipped head computes them: maximum of the two-scale mean heat-map of the
    # members that never saw the frame's view.
    torch.set_num_threads(max(1, args.jobs))
    prefix = OnnxPrefix((FROZEN,))
    fold_heat = {f: members_heat(prefix, [trained(st) for (g, _, _), st in zip(jobs, states) if g == f])
                 for f in range(FOLDS)}
    fold_img = fold_of_view[view]
    oof = np.array([two_scale_heat(fold_heat[fold_img[i]], work_frame(cv2.imread(str(p)))[0]).max()
                    for i, (p, _, _) in enumerate(items)])
    print(f"out-of-fold scores {time.time() - t0:.0f}s", flush=True)
    ap_ = average_precision(oof, labels_img)
    # Shipped threshold: best F1 on out-of-fold scores among thresholds keeping FPR <= 5%.
    best = None
    for th in np.unique(np.round(oof, 3)):
        r = f1_fpr(oof, labels_img, th)
        if r["fpr"] <= 0.05 and (best is None or r["f1"] > best[1]["f1"]):
            best = (float(th), r)
    th, at = best
    at05 = f1_fpr(oof, labels_img, 0.5)
    per_view = []
    for f in range(FOLDS):
        sel = fold_img == f
        per_view.append(dict(fold=f, views=[int(x) for x in np.where(fold_of_view == f)[0]], images=int(sel.sum()),
                             positives=int(labels_img[sel].sum()), **f1_fpr(oof[sel], labels_img[sel], th)))
    print(f"{FOLDS}-fold by view: AP={ap_:.3f} threshold={th:.3f} F1={at['f1']:.3f} P={at['precision']:.3f} "
          f"R={at['recall']:.3f} FPR={at['fpr']:.3f}; at 0.5: F1={at05['f1']:.3f} FPR={at05['fpr']:.3f}",
          flush=True)
    onnx_path = OUT_DIR / "smoke_head.onnx"
    model = export([trained(st) for (g, _, _), st in zip(jobs, states) if g < 0], onnx_path)
    net = cv2.dnn.readNetFromONNX(str(onnx_path))
    golden, diff = {}, 0.0

    def opencv_heat(blob):
        net.setInput(blob, "image")
        return net.forward("heat")[0, 0]

    picks = [it for it in items if it[1] == 1][:3] + [it for it in items if it[1] == 0][:3]
    for p, _, _ in picks:
        work, _ = work_frame(cv2.imread(str(p)))
        heat = two_scale_heat(opencv_heat, work)
        with torch.no_grad():
            ref = two_scale_heat(lambda blob: model(torch.from_numpy(blob))[0, 0].numpy(), work)
        diff = max(diff, float(np.abs(ref - heat).max()))
        golden[f"{p.parent.name}/{p.name}"] = float(heat.max())
    print(f"exported {onnx_path} ({onnx_path.stat().st_size} bytes), OpenCV vs torch max diff {diff:.2e}")
    metrics = dict(
        golden_scores=golden, recipe="tools/smoke/train_smoke_head.py", seed=SEED, ensemble_seeds=ENSEMBLE_SEEDS,
        epochs=EPOCHS, stages=STAGES, work_side=WORK_SIDE, zoom=ZOOM, view_threshold=VIEW_THRESHOLD,
        views=int(view.max() + 1), images=n_img,
        positives=int(labels_img.sum()), negatives=int((labels_img == 0).sum()),
        cv=f"{FOLDS}-fold grouped by camera view", average_precision=ap_, threshold=th, at_threshold=at,
        at_0_5=at05, per_view=per_view, opencv_torch_max_diff=diff,
    )
    (OUT_DIR / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    np.save(CACHE / "smoke_oof_scores.npy", oof)
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
