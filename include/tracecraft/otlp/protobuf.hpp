// TraceCraft C++ — OTLP ExportTraceServiceRequest encoding (protobuf wire format), written by
// hand: no libprotobuf dependency. Field numbers follow opentelemetry-proto
// (collector/trace/v1/trace_service.proto, trace/v1/trace.proto, common/v1/common.proto,
// resource/v1/resource.proto).
//
// This layer encodes what a span recorded (its attributes, events, links, status, ids and
// times) plus the resource and instrumentation scope; semantic-convention attributes (GenAI,
// OpenInference) are added by the OTLP exporter on top.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tracecraft/attribute.hpp"
#include "tracecraft/exporter.hpp"
#include "tracecraft/otlp/semconv.hpp"

namespace tracecraft::otlp {

struct resource_info {
    std::vector<std::pair<std::string, attribute_value>> attributes;   ///< e.g. service.name
    std::string scope_name = "tracecraft";
    std::string scope_version = "0.1.0";
    dialect conventions = dialect::both;   ///< semantic-convention attributes added per span
};

/// OTLP SpanKind for a TraceCraft kind: LLM calls are CLIENT, everything else INTERNAL.
[[nodiscard]] int otlp_span_kind(span_kind k) noexcept;

/// Appends the protobuf encoding of an ExportTraceServiceRequest holding `batch` to `out`.
void encode_request(const span_batch& batch, const resource_info& resource, std::string& out);
/// The same without a copy: replaces `buf`'s contents; the request is buf[offset, size()).
/// (Reuse `buf` across batches to keep its capacity.)
[[nodiscard]] std::size_t encode_request_in_place(const span_batch& batch, const resource_info& resource, std::string& buf);
/// The fastest form for a buffer reused across batches: the request is the returned view into
/// `buf`, whose size is left at its high-water mark (so growing it again never re-zeroes it).
[[nodiscard]] std::string_view encode_request_into(const span_batch& batch, const resource_info& resource, std::string& buf);
/// A batch in slices, for an encoder that yields between them: appends to buf[end, ...) the
/// request for the whole traces from `first_trace` on, up to `max_spans` spans (at least one
/// trace), advances `end`, and returns the next trace's index (trace_count() when done). The
/// parts, concatenated in buf[0, end), are one ExportTraceServiceRequest with a ResourceSpans
/// per part (protobuf concatenates repeated fields). buf keeps its high-water size.
[[nodiscard]] std::size_t encode_request_part(const span_batch& batch, std::size_t first_trace, std::size_t max_spans,
                                              const resource_info& resource, std::string& buf, std::size_t& end);

} // namespace tracecraft::otlp
