#!/usr/bin/env bash
# Starts `tracecraft serve` on a fresh database and a free port, then runs the browser/SDK checks:
#   run_node_checks.sh TRACECRAFT_BIN NODE_MODULES ARTIFACT_DIR sdk|viewer
set -euo pipefail
bin=$1 modules=$2 artifacts=$3 what=$4
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
mkdir -p "$artifacts"
"$bin" serve --port 0 --db "$work/traces.db" > "$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2> /dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.05; done
url=$(grep -o "http://127.0.0.1:[0-9]*" "$work/serve.log" | head -1)
[ -n "$url" ] || { cat "$work/serve.log"; exit 1; }
case "$what" in
  sdk)
    node "$here/js_sdk_export.js" "$url" "$modules" ;;
  viewer)
    node "$here/viewer_check.js" "$url/" live "$artifacts/viewer-served" "$modules" 2
    # the same viewer from one exported file, opened from disk (no server involved)
    "$bin" export "$work/traces.db" --html "$work/traces.html"
    kill $pid; wait $pid 2> /dev/null || true
    node "$here/viewer_check.js" "file://$work/traces.html" static "$artifacts/viewer-exported" "$modules" 3 ;;
  *) echo "unknown check $what"; exit 2 ;;
esac
