#!/usr/bin/env bash
# One command: install what is missing, then build and pass every test in three configurations:
#   1. RelWithDebInfo, warnings as errors: all tests (CTest), examples and bench smoke runs
#   2. ASan + UBSan: all tests
#   3. TSan: the context/pipeline tests (4 io_context threads)
# Set TRACECRAFT_TEST_QUICK=1 to run only configuration 1.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
jobs=$(nproc)
start=$(date +%s)

# The OTLP interop test decodes our bodies with the OpenTelemetry JS project's protobufjs code,
# generated from the official opentelemetry-proto definitions (pinned version, npm registry).
otlp_js="$PWD/build/_otlp_js"
if ! command -v npm > /dev/null; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends nodejs npm
fi
if [ ! -d "$otlp_js/node_modules/@opentelemetry/otlp-transformer" ]; then
  mkdir -p "$otlp_js"
  npm install --prefix "$otlp_js" --no-audit --no-fund --silent @opentelemetry/otlp-transformer@0.208.0 ||
    echo "WARNING: npm registry unreachable: the OTLP interop check (tests/otlp_interop) is NOT run" >&2
fi

# The tracecraft tool's interop and browser tests: the OpenTelemetry JS SDK with its OTLP/HTTP
# exporters sends to `tracecraft serve`; Debian's chromium, driven by playwright-core, opens the viewer.
tool_js="$PWD/build/_tool_js"
if ! command -v chromium > /dev/null; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends chromium
fi
if [ ! -d "$tool_js/node_modules/playwright-core" ]; then
  mkdir -p "$tool_js"
  npm install --prefix "$tool_js" --no-audit --no-fund --silent @opentelemetry/api@1.9.1 \
      @opentelemetry/sdk-trace-base@2.12.1 @opentelemetry/resources@2.12.1 \
      @opentelemetry/exporter-trace-otlp-proto@0.223.1 @opentelemetry/exporter-trace-otlp-http@0.223.1 \
      playwright-core@1.65.1 ||
    echo "WARNING: npm registry unreachable: the tool's JS SDK and browser tests are NOT run" >&2
fi

echo "== [1/3] release build + tests"
# -g1 (line tables: file:line in backtraces and sanitizer reports, no type information) keeps
# the three builds within CI's time on two cores
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
      -DTRACECRAFT_WERROR=ON \
      -DTRACECRAFT_BUILD_TESTS=ON -DTRACECRAFT_BUILD_EXAMPLES=ON -DTRACECRAFT_BUILD_BENCH=ON \
      -DTRACECRAFT_OTLP_JS_MODULES="$otlp_js/node_modules" -DTRACECRAFT_TOOL_JS_MODULES="$tool_js/node_modules"
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure --no-tests=error -j "$jobs"
echo "== smoke runs: benchmarks (a few thousand spans) and examples"
./build/bench/span_overhead w1 2000
./build/bench/span_overhead w2e 2000
./build/bench/span_overhead resume_traced 2000
./build/bench/redaction_throughput 1
./build/bench/micro --benchmark_min_time=0.01 > /dev/null
# W3 needs its OTLP sink (nginx, as in bench/run.sh); a short run proves the export path works.
tools/install-deps.sh nginx libnginx-mod-http-echo
sink=$(mktemp -d); mkdir -p "$sink/logs" "$sink/tmp"; cp bench/sink-nginx.conf "$sink/nginx.conf"
nginx -p "$sink" -c "$sink/nginx.conf" & sink_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null -X POST http://127.0.0.1:14318/v1/traces && break; sleep 0.1; done
./build/bench/w3_export protobuf backpressure 2000
./build/bench/w3_export json unthrottled 2000
kill $sink_pid; wait $sink_pid 2> /dev/null || true; rm -rf "$sink"
for ex in agent_demo redaction_demo export_stages distributed_trace custom_processors; do
  ./build/examples/$ex > /dev/null
  ./build/examples/$ex --help > /tmp/tc-help.txt   # every program documents the variables it honours
  grep -q OTEL_EXPORTER_OTLP_ENDPOINT /tmp/tc-help.txt
done
# a bad URL or option: one line, status 2 (never terminate)
for bad in "--otlp ftp://x" "--bogus"; do
  set +e; ./build/examples/agent_demo $bad > /dev/null 2> /tmp/tc-bad.txt; rc=$?; set -e
  [ "$rc" -eq 2 ] && [ "$(wc -l < /tmp/tc-bad.txt)" -eq 1 ] || { echo "agent_demo $bad: status $rc"; cat /tmp/tc-bad.txt; exit 1; }
