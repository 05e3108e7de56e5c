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

/// Appends the protobuf encoding of an ExportTraceServiceRequest holding `batch` to `out`
/// (the body of an OTLP/HTTP request with Content-Type application/x-protobuf).
void encode_request(const span_batch& batch, const resource_info& resource, std::string& out);

} // namespace tracecraft::otlp
