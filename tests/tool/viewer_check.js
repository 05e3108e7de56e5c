// Opens the trace viewer in headless Chromium (Debian's chromium, driven by playwright-core):
// the list shows the expected traces, clicking one shows its waterfall with every span, clicking
// a span shows its attributes; in "live" mode a trace posted while the page is open appears
// without a reload. Screenshots are saved as test artifacts.
//   node viewer_check.js URL MODE(live|static) ARTIFACT_PREFIX NODE_MODULES [EXPECTED_TRACES]
"use strict";
const path = require("path");
const assert = require("assert");
const [url, mode, prefix, modules, expectedArg] = process.argv.slice(2);
const { chromium } = require(path.join(modules, "playwright-core"));

const base = BigInt(Date.now()) * 1000000n;   // one time origin for every post (parts of one trace)
function otlpTrace(traceId, name, spans) {
  return { resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "viewer-test" } }] },
    scopeSpans: [{ scope: { name: "viewer-check" }, spans: spans.map((s) => ({
      traceId, spanId: s.id, parentSpanId: s.parent || "", name: s.name, kind: 1,
      startTimeUnixNano: String(base + BigInt(s.start) * 1000000n), endTimeUnixNano: String(base + BigInt(s.end) * 1000000n),
      attributes: (s.attrs || []).map(([k, v]) => ({ key: k, value: typeof v === "number" ? { intValue: v } : { stringValue: v } })),
      status: s.error ? { code: 2, message: s.error } : {} })) }] }] };
}

async function post(body) {
  const r = await fetch(new URL("v1/traces", url), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.strictEqual(r.status, 200, "POST /v1/traces -> " + r.status);
}

const agentTrace = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const agentSpans = [
  { id: "1000000000000001", name: "support_agent", start: 0, end: 900, attrs: [["tracecraft.step.type", "agent"], ["input.value", "Where is my order?"]] },
  { id: "1000000000000002", parent: "1000000000000001", name: "plan", start: 10, end: 200,
    attrs: [["gen_ai.operation.name", "chat"], ["gen_ai.request.model", "gpt-4o"], ["gen_ai.usage.input_tokens", 40], ["gen_ai.usage.output_tokens", 12]] },
  { id: "1000000000000003", parent: "1000000000000001", name: "lookup_order", start: 210, end: 600, error: "order service timed out",
    attrs: [["gen_ai.operation.name", "execute_tool"]] },
  { id: "1000000000000004", parent: "1000000000000003", name: "http GET /orders", start: 220, end: 590 },
  { id: "1000000000000005", parent: "1000000000000001", name: "reply", start: 610, end: 890,
    attrs: [["gen_ai.operation.name", "chat"], ["gen_ai.request.model", "gpt-4o-mini"]] },
];

(async () => {
  if (mode === "live") {   // the fixture: posted through the receiver like any SDK would
    await post(otlpTrace(agentTrace, "support_agent", agentSpans.slice(1)));   // children first, root later: merged
    await post(otlpTrace(agentTrace, "support_agent", agentSpans.slice(0, 1)));
    await post(otlpTrace("b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2", "rag", [{ id: "2000000000000001", name: "rag_query", start: 0, end: 120 }]));
  }
  const expected = Number(expectedArg || 2);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
                                          args: ["--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 820 } });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
  await page.goto(url);
  await page.waitForFunction((n) => document.querySelectorAll("tr.trace-row").length === n, expected, { timeout: 15000 });
  const names = await page.$$eval("tr.trace-row td.name", (tds) => tds.map((t) => t.textContent));
  assert.ok(names.includes("support_agent"), "the list names the trace: " + names);
  await page.screenshot({ path: prefix + "-list.png" });

  if (mode === "live") {   // a new trace appears without a reload
    await post(otlpTrace("c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3", "late", [{ id: "3000000000000001", name: "late_arrival", start: 0, end: 5 }]));
    await page.waitForFunction((n) => document.querySelectorAll("tr.trace-row").length === n, expected + 1, { timeout: 10000 });
  }

  await page.click("tr.trace-row:has-text('support_agent')");
  await page.waitForSelector("#waterfall .wf-row");
  const rows = await page.$$eval("#waterfall .wf-row", (rs) => rs.map((r) => ({ name: r.querySelector(".wf-name").textContent,
    error: r.classList.contains("is-error"), left: parseFloat(r.querySelector(".wf-bar").style.left) })));
  assert.strictEqual(rows.length, agentSpans.length, "one waterfall row per span");
  for (const s of agentSpans) assert.ok(rows.some((r) => r.name.includes(s.name)), "row for " + s.name);
  assert.deepStrictEqual(rows.filter((r) => r.error).map((r) => r.name.replace(/^\w+✕ /, "")), ["lookup_order"]);
  assert.ok(rows[0].name.includes("support_agent") && rows[0].left === 0, "the root first, at time 0");
  const order = rows.map((r) => r.name);
  assert.ok(order.findIndex((n) => n.includes("http GET")) === order.findIndex((n) => n.includes("lookup_order")) + 1, "nesting: child after parent");
  await page.click(".wf-row:has-text('plan')");
  await page.waitForFunction(() => document.querySelector("#span-detail h3").textContent.includes("plan"));
  const detail = await page.textContent("#span-detail");
  assert.ok(detail.includes("gen_ai.request.model") && detail.includes("gpt-4o"), "the span's attributes");
  await page.click(".wf-row:has-text('lookup_order')");
  await page.waitForFunction(() => document.querySelector("#span-detail").textContent.includes("order service timed out"));
  await page.screenshot({ path: prefix + "-trace.png" });
  assert.deepStrictEqual(pageErrors, [], "no script errors in the page");
  await browser.close();
  console.log(mode + ": list of " + expected + " traces, waterfall of " + rows.length + " spans, detail panel: ok (" + prefix + "-*.png)");
})().catch((e) => { console.error(e); process.exit(1); });
