// OTLP/HTTP exporter on Boost.Beast.
#include "tracecraft/exporters/otlp_http.hpp"
#include "tracecraft/otlp/metrics.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "export/delivery/failure_log.hpp"
#include "export/delivery/retry.hpp"
#include "export/delivery/spool.hpp"
#include "support/background_wait.hpp"
#include "support/log_limiter.hpp"
#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/log.hpp"
#include "export/otlp/protobuf_encoder.hpp"
#include "tracecraft/otlp/json.hpp"

namespace tracecraft {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace detail {

struct otlp_http_state {
    otlp_http_options opt;
    std::string host, port, target;
    otlp::resource_info resource;
    bool use_tls = false;
    std::unique_ptr<asio::ssl::context> ssl_ctx;
    std::string buffer;   ///< request encoding, reused across batches
    asio::any_io_executor ex;
    asio::io_context* ioc = nullptr;   ///< background waits do not hold its run()
    std::unique_ptr<beast::tcp_stream> stream;                       // http://
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;       // https://

    [[nodiscard]] bool connected() const {
        return use_tls ? tls && beast::get_lowest_layer(*tls).socket().is_open()
                       : stream && stream->socket().is_open();
    }
    void close() {
        beast::error_code ec;
        if (stream) {
            stream->socket().shutdown(tcp::socket::shutdown_both, ec);
            stream->socket().close(ec);
        }
        if (tls) beast::get_lowest_layer(*tls).socket().close(ec);
    }
    void reset() {
        close();
        stream.reset();
        tls.reset();
    }
    std::atomic<std::uint64_t> requests{0}, retries{0}, exported{0}, rejected{0}, failed{0}, failed_spans{0},
        permanent_spans{0}, expired_spans{0}, cancelled_spans{0}, connections{0};
    std::atomic<std::uint16_t> last_status{0};
    std::unique_ptr<failure_log> failures;   ///< names the endpoint
    log_limiter metric_log;                  ///< metric export failures (the metrics connection)

