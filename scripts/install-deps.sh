#!/usr/bin/env bash
# Installs everything towerwatch needs from Debian 12 packages. Run as root (or with sudo).
# Usage: scripts/install-deps.sh [--test]   (--test adds the servers and browser used by the tests)
set -euo pipefail
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  libopencv-dev libmseed-dev libmosquitto-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev
  libspdlog-dev libfmt-dev libcpp-httplib-dev libgeographiclib-dev libsodium-dev libssl-dev
  libsqlite3-dev libpq-dev libgtest-dev libgmock-dev libbenchmark-dev
)
TEST_PKGS=(
  mosquitto openssl opencv-data postgresql postgresql-15-postgis-3 chromium
)

want=("${BUILD_PKGS[@]}")
if [[ ${1:-} == "--test" ]]; then
  want+=("${TEST_PKGS[@]}")
  # Node.js and npm for the browser test, from Debian unless the machine already has them.
  command -v npm >/dev/null 2>&1 || want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The packaged services must not keep running in the background: tests start their own.
for svc in mosquitto postgresql; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
