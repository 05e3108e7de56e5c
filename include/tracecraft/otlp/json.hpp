// TraceCraft C++ — OTLP/JSON encoding of an ExportTraceServiceRequest, per the OTLP
// specification's JSON mapping: lowerCamelCase field names, trace and span ids as lowercase
// hex, 64-bit integers (intValue, *TimeUnixNano) as decimal strings, enums as integers,
// default values omitted. Written directly (no intermediate JSON tree).
#pragma once

#include <string>

#include "tracecraft/otlp/protobuf.hpp"

namespace tracecraft::otlp {

/// Appends the OTLP/JSON encoding of `batch` to `out`.
void encode_request_json(const span_batch& batch, const resource_info& resource, std::string& out);

} // namespace tracecraft::otlp