    // --- the disk spool (spool_dir), strand only ---
    std::unique_ptr<spool> sp;
    std::shared_ptr<deferred_delivery> deferred;
    std::unique_ptr<background_timer> wake;          ///< the sender waits on it while the spool is empty
    asio::cancellation_signal sender_cancel;
    bool sender_spawned = false;                     ///< spawned and not yet ended
    bool sender_running = false;                     ///< its body has started (it may be cancelled)
    bool sender_backing_off = false;                 ///< waiting to retry: the receiver is failing
    bool stopping = false;
    std::uint64_t sender_failures = 0;               ///< attempts of the sender that failed
    std::uint64_t corrupt_seen = 0, dropped_seen = 0;
    std::atomic<std::uint64_t> spool_spans{0}, spool_bytes{0}, spool_dropped{0}, spool_corrupt{0}, spool_replayed{0};
};

namespace {

void parse_endpoint(const std::string& url, otlp_http_state& st) {
    st.use_tls = url.rfind("https://", 0) == 0;
    if (!st.use_tls && url.rfind("http://", 0) != 0)
        throw config_error("otlp_http.endpoint", "must start with http:// or https://, got " + config_error::quote(url, 256));
    const std::string rest = url.substr(st.use_tls ? 8 : 7);
    const auto slash = rest.find('/');
    const std::string authority = rest.substr(0, slash);
    st.target = slash == std::string::npos ? "/" : rest.substr(slash);
    if (authority.empty()) throw config_error("otlp_http.endpoint", "has no host: " + config_error::quote(url, 256));
    const auto colon = authority.rfind(':');
    if (colon != std::string::npos && authority.find(']') == std::string::npos) {
        st.host = authority.substr(0, colon);
        st.port = authority.substr(colon + 1);
    } else {
        st.host = authority;
        st.port = st.use_tls ? "443" : "80";
    }
    if (st.port.empty() || st.port.find_first_not_of("0123456789") != std::string::npos)
        throw config_error("otlp_http.endpoint", "invalid port in " + config_error::quote(url, 256));
}

std::unique_ptr<asio::ssl::context> make_tls_context(const otlp_tls_options& t) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    auto load = [](const char* what, auto&& fn) {
        boost::system::error_code ec;
        fn(ec);
        if (ec) throw config_error(what, ec.message());
    };
    if (!t.ca_pem.empty())
        load("otlp_http.tls.ca_pem", [&](auto& ec) { ctx->add_certificate_authority(asio::buffer(t.ca_pem), ec); });
    if (!t.ca_file.empty())
        load("otlp_http.tls.ca_file", [&](auto& ec) { ctx->load_verify_file(t.ca_file, ec); });
    if (t.ca_pem.empty() && t.ca_file.empty())
        load("otlp_http.tls (system CA store)", [&](auto& ec) { ctx->set_default_verify_paths(ec); });
    if (!t.client_certificate_file.empty() || !t.client_key_file.empty()) {
        if (t.client_certificate_file.empty() || t.client_key_file.empty())
            throw config_error("otlp_http.tls", "client_certificate_file and client_key_file must be set together");
        load("otlp_http.tls.client_certificate_file",
             [&](auto& ec) { ctx->use_certificate_chain_file(t.client_certificate_file, ec); });
        load("otlp_http.tls.client_key_file",
             [&](auto& ec) { ctx->use_private_key_file(t.client_key_file, asio::ssl::context::pem, ec); });
    }
    ctx->set_verify_mode(t.verify_peer ? asio::ssl::verify_peer : asio::ssl::verify_none);
    return ctx;
}

std::string gzip_compress(std::string_view in) {
    z_stream zs{};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("gzip: deflateInit2 failed");
    std::string out;
    out.resize(deflateBound(&zs, static_cast<uLong>(in.size())));
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) throw std::runtime_error("gzip: deflate failed");
    return out;
}

std::uint64_t read_varint(std::string_view& s) {
    std::uint64_t v = 0;
    int shift = 0;
    while (!s.empty() && shift < 64) {
        const auto b = static_cast<unsigned char>(s.front());
        s.remove_prefix(1);
        v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
    }
    return v;
}

/// ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1 { int64 rejected_spans = 1; } }
std::uint64_t rejected_from_protobuf(std::string_view body) {
    std::uint64_t rejected = 0;
    while (!body.empty()) {
        const std::uint64_t tag = read_varint(body);
        const unsigned field = static_cast<unsigned>(tag >> 3), wt = static_cast<unsigned>(tag & 7);
        if (wt != 2) return rejected;   // unexpected: ignore the rest
        const std::uint64_t len = read_varint(body);
        if (len > body.size()) return rejected;
        std::string_view msg = body.substr(0, len);
        body.remove_prefix(len);
        if (field != 1) continue;
        while (!msg.empty()) {
            const std::uint64_t t2 = read_varint(msg);
            if ((t2 & 7) == 0) {
                const std::uint64_t v = read_varint(msg);
                if ((t2 >> 3) == 1) rejected = v;
            } else if ((t2 & 7) == 2) {
                const std::uint64_t l2 = read_varint(msg);
                msg.remove_prefix(std::min<std::uint64_t>(l2, msg.size()));
            } else {
                break;
            }
        }
    }
    return rejected;
}

std::uint64_t rejected_from_json(std::string_view body) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(boost::json::string_view(body.data(), body.size()), ec);
    if (ec || !v.is_object()) return 0;
    const auto* ps = v.as_object().if_contains("partialSuccess");
    if (!ps || !ps->is_object()) return 0;
    const auto* r = ps->as_object().if_contains("rejectedSpans");
    if (!r) return 0;
    if (r->is_string()) return std::strtoull(std::string(r->as_string()).c_str(), nullptr, 10);
    if (r->is_int64()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, r->as_int64()));
    if (r->is_uint64()) return r->as_uint64();
    return 0;
}

} // namespace
} // namespace detail

