// Independent check of TraceCraft's OTLP bodies: decodes request.pb(.gz) with the protobufjs
// code that the OpenTelemetry JS project generates from the official opentelemetry-proto files
// (npm @opentelemetry/otlp-transformer), parses request.json(.gz) per the OTLP/JSON rules, and
// compares every span field by field with expected.json (written from the span model).
//
// usage: node check_otlp.js <fixture-dir> <node_modules-dir>
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const [dir, modules] = process.argv.slice(2);
if (!dir || !modules) {
  console.error('usage: node check_otlp.js <fixture-dir> <node_modules-dir>');
  process.exit(2);
}
const root = require(path.join(modules, '@opentelemetry/otlp-transformer/build/src/generated/root.js'));
const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8'));

let failures = 0;
function check(cond, what) {
  if (!cond) {
    failures++;
    console.error('FAIL: ' + what);
  }
}
function eq(actual, want, what) {
  const a = JSON.stringify(actual), w = JSON.stringify(want);
  check(a === w, `${what}: got ${a}, want ${w}`);
}

// ---- normalisation of both decodings into one shape -------------------------------------
const hexOfBytes = (b) => Buffer.from(b || []).toString('hex');

function anyValue(v, json) {
  if (v.stringValue !== undefined && v.stringValue !== null) return { type: 'string', value: v.stringValue };
  if (v.boolValue !== undefined && v.boolValue !== null) return { type: 'bool', value: v.boolValue };
  if (v.intValue !== undefined && v.intValue !== null) {
    if (json) check(typeof v.intValue === 'string', `OTLP/JSON intValue must be a string, got ${JSON.stringify(v.intValue)}`);
    return { type: 'int', value: String(v.intValue) };
  }
  if (v.doubleValue !== undefined && v.doubleValue !== null) {
    const d = Number(v.doubleValue);   // NaN and the infinities compare by name
    return { type: 'double', value: Number.isFinite(d) ? d : String(d) };
  }
  if (v.arrayValue) {
    const items = (v.arrayValue.values || []).map((x) => anyValue(x, json));
    const t = items.length ? items[0].type : 'string';
    items.forEach((x) => check(x.type === t, `array mixes ${t} and ${x.type}`));
    return { type: t + '[]', value: items.map((x) => x.value) };
  }
  return { type: 'none' };
}

function attrMap(list, json) {
  const m = {};
  for (const kv of list || []) {
    check(!(kv.key in m), `duplicate attribute key ${kv.key}`);
    m[kv.key] = anyValue(kv.value || {}, json);
  }
  return m;
}

function normalise(req, json) {
  const id = (x) => (json ? x || '' : hexOfBytes(x));
  const time = (x) => {
    if (json) check(typeof x === 'string', `OTLP/JSON fixed64 times must be strings, got ${JSON.stringify(x)}`);
    return String(x);
  };
  check(req.resourceSpans && req.resourceSpans.length === 1, 'one ResourceSpans');
  const rs = req.resourceSpans[0];
  const out = { resource: attrMap(rs.resource.attributes, json), spans: [] };
  check(rs.scopeSpans.length === 1, 'one ScopeSpans');
  const ss = rs.scopeSpans[0];
  check(ss.scope && ss.scope.name === 'tracecraft', `scope name is tracecraft, got ${ss.scope && ss.scope.name}`);
  for (const s of ss.spans) {
    out.spans.push({
      traceId: id(s.traceId),
      spanId: id(s.spanId),
      parentSpanId: id(s.parentSpanId),
      name: s.name,
      kind: s.kind,
      start: time(s.startTimeUnixNano),
      end: time(s.endTimeUnixNano),
      flags: s.flags || 0,
      statusCode: (s.status && s.status.code) || 0,
      statusMessage: (s.status && s.status.message) || '',
      attributes: attrMap(s.attributes, json),
      events: (s.events || []).map((e) => ({ name: e.name, time: time(e.timeUnixNano), attributes: attrMap(e.attributes, json) })),
      links: (s.links || []).map((l) => ({ traceId: id(l.traceId), spanId: id(l.spanId), attributes: attrMap(l.attributes, json) })),
    });
  }
  return out;
}

function compare(got, label) {
  for (const kv of expected.resource) eq(got.resource[kv.key], { type: kv.type, value: kv.value }, `${label} resource ${kv.key}`);
  eq(got.spans.length, expected.spans.length, `${label} span count`);
  for (const want of expected.spans) {
    const s = got.spans.find((x) => x.spanId === want.spanId);
    check(s, `${label}: span ${want.name} (${want.spanId}) missing`);
    if (!s) continue;
    const at = `${label} span '${want.name}'`;
    for (const f of ['traceId', 'parentSpanId', 'name', 'kind', 'start', 'end', 'statusCode', 'statusMessage'])
      eq(s[f], want[f], `${at} ${f}`);
    // SpanFlags: bit 8 = HAS_IS_REMOTE, bit 9 = IS_REMOTE (opentelemetry-proto trace.proto)
    eq(s.flags & 0x300, want.remoteParent ? 0x300 : 0x100, `${at} flags`);
    for (const a of want.attributes) eq(s.attributes[a.key], { type: a.type, value: a.value }, `${at} attribute ${a.key}`);
    eq(s.events.length, want.events.length, `${at} event count`);
    want.events.forEach((e, i) => {
      const g = s.events[i] || { attributes: {} };
      eq(g.name, e.name, `${at} event ${i} name`);
      eq(g.time, e.time, `${at} event ${i} time`);
      for (const a of e.attributes) eq(g.attributes[a.key], { type: a.type, value: a.value }, `${at} event ${i} ${a.key}`);
    });
    eq(s.links.length, want.links.length, `${at} link count`);
    want.links.forEach((l, i) => {
      const g = s.links[i] || {};
      eq(g.traceId, l.traceId, `${at} link ${i} traceId`);
      eq(g.spanId, l.spanId, `${at} link ${i} spanId`);
    });
  }
  for (const d of expected.derived) {
    const s = got.spans.find((x) => x.name === d.span);
    check(s, `${label}: span ${d.span} missing`);
    if (s) eq(s.attributes[d.key], { type: d.type, value: d.value }, `${label} span '${d.span}' derived ${d.key}`);
  }
}

