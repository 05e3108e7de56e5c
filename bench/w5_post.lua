-- wrk script for W5: POST a chat completion to the gateway, print one JSON line at the end.
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"How long does shipping take?"}]}'
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  io.write(string.format('{"requests":%d,"errors":%d,"rps":%.1f,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99)))
end