otlp_http_exporter::otlp_http_exporter(otlp_http_options options) : st_(std::make_shared<detail::otlp_http_state>()) {
    detail::parse_endpoint(options.endpoint, *st_);
    options.retry.validate("otlp_http.retry");
    if (options.timeout.count() <= 0) throw config_error("otlp_http.timeout", "must be > 0 ms");
    if (st_->use_tls) st_->ssl_ctx = detail::make_tls_context(options.tls);
    st_->failures = std::make_unique<detail::failure_log>("otlp_http exporter to " + options.endpoint);
    if (!options.spool_dir.empty()) {
        if (options.spool_max_bytes < 4096) throw config_error("otlp_http.spool_max_bytes", "must be >= 4096");
        detail::spool_options so;
        so.dir = options.spool_dir;
        so.max_bytes = options.spool_max_bytes;
        so.segment_bytes = std::min<std::uint64_t>(4ull << 20, std::max<std::uint64_t>(options.spool_max_bytes / 8, 4096));
        so.fsync = options.spool_fsync;
        try {
            st_->sp = std::make_unique<detail::spool>(so);
        } catch (const std::exception& e) {
            throw config_error("otlp_http.spool_dir", e.what());
        }
    }
    // the metrics connection: the traces' settings unless the metrics options say otherwise
    if (options.metrics.enabled) {
        std::string url = options.metrics.endpoint;
        constexpr std::string_view traces_path = "/v1/traces";
        if (url.empty() && options.endpoint.size() > traces_path.size() && options.endpoint.ends_with(traces_path))
            url = options.endpoint.substr(0, options.endpoint.size() - traces_path.size()) + "/v1/metrics";
        if (!url.empty()) {
            otlp_http_options m = options;
            m.endpoint = url;
            m.spool_dir.clear();
            if (options.metrics.protocol) m.protocol = *options.metrics.protocol;
            if (options.metrics.headers) m.headers = *options.metrics.headers;
            if (options.metrics.gzip) m.gzip = *options.metrics.gzip;
            if (options.metrics.timeout) m.timeout = *options.metrics.timeout;
            mst_ = std::make_shared<detail::otlp_http_state>();
            try {
                detail::parse_endpoint(url, *mst_);
            } catch (const config_error& e) {
                throw config_error("otlp_http.metrics.endpoint", std::string(e.what()).substr(e.field().size() + 2));
            }
            if (mst_->use_tls) mst_->ssl_ctx = detail::make_tls_context(m.tls);
            mst_->failures = std::make_unique<detail::failure_log>("otlp_http metrics exporter to " + url);   // transport failures
            mst_->opt = std::move(m);
        }
    }
    st_->opt = std::move(options);
}
otlp_http_exporter::~otlp_http_exporter() = default;


