#include "trace_server.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <spdlog/spdlog.h>

#include "api_json.hpp"
#include "jsonl_source.hpp"
#include "otlp_decoder.hpp"
#include "tracecraft/redaction.hpp"
#include "viewer_assets.hpp"

namespace tctool {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string lower_trim(std::string_view s) {
    if (auto semi = s.find(';'); semi != std::string_view::npos) s = s.substr(0, semi);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

struct too_large : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// gzip (or zlib) inflate, refusing output beyond `limit` (a small bomb expands a thousandfold).
std::string inflate_body(const std::string& in, std::size_t limit) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 32) != Z_OK) throw input_error("gzip: cannot initialise zlib");
    std::string out;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    char buf[64 * 1024];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&z);
            throw input_error(std::string("gzip: corrupt body (") + (z.msg ? z.msg : "truncated") + ")");
        }
        out.append(buf, sizeof buf - z.avail_out);
        if (out.size() > limit) {
            inflateEnd(&z);
            throw too_large("body exceeds " + std::to_string(limit) + " bytes after decompression");
        }
        if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
            inflateEnd(&z);
            throw input_error("gzip: truncated body");
        }
    }
    inflateEnd(&z);
    return out;
}

/// google.rpc.Status{code, message} in protobuf, for an error answer to a protobuf request.
std::string rpc_status_protobuf(int code, std::string_view message) {
    std::string o;
    o.push_back(0x08);
    o.push_back(static_cast<char>(code));
    o.push_back(0x12);
    std::size_t n = message.size();
    while (n >= 0x80) {
        o.push_back(static_cast<char>((n & 0x7F) | 0x80));
        n >>= 7;
    }
    o.push_back(static_cast<char>(n));
    o.append(message);
    return o;
}

std::string error_json(std::string_view message) {
    json::object o;
    o["error"] = message;
    return json::serialize(o);
}

double number_param(std::string_view name, const std::string& v) {
    try {
        std::size_t used = 0;
        const double d = std::stod(v, &used);
        if (used == v.size() && d >= 0) return d;
    } catch (const std::exception&) {
    }
    throw input_error("query parameter " + std::string(name) + ": expected a non-negative number, got '" + v + "'");
}

void redact_value(json::value& v, const tracecraft::redactor& r, tracecraft::redaction_scratch& scratch, std::uint64_t& count) {
    if (v.is_string()) {
        std::string out;
        const auto matches = r.redact(v.get_string(), out, scratch);
        if (!matches.empty()) {
            count += matches.size();
            v = out;
        }
    } else if (v.is_array()) {
        for (json::value& e : v.get_array()) redact_value(e, r, scratch, count);
    } else if (v.is_object()) {
        for (auto& kv : v.get_object()) redact_value(kv.value(), r, scratch, count);
    }
}

} // namespace

trace_server::trace_server(asio::io_context& ioc, serve_options options, trace_store& store)
    : ioc_(ioc), opt_(std::move(options)), store_(store), acceptor_(ioc) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(opt_.host, ec);
    if (ec) throw input_error("--host: '" + opt_.host + "' is not an IP address");
    const tcp::endpoint ep(address, opt_.port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep, ec);
    if (ec) throw input_error("cannot listen on " + opt_.host + ":" + std::to_string(opt_.port) + ": " + ec.message());
    acceptor_.listen();
    if (opt_.redact) {
        redactor_ = std::make_unique<tracecraft::redactor>(tracecraft::redaction_config{});
        scratch_ = std::make_unique<tracecraft::redaction_scratch>(redactor_->make_scratch());
    }
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
}

trace_server::~trace_server() = default;

unsigned short trace_server::port() const { return acceptor_.local_endpoint().port(); }

void trace_server::stop() {
    stopped_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (tcp::socket* s : open_) s->close(ec);
}

asio::awaitable<void> trace_server::accept_loop() {
    while (!stopped_) {
        auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
        if (ec) {
            if (stopped_ || ec == asio::error::operation_aborted) co_return;
            spdlog::warn("tracecraft serve: accept failed: {}", ec.message());
            continue;
        }
        asio::co_spawn(ioc_, session(std::move(socket)), asio::detached);
    }
}

