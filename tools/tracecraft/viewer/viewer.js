// TraceCraft trace viewer: a trace list and a trace page (waterfall + span detail).
// Served by `tracecraft serve` (reads /api/traces and /api/traces/{id}, polls /api/version for
// live updates) or inlined by `tracecraft export --html` (reads window.TRACECRAFT_DATA).
(function () {
  "use strict";
  const DATA = window.TRACECRAFT_DATA || null;
  const app = document.getElementById("app");
  const live = document.getElementById("live");
  let version = null;
  let filters = { name: "", service: "", model: "", error: false, min_duration_ms: "", min_cost: "" };
  let selectedSpan = null;

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "style") e.setAttribute("style", v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return e;
  }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms >= 60000) return (ms / 60000).toFixed(1) + " min";
    if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
    if (ms >= 10) return ms.toFixed(0) + " ms";
    return ms.toFixed(2) + " ms";
  }
  function fmtCost(c) { return c ? "$" + c.toFixed(c < 0.01 ? 5 : 4) : "–"; }
  function fmtTime(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "–"; }
  function badge(kind) { return el("span", { class: "badge k-" + kind }, kind); }
  function valueText(v) { return typeof v === "string" ? v : JSON.stringify(v); }
  function pretty(v) {
    if (typeof v === "string") {
      try { const p = JSON.parse(v); if (p && typeof p === "object") return JSON.stringify(p, null, 2); } catch (e) { /* text */ }
      return v;
    }
    return JSON.stringify(v, null, 2);
  }

  // ------------------------------------------------------------------ data access
  function matchesFilters(t) {
    if (filters.name && !t.name.toLowerCase().includes(filters.name.toLowerCase())) return false;
    if (filters.service && t.service !== filters.service) return false;
    if (filters.model && !t.models.includes(filters.model)) return false;
    if (filters.error && !t.error_count) return false;
    if (filters.min_duration_ms && t.duration_ms < Number(filters.min_duration_ms)) return false;
    if (filters.min_cost && t.cost_usd < Number(filters.min_cost)) return false;
    return true;
  }
  async function getJson(url) {
    const r = await fetch(url, { cache: "no-store" });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || body.message || ("HTTP " + r.status));
    return body;
  }
  async function loadList() {
    if (DATA) {
      const traces = DATA.list.traces.filter(matchesFilters);
      return { traces: traces, total: traces.length, version: 0 };
    }
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v === true ? "1" : v);
    return getJson("api/traces?" + q.toString());
  }
  async function loadTrace(id) {
    if (DATA) {
      const t = DATA.traces[id];
      if (!t) throw new Error("no trace " + id + " in this file");
      return t;
    }
    return getJson("api/traces/" + encodeURIComponent(id));
  }

  // ------------------------------------------------------------------ list page
  function filterForm() {
    const input = (name, label, type) => el("label", {}, label + " ",
      el("input", { type: type || "text", name: name, value: filters[name], step: type === "number" ? "any" : null,
        oninput: (e) => { filters[name] = e.target.value; renderList(); } }));
    return el("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      input("name", "Name"), input("service", "Service"), input("model", "Model"),
      input("min_duration_ms", "Min ms", "number"), input("min_cost", "Min $", "number"),
      el("label", {}, el("input", { type: "checkbox", name: "error", checked: filters.error,
        onchange: (e) => { filters.error = e.target.checked; renderList(); } }), " errors only"));
  }
  let listSeq = 0;
  async function renderList() {
    const seq = ++listSeq;
    let data;
    try { data = await loadList(); } catch (e) { return showError(e); }
    if (seq !== listSeq || currentRoute().page !== "list") return;
    const form = app.querySelector("form.filters") || filterForm();
    const rows = data.traces.map((t) => el("tr", {
        class: "trace-row" + (t.error_count ? " has-error" : ""), "data-trace-id": t.trace_id,
        onclick: () => { location.hash = "#/trace/" + t.trace_id; } },
      el("td", {}, fmtTime(t.start_time)), el("td", { class: "name" }, t.name || "(unnamed)"), el("td", {}, t.service || "–"),
      el("td", { class: "num" }, fmtMs(t.duration_ms)), el("td", { class: "num" }, t.span_count),
      el("td", { class: "num" }, t.total_tokens || "–"), el("td", { class: "num" }, fmtCost(t.cost_usd)),
      el("td", { class: "num" + (t.error_count ? " err" : "") }, t.error_count || "–"),
      el("td", {}, t.models.join(", "))));
    const table = el("table", { class: "traces" },
      el("thead", {}, el("tr", {}, ["Time", "Name", "Service", "Duration", "Spans", "Tokens", "Cost", "Errors", "Models"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows));
    const count = el("p", { class: "empty", id: "count" }, data.total + " trace" + (data.total === 1 ? "" : "s") +
      (data.traces.length < data.total ? " (newest " + data.traces.length + " shown)" : ""));
    app.replaceChildren(form, count, data.traces.length ? table : el("p", { class: "empty" }, "No traces yet. Send OTLP to /v1/traces."));
  }

  // ------------------------------------------------------------------ trace page
  function spanTree(spans) {
    const byId = new Map(spans.map((s) => [s.span_id, s]));
    const children = new Map();
    const roots = [];
    for (const s of spans) {
      if (s.parent_id && byId.has(s.parent_id)) {
        if (!children.has(s.parent_id)) children.set(s.parent_id, []);
        children.get(s.parent_id).push(s);
      } else roots.push(s);
    }
    const out = [];
    const walk = (s, depth) => {
      out.push({ span: s, depth: depth });
      for (const c of children.get(s.span_id) || []) walk(c, depth + 1);
    };
    roots.forEach((r) => walk(r, 0));
    return out;
  }
  function detailPanel(s) {
    if (!s) return el("div", { class: "detail" }, el("p", { class: "empty" }, "Select a span to see its attributes."));
    const rows = (obj, keepOrder) => el("table", {}, (keepOrder ? Object.keys(obj) : Object.keys(obj).sort()).map((k) =>
      el("tr", {}, el("td", { class: "key" }, k), el("td", {}, valueText(obj[k])))));
    const a = s.attributes || {};
    const io = [];
    for (const [key, label] of [["input.value", "Input"], ["gen_ai.input.messages", "Input messages"],
                                ["output.value", "Output"], ["gen_ai.output.messages", "Output messages"]])
      if (a[key] !== undefined) io.push(el("h4", {}, label), el("pre", {}, pretty(a[key])));
    const facts = { "span id": s.span_id, "parent id": s.parent_id || "–", kind: s.kind, "span kind": s.otel_kind,
      start: s.start_time, duration: fmtMs(s.duration_ms), status: s.status.code + (s.status.message ? ": " + s.status.message : ""),
      service: s.service || "–" };
    if (s.model) facts.model = s.model;
    if (s.input_tokens !== null || s.output_tokens !== null) facts.tokens = (s.input_tokens || 0) + " in / " + (s.output_tokens || 0) + " out";
    if (s.cost_usd !== null) facts.cost = fmtCost(s.cost_usd);
    return el("div", { class: "detail", id: "span-detail" },
      el("h3", {}, badge(s.kind), " ", s.name),
      s.status.code === "error" ? el("p", { class: "err" }, "Error: " + (s.status.message || "(no message)")) : null,
      rows(facts, true), io,
      el("h4", {}, "Attributes"), Object.keys(a).length ? rows(a) : el("p", { class: "empty" }, "none"),
      el("h4", {}, "Events"), s.events.length ? el("table", {}, s.events.map((e) =>
        el("tr", {}, el("td", { class: "key" }, fmtMs(e.offset_ms) + " " + e.name), el("td", {}, JSON.stringify(e.attributes))))) :
        el("p", { class: "empty" }, "none"),
      el("h4", {}, "Resource"), rows(s.resource || {}));
  }
  async function renderTrace(id) {
    let data;
    try { data = await loadTrace(id); } catch (e) { return showError(e); }
    if (currentRoute().id !== id) return;
    const t = data.trace;
    const total = Math.max(t.duration_ms, 1e-6);
    const items = spanTree(data.spans);
    if (!selectedSpan || !data.spans.some((s) => s.span_id === selectedSpan)) selectedSpan = items.length ? items[0].span.span_id : null;
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => el("span", { class: "tick" + (f === 0 ? " first" : f === 1 ? " last" : ""), style: "left:" + (f * 100) + "%" }, fmtMs(f * total)));
    const detailHolder = el("div", {});
    const rows = items.map(({ span: s, depth }) => {
      const left = Math.min(100, Math.max(0, (s.offset_ms / total) * 100));
      const width = Math.max(0.2, Math.min(100 - left, (s.duration_ms / total) * 100));
      const isErr = s.status.code === "error";
      const row = el("div", { class: "wf-row" + (isErr ? " is-error" : "") + (s.span_id === selectedSpan ? " selected" : ""),
          "data-span-id": s.span_id, title: s.name + " — " + fmtMs(s.duration_ms),
          onclick: () => { selectedSpan = s.span_id; app.querySelectorAll(".wf-row.selected").forEach((r) => r.classList.remove("selected"));
            row.classList.add("selected"); detailHolder.replaceChildren(detailPanel(s)); } },
        el("div", { class: "wf-name", style: "padding-left:" + (8 + depth * 16) + "px" }, badge(s.kind), isErr ? "✕ " : "", s.name),
        el("div", { class: "wf-track" }, el("div", { class: "wf-bar k-" + s.kind + (isErr ? " is-error" : ""),
          style: "left:" + left + "%;width:" + width + "%" })),
        el("div", { class: "wf-dur" }, fmtMs(s.duration_ms)));
      return row;
    });
    detailHolder.replaceChildren(detailPanel(data.spans.find((s) => s.span_id === selectedSpan)));
    app.replaceChildren(
      el("p", {}, el("a", { class: "back", href: "#/" }, "← all traces")),
      el("div", { class: "trace-head" }, el("h2", {}, t.name || "(unnamed)"),
        el("span", { class: "meta" }, fmtTime(t.start_time)), el("span", { class: "meta" }, fmtMs(t.duration_ms)),
        el("span", { class: "meta" }, t.span_count + " spans"), el("span", { class: "meta" }, (t.total_tokens || 0) + " tokens"),
        el("span", { class: "meta" }, fmtCost(t.cost_usd)),
        t.error_count ? el("span", { class: "err" }, t.error_count + " error" + (t.error_count > 1 ? "s" : "")) : null,
        el("span", { class: "meta" }, "trace " + t.trace_id)),
      el("div", { class: "layout" },
        el("div", { class: "waterfall", id: "waterfall" },
          el("div", { class: "axis" }, el("div", {}, ""), el("div", { class: "ticks" }, ticks), el("div", {}, "")), rows),
        detailHolder));
  }

  // ------------------------------------------------------------------ routing and live updates
  function currentRoute() {
    const m = location.hash.match(/^#\/trace\/([0-9a-fA-F-]+)$/);
    return m ? { page: "trace", id: m[1] } : { page: "list" };
  }
  function showError(e) { app.replaceChildren(el("div", { class: "error-box" }, String(e.message || e))); }
  function route() {
    const r = currentRoute();
    if (r.page === "trace") { selectedSpan = null; renderTrace(r.id); } else renderList();
  }
  async function poll() {
    try {
      const v = (await getJson("api/version")).version;
      live.textContent = "live";
      if (version !== null && v !== version) {
        const r = currentRoute();
        if (r.page === "trace") renderTrace(r.id); else renderList();
      }
      version = v;
    } catch (e) { live.textContent = "receiver unreachable"; }
  }
  window.addEventListener("hashchange", route);
  if (DATA && DATA.open_trace && !location.hash) location.hash = "#/trace/" + DATA.open_trace;
  route();
  if (!DATA) { poll(); setInterval(poll, 1500); } else { live.textContent = "exported " + (DATA.exported_at || ""); }
})();