namespace {

template <class Stream>
asio::awaitable<http::response<http::string_body>> round_trip(Stream& stream, const http::request<http::span_body<char>>& req,
                                                              std::chrono::milliseconds timeout) {
    beast::get_lowest_layer(stream).expires_after(timeout);
    co_await http::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    co_await http::async_read(stream, buf, res, asio::use_awaitable);
    co_return res;
}

asio::awaitable<void> connect(detail::otlp_http_state& s) {
    s.reset();
    tcp::resolver resolver(s.ex);
    auto results = co_await resolver.async_resolve(s.host, s.port, asio::use_awaitable);
    if (s.use_tls) {
        s.tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(s.ex, *s.ssl_ctx);
        auto& lowest = beast::get_lowest_layer(*s.tls);
        lowest.expires_after(s.opt.timeout);
        co_await lowest.async_connect(results, asio::use_awaitable);
        lowest.socket().set_option(tcp::no_delay(true));
        if (!SSL_set_tlsext_host_name(s.tls->native_handle(), s.host.c_str()))
            throw std::runtime_error("TLS: cannot set SNI host name '" + s.host + "'");
        if (s.opt.tls.verify_peer) s.tls->set_verify_callback(asio::ssl::host_name_verification(s.host));
        co_await s.tls->async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    } else {
        s.stream = std::make_unique<beast::tcp_stream>(s.ex);
        s.stream->expires_after(s.opt.timeout);
        co_await s.stream->async_connect(results, asio::use_awaitable);
        s.stream->socket().set_option(tcp::no_delay(true));   // one request = one write; never wait for Nagle
    }
    s.connections.fetch_add(1, std::memory_order_relaxed);
}

/// One POST; returns the HTTP status and the Retry-After wait (negative: none). Throws on I/O errors.
asio::awaitable<std::pair<unsigned, std::chrono::milliseconds>> post_once(std::shared_ptr<detail::otlp_http_state> st, std::string_view body,
                                                     bool json, bool gzip, std::string* response) {
    auto& s = *st;
    if (!s.connected()) co_await connect(s);
    http::request<http::span_body<char>> req{http::verb::post, s.target, 11};   // the body is not copied
    req.set(http::field::host, s.host);
    req.set(http::field::user_agent, "tracecraft-cpp/0.1.0");
    req.set(http::field::content_type, json ? "application/json" : "application/x-protobuf");
    if (gzip) req.set(http::field::content_encoding, "gzip");
    for (const auto& [k, v] : s.opt.headers) req.set(k, v);
    req.keep_alive(true);
    req.body() = boost::span<char>(const_cast<char*>(body.data()), body.size());   // only read
    req.prepare_payload();
    http::response<http::string_body> res;
    if (s.use_tls)
        res = co_await round_trip(*s.tls, req, s.opt.timeout);
    else
        res = co_await round_trip(*s.stream, req, s.opt.timeout);
    s.requests.fetch_add(1, std::memory_order_relaxed);
    std::chrono::milliseconds retry_after{-1};
    if (auto it = res.find(http::field::retry_after); it != res.end())
        retry_after = detail::parse_retry_after(std::string_view(it->value().data(), it->value().size()),
                                                std::chrono::system_clock::now());
    if (!res.keep_alive()) s.close();
    s.last_status.store(static_cast<std::uint16_t>(res.result_int()), std::memory_order_relaxed);
    *response = std::move(res.body());
    co_return std::pair<unsigned, std::chrono::milliseconds>(res.result_int(), retry_after);
}

} // namespace

namespace detail {

/// One attempt: a POST, its status classified (2xx: partial success read; 429/502/503/504:
/// retryable; other statuses: permanent).
asio::awaitable<attempt_result> attempt_post(std::shared_ptr<otlp_http_state> st, std::string_view body, bool json, bool gzip) {
    attempt_result a;
    std::string response;
    try {
        auto op = post_once(st, body, json, gzip, &response);   // named local: GCC 12 co_await rule
        const auto [status, retry_after] = co_await std::move(op);
        a.retry_after = retry_after;
        if (status >= 200 && status < 300) {
            a.result = export_result::ok();
            a.result.rejected_spans = json ? rejected_from_json(response) : rejected_from_protobuf(response);
            if (a.result.rejected_spans) a.result.error = "HTTP " + std::to_string(status) + " with partial success";
            co_return a;
        }
        const bool retryable = status == 429 || status == 502 || status == 503 || status == 504;
        std::string msg = "HTTP " + std::to_string(status);
        if (!retryable && !response.empty()) msg += ": " + config_error::quote(response, 200);
        a.result = export_result::failure(std::move(msg), retryable);
    } catch (const std::exception& e) {
        st->reset();   // connection refused / reset / timeout / TLS: retry on a new connection (and no
                       // timer of the failed stream stays pending)
        const auto* io = dynamic_cast<const boost::system::system_error*>(&e);
        a.result = export_result::failure(io ? io->code().message() : std::string(e.what()), io != nullptr);
    }
    co_return a;
}

struct otlp_retry_observer final : retry_observer {
    otlp_retry_observer(otlp_http_state& s, std::uint64_t n) : st(s), spans(n) {}
    void on_retry(const export_result& failed, std::chrono::milliseconds wait) override {
        st.retries.fetch_add(1, std::memory_order_relaxed);
        st.failures->record(failure_log::retrying, spans,
                            failed.error + ", next try in " + std::to_string(wait.count()) + " ms");
    }
    otlp_http_state& st;
    std::uint64_t spans;
};

} // namespace detail

