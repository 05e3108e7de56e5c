#!/usr/bin/env bash
# One command: install what is missing, build, run the main demo (an agent's span tree).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRACECRAFT_BUILD_TESTS=OFF -DTRACECRAFT_BUILD_BENCH=OFF
cmake --build build --target agent_demo
./build/examples/agent_demo
