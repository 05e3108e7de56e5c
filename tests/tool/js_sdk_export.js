// The OpenTelemetry JS SDK (BasicTracerProvider + SimpleSpanProcessor, so every span is its own
// export request) sends traces to `tracecraft serve` with the OTLP/HTTP protobuf exporter and with
// the OTLP/HTTP JSON exporter; the receiver's API must then show each trace merged, with the
// SDK's own ids, typed attributes, events and error status.
//   node js_sdk_export.js BASE_URL NODE_MODULES
"use strict";
const path = require("path");
const assert = require("assert");
const [base, modules] = process.argv.slice(2);
const load = (m) => require(path.join(modules, m));
const api = load("@opentelemetry/api");
const { BasicTracerProvider, SimpleSpanProcessor } = load("@opentelemetry/sdk-trace-base");
const { OTLPTraceExporter: ProtoExporter } = load("@opentelemetry/exporter-trace-otlp-proto");
const { OTLPTraceExporter: JsonExporter } = load("@opentelemetry/exporter-trace-otlp-http");
const { resourceFromAttributes } = load("@opentelemetry/resources");

const sdkErrors = [];
api.diag.setLogger({ error: (...a) => sdkErrors.push(a.join(" ")), warn: (...a) => sdkErrors.push(a.join(" ")),
                     info() {}, debug() {}, verbose() {} }, api.DiagLogLevel.WARN);

async function sendWith(label, exporter) {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "js-sdk-" + label, "deployment.environment.name": "test" }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer("tracecraft-interop", "1.0.0");
  const root = tracer.startSpan("js-agent-" + label, { kind: api.SpanKind.SERVER, attributes: {
    "http.request.method": "POST", "url.path": "/chat", "session.id": "js-session", "tag.tags": ["a", "b"] } });
  const rootCtx = api.trace.setSpan(api.context.active(), root);
  const llm = tracer.startSpan("chat gpt-4o", { kind: api.SpanKind.CLIENT, attributes: {
    "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 34, "gen_ai.request.temperature": 0.25, "gen_ai.request.stream": true,
    "gen_ai.request.stop_sequences": ["\n\n", "END"], "note": "ünïcödé ✓" } }, rootCtx);
  llm.addEvent("first_token", { "ms": 42 });
  const llmCtx = api.trace.setSpan(rootCtx, llm);
  const tool = tracer.startSpan("lookup", { attributes: { "gen_ai.operation.name": "execute_tool" } }, llmCtx);
  tool.setStatus({ code: api.SpanStatusCode.ERROR, message: "tool timed out" });
  tool.end();
  llm.end();
  root.end();
  await provider.forceFlush();
  await provider.shutdown();
  return { traceId: root.spanContext().traceId, root: root.spanContext().spanId, llm: llm.spanContext().spanId,
           tool: tool.spanContext().spanId };
}

async function getJson(url) {
  const r = await fetch(url);
  assert.strictEqual(r.status, 200, url + " -> " + r.status);
  return r.json();
}

(async () => {
  const sent = {
    proto: await sendWith("proto", new ProtoExporter({ url: base + "/v1/traces" })),
    json: await sendWith("json", new JsonExporter({ url: base + "/v1/traces" })),
  };
  assert.deepStrictEqual(sdkErrors, [], "the SDK reported export errors");
  for (const [label, ids] of Object.entries(sent)) {
    const t = await getJson(base + "/api/traces/" + ids.traceId);
    assert.strictEqual(t.trace.name, "js-agent-" + label);
    assert.strictEqual(t.trace.span_count, 3, label + ": three requests merged into one trace");
    assert.strictEqual(t.trace.service, "js-sdk-" + label);
    assert.strictEqual(t.trace.error_count, 1);
    assert.strictEqual(t.trace.total_tokens, 46);
    assert.strictEqual(t.trace.session_id, "js-session");
    assert.deepStrictEqual(t.trace.tags, ["a", "b"]);
    const byId = Object.fromEntries(t.spans.map((s) => [s.span_id, s]));
    const root = byId[ids.root], llm = byId[ids.llm], tool = byId[ids.tool];
    assert.ok(root && llm && tool, label + ": every span id as the SDK made it");
    assert.strictEqual(root.parent_id, null);
    assert.strictEqual(root.otel_kind, "server");
    assert.strictEqual(llm.parent_id, ids.root);
    assert.strictEqual(tool.parent_id, ids.llm);
    assert.strictEqual(llm.kind, "llm");
    assert.strictEqual(tool.kind, "tool");
    assert.strictEqual(llm.otel_kind, "client");
    assert.strictEqual(llm.model, "gpt-4o");
    assert.strictEqual(llm.input_tokens, 12);
    assert.strictEqual(llm.output_tokens, 34);
    assert.strictEqual(llm.attributes["gen_ai.request.temperature"], 0.25);
    assert.strictEqual(llm.attributes["gen_ai.request.stream"], true);
    assert.deepStrictEqual(llm.attributes["gen_ai.request.stop_sequences"], ["\n\n", "END"]);
    assert.strictEqual(llm.attributes["note"], "ünïcödé ✓");
    assert.strictEqual(llm.events.length, 1);
    assert.strictEqual(llm.events[0].name, "first_token");
    assert.strictEqual(llm.events[0].attributes.ms, 42);
    assert.strictEqual(tool.status.code, "error");
    assert.strictEqual(tool.status.message, "tool timed out");
    assert.strictEqual(root.resource["deployment.environment.name"], "test");
    assert.ok(llm.duration_ms >= 0 && llm.offset_ms >= 0);
    console.log(label + ": trace " + ids.traceId + " stored with 3 spans, ids, attributes and events intact");
  }
})().catch((e) => { console.error(e); process.exit(1); });