namespace detail {
namespace {

constexpr std::uint8_t kind_json = 1, kind_gzip = 2;

/// Counts one batch's outcome (and, for a batch delivered from the spool, reports it to the
/// runtime through the deferred counters).
void count_outcome(otlp_http_state& st, std::uint64_t spans, const export_result& r, bool from_spool) {
    deferred_delivery* d = from_spool ? st.deferred.get() : nullptr;
    if (r.success) {
        const std::uint64_t rejected = std::min<std::uint64_t>(r.rejected_spans, spans);
        st.rejected.fetch_add(rejected, std::memory_order_relaxed);
        st.exported.fetch_add(spans - rejected, std::memory_order_relaxed);
        if (d) {
            d->rejected.fetch_add(rejected, std::memory_order_relaxed);
            d->exported.fetch_add(spans - rejected, std::memory_order_relaxed);
        }
        if (rejected) st.failures->record(failure_log::rejected, rejected, r.error);
        return;
    }
    st.failed.fetch_add(1, std::memory_order_relaxed);
    st.failed_spans.fetch_add(spans, std::memory_order_relaxed);
    if (r.cancelled) {
        st.cancelled_spans.fetch_add(spans, std::memory_order_relaxed);
        st.failures->record(failure_log::dropped, spans, r.error);
    } else if (r.retryable) {
        st.expired_spans.fetch_add(spans, std::memory_order_relaxed);
        if (d) d->retry_expired.fetch_add(spans, std::memory_order_relaxed);
        st.failures->record(failure_log::given_up, spans, r.error);
    } else {
        st.permanent_spans.fetch_add(spans, std::memory_order_relaxed);
        if (d) d->failed_permanent.fetch_add(spans, std::memory_order_relaxed);
        st.failures->record(failure_log::permanent, spans, r.error);
    }
}

/// Brings the spool's gauges and loss counters up to date (after every spool call).
void refresh_spool_counts(otlp_http_state& st) {
    const spool& sp = *st.sp;
    const std::uint64_t before = st.spool_spans.exchange(sp.spans(), std::memory_order_relaxed);
    st.deferred->pending.fetch_add(sp.spans() - before, std::memory_order_relaxed);   // wraps as a signed delta
    st.spool_bytes.store(sp.bytes(), std::memory_order_relaxed);
    const std::uint64_t corrupt = sp.corrupt_spans(), dropped = sp.dropped_spans();
    if (corrupt != st.corrupt_seen) {
        st.failures->record(failure_log::spool_corrupt, corrupt - st.corrupt_seen, "record checksum or length wrong");
        st.deferred->dropped.fetch_add(corrupt - st.corrupt_seen, std::memory_order_relaxed);
        st.spool_dropped.fetch_add(corrupt - st.corrupt_seen, std::memory_order_relaxed);
        st.corrupt_seen = corrupt;
    }
    st.spool_corrupt.store(sp.corrupt_records(), std::memory_order_relaxed);
    if (dropped != st.dropped_seen) {
        st.failures->record(failure_log::spool_dropped, dropped - st.dropped_seen,
                            "spool_max_bytes " + std::to_string(st.opt.spool_max_bytes) + " reached");
        st.deferred->dropped.fetch_add(dropped - st.dropped_seen, std::memory_order_relaxed);
        st.spool_dropped.fetch_add(dropped - st.dropped_seen, std::memory_order_relaxed);
        st.dropped_seen = dropped;
    }
}

/// Appends a batch to the spool and wakes the sender; false if the spool could not take it.
bool spool_batch(otlp_http_state& st, std::uint64_t spans, std::uint8_t kind, std::string_view body) {
    try {
        st.sp->append(static_cast<std::uint32_t>(spans), kind, body);
    } catch (const std::exception& e) {
        st.failures->record(failure_log::retrying, spans, std::string(e.what()) + "; retried from memory instead");
        return false;
    }
    refresh_spool_counts(st);
    if (st.wake) st.wake->cancel();
    return true;
}

struct spool_observer final : retry_observer {
    spool_observer(otlp_http_state& s, std::uint64_t n) : st(s), spans(n) {}
    void on_retry(const export_result& failed, std::chrono::milliseconds wait) override {
        ++st.sender_failures;
        st.sender_backing_off = true;
        st.retries.fetch_add(1, std::memory_order_relaxed);
        st.deferred->retries.fetch_add(1, std::memory_order_relaxed);
        st.failures->record(failure_log::retrying, spans,
                            failed.error + " (from the spool), next try in " + std::to_string(wait.count()) + " ms");
    }
    otlp_http_state& st;
    std::uint64_t spans;
};

asio::awaitable<attempt_result> attempt_record(std::shared_ptr<otlp_http_state> st, std::shared_ptr<const spool_record> rec) {
    auto op = attempt_post(st, rec->payload, (rec->kind & kind_json) != 0, (rec->kind & kind_gzip) != 0);
    co_return co_await std::move(op);
}

/// Delivers the spool in order, one record at a time, with the retry policy; waits on `wake`
/// while it is empty. Stops when cancelled (shutdown): the record being sent stays.
asio::awaitable<void> spool_sender(std::shared_ptr<otlp_http_state> st) {
    st->sender_running = true;
    try {
        while (!st->stopping && st->ex) {
            std::optional<spool_record> rec = st->sp->front();
            refresh_spool_counts(*st);
            if (!rec) {
                st->wake->expires_at(asio::steady_timer::time_point::max());
                boost::system::error_code ec;
                co_await async_background_wait(*st->wake, st->ioc, asio::redirect_error(asio::use_awaitable, ec));
                if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) break;
                continue;
            }
            auto shared = std::make_shared<const spool_record>(std::move(*rec));
            spool_observer observer(*st, shared->spans);
            attempt_fn attempt = [st, shared]() { return attempt_record(st, shared); };
            export_result r = co_await run_with_retries(st->opt.retry, st->ex, attempt, &observer, st->ioc);
            st->sender_backing_off = false;
            if (r.cancelled || (!r.success && st->stopping)) break;   // stays in the spool
            if (!r.success) ++st->sender_failures;
            count_outcome(*st, shared->spans, r, true);
            st->sp->pop_front();
            refresh_spool_counts(*st);
        }
    } catch (const std::exception& e) {
        logger()->error("otlp_http: the spool sender stopped: {}; the spool is kept for the next start", e.what());
    }
    st->sender_running = false;
    st->sender_spawned = false;
}

} // namespace
} // namespace detail

