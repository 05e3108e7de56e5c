// An async LLM gateway on Boost.Beast, traced with TraceCraft.
//
// Serves an OpenAI-compatible POST /v1/chat/completions (plain JSON and "stream": true
// server-sent events) and forwards to an upstream LLM over HTTP with connection reuse. Each
// request is an AGENT run that continues an incoming traceparent, fans out with
// tracecraft::when_all to a RETRIEVAL step (in-memory document search) and a TOOL step, then
// calls the upstream (an LLM span of kind CLIENT that injects traceparent) and answers.
//
// Errors map to statuses and ERROR spans, never crashes: invalid JSON or missing fields 400,
// malformed HTTP (control bytes in the path or a header, bad or conflicting Content-Length, bad
// chunk size) 400, header block over max_header 431, body over max_body 413, unknown path 404, wrong method 405, upstream unreachable
// / 5xx 502, upstream timeout 504; a stream that breaks ends with an SSE error event. Idle
// connections are closed after client_timeout; running out of file descriptors pauses
// accepting instead of ending it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

namespace llm_gateway {

struct gateway_options {
    std::string address = "127.0.0.1";
    unsigned short port = 0;                         ///< 0: any free port
    std::string upstream_host = "127.0.0.1";
    unsigned short upstream_port = 0;
    std::chrono::milliseconds upstream_timeout{10000};   ///< per upstream operation
    std::size_t max_body = 1 << 20;                  ///< request bodies above this get 413
    std::size_t max_header = 16 << 10;               ///< header blocks above this get 431
    /// A request (headers and body) must arrive within this, and a kept-alive connection is
    /// closed after this long without a request (closed without an answer, as nginx does).
    std::chrono::milliseconds client_timeout{30000};
    std::size_t max_idle_upstream = 64;              ///< kept-alive upstream connections
};

struct gateway_stats {
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;              ///< responses with status >= 400
    std::uint64_t upstream_connects = 0;   ///< new upstream connections (reuse keeps this low)
    std::uint64_t accept_errors = 0;       ///< failed accepts (e.g. out of file descriptors), retried
    std::uint64_t client_timeouts = 0;     ///< connections closed by client_timeout
};

class gateway {
public:
    gateway(boost::asio::any_io_executor ex, gateway_options options);
    ~gateway();
    [[nodiscard]] unsigned short port() const noexcept;
    /// Stops accepting and closes idle upstream connections (in-flight requests finish).
    void stop();
    [[nodiscard]] gateway_stats stats() const noexcept;

    struct state;

private:
    std::shared_ptr<state> st_;
};

} // namespace llm_gateway