asio::awaitable<void> trace_server::session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    tcp::socket* registered = &stream.socket();
    open_.insert(registered);
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(opt_.max_body);
        parser.header_limit(64 * 1024);
        stream.expires_after(std::chrono::seconds(60));
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
        (void)n;
        http::response<http::string_body> res;
        bool close = false;
        if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted || ec == beast::error::timeout ||
            ec == asio::error::eof || ec == asio::error::connection_reset)
            break;
        if (ec) {
            ++stats_.requests;
            close = true;   // the rest of the stream cannot be trusted
            res.version(11);
            if (ec == http::error::body_limit) {
                ++stats_.too_large;
                res.result(http::status::payload_too_large);
                res.body() = error_json("request body exceeds " + std::to_string(opt_.max_body) + " bytes");
            } else {
                ++stats_.bad_requests;
                res.result(http::status::bad_request);
                res.body() = error_json("malformed HTTP request: " + ec.message());
            }
            res.set(http::field::content_type, "application/json");
        } else {
            http::request<http::string_body> req = parser.release();
            const response r = handle(req.method_string(), req.target(), req[http::field::content_type],
                                      req[http::field::content_encoding], std::move(req.body()));
            res.version(req.version());
            res.result(r.status);
            res.set(http::field::content_type, r.content_type);
            if (req.method() != http::verb::head) res.body() = r.body;
            close = !req.keep_alive();
        }
        res.set(http::field::server, "tracecraft");
        res.keep_alive(!close);
        res.prepare_payload();
        auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
        (void)wn;
        if (wec || close) break;
    }
    open_.erase(registered);
    boost::system::error_code ignore;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignore);
}

trace_server::response trace_server::handle(std::string_view method, std::string_view target, std::string_view content_type,
                                            std::string_view content_encoding, std::string body) {
    ++stats_.requests;
    std::string_view path = target, query;
    if (auto q = target.find('?'); q != std::string_view::npos) {
        path = target.substr(0, q);
        query = target.substr(q + 1);
    }
    try {
        if (path == "/v1/metrics") {   // SDKs send metrics to the same port: acknowledged, not stored
            if (method != "POST") return {405, "application/json", error_json("use POST for /v1/metrics")};
            ++stats_.metric_requests;
            const bool proto = lower_trim(content_type) != "application/json";
            return {200, proto ? "application/x-protobuf" : "application/json", proto ? "" : "{}"};
        }
        if (path == "/v1/traces") {
            if (method != "POST") return {405, "application/json", error_json("use POST for /v1/traces")};
            return receive_traces(content_type, content_encoding, std::move(body));
        }
        if (method != "GET" && method != "HEAD") return {405, "application/json", error_json("method not allowed")};
        if (path == "/health") return {200, "application/json", R"({"status":"ok"})"};
        if (path == "/" || path == "/index.html") return {200, "text/html; charset=utf-8", std::string(viewer_html())};
        if (path == "/viewer.js") return {200, "text/javascript; charset=utf-8", std::string(viewer_js())};
        if (path == "/viewer.css") return {200, "text/css; charset=utf-8", std::string(viewer_css())};
        if (path.starts_with("/api/")) return api(path, query);
        return {404, "application/json", error_json("no such page: " + std::string(path))};
    } catch (const input_error& e) {
        ++stats_.bad_requests;
        return {400, "application/json", error_json(e.what())};
    }
}

trace_server::response trace_server::receive_traces(std::string_view content_type, std::string_view content_encoding, std::string body) {
    ++stats_.export_requests;
    const std::string type = lower_trim(content_type);
    const bool proto = type == "application/x-protobuf" || type == "application/protobuf";
    if (!proto && type != "application/json") {
        ++stats_.unsupported;
        return {415, "application/json",
                error_json("unsupported content type '" + std::string(content_type) + "': use application/x-protobuf or application/json")};
    }
    auto error = [&](unsigned status, const std::string& message) -> response {
        const int code = status == 413 ? 8 : status == 503 ? 14 : 3;   // RESOURCE_EXHAUSTED, UNAVAILABLE, INVALID_ARGUMENT
        if (proto) return {status, "application/x-protobuf", rpc_status_protobuf(code, message)};
        json::object o;
        o["code"] = code;
        o["message"] = message;
        return {status, "application/json", json::serialize(o)};
    };
    const std::string encoding = lower_trim(content_encoding);
    if (encoding == "gzip" || encoding == "deflate") {
        try {
            body = inflate_body(body, opt_.max_body);
        } catch (const too_large& e) {
            ++stats_.too_large;
            return error(413, e.what());
        } catch (const input_error& e) {
            ++stats_.bad_requests;
            return error(400, e.what());
        }
    } else if (!encoding.empty() && encoding != "identity") {
        ++stats_.unsupported;
        return {415, "application/json", error_json("unsupported content encoding '" + encoding + "': use gzip or none")};
    }
    decoded_request req;
    try {
        req = proto ? decode_otlp_protobuf(body) : decode_otlp_json(body);
    } catch (const input_error& e) {
        ++stats_.bad_requests;
        return error(400, e.what());
    }
    if (redactor_) redact(req.spans);
    try {
        store_.store(req.spans);
    } catch (const std::exception& e) {   // disk full, a locked database: the client should retry later
        ++stats_.store_failures;
        spdlog::warn("tracecraft serve: cannot store {} span(s): {}", req.spans.size(), e.what());
        return error(503, std::string("cannot store the spans: ") + e.what());
    }
    stats_.spans_stored += req.spans.size();
    stats_.spans_rejected += static_cast<std::uint64_t>(req.rejected_spans);
    if (!opt_.jsonl.empty()) append_jsonl(req.spans);
    if (req.rejected_spans)
        spdlog::warn("tracecraft serve: rejected {} span(s) of a request: {}", req.rejected_spans, req.rejection_message);
    if (proto) return {200, "application/x-protobuf", encode_response_protobuf(req.rejected_spans, req.rejection_message)};
    return {200, "application/json", encode_response_json(req.rejected_spans, req.rejection_message)};
}