void otlp_http_exporter::start(const exporter_environment& env) {
    auto& st = *st_;
    st.ex = env.executor;
    st.ioc = env.io_context;
    auto& attrs = st.resource.attributes;
    attrs.clear();
    bool has_service = false;
    for (const auto& kv : st.opt.resource_attributes) has_service |= kv.first == "service.name";
    if (!has_service) attrs.emplace_back("service.name", env.service_name);
    for (const auto& kv : st.opt.resource_attributes) attrs.push_back(kv);
    attrs.emplace_back("telemetry.sdk.name", std::string("tracecraft"));
    attrs.emplace_back("telemetry.sdk.language", std::string("cpp"));
    attrs.emplace_back("telemetry.sdk.version", std::string("0.1.0"));
    st.resource.conventions = st.opt.conventions;
    metrics_retry_window_ = env.metrics_export_interval;
    if (mst_) {
        mst_->ex = env.executor;
        mst_->ioc = env.io_context;
        mst_->resource = st.resource;
    }
    if (!st.sp) return;
    st.deferred = env.deferred ? env.deferred : std::make_shared<deferred_delivery>();
    if (!st.ioc) throw config_error("otlp_http.spool_dir", "the exporter was started without an io_context");
    st.wake = std::make_unique<detail::background_timer>(st.ioc->get_executor(), asio::steady_timer::time_point::max());
    if (st.sp->recovered_records()) {
        logger()->info("otlp_http: spool {} holds {} batches ({} spans) left by a previous process; sending them first",
                       st.opt.spool_dir, st.sp->recovered_records(), st.sp->recovered_spans());
        st.deferred->replayed.fetch_add(st.sp->recovered_spans(), std::memory_order_relaxed);
        st.spool_replayed.store(st.sp->recovered_spans(), std::memory_order_relaxed);
    }
    detail::refresh_spool_counts(st);
    // untracked: an idle or retrying sender does not hold the user's io_context::run()
    st.sender_spawned = true;
    asio::co_spawn(asio::any_io_executor(detail::untracked_executor::wrap(st.ex)), detail::spool_sender(st_),
                   detail::with_cancellation_slot(st.sender_cancel.slot(), [](const std::exception_ptr&) {}));
}