function read(name) {
  const raw = fs.readFileSync(path.join(dir, name));
  return name.endsWith('.gz') ? zlib.gunzipSync(raw) : raw;
}

for (const name of ['request.pb', 'request.pb.gz']) {
  const msg = Request.decode(read(name));
  check(Request.verify(msg) === null, `${name}: verify: ${Request.verify(msg)}`);
  const obj = Request.toObject(msg, { longs: String, bytes: Array, enums: Number, defaults: false, arrays: true });
  compare(normalise(obj, false), name);
}
for (const name of ['request.json', 'request.json.gz']) {
  // fatal: a body holding invalid UTF-8 throws here instead of being read leniently
  const text = new TextDecoder('utf-8', { fatal: true }).decode(read(name));
  const obj = JSON.parse(text);
  // OTLP/JSON: hex ids (not base64), lowerCamelCase keys, enums as integers.
  for (const s of obj.resourceSpans[0].scopeSpans[0].spans) {
    check(/^[0-9a-f]{32}$/.test(s.traceId), `${name}: traceId is lowercase hex: ${s.traceId}`);
    check(/^[0-9a-f]{16}$/.test(s.spanId), `${name}: spanId is lowercase hex: ${s.spanId}`);
    check(Number.isInteger(s.kind), `${name}: kind is an integer`);
  }
  check(!/"trace_id"|"span_id"|"start_time_unix_nano"/.test(text), `${name}: keys are lowerCamelCase`);
  // The same JSON must also be accepted by the official message definition.
  const viaProto = Request.fromObject(JSON.parse(text, (k, v) => v));
  check(viaProto.resourceSpans.length === 1, `${name}: fromObject`);
  compare(normalise(obj, true), name);
}

// ---- metrics: ExportMetricsServiceRequest --------------------------------------------------
const MetricsRequest = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
const mexpected = JSON.parse(fs.readFileSync(path.join(dir, 'metrics_expected.json'), 'utf8'));

function normaliseMetrics(obj, json, label) {
  const out = {};
  check(obj.resourceMetrics.length === 1, `${label}: one ResourceMetrics`);
  const rm = obj.resourceMetrics[0];
  const res = attrMap(rm.resource.attributes, json);
  check(res['service.name'] && res['service.name'].value === 'otlp-fixture', `${label}: resource service.name`);
  for (const m of rm.scopeMetrics[0].metrics) {
    const type = m.histogram ? 'histogram' : m.sum ? 'sum' : m.gauge ? 'gauge' : 'none';
    const data = m[type];
    if (type === 'sum') {
      check(data.isMonotonic === true, `${label}: ${m.name} is monotonic`);
      check(Number(data.aggregationTemporality) === 2, `${label}: ${m.name} cumulative`);
    }
    if (type === 'histogram') check(Number(data.aggregationTemporality) === 2, `${label}: ${m.name} cumulative`);
    const points = (data.dataPoints || []).map((p) => {
      const attrs = {};
      for (const kv of p.attributes || []) attrs[kv.key] = String(anyValue(kv.value || {}, json).value);
      const o = { attributes: attrs };
      check(String(p.timeUnixNano) !== '0', `${label}: ${m.name} has a time`);
      if (type === 'histogram') {
        o.count = String(p.count);
        o.sum = Number(p.sum);
        o.bucketCounts = (p.bucketCounts || []).map(String);
        check((p.explicitBounds || []).length + 1 === o.bucketCounts.length, `${label}: ${m.name} buckets = bounds + 1`);
        const total = o.bucketCounts.reduce((a, b) => a + BigInt(b), 0n);
        check(String(total) === o.count, `${label}: ${m.name} bucket counts add up to count`);
      } else {
        o.value = p.asInt !== undefined && p.asInt !== null ? String(p.asInt) : Number(p.asDouble);
      }
      return o;
    });
    out[m.name] = { type, unit: m.unit, bounds: (type === 'histogram' ? (data.dataPoints[0].explicitBounds || []) : []).map(Number), points };
  }
  return out;
}

for (const name of ['metrics.pb', 'metrics.json']) {
  let obj;
  if (name.endsWith('.pb')) {
    const msg = MetricsRequest.decode(read(name));
    check(MetricsRequest.verify(msg) === null, `${name}: verify: ${MetricsRequest.verify(msg)}`);
    obj = MetricsRequest.toObject(msg, { longs: String, bytes: Array, enums: Number, defaults: false, arrays: true });
  } else {
    obj = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(read(name)));
    check(MetricsRequest.fromObject(obj).resourceMetrics.length === 1, `${name}: fromObject`);
  }
  const got = normaliseMetrics(obj, name.endsWith('.json'), name);
  eq(Object.keys(got).sort(), Object.keys(mexpected).sort(), `${name}: metric names`);
  for (const [metric, want] of Object.entries(mexpected)) eq(got[metric], want, `${name}: ${metric}`);
}

if (failures) {
  console.error(`${failures} mismatch(es)`);
  process.exit(1);
}
console.log(`OTLP bodies match: ${expected.spans.length} spans x {protobuf, protobuf+gzip, json, json+gzip}; ` +
            `${Object.keys(mexpected).length} metrics x {protobuf, json}`);
