// TraceCraft C++ — OTLP/HTTP exporter (Boost.Beast), protobuf or JSON bodies.
//
// POSTs ExportTraceServiceRequest bodies to the endpoint over one keep-alive connection, as a
// coroutine on the pipeline strand. Responses: 2xx succeeds (a partial_success's rejected
// spans are counted and said at warn); 429, 502, 503 and 504, timeouts and connection failures
// are retried by `retry` (retry_policy.hpp: backoff with jitter honouring Retry-After, for up
// to 5 minutes by default) while the batch stays in the runtime's bounded pipeline; other 4xx
// fail at once. Every failure is counted (get_stats) and said at warn: the first of each kind,
// then at most one summary line per 10 s, naming the endpoint and the status.
// https:// endpoints use TLS (OpenSSL through Beast's ssl_stream) with peer and host-name
// verification against the system CA store or the CA given in otlp_tls_options.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tracecraft/config_loader.hpp"
#include "tracecraft/exporter.hpp"
#include "tracecraft/otlp/protobuf.hpp"
#include "tracecraft/retry_policy.hpp"

namespace tracecraft {

enum class otlp_protocol { http_protobuf, http_json };

/// TLS settings for https:// endpoints (ignored for http://).
struct otlp_tls_options {
    std::string ca_file;                   ///< PEM CA bundle (OTEL_EXPORTER_OTLP_CERTIFICATE)
    std::string ca_pem;                    ///< PEM CA certificate(s) held in memory
    std::string client_certificate_file;   ///< mTLS (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)
    std::string client_key_file;           ///< mTLS (OTEL_EXPORTER_OTLP_CLIENT_KEY)
    /// Verify the server's chain and host name. With neither ca_file nor ca_pem the system
    /// store is used. Turning this off is for tests only.
    bool verify_peer = true;
};

/// Where the runtime's metrics (trace_config::metrics) go: the same collector, over a connection
/// of their own, with the traces' settings unless one is given here.
struct otlp_metrics_options {
    /// OTEL_METRICS_EXPORTER=none turns metric export off.
    bool enabled = true;
    /// Full URL of the metrics endpoint. Empty: the traces endpoint with its "/v1/traces"
    /// replaced by "/v1/metrics" (an endpoint without that path exports no metrics).
    std::string endpoint;
    std::optional<otlp_protocol> protocol;
    std::optional<std::vector<std::pair<std::string, std::string>>> headers;
    std::optional<bool> gzip;
    std::optional<std::chrono::milliseconds> timeout;
};

struct otlp_http_options {
    /// Full URL of the traces endpoint, used as is (e.g. http://127.0.0.1:4318/v1/traces).
    std::string endpoint = "http://localhost:4318/v1/traces";
    otlp_protocol protocol = otlp_protocol::http_protobuf;
    std::vector<std::pair<std::string, std::string>> headers;   ///< e.g. {"authorization", "Bearer x"}
    std::chrono::milliseconds timeout{10000};                   ///< per attempt: connect + write + read
    bool gzip = false;
    /// Retries of retryable failures (see retry_policy.hpp for the defaults).
    retry_policy retry;
    /// A disk spool (empty: none). When a batch's first attempt fails with a retryable error,
    /// it is appended to checksummed segment files here, and so is every later batch while the
    /// spool holds any: export_batch returns at once (the pipeline's memory is not held through
    /// an outage) and a sender coroutine delivers the spool in order with `retry`. A spool that a
    /// crashed or killed process left is sent first when an exporter starts on it. A healthy
    /// exporter writes nothing. One process per directory (locked). See docs/export.md.
    std::string spool_dir;
    /// The spool's size limit; beyond it, its oldest records are dropped, counted. Default 256 MiB.
    std::uint64_t spool_max_bytes = 256ull << 20;
    /// fsync every record and ack: survives a power cut, not only a killed process (slower).
    bool spool_fsync = false;
    otlp::dialect conventions = otlp::dialect::both;
    otlp_tls_options tls;
    /// Resource attributes besides service.name (taken from the runtime) and telemetry.sdk.*.
    std::vector<std::pair<std::string, attribute_value>> resource_attributes;
    /// The runtime's GenAI and health metrics, exported to /v1/metrics (see otlp_metrics_options).
    otlp_metrics_options metrics;

