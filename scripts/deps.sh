#!/usr/bin/env bash
# deps.sh -- install every Debian package the build, the demo and the tests need,
# but only when something is missing (apt-get update runs once, then install).
# Extra package names given as arguments are added (the benchmarks ask for
# nginx-light and wrk). Must run as root (or with sudo) on Debian 12 or later.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libmicrohttpd-dev libssl-dev libsqlite3-dev libxml2-dev libexpat1-dev libcurl4-openssl-dev
  libmspack-dev libinih-dev libcmocka-dev zlib1g-dev libgnutls28-dev
  libxml2-utils sqlite3 openssl curl procps bc time tinyproxy python3
  clang libclang-rt-dev
  debhelper dpkg-dev systemd man-db prometheus chromium haproxy
  "$@"
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps.sh: missing packages (${missing[*]}) and not root" >&2; exit 1; }
  SUDO="sudo"
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
