// The protobuf encoder's forms for reused buffers and sliced batches (private to the library:
// the OTLP/HTTP exporter, tests and micro-benchmarks).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tracecraft/otlp/protobuf.hpp"

namespace tracecraft::otlp {

/// OTLP SpanKind for a TraceCraft kind: LLM calls are CLIENT, everything else INTERNAL.

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
