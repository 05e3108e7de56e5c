// The `tracecraft` tool's model of a span: what every source (OTLP protobuf, OTLP/JSON, a
// TraceCraft JSONL file) decodes into, and what the store keeps.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace tctool {

/// Bad input: the message names the field (and the line, for files).
struct input_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct span_event {
    std::int64_t time_ns = 0;
    std::string name;
    boost::json::object attributes;
};

struct span_record {
    std::string trace_id;    ///< 32 lowercase hex
    std::string span_id;     ///< 16 lowercase hex
    std::string parent_id;   ///< 16 lowercase hex, empty for a root
    std::string name;
    std::string kind;        ///< TraceCraft kind: agent, llm, tool, retrieval, workflow, ... (derived)
    int otel_kind = 0;       ///< OTLP SpanKind (0 unspecified .. 5 consumer)
    std::int64_t start_ns = 0, end_ns = 0;
    int status_code = 0;     ///< 0 unset, 1 ok, 2 error
    std::string status_message;
    std::string service;     ///< resource service.name
    std::string scope;       ///< instrumentation scope name
    boost::json::object attributes;
    boost::json::object resource;
    std::vector<span_event> events;
    // derived from the attributes by derive_fields()
    std::string model;
    std::optional<std::int64_t> input_tokens, output_tokens;
    std::optional<double> cost_usd;

    [[nodiscard]] std::int64_t duration_ns() const noexcept { return end_ns > start_ns ? end_ns - start_ns : 0; }
};

/// Fills kind, model, tokens and cost from the attributes (the OTel GenAI conventions, the
/// OpenInference ones and TraceCraft's own), as the importer of the Python SDK does.
void derive_fields(span_record& s);

/// True for 32 (trace) or 16 (span) lowercase hex digits that are not all zero.
[[nodiscard]] bool valid_hex_id(std::string_view id, std::size_t digits) noexcept;
/// Lowercase hex of raw bytes.
[[nodiscard]] std::string to_hex(std::string_view bytes);
/// Normalises a user-typed trace id (hex, any case, or a UUID with dashes); empty if invalid.
[[nodiscard]] std::string normalise_trace_id(std::string_view text);

/// "2026-12-01T05:06:07.123456Z" for Unix nanoseconds.
[[nodiscard]] std::string iso_time(std::int64_t unix_ns);
/// Parses ISO-8601 UTC ("2026-12-01T05:06:07[.frac][Z|+00:00]"); nullopt if malformed.
[[nodiscard]] std::optional<std::int64_t> parse_iso_time(std::string_view text);

} // namespace tctool