void otlp_http_exporter::io_context_destroyed() noexcept {
    for (const auto& st : {st_, mst_}) {
        if (!st) continue;
        st->stopping = true;
        try {
            st->reset();   // the connection's socket and timers belong to the io_context
        } catch (...) {
        }
        st->wake.reset();
        st->sender_cancel.slot().clear();
        st->sp.reset();   // closes the spool's files and releases its lock; what it holds stays on disk
        st->ex = asio::any_io_executor();
        st->ioc = nullptr;
    }
}

asio::awaitable<export_result> otlp_http_exporter::export_batch(span_batch batch) {
    auto st = st_;
    if (!st->ex) co_return export_result::failure("otlp_http: not started (or shut down)");
    // Encoded into a buffer kept across batches (one delivery coroutine per exporter).
    std::string& buf = st->buffer;
    std::string_view body;
    const bool json = st->opt.protocol == otlp_protocol::http_json;
    if (json) {
        buf.clear();
        otlp::encode_request_json(batch, st->resource, buf);
        body = buf;
    } else {
        // In slices of ~64 spans (~30 us each), with the io_context's other handlers run
        // between them: a 512-span batch encoded in one go held a single-threaded server's
        // requests for ~300 us (the gateway example's p99 under load).
        constexpr std::size_t slice_spans = 64;
        std::size_t end = 0;
        for (std::size_t next = 0; next < batch.trace_count();) {
            if (next > 0) co_await asio::post(asio::use_awaitable);
            next = otlp::encode_request_part(batch, next, slice_spans, st->resource, buf, end);
        }
        body = std::string_view(buf.data(), end);
    }
    std::string compressed;
    if (st->opt.gzip) {
        compressed = detail::gzip_compress(body);
        body = compressed;
    }
    const std::uint64_t spans = batch.span_count();
    if (st->sp && !st->stopping) {
        // With a spool: one direct attempt while the spool is empty (a healthy exporter writes
        // nothing); on a retryable failure, or while earlier batches wait there, the batch goes
        // to the spool (in order) and the sender delivers it.
        const std::uint8_t kind = (json ? detail::kind_json : 0) | (st->opt.gzip ? detail::kind_gzip : 0);
        if (st->sp->empty()) {
            auto op = detail::attempt_post(st, body, json, st->opt.gzip);
            detail::attempt_result a = co_await std::move(op);
            if (a.result.success || !a.result.retryable) {
                detail::count_outcome(*st, spans, a.result, false);
                if (!a.result.success) a.result.error = "otlp_http: " + a.result.error;
                co_return a.result;
            }
            ++st->sender_failures;
            st->retries.fetch_add(1, std::memory_order_relaxed);
            st->failures->record(detail::failure_log::retrying, spans, a.result.error + "; the batch goes to the spool");
        }
        if (detail::spool_batch(*st, spans, kind, body)) {
            export_result r = export_result::ok();
            r.deferred = true;
            co_return r;
        }
    }
    detail::otlp_retry_observer observer(*st, spans);
    detail::attempt_fn attempt = [st, body, json]() { return detail::attempt_post(st, body, json, st->opt.gzip); };
    export_result r = co_await detail::run_with_retries(st->opt.retry, st->ex, attempt, &observer, st->ioc);
    detail::count_outcome(*st, spans, r, false);
    if (!r.success) r.error = "otlp_http: " + r.error;
    co_return r;
}

