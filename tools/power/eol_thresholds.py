#!/usr/bin/env python3
"""End-of-life generalisation check (issue 7): every NASA cell, thresholds 1.00..1.65 Ah.

For each battery with >= 40 discharges and each threshold T whose crossing is a real, sustained one in the
second half of the record, predict from the first half with `towerwatch power eol` and compare.
Crossing (truth) = first discharge below T whose centred 5-cycle median is also below T (so a single aborted
run does not count). Cases are skipped when the ambient temperature at the crossing differs from the one at
the last cycle given (a protocol change, e.g. B0039, B0042-44), or when the cell is already within 0.02 Ah of
T at the end of the given half. Usage: tools/power/eol_thresholds.py [towerwatch] [metadata.csv]
"""
import csv
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/power/apps/towerwatch/towerwatch"
DATA = os.environ.get("TOWERWATCH_DATA", "../shared/data")
META = sys.argv[2] if len(sys.argv) > 2 else f"{DATA}/power/nasa_pcoe/metadata.csv"

cells = defaultdict(list)
with open(META, newline="") as f:
    for r in csv.DictReader(f):
        try:
            cap = float(r["Capacity"])
        except ValueError:
            continue
        if r["type"] == "discharge":
            cells[r["battery_id"]].append((int(r["test_id"]), cap, r["ambient_temperature"]))

errors = []
print(f"{'battery':7} {'T_ah':>5} {'upto':>5} {'true':>5} {'pred':>5} {'error':>6}")
for b in sorted(cells):
    recs = sorted(cells[b])
    caps = [c for _, c, _ in recs]
    amb = [a for _, _, a in recs]
    n = len(caps)
    if n < 40:
        continue
    h = n // 2
    for i in range(14):
        thr = round(1.0 + 0.05 * i, 2)
        truth = next((k + 1 for k in range(n) if caps[k] < thr and statistics.median(caps[max(0, k - 2):k + 3]) < thr), None)
        if truth is None or truth <= h + 2 or amb[truth - 1] != amb[h - 1]:
            continue
        if statistics.median(caps[h - 5:h]) < thr + 0.02:
            continue
        out = subprocess.run([BIN, "power", "eol", "--capacity-csv", META, "--battery", b, "--upto-cycle", str(h),
                              "--eol-ah", str(thr), "--json"], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{b:7} {thr:5.2f} {h:5d} {truth:5d}  fails: {out.stderr.strip()}")
            continue
        p = json.loads(out.stdout)["predicted_eol_cycle"]
        errors.append(abs(p - truth))
        print(f"{b:7} {thr:5.2f} {h:5d} {truth:5d} {p:5d} {p - truth:+6d}")
if errors:
    print(f"cases {len(errors)}: mean |error| {statistics.mean(errors):.1f}, median {statistics.median(errors):.1f}, "
          f"within 10 cycles {sum(e <= 10 for e in errors)}")
