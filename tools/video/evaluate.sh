#!/usr/bin/env bash
# Full video evaluation (not part of the unit suite). Run from the repository root after building towerwatch:
#   tools/video/evaluate.sh [build/video/apps/towerwatch/towerwatch]
# Prints: PETS09 line counts / MOTA / IDF1 (with and without the motion gate), the redaction check
# (Haar + YuNet on TUD-Campus and the group photos), and the broken-file behaviour.
set -u
TW=${1:-build/video/apps/towerwatch/towerwatch}
DATA=${TOWERWATCH_DATA:-../shared/data}
echo "== counting + tracking: PETS09-S2L1 (6 lines of line_crossings.json), one OpenCV thread"
"$TW" video-eval counts --threads 1
echo "== same without motion gating"
"$TW" video-eval counts --threads 1 --no-motion-gate
echo "== redaction: Haar frontal face (opencv-data) + YuNet on the redacted output"
"$TW" video-eval redaction
echo "== broken and truncated inputs (each must print one clear error, exit 1)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 300000 "$DATA/video/pets09_s2l1/pets09_s2l1_opencv_vtest_480x360.avi" > "$tmp/truncated.avi"
head -c 400000 "$DATA/video/tud_campus/TUD-Campus.mp4" > "$tmp/truncated.mp4"
printf 'not a video' > "$tmp/garbage.mp4"
for f in "$tmp/truncated.avi" "$tmp/truncated.mp4" "$tmp/garbage.mp4" "$tmp/missing.mp4"; do
  "$TW" count --video "$f" --line 0,144,480,144 --json
  echo "exit $?"
done