done
# OTEL_EXPORTER_OTLP_ENDPOINT alone turns OTLP on (a receiver that is down: the spool keeps the spans)
spool=$(mktemp -d)
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 ./build/examples/agent_demo --no-console --spool "$spool" > "$spool.out" 2> /dev/null
grep -q "spool: holds [1-9]" "$spool.out"
rm -rf "$spool" "$spool.out"
./build/examples/llm_gateway --port 0 --demo 4 --quiet > /dev/null
./build/examples/llm_gateway --port 0 --demo 4 --quiet --pipeline-thread > /dev/null
echo "== the tracecraft tool: --help everywhere, one-line errors, validate's status, view/export of a file"
tc=./build/tools/tracecraft/tracecraft
$tc --help | grep -q "serve"
for sub in serve view stats query validate export; do $tc $sub --help | grep -q "usage: tracecraft $sub"; done
for bad in "frobnicate" "view" "view tests/data/tool/fixture.jsonl --bogus" "query tests/data/tool/fixture.jsonl --format xml" \
           "view /nonexistent.db" "serve --port 99999" "stats tests/data/tool/fixture.jsonl --by colour"; do
  set +e; $tc $bad > /dev/null 2> /tmp/tc-bad.txt; rc=$?; set -e
  [ "$rc" -eq 2 ] && [ "$(wc -l < /tmp/tc-bad.txt)" -eq 1 ] || { echo "tracecraft $bad: status $rc"; cat /tmp/tc-bad.txt; exit 1; }
done
$tc validate tests/data/tool/fixture.jsonl > /dev/null
set +e; $tc validate tests/data/tool/broken.jsonl > /tmp/tc-validate.txt; rc=$?; set -e
[ "$rc" -eq 1 ] && grep -q "broken.jsonl:5: steps\[0\].type: unknown step type" /tmp/tc-validate.txt
$tc view tests/data/tool/fixture.jsonl --color never | grep -q "└─ citation_check \[tool\]"
$tc export tests/data/tool/fixture.jsonl --html /tmp/tc-export.html | grep -q "4 traces"
# serve killed with SIGKILL while clients write: the database opens again with every answered trace
kill_dir=$(mktemp -d)
$tc serve --port 0 --db "$kill_dir/t.db" > "$kill_dir/log" 2>&1 & serve_pid=$!
disown $serve_pid   # its SIGKILL below is the test, not news for the log
for _ in $(seq 100); do grep -q "listening on" "$kill_dir/log" && break; sleep 0.05; done
url=$(grep -o "http://127.0.0.1:[0-9]*" "$kill_dir/log" | head -1)
answered=0
for i in $(seq 1 40); do
  body=$(printf '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%032x","spanId":"%016x","name":"k%d","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}' "$i" "$i" "$i")
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$body" "$url/v1/traces" || true)
  [ "$code" = 200 ] && answered=$((answered + 1))
  [ "$i" -eq 30 ] && kill -9 $serve_pid
done
while kill -0 $serve_pid 2> /dev/null; do sleep 0.05; done
stored=$($tc query "$kill_dir/t.db" --limit 1000 --format csv | tail -n +2 | wc -l)
[ "$stored" -eq "$answered" ] || { echo "after SIGKILL: $answered answered, $stored stored"; exit 1; }
rm -rf "$kill_dir"
echo "== cmake --install + find_package(tracecraft) from a separate project"
rm -rf build/install build/consumer
cmake --install build --prefix build/install > /dev/null
build/install/bin/tracecraft --help > /dev/null
cmake -S tests/install_consumer -B build/consumer -G Ninja -DCMAKE_PREFIX_PATH="$PWD/build/install" > /dev/null
cmake --build build/consumer
./build/consumer/consumer

if [ "${TRACECRAFT_TEST_QUICK:-0}" != "1" ]; then
  echo "== [2/3] ASan + UBSan build + tests"
  # -O0: a third less compile time than -O1 for the same checks; the tests take a few seconds more
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" \
        -DTRACECRAFT_WERROR=ON -DTRACECRAFT_SANITIZE=address \
        -DTRACECRAFT_BUILD_EXAMPLES=OFF -DTRACECRAFT_BUILD_BENCH=OFF
  # the test executables only (the tool's program and the interop fixture are covered in [1/3])
  cmake --build build-asan -j "$jobs" --target tracecraft_core_tests tracecraft_context_tests tracecraft_gateway_tests \
        tracecraft_tool_tests
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure --no-tests=error -j "$jobs" -R '^(core|context|gateway|tool)$'

  echo "== [3/3] TSan build + context tests"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
        -DTRACECRAFT_WERROR=ON -DTRACECRAFT_SANITIZE=thread \
        -DTRACECRAFT_BUILD_EXAMPLES=OFF -DTRACECRAFT_BUILD_BENCH=OFF
  cmake --build build-tsan -j "$jobs" --target tracecraft_context_tests
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --test-dir build-tsan --output-on-failure --no-tests=error -R '^context$'
fi
echo "== all test configurations passed in $(( $(date +%s) - start )) s"
