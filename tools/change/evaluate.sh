#!/usr/bin/env bash
# Acceptance evaluation of the land-use change module through the exact CLI used for evaluation.
#   tools/change/evaluate.sh [path/to/towerwatch] [data dir holding change/]
# Prints, per data set, the decisions of `towerwatch change compare` (both orders) and the alerts of
# `towerwatch change watch`, then the pixel metrics from `towerwatch change eval`.
set -euo pipefail
TW=${1:-build/change/apps/towerwatch/towerwatch}
DATA=${2:-${TOWERWATCH_DATA:-../shared/data}}/change
field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
EVAL=$(mktemp); trap 'rm -f "$EVAL"' EXIT
"$TW" change eval --data "$DATA" --json > "$EVAL"

echo "== LEVIR-CD samples: pair decisions (changed if the label marks > 1% of the pixels)"
ok=0; n=0; sym=0
for a in "$DATA"/levir_cd_samples/A/*.png; do
  name=$(basename "$a"); b="$DATA/levir_cd_samples/B/$name"
  fwd=$("$TW" change compare --reference "$a" --current "$b" --json | field changed)
  rev=$("$TW" change compare --reference "$b" --current "$a" --json | field changed)
  gt=$(python3 -c "
import json
for p in json.load(open('$EVAL'))['levir']['per_pair']:
    if p['pair']=='$name': print(p['gt_fraction'] > 0.01)")
  n=$((n+1)); [[ "$fwd" == "$gt" ]] && ok=$((ok+1)); [[ "$fwd" == "$rev" ]] && sym=$((sym+1))
  echo "  $name changed=$fwd swapped=$rev expected=$gt"
done
echo "  decisions correct: $ok/$n, swap-symmetric: $sym/$n"

echo "== webcam time-lapses: (first, later) pairs flagged, and alerts from watch"
for cam in "$DATA"/webcam_timelapse/*/; do
  frames=("$cam"*.png); first=${frames[0]}; flagged=0; pairs=0
  for f in "${frames[@]:1}"; do
    c=$("$TW" change compare --reference "$first" --current "$f" --json 2>/dev/null | field changed)
    pairs=$((pairs+1)); [[ "$c" == "True" ]] && flagged=$((flagged+1))
  done
  alerts=$("$TW" change watch --frames "$cam" --json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['alerts']))")
  echo "  $(basename "$cam"): compare flagged $flagged/$pairs, watch alerts $alerts"
done

echo "== pixel metrics and swap symmetry (towerwatch change eval)"
python3 -c "
import json
d=json.load(open('$EVAL')); l=d['levir']
print('  LEVIR pixel F1 %.3f (precision %.3f, recall %.3f), mean per-pair F1 %.3f, decisions %d/%d, symmetric %d/%d' % (
  l['pixel_f1'], l['pixel_precision'], l['pixel_recall'], l['mean_pair_f1'], l['decisions_correct'], l['pairs'],
  l['swap_symmetric'], l['pairs']))
for k,v in d['webcam'].items():
  print('  %s: flagged %d/%d (%.1f%%), asymmetric %d, view_moved %d, low_visibility %d' % (k, v['flagged'], v['pairs'],
        100*v['flagged_fraction'], v['asymmetric'], v['view_moved'], v['low_visibility']))"
