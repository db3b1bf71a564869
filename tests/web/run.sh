#!/bin/sh
# Runs the dashboard's end-to-end browser test: installs playwright-core from the committed lockfile
# (npm registry), then drives Debian's Chromium.  Usage: run.sh TOWERWATCH_BIN OUT_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: run.sh TOWERWATCH_BIN OUT_DIR}
out=${2:?usage: run.sh TOWERWATCH_BIN OUT_DIR}
if [ ! -x /usr/bin/chromium ]; then
  echo "error: /usr/bin/chromium is missing; install it with: apt-get install -y --no-install-recommends chromium" >&2
  exit 1
fi
command -v node >/dev/null 2>&1 || { echo "error: node is missing (apt-get install -y nodejs npm)" >&2; exit 1; }
cd "$here"
if [ ! -f node_modules/playwright-core/package.json ]; then
  npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error
fi
exec node "$here/e2e.mjs" "$bin" "$out"
