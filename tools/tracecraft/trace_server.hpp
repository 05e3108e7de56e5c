// `tracecraft serve`: an OTLP/HTTP trace receiver and the web viewer on one port (Boost.Beast,
// one io_context thread; SQLite writes are serialised by that thread).
//
//   POST /v1/traces        ExportTraceServiceRequest, application/x-protobuf or application/json,
//                          optionally Content-Encoding: gzip. 200 + ExportTraceServiceResponse in the
//                          request's encoding (partial_success when spans were rejected); 400 with a
//                          google.rpc.Status for a malformed body; 413 over the body limit (also
//                          after decompression); 415 for another content type or encoding; 503 when
//                          the database cannot take the spans (locked, disk full: the SDK retries).
//   POST /v1/metrics       acknowledged (200) and counted, not stored: SDKs pointed at this port
//                          export metrics too
//   GET  /health           {"status":"ok"}
//   GET  /api/traces       the trace list (filters as query parameters)
//   GET  /api/traces/{id}  one trace with its spans
//   GET  /api/version      grows with every stored request (the viewer polls it)
//   GET  /                 the viewer (HTML, CSS and JS compiled into the binary)
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "trace_store.hpp"

namespace tracecraft {
class redactor;
class redaction_scratch;
}

namespace tctool {

struct serve_options {
    std::string host = "127.0.0.1";
    unsigned short port = 4318;
    std::string jsonl;                          ///< also append every completed trace to this JSONL file
    bool redact = false;                        ///< redact secrets and PII before storing
    std::size_t max_body = 32u << 20;           ///< bytes of a request body, after decompression too
};

struct server_stats {
    std::uint64_t requests = 0, export_requests = 0, spans_stored = 0, spans_rejected = 0;
    std::uint64_t metric_requests = 0;   ///< POST /v1/metrics: acknowledged, not stored
    std::uint64_t bad_requests = 0, too_large = 0, unsupported = 0, store_failures = 0, redactions = 0, jsonl_lines = 0;
};

class trace_server {
public:
    /// Binds at once (throws boost::system::system_error naming the address when it cannot).
    trace_server(boost::asio::io_context& ioc, serve_options options, trace_store& store);
    ~trace_server();
    [[nodiscard]] unsigned short port() const;
    /// Stops accepting and closes open connections (call on the io_context's thread).
    void stop();
    [[nodiscard]] const server_stats& stats() const noexcept { return stats_; }

    struct response {
        unsigned status = 200;
        std::string content_type = "application/json";
        std::string body;
    };
    /// One request, without the network (the sessions call it; tests may too).
    response handle(std::string_view method, std::string_view target, std::string_view content_type,
                    std::string_view content_encoding, std::string body);

private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);
    response receive_traces(std::string_view content_type, std::string_view content_encoding, std::string body);
    response api(std::string_view path, std::string_view query);
    void redact(std::vector<span_record>& spans);
    void append_jsonl(const std::vector<span_record>& received);

    boost::asio::io_context& ioc_;
    serve_options opt_;
    trace_store& store_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::set<boost::asio::ip::tcp::socket*> open_;
    server_stats stats_;
    std::unique_ptr<tracecraft::redactor> redactor_;
    std::unique_ptr<tracecraft::redaction_scratch> scratch_;
    bool stopped_ = false;
};

} // namespace tctool
