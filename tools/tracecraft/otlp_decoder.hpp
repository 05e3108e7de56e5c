// Decoding OTLP trace export requests (ExportTraceServiceRequest) in both encodings of OTLP/HTTP:
// binary protobuf and the JSON mapping (hex ids, camelCase fields, 64-bit integers as strings or
// numbers, enums as numbers or names). The decoder is strict where a body is malformed (it
// throws input_error naming the field: a truncated message, a wire type that does not match the
// field, a string that is not UTF-8 — the Collector answers 400 to the same) and lenient where
// the specification asks for it (unknown fields are skipped). A span whose ids are invalid is
// not an error for the whole request: it is rejected and counted, the request answered with
// partial success.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "trace_model.hpp"

namespace tctool {

struct decoded_request {
    std::vector<span_record> spans;
    std::int64_t rejected_spans = 0;
    std::string rejection_message;   ///< why the first rejected span was rejected
};

/// Throws input_error on a malformed body.
[[nodiscard]] decoded_request decode_otlp_protobuf(std::string_view body);
[[nodiscard]] decoded_request decode_otlp_json(std::string_view body);

/// ExportTraceServiceResponse, with partial_success set when something was rejected.
[[nodiscard]] std::string encode_response_protobuf(std::int64_t rejected, std::string_view message);
[[nodiscard]] std::string encode_response_json(std::int64_t rejected, std::string_view message);

/// True when `s` is well-formed UTF-8.
[[nodiscard]] bool valid_utf8(std::string_view s) noexcept;

} // namespace tctool