asio::awaitable<void> otlp_http_exporter::force_flush() {
    auto st = st_;
    if (!st->sp || !st->ex) co_return;
    if (st->sender_backing_off) co_return;   // the receiver is failing: the spool keeps the data
    const std::uint64_t failures_at_call = st->sender_failures;
    asio::steady_timer t(st->ex);
    while (st->ex && st->sender_spawned && !st->sp->empty() && st->sender_failures == failures_at_call) {
        t.expires_after(std::chrono::milliseconds(5));
        boost::system::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> otlp_http_exporter::shutdown() {
    auto st = st_;
    if (st->sp && st->ex) {
        co_await force_flush();
        st->stopping = true;
        // Only a sender whose body runs is cancelled: one spawned but not yet started would
        // throw the cancellation out of co_spawn's own entry code (and out of io_context::run);
        // it sees `stopping` when it starts and ends at once.
        if (st->sender_running) st->sender_cancel.emit(asio::cancellation_type::terminal);
        if (st->wake) st->wake->cancel();
        asio::steady_timer t(st->ex);
        while (st->sender_spawned) {
            t.expires_after(std::chrono::milliseconds(1));
            boost::system::error_code ec;
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        st->sp->trim();
        detail::refresh_spool_counts(*st);
        if (!st->sp->empty())
            logger()->warn("otlp_http: {} spans ({} batches) stay in the spool {}; they are sent when an exporter next "
                           "starts on it",
                           st->sp->spans(), st->sp->records(), st->opt.spool_dir);
        st->wake.reset();
        st->sp.reset();   // closes the files and releases the directory lock (a new exporter may take it)
    }
    st->failures->flush();
    st->reset();
    st->ex = asio::any_io_executor();
    if (auto m = mst_) {
        m->failures->flush();
        m->reset();
        m->ex = asio::any_io_executor();
    }
}

asio::awaitable<export_result> otlp_http_exporter::export_metrics(const metrics_snapshot& metrics) {
    auto st = mst_;
    if (!st || !st->ex) co_return export_result::failure("otlp_http metrics: not started (or shut down)");
    const bool json = st->opt.protocol == otlp_protocol::http_json;
    std::string body;
    if (json)
        otlp::encode_metrics_request_json(metrics, st->resource, body);
    else
        otlp::encode_metrics_request(metrics, st->resource, body);
    if (st->opt.gzip) body = detail::gzip_compress(body);
    // Retries end before the next export is due: a newer snapshot supersedes this one (cumulative
    // values lose nothing; delta ones are merged back by the runtime when an export fails).
    retry_policy policy = metrics.final ? retry_policy::none() : st->opt.retry;
    policy.max_elapsed = std::chrono::milliseconds(std::min<std::int64_t>(policy.max_elapsed.count(),
                                                                          std::max<std::int64_t>(metrics_retry_window_.count(), 1)));
    detail::attempt_fn attempt = [st, b = std::make_shared<const std::string>(std::move(body)), json]() {
        return detail::attempt_post(st, *b, json, st->opt.gzip);
    };
    export_result r = co_await detail::run_with_retries(policy, st->ex, attempt, nullptr, st->ioc);
    if (r.success) {
        st->exported.fetch_add(1, std::memory_order_relaxed);
    } else {
        const std::uint64_t failed = st->failed.fetch_add(1, std::memory_order_relaxed) + 1;
        if (st->metric_log.allow())
            logger()->warn("otlp_http: metric export to {} failed ({} so far; the next export carries the values): {}",
                           st->opt.endpoint, failed, r.error);
        r.error = "otlp_http metrics: " + r.error;
    }
    co_return r;
}

otlp_http_stats otlp_http_exporter::get_stats() const noexcept {
    otlp_http_stats s;
    s.requests = st_->requests.load();
    s.retries = st_->retries.load();
    s.exported_spans = st_->exported.load();
    s.rejected_spans = st_->rejected.load();
    s.failed_batches = st_->failed.load();
    s.failed_spans = st_->failed_spans.load();
    s.permanent_failed_spans = st_->permanent_spans.load();
    s.expired_spans = st_->expired_spans.load();
    s.cancelled_spans = st_->cancelled_spans.load();
    s.last_status = st_->last_status.load();
    s.spooled_spans = st_->spool_spans.load();
    s.spool_bytes = st_->spool_bytes.load();
    s.spool_dropped_spans = st_->spool_dropped.load();
    s.spool_corrupt_records = st_->spool_corrupt.load();
    s.spool_replayed_spans = st_->spool_replayed.load();
    s.connections = st_->connections.load();
    if (mst_) {
        s.metric_exports = mst_->exported.load();
        s.metric_export_failures = mst_->failed.load();
    }
    return s;
}

} // namespace tracecraft
