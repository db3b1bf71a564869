#!/usr/bin/env bash
# One command: install dependencies (servers and browser included), build, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cmake --preset release >/dev/null
cmake --build --preset release
ctest --preset release -j2 "$@"
