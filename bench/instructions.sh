#!/usr/bin/env bash
# Instruction counts under callgrind: what tracing adds, as a number the host's noise cannot
# move. (Timings on the shared 2-vCPU VM drift by +-20 % within minutes; instructions executed
# are deterministic to a few per mille.) Complements bench/run.sh, does not replace it: fewer
# instructions is not always less time, but every cost found here was found by diffing these.
#   bench/instructions.sh        # ~2 minutes; writes bench/results/instructions.{json,md}
# Figures (differences of two runs of different length, so start-up and shutdown cancel):
#   W1, W2, W2e   instructions per span, net of the bare loop (span_overhead), GenAI metrics on
#                 (the default); W1 and W2 again with TRACECRAFT_METRICS=false: the difference
#                 is what the metrics cost (recorded spans on W1, metric probes on W2)
#   context slot  instructions added per co_await resumption (span_overhead resume[_traced])
#   W5            instructions per request of the gateway process, tracing off and on
#                 (callgrind counters zeroed after a warm-up, dumped after a fixed wrk run)
# Installs valgrind, nginx and wrk when missing (as bench/run.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh valgrind nginx libnginx-mod-http-echo wrk python3
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j "$(nproc)" --target span_overhead llm_gateway mock_llm

out=bench/results
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2> /dev/null || true; wait 2> /dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# instructions executed by a whole program run
count() {
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@" > /dev/null 2> "$work/vg.log"
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/vg.log"
}
# (count(2n) - count(n)) / n
per() {
  local mode=$1 n=$2 a b
  a=$(count ./build/bench/span_overhead "$mode" "$n")
  b=$(count ./build/bench/span_overhead "$mode" $((2 * n)))
  python3 -c "print(($b - $a) / $n)"
}

lines=()
echo "== W1 / W2 / W2e (instructions per agent run of 4 spans, then per span)"
base=$(per baseline 20000)
for m in w1 w2 w2e w1:off w2:off; do
  # paired modes run the bare loop beside the traced one: subtract it twice
  if [ "${m#*:}" = off ]; then export TRACECRAFT_METRICS=false; fig="${m%:off}_no_metrics"; else unset TRACECRAFT_METRICS; fig=$m; fi
  v=$(per "${m%:off}" 20000)
  lines+=("{\"bench\":\"instructions\",\"figure\":\"$fig\",\"per\":\"span\",\"instructions\":$(python3 -c "print(round(($v - 2 * $base) / 4, 1))"),\"bare_loop_per_run\":$(python3 -c "print(round($base, 1))")}")
  echo "${lines[-1]}"
done
unset TRACECRAFT_METRICS

echo "== context slot (instructions per resumption)"
plain=$(per resume 200000)
traced=$(per resume_traced 200000)
lines+=("{\"bench\":\"instructions\",\"figure\":\"context_slot\",\"per\":\"resumption\",\"plain\":$(python3 -c "print(round($plain, 1))"),\"traced\":$(python3 -c "print(round($traced, 1))"),\"instructions\":$(python3 -c "print(round($traced - $plain, 1))")}")
echo "${lines[-1]}"

echo "== W5 gateway, upstream 0 ms (instructions per request of the gateway process)"
mkdir -p "$work/sink/logs" "$work/sink/tmp"
cp bench/sink-nginx.conf "$work/sink/nginx.conf"
nginx -p "$work/sink" -c "$work/sink/nginx.conf" & pids+=($!)
./build/examples/mock_llm --port 19000 --delay-ms 0 --chunks 4 > /dev/null & pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null -X POST http://127.0.0.1:14318/v1/traces && break; sleep 0.1; done
declare -A w5
for tracing in off on; do
  flags=(--port 18080 --upstream 127.0.0.1:19000 --quiet)
  if [ $tracing = off ]; then flags+=(--no-tracing); else flags+=(--otlp http://127.0.0.1:14318/v1/traces); fi
  valgrind --tool=callgrind --callgrind-out-file="$work/gw.$tracing" ./build/examples/llm_gateway "${flags[@]}" \
    > /dev/null 2> "$work/gw.$tracing.log" & gw=$!
  for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:18080/" && break; sleep 0.2; done
  wrk -t1 -c8 -d3s -s bench/w5_post.lua "http://127.0.0.1:18080/v1/chat/completions" > /dev/null   # warm-up
  callgrind_control -z $gw > /dev/null 2>&1
  res=$(wrk -t1 -c8 -d10s -s bench/w5_post.lua "http://127.0.0.1:18080/v1/chat/completions" | tail -1)
  callgrind_control -d $gw > /dev/null 2>&1
  kill -INT $gw; wait $gw 2> /dev/null || true
  dump=$(ls -t "$work"/gw.$tracing.* | grep -v '\.log$' | head -1)
  ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$dump")
  w5[$tracing]=$(python3 -c "import json; print($ir / json.loads('''$res''')['requests'])")
done
lines+=("{\"bench\":\"instructions\",\"figure\":\"w5_gateway_0ms\",\"per\":\"request\",\"off\":$(python3 -c "print(round(${w5[off]}))"),\"on\":$(python3 -c "print(round(${w5[on]}))"),\"instructions\":$(python3 -c "print(round(${w5[on]} - ${w5[off]}))"),\"ratio_off_over_on\":$(python3 -c "print(round(${w5[off]} / ${w5[on]}, 3))")}")
echo "${lines[-1]}"

printf '%s\n' "${lines[@]}" > "$out/instructions.json"
python3 - "$out/instructions.json" "$out/instructions.md" <<'PY'
import json, sys, datetime, platform
rows = {r["figure"]: r for r in map(json.loads, open(sys.argv[1]))}
md = [f"Instructions executed (callgrind, valgrind {platform.machine()}), {datetime.date.today()}; `bench/instructions.sh`.", "",
      "| figure | instructions |", "|---|---|"]
for m, label in (("w1", "W1 all kept, per span (net of the bare loop)"),
                 ("w2", "W2 rate 0, per span (net)"),
                 ("w2e", "W2 rate 0 + keep errors, per span (net)"),
                 ("w1_no_metrics", "W1 without GenAI metrics, per span (net)"),
                 ("w2_no_metrics", "W2 without GenAI metrics, per span (net)")):
    md.append(f"| {label} | {rows[m]['instructions']:.0f} |")
c = rows["context_slot"]
md.append(f"| context slot, added per resumption | {c['instructions']:.0f} (plain {c['plain']:.0f}, traced {c['traced']:.0f}) |")
w = rows["w5_gateway_0ms"]
md.append(f"| W5 gateway 0 ms, per request: off → on | {w['off']:,} → {w['on']:,} (+{w['instructions']:,}; off/on {w['ratio_off_over_on']}) |")
open(sys.argv[2], "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
