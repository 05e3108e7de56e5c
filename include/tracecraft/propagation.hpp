// TraceCraft C++ — W3C Trace Context (traceparent / tracestate).
//
// Strict parsing per https://www.w3.org/TR/trace-context/: lowercase hex only, exact field
// lengths, all-zero trace-id or parent-id rejected, version ff rejected; a higher version is
// accepted when its first four fields parse as version 00 and any extra data is preceded by
// '-'. Leading and trailing optional whitespace (space, tab) is ignored, as HTTP field values
// exclude it. Failures return nullopt and, if asked, a message naming the problem.
//
//   std::string err;
//   if (auto remote = tracecraft::extract(req["traceparent"], req["tracestate"], &err)) {
//       tracecraft::run_options o; o.parent = remote->parent; o.tracestate = remote->tracestate;
//       tracecraft::run_scope run("handle_request", o);
//       upstream.set("traceparent", tracecraft::current_traceparent());
//   }
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tracecraft/ids.hpp"

namespace tracecraft {

/// A remote parent extracted from carrier headers.
struct propagation_context {
    span_context parent;      ///< remote == true
    std::string tracestate;   ///< validated, empty if absent or invalid
};

/// Parses a traceparent header value.
[[nodiscard]] std::optional<span_context> parse_traceparent(std::string_view header,
                                                            std::string* error = nullptr);
/// Validates a tracestate header value (≤ 32 list members, W3C key/value grammar, unique
/// keys). Returns it with empty members and whitespace around members removed, or nullopt.
[[nodiscard]] std::optional<std::string> parse_tracestate(std::string_view header,
                                                          std::string* error = nullptr);
/// traceparent + tracestate. An invalid tracestate is dropped (the parent is still used) and
/// reported through `error`; an invalid traceparent yields nullopt.
[[nodiscard]] std::optional<propagation_context> extract(std::string_view traceparent,
                                                         std::string_view tracestate = {},
                                                         std::string* error = nullptr);
/// "00-<trace-id>-<span-id>-<flags>".
[[nodiscard]] std::string format_traceparent(const span_context& ctx);
/// traceparent of the calling agent's current span; empty if there is none.
[[nodiscard]] std::string current_traceparent();
/// tracestate carried by the current trace; empty if none.
[[nodiscard]] std::string current_tracestate();

} // namespace tracecraft
