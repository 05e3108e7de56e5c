#!/usr/bin/env bash
# Runs every benchmark (W1-W5 and the micro-suite), medians of N runs (default 5), and writes
# bench/results/latest.json plus bench/results/latest.md. A few minutes on the 2-core machine.
#   bench/run.sh            # RUNS=5 by default; RUNS=7 bench/run.sh for more
# Installs nginx (the W3/W5 OTLP sink), its echo module and wrk when missing; starts the sink
# on 127.0.0.1:14318 and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
tools/install-deps.sh nginx libnginx-mod-http-echo wrk python3 libbenchmark-dev
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j "$(nproc)" --target span_overhead w3_export redaction_throughput micro llm_gateway mock_llm

out=bench/results
mkdir -p "$out"
raw="$out/raw.jsonl"
: > "$raw"

sink=$(mktemp -d)
mkdir -p "$sink/logs" "$sink/tmp"
cp bench/sink-nginx.conf "$sink/nginx.conf"
nginx -p "$sink" -c "$sink/nginx.conf" &
sink_pid=$!
pids=()
cleanup() { kill "$sink_pid" "${pids[@]}" 2> /dev/null || true; wait 2> /dev/null || true; rm -rf "$sink"; }
trap cleanup EXIT
for _ in $(seq 50); do curl -s -o /dev/null -X POST http://127.0.0.1:14318/v1/traces && break; sleep 0.1; done

record() { echo "$1" | tee -a "$raw"; }
for i in $(seq "$runs"); do
  echo "== round $i/$runs"
  for m in baseline w1 w2 w2e; do record "$(./build/bench/span_overhead $m 1000000)"; done
  for enc in protobuf json; do
    for m in unthrottled backpressure; do record "$(./build/bench/w3_export $enc $m 250000 2> /dev/null)"; done
  done
  spool=$(mktemp -d)   # the disk spool's cost with a healthy sink (it writes nothing then)
  record "$(./build/bench/w3_export protobuf backpressure 250000 http://127.0.0.1:14318/v1/traces "$spool" 2> /dev/null)"
  rm -rf "$spool"
  record "$(./build/bench/redaction_throughput 32)"
done

echo "== W5: gateway + mock LLM, wrk (1 thread, 8 connections), tracing off / on / on with the pipeline on its own thread"
port_gw=18080; port_mock=19000
for delay in 0 20; do
  # 0 ms: 5 s runs (~70k requests each). 20 ms: ~380 requests/s, so 15 s runs for a p99 of
  # ~5700 samples (5 s gave ~1900, whose p99 moved by +-250 us between identical runs).
  if [ $delay = 0 ]; then dur=5; modes="off on thread"; else dur=15; modes="off on"; fi
  ./build/examples/mock_llm --port $port_mock --delay-ms $delay --chunks 4 > /dev/null & pids+=($!)
  sleep 0.3
  for i in $(seq "$runs"); do
    for tracing in $modes; do   # interleaved, so each round's runs see the same host
      flags=(--port $port_gw --upstream 127.0.0.1:$port_mock --quiet)
      case $tracing in
        off) flags+=(--no-tracing) ;;
        on) flags+=(--otlp http://127.0.0.1:14318/v1/traces) ;;
        thread) flags+=(--otlp http://127.0.0.1:14318/v1/traces --pipeline-thread) ;;
      esac
      ./build/examples/llm_gateway "${flags[@]}" > /dev/null & gw=$!
      for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port_gw/" && break; sleep 0.1; done
      line=$(wrk -t1 -c8 -d${dur}s -s bench/w5_post.lua "http://127.0.0.1:$port_gw/v1/chat/completions" | tail -1)
      kill -INT $gw; wait $gw 2> /dev/null || true
      record "{\"bench\":\"w5_gateway\",\"delay_ms\":$delay,\"tracing\":\"$tracing\",\"round\":$i,${line#\{}"
    done
  done
  kill "${pids[-1]}"; wait "${pids[-1]}" 2> /dev/null || true; unset 'pids[-1]'
done

echo "== micro-benchmarks (Google Benchmark)"
./build/bench/micro --benchmark_repetitions="$runs" --benchmark_report_aggregates_only=true \
  --benchmark_format=json --benchmark_out="$out/micro.json" --benchmark_out_format=json > /dev/null
python3 bench/summarize.py "$raw" "$out/micro.json" "$out/latest.json" "$out/latest.md"
cat "$out/latest.md"
