#!/usr/bin/env bash
# One command: install dependencies, build, and run `towerwatch demo` (Ctrl-C to stop).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release -DTW_BUILD_TESTS=OFF >/dev/null
cmake --build --preset release --target towerwatch
exec build/release/apps/towerwatch/towerwatch demo "$@"
