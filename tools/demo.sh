#!/usr/bin/env bash
# One command: install what is missing, build, run the main demo (an agent's span tree).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
# Its own build directory: the Release, examples-only cache must not leak into tools/test.sh's.
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRACECRAFT_BUILD_TESTS=OFF -DTRACECRAFT_BUILD_BENCH=OFF
cmake --build build-demo --target agent_demo llm_gateway mock_llm
./build-demo/examples/agent_demo
