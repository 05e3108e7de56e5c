// Making a finished trace's strings valid UTF-8 before export (private to the library).
#pragma once

#include <cstddef>

namespace tracecraft::detail {

struct trace_buffer;

/// Replaces every byte of the trace's strings (span names, status messages, attribute keys and
/// values, event names and attributes, link attributes) that is not part of a well-formed UTF-8
/// sequence by U+FFFD, copying the repaired strings into the span's arena. Receivers reject a
/// whole OTLP request that holds one invalid string (protobuf `string` fields and JSON text must
/// be UTF-8), so one bad attribute would lose a batch. Returns how many strings were repaired.
/// An ASCII check per string when nothing needs repair. On the pipeline strand.
std::size_t repair_utf8(trace_buffer* t);

} // namespace tracecraft::detail
