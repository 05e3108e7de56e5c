#!/usr/bin/env bash
# Installs the Debian 12 packages TraceCraft C++ needs, only if some are missing.
# Note: Debian 12's libboost-all-dev is Boost 1.74 (no Boost.JSON); we need the 1.81 packages.
#   tools/install-deps.sh [extra-package ...]   # the bench scripts add nginx, wrk, valgrind ...
set -euo pipefail
packages=("$@"
          g++ cmake ninja-build pkg-config
          libboost1.81-dev libboost-json1.81-dev libboost-test1.81-dev libboost-program-options1.81-dev libboost-url1.81-dev libsqlite3-dev
          libhyperscan-dev libspdlog-dev zlib1g-dev libssl-dev
          curl
          protobuf-compiler)   # protoc --decode_raw: an independent decoder for the OTLP tests
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