    /// Options from the standard OTEL_EXPORTER_OTLP_* variables with the spec's precedence:
    /// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is; OTEL_EXPORTER_OTLP_ENDPOINT gets
    /// "/v1/traces" appended; *_HEADERS (k=v,k2=v2, percent-decoded), *_PROTOCOL
    /// (http/protobuf | http/json), *_COMPRESSION (gzip | none), *_TIMEOUT (ms);
    /// *_CERTIFICATE, *_CLIENT_CERTIFICATE, *_CLIENT_KEY (TLS files); OTEL_SERVICE_NAME and
    /// OTEL_RESOURCE_ATTRIBUTES. Signal-specific variables win over generic ones. Also
    /// TRACECRAFT_SPOOL_DIR, TRACECRAFT_SPOOL_MAX_BYTES and TRACECRAFT_SPOOL_FSYNC (true/false).
    /// Metrics: OTEL_METRICS_EXPORTER (otlp | none), OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (as is;
    /// else OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/metrics"), OTEL_EXPORTER_OTLP_METRICS_HEADERS,
    /// _PROTOCOL, _COMPRESSION, _TIMEOUT (else the generic or traces' values).
    static otlp_http_options from_env(const env_lookup& lookup = {});
};

struct otlp_http_stats {
    std::uint64_t requests = 0;         ///< HTTP requests that got a response
    std::uint64_t retries = 0;          ///< attempts after a retryable failure
    std::uint64_t exported_spans = 0;   ///< accepted by the receiver (rejected ones excluded)
    std::uint64_t rejected_spans = 0;   ///< partial_success.rejected_spans
    std::uint64_t failed_batches = 0;   ///< all batches not delivered (the three causes below)
    std::uint64_t failed_spans = 0;
    std::uint64_t permanent_failed_spans = 0;   ///< refused by the receiver (4xx other than 429)
    std::uint64_t expired_spans = 0;    ///< retryable failures given up by the retry policy
    std::uint64_t cancelled_spans = 0;  ///< given up when the caller cancelled (queue room, shutdown)
    std::uint64_t connections = 0;
    std::uint64_t metric_exports = 0;          ///< metric exports delivered to /v1/metrics
    std::uint64_t metric_export_failures = 0;  ///< metric exports that failed (after retries)
    std::uint16_t last_status = 0;      ///< last HTTP status received (0: none yet)
    std::uint64_t spooled_spans = 0;    ///< gauge: waiting in the spool
    std::uint64_t spool_bytes = 0;      ///< gauge
    std::uint64_t spool_dropped_spans = 0;   ///< byte limit and corrupt records
    std::uint64_t spool_corrupt_records = 0;
    std::uint64_t spool_replayed_spans = 0;  ///< found at start, left by a previous process
};

namespace detail {
struct otlp_http_state;
}

class otlp_http_exporter final : public exporter {
public:
    explicit otlp_http_exporter(otlp_http_options options = {});
    ~otlp_http_exporter() override;

    [[nodiscard]] std::string_view name() const noexcept override { return "otlp_http"; }
    void start(const exporter_environment& env) override;
    /// Closes the connections and drops the spool sender's timer (the spool stays on disk).
    void io_context_destroyed() noexcept override;
    boost::asio::awaitable<export_result> export_batch(span_batch batch) override;
    /// Without a spool: at once. With one: when the spool is empty, or once its sender has
    /// failed after the call (the receiver is down: the data stays on disk).
    boost::asio::awaitable<void> force_flush() override;
    /// force_flush, then the spool's sender stops (what it holds stays for the next start).
    boost::asio::awaitable<void> shutdown() override;

    /// Metrics go to /v1/metrics on a connection of their own (otlp_http_options::metrics).
    [[nodiscard]] bool exports_metrics() const noexcept override { return mst_ != nullptr; }
    boost::asio::awaitable<export_result> export_metrics(const metrics_snapshot& metrics) override;

    [[nodiscard]] otlp_http_stats get_stats() const noexcept;

private:
    std::shared_ptr<detail::otlp_http_state> st_;
    std::shared_ptr<detail::otlp_http_state> mst_;   ///< the metrics connection (null: no metric export)
    std::chrono::milliseconds metrics_retry_window_{60000};
};

} // namespace tracecraft
