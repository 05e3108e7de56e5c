// The JSON the viewer reads (GET /api/traces, GET /api/traces/{id}; also `view --json`,
// `query --format json` and the data inlined by `export --html`). docs/tracecraft-tool.md
// documents every field.
#pragma once

#include <boost/json/object.hpp>

#include "trace_store.hpp"

namespace tctool {

[[nodiscard]] boost::json::object summary_json(const trace_summary& t);
[[nodiscard]] boost::json::object span_json(const span_record& s, std::int64_t trace_start_ns);
/// {"trace": summary, "spans": [...]} (spans in start order).
[[nodiscard]] boost::json::object trace_json(const trace_summary& t, const std::vector<span_record>& spans);
/// {"traces": [...], "total": N, "version": V}
[[nodiscard]] boost::json::object list_json(const std::vector<trace_summary>& traces, std::int64_t total, std::int64_t version);

/// The OTLP SpanKind name ("server", ...) and status name ("unset", "ok", "error").
[[nodiscard]] std::string_view otel_kind_name(int k) noexcept;
[[nodiscard]] std::string_view status_name(int code) noexcept;

} // namespace tctool