void trace_server::redact(std::vector<span_record>& spans) {
    for (span_record& s : spans) {
        for (auto& kv : s.attributes) redact_value(kv.value(), *redactor_, *scratch_, stats_.redactions);
        for (span_event& e : s.events)
            for (auto& kv : e.attributes) redact_value(kv.value(), *redactor_, *scratch_, stats_.redactions);
        json::value msg(s.status_message);
        redact_value(msg, *redactor_, *scratch_, stats_.redactions);
        s.status_message = std::string(msg.get_string());
    }
}

void trace_server::append_jsonl(const std::vector<span_record>& received) {
    // A trace is written when its root span arrives (SDKs export the root last, when the run ends),
    // merged with what earlier requests brought.
    std::set<std::string> done;
    for (const span_record& s : received) {
        if (!s.parent_id.empty() || !done.insert(s.trace_id).second) continue;
        const auto summary = store_.summary(s.trace_id);
        if (!summary) continue;
        const std::string line = render_run_line(*summary, store_.spans(s.trace_id)) + "\n";
        std::FILE* f = std::fopen(opt_.jsonl.c_str(), "ab");
        if (!f || std::fwrite(line.data(), 1, line.size(), f) != line.size()) {
            spdlog::warn("tracecraft serve: cannot append to '{}': {}", opt_.jsonl, std::strerror(errno));
            if (f) std::fclose(f);
            return;
        }
        std::fclose(f);
        ++stats_.jsonl_lines;
    }
}

trace_server::response trace_server::api(std::string_view path, std::string_view query) {
    if (path == "/api/version") {
        json::object o;
        o["version"] = store_.version();
        return {200, "application/json", json::serialize(o)};
    }
    if (path == "/api/traces") {
        trace_filter f;
        f.limit = 200;
        std::string target = "/?" + std::string(query);
        auto parsed = boost::urls::parse_origin_form(target);
        if (!parsed) throw input_error("malformed query string");
        for (const auto& p : parsed->params()) {
            const std::string v = p.value;
            if (p.key.empty()) continue;   // "?" or "&&"
            if (p.key == "name") f.name = v;
            else if (p.key == "service") f.service = v;
            else if (p.key == "model") f.model = v;
            else if (p.key == "error") f.errors_only = v == "1" || v == "true";
            else if (p.key == "min_duration_ms") f.min_duration_ms = number_param(p.key, v);
            else if (p.key == "min_cost") f.min_cost = number_param(p.key, v);
            else if (p.key == "since") {
                const auto t = parse_iso_time(v);
                if (!t) throw input_error("query parameter since: expected an ISO-8601 time, got '" + v + "'");
                f.since_ns = *t;
            } else if (p.key == "limit") f.limit = std::clamp<std::int64_t>(static_cast<std::int64_t>(number_param(p.key, v)), 1, 10000);
            else if (p.key == "offset") f.offset = static_cast<std::int64_t>(number_param(p.key, v));
            else throw input_error("unknown query parameter '" + std::string(p.key) + "'");
        }
        std::int64_t total = 0;
        const auto traces = store_.list(f, &total);
        return {200, "application/json", json::serialize(list_json(traces, total, store_.version()))};
    }
    if (path.starts_with("/api/traces/")) {
        const std::string id = normalise_trace_id(path.substr(12));
        if (id.empty()) throw input_error("'" + std::string(path.substr(12)) + "' is not a trace id (32 hex digits)");
        const auto summary = store_.summary(id);
        if (!summary) return {404, "application/json", error_json("no trace " + id)};
        return {200, "application/json", json::serialize(trace_json(*summary, store_.spans(id)))};
    }
    return {404, "application/json", error_json("no such API: " + std::string(path))};
}

} // namespace tctool
