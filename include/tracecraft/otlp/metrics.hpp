// TraceCraft C++ — OTLP ExportMetricsServiceRequest encoding (protobuf wire format and the
// OTLP/JSON mapping) of a metrics_snapshot. Field numbers follow opentelemetry-proto
// (collector/metrics/v1/metrics_service.proto, metrics/v1/metrics.proto): counters become
// monotonic Sums (integer ones as_int), histograms explicit-bucket Histograms with min and max,
// gauges Gauges; the snapshot's temporality is the aggregation temporality.
#pragma once

#include <string>

#include "tracecraft/metrics.hpp"
#include "tracecraft/otlp/protobuf.hpp"

namespace tracecraft::otlp {

/// Appends the protobuf body of an OTLP/HTTP /v1/metrics request to `out`.
void encode_metrics_request(const metrics_snapshot& m, const resource_info& resource, std::string& out);
/// Appends the JSON body of an OTLP/HTTP /v1/metrics request to `out`.
void encode_metrics_request_json(const metrics_snapshot& m, const resource_info& resource, std::string& out);

} // namespace tracecraft::otlp
