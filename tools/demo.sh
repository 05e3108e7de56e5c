#!/usr/bin/env bash
# One command: install what is missing, build, run the main demo (an agent's span tree), then show
# the same traces received by the `tracecraft` tool over OTLP.
#   tools/demo.sh            the demo, then `tracecraft view` of its traces
#   tools/demo.sh --viewer   ... and keep `tracecraft serve` running: open http://127.0.0.1:4318/
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
# Its own build directory: the Release, examples-only cache must not leak into tools/test.sh's.
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRACECRAFT_BUILD_TESTS=OFF -DTRACECRAFT_BUILD_BENCH=OFF
cmake --build build-demo --target agent_demo llm_gateway mock_llm tracecraft_cli
./build-demo/examples/agent_demo

echo
echo "== the same demo exported over OTLP/HTTP to 'tracecraft serve', then 'tracecraft view'"
tc=./build-demo/tools/tracecraft/tracecraft
work=$(mktemp -d)
port=0
[ "${1:-}" = "--viewer" ] && port=4318
$tc serve --port $port --db "$work/traces.db" > "$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2> /dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.05; done
url=$(grep -o "http://127.0.0.1:[0-9]*" "$work/serve.log" | head -1)
OTEL_EXPORTER_OTLP_ENDPOINT="$url" ./build-demo/examples/agent_demo --no-console > /dev/null
$tc view "$work/traces.db" --limit 1
$tc stats "$work/traces.db" --by kind
if [ "${1:-}" = "--viewer" ]; then
  echo
  echo "viewer: $url/   (Ctrl-C stops; run the demo again with OTEL_EXPORTER_OTLP_ENDPOINT=$url to see traces arrive)"
  wait $pid
fi
