#!/usr/bin/env bash
# Power acceptance evaluation (issue 7). Usage: tools/power/evaluate.sh [path/to/towerwatch]
#  - runtime: fit on C/10, 1C, 2C of each cell, predict 3C and 4C, compare with the measured runtime
#    (start of discharge to the end of the record) for the rate-surface, Peukert and constant models;
#  - end of life: for every NASA battery whose capacity falls below 1.4 Ah, predict from the first half
#    of its discharges and compare with the first discharge cycle actually below 1.4 Ah.
# Cells/batteries are discovered from the data folders, so held-out ones are evaluated the same way.
set -euo pipefail
BIN=${1:-build/power/apps/towerwatch/towerwatch}
DATA=${TOWERWATCH_DATA:-../shared/data}
ARTS=$DATA/power/arts_samsung30q
META=$DATA/power/nasa_pcoe/metadata.csv

measured() {  # prints "<median discharge current> <runtime_s>" of a curve (mawk-compatible)
  local body
  body=$(sed '1s/^\xEF\xBB\xBF//' "$1" |
    awk -F, '$2 > -1000 && $2 < 1000 { if (!start && $2 < -0.05) { start = 1; t0 = $1 } if (start) { print -$2; t1 = $1 } }
             END { print "T", t1 - t0 }')
  local cur rt
  rt=$(printf '%s\n' "$body" | awk '$1 == "T" { printf "%.3f", $2 }')
  cur=$(printf '%s\n' "$body" | grep -v '^T' | sort -g | awk '{ c[NR] = $1 } END { printf "%.4f", c[int((NR + 1) / 2)] }')
  echo "$cur $rt"
}
json_field() { sed -E "s/.*\"$1\":([-0-9.eE+]+).*/\1/"; }

echo "== runtime: fitted on C/10, 1C, 2C"
printf "%-6s %-5s %9s %11s | %10s %8s | %10s %8s | %10s %8s\n" cell rate current measured_s surface err% peukert err% constant err%
for dir in "$ARTS"/S*; do
  cell=$(basename "$dir")
  fits=()
  for r in C10 1C 2C; do
    f=$(ls "$dir"/Q30_${cell}_${r}.csv 2>/dev/null || true)
    [ -n "$f" ] && fits+=(--fit "$f")
  done
  if [ ${#fits[@]} -lt 4 ]; then
    # e.g. a cell recorded at 2.33C instead of 2C: fit on whatever is below 3C
    fits=()
    for f in "$dir"/Q30_${cell}_*.csv; do
      case $f in *_3C.csv|*_4C.csv) ;; *) fits+=(--fit "$f") ;; esac
    done
  fi
  for rate in 3C 4C; do
    f=$dir/Q30_${cell}_${rate}.csv
    [ -f "$f" ] || continue
    read -r cur meas < <(measured "$f")
    line="$(printf "%-6s %-5s %9s %11s" "$cell" "$rate" "$cur" "$meas")"
    for m in surface peukert constant; do
      rt=$("$BIN" power runtime "${fits[@]}" --current "$cur" --model $m --json | json_field runtime_s)
      line+=" | $(awk -v p="$rt" -v m="$meas" 'BEGIN { printf "%10.1f %+7.2f%%", p, 100 * (p - m) / m }')"
    done
    echo "$line"
  done
done

echo
echo "== end of life: first half of discharges, threshold 1.4 Ah"
printf "%-7s %7s %6s %9s %10s %6s\n" battery cycles upto true_eol predicted error
awk -F, 'NR > 1 && $1 == "discharge" && $8 ~ /^[0-9.eE+-]+$/ { n[$4]++; if (!($4 in eol) && $8 + 0 < 1.4) eol[$4] = n[$4] }
         END { for (b in n) if ((b in eol) && eol[b] > n[b] / 2) print b, n[b], eol[b] }' "$META" | sort |
while read -r b n truth; do
  upto=$((n / 2))
  p=$("$BIN" power eol --capacity-csv "$META" --battery "$b" --upto-cycle "$upto" --eol-ah 1.4 --json | json_field predicted_eol_cycle)
  printf "%-7s %7d %6d %9d %10d %+6d\n" "$b" "$n" "$upto" "$truth" "$p" $((p - truth))
done

echo
echo "== end of life at other thresholds (generalisation check)"
if command -v python3 >/dev/null; then
  python3 "$(dirname "$0")/eol_thresholds.py" "$BIN" "$META"
else
  echo "python3 not found: skipped"
fi
