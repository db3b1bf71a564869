#!/bin/bash
# Time to detect on composited sequences with a known onset (Pyronear smoke sprite over real HPWREN frames that
# hold no smoke). For each background and plume position: `towerwatch smoke composite` writes FRAMES frames with
# the plume from ONSET on, `towerwatch smoke watch` runs the temporal logic (4 of 8 votes) and we record the first
# alert. Frames are 30 s apart, as on an HPWREN/Pyronear tower camera.
#   tools/smoke/eval_ttd.sh build/wildfire/apps/towerwatch/towerwatch [STEP] > ttd.json
set -euo pipefail
BIN=${1:?path to the towerwatch binary}
STEP=${2:-10}            # every STEP-th probable negative is a background
FRAMES=${FRAMES:-24}
ONSET=${ONSET:-8}
DATA=${TOWERWATCH_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/data}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
i=0
echo "["
first=1
for bg in $(ls "$DATA"/wildfire/hpwren_smoke/no_smoke_probable/*.jpeg | sort); do
  i=$((i + 1))
  [ $(( (i - 1) % STEP )) -eq 0 ] || continue
  for pos in "0.5 0.55 0.15 0.7" "0.3 0.6 0.25 0.9"; do
    set -- $pos
    seq="$WORK/seq"
    rm -rf "$seq"
    "$BIN" smoke composite --background "$bg" --out "$seq" --frames "$FRAMES" --onset "$ONSET" --sprite-step 4 \
      --x "$1" --y "$2" --height "$3" --opacity "$4" > /dev/null
    out=$("$BIN" smoke watch --video "$seq" --azimuth 0 --hfov 60 --json)
    [ $first -eq 1 ] || echo ","
    first=0
    printf '{"background":"%s","x":%s,"y":%s,"height":%s,"opacity":%s,"onset":%s,"watch":%s}' \
      "$(basename "$bg")" "$1" "$2" "$3" "$4" "$ONSET" "$out"
  done
done
echo "]"
