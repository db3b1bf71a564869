#!/usr/bin/python3
"""Summarises eval_ttd.sh output: detection rate, time to detect (frames after onset, minutes at 30 s/frame),
sequences with an alert before the onset."""
import json
import statistics
import sys

runs = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
ttd, early, missed = [], 0, 0
for r in runs:
    alerts = r["watch"]["alerts"]
    if any(a["frame"] < r["onset"] for a in alerts):
        early += 1
    after = [a["frame"] for a in alerts if a["frame"] >= r["onset"]]
    if after:
        ttd.append(after[0] - r["onset"])
    else:
        missed += 1
out = dict(sequences=len(runs), detected=len(ttd), missed=missed, alert_before_onset=early,
           ttd_frames_median=statistics.median(ttd) if ttd else None,
           ttd_frames_mean=statistics.mean(ttd) if ttd else None,
           ttd_minutes_median_at_30s=statistics.median(ttd) * 0.5 if ttd else None)
print(json.dumps(out, indent=1))
