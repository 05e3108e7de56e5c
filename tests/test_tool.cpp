// The `tracecraft` tool: its OTLP receiver fed by the library's own exporter (both encodings,
// gzip) and by hand-made bodies (truncated at every byte, wrong wire types, invalid UTF-8,
// oversize, a gzip bomb, wrong content types), merging of traces sent in several requests,
// concurrent clients, the SQLite store (restart, migrations, foreign files), the JSON API,
// redaction, JSONL validation and round trip, and golden outputs of view/stats/query.
#include <sqlite3.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "api_json.hpp"
#include "jsonl_source.hpp"
#include "otlp_decoder.hpp"
#include "reports.hpp"
#include "trace_server.hpp"
#include "trace_store.hpp"
#include "viewer_assets.hpp"
#include "tracecraft/exporters/jsonl.hpp"
#include "tracecraft/exporters/otlp_http.hpp"
#include "tracecraft/tracecraft.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace tctool;

namespace {

const std::string data_dir = std::string(TRACECRAFT_TEST_DATA_DIR) + "/tool";

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    BOOST_TEST_REQUIRE(in.good(), "cannot read " << path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct temp_dir {
    fs::path path;
    temp_dir() {
        char tmpl[] = "/tmp/tc-tool-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

// ------------------------------------------------------------ a tiny protobuf writer for hand-made bodies
struct pb {
    std::string b;
    pb& varint(std::uint64_t v) {
        while (v >= 0x80) {
            b.push_back(static_cast<char>((v & 0x7F) | 0x80));
            v >>= 7;
        }
        b.push_back(static_cast<char>(v));
        return *this;
    }
    pb& tag(unsigned field, unsigned wt) { return varint((field << 3) | wt); }
    pb& bytes(unsigned field, std::string_view s) {
        tag(field, 2).varint(s.size());
        b.append(s);
        return *this;
    }
    pb& msg(unsigned field, const pb& m) { return bytes(field, m.b); }
    pb& fixed64(unsigned field, std::uint64_t v) {
        tag(field, 1);
        for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
        return *this;
    }
    pb& uint(unsigned field, std::uint64_t v) { return tag(field, 0).varint(v); }
};

std::string raw_id(int n, char fill) { return std::string(static_cast<std::size_t>(n), fill); }

pb kv(std::string_view key, std::string_view str_value) { return pb().bytes(1, key).msg(2, pb().bytes(1, str_value)); }

/// One request with one span; `mutate` edits the span message before it is wrapped.
std::string pb_request(const pb& span) {
    pb scope_spans;
    scope_spans.msg(1, pb().bytes(1, "handmade")).msg(2, span);
    pb resource_spans;
    resource_spans.msg(1, pb().msg(1, kv("service.name", "hand"))).msg(2, scope_spans);
    return pb().msg(1, resource_spans).b;
}

pb pb_span(std::string_view name, char trace_fill = '\x11', char span_fill = '\x22') {
    pb s;
    s.bytes(1, raw_id(16, trace_fill)).bytes(2, raw_id(8, span_fill)).bytes(5, name).uint(6, 1);
    s.fixed64(7, 1'700'000'000'000'000'000ull).fixed64(8, 1'700'000'000'250'000'000ull);
    s.msg(9, kv("gen_ai.request.model", "gpt-4o"));
    s.msg(9, pb().bytes(1, "gen_ai.usage.input_tokens").msg(2, pb().uint(3, 7)));
    s.msg(15, pb().bytes(2, "boom").uint(3, 2));
    return s;
}

std::string gzip(const std::string& in) {
    z_stream z{};
    deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, in.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

/// OTLP/JSON body with the given spans of trace `tid`: {span_id, parent, name, start_ms, end_ms, extra attrs json}.
struct js {
    std::string id, parent, name;
    int start_ms, end_ms;
    std::string attrs = "[]";
    bool error = false;
};
std::string json_request(const std::string& tid, const std::vector<js>& spans, const std::string& service = "svc") {
    std::string s = R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":")" + service +
                    R"("}}]},"scopeSpans":[{"scope":{"name":"t"},"spans":[)";
    bool first = true;
    for (const js& x : spans) {
        if (!first) s += ",";
        first = false;
        const long long base = 1'750'000'000'000'000'000LL;
        s += R"({"traceId":")" + tid + R"(","spanId":")" + x.id + R"(","parentSpanId":")" + x.parent + R"(","name":")" + x.name +
             R"(","kind":"SPAN_KIND_INTERNAL","startTimeUnixNano":")" + std::to_string(base + x.start_ms * 1'000'000LL) +
             R"(","endTimeUnixNano":)" + std::to_string(base + x.end_ms * 1'000'000LL) + R"(,"attributes":)" + x.attrs +
             (x.error ? R"(,"status":{"code":2,"message":"failed"})" : "") + "}";
    }
    return s + "]}]}]}";
}

/// A server on an io_context run by the test's own thread (handle() is called directly or over TCP).
struct server_env {
    asio::io_context ioc;
    std::unique_ptr<trace_store> store;
    std::unique_ptr<trace_server> server;
    explicit server_env(serve_options o = {}, const std::string& db = ":memory:") {
        o.port = 0;
        store = std::make_unique<trace_store>(db);
        server = std::make_unique<trace_server>(ioc, o, *store);
    }
    trace_server::response post(const std::string& body, const std::string& type = "application/x-protobuf",
                                const std::string& encoding = "") {
        return server->handle("POST", "/v1/traces", type, encoding, body);
    }
    json::value get_json(const std::string& target, unsigned want = 200) {
        const auto r = server->handle("GET", target, "", "", "");
        BOOST_TEST(r.status == want, target << " -> " << r.status << " " << r.body);
        return json::parse(r.body);
    }
};

/// A blocking HTTP/1.1 client (keep-alive) for the network tests.
struct client {
    asio::io_context ioc;
    beast::tcp_stream stream{ioc};
    beast::flat_buffer buf;
    explicit client(unsigned short port) { stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)); }
    http::response<http::string_body> post(const std::string& body, const std::string& type = "application/json") {
        http::request<http::string_body> req{http::verb::post, "/v1/traces", 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::content_type, type);
        req.body() = body;
        req.prepare_payload();
        http::write(stream, req);
        http::response<http::string_body> res;
        http::read(stream, buf, res);
        return res;
    }
};

std::int64_t partial_rejected(const std::string& protobuf_response) {
    // ExportTraceServiceResponse{1: ExportTracePartialSuccess{1: rejected_spans}}
    if (protobuf_response.size() < 4) return 0;
    BOOST_TEST_REQUIRE(protobuf_response[0] == '\x0A');
    BOOST_TEST_REQUIRE(protobuf_response[2] == '\x08');
    return static_cast<unsigned char>(protobuf_response[3]);
}

asio::awaitable<void> produce(int runs, bool* done) {
    using namespace tracecraft;
    for (int i = 0; i < runs; ++i) {
        {
            run_options ro;
            ro.session_id = "session-" + std::to_string(i % 2);
            ro.tags = {"t1", "t2"};
            run_scope r("agent_" + std::to_string(i), ro);
            span_scope llm("chat", span_kind::llm);
            llm.set_model("gpt-4o").set_tokens(10 + i, 2);
            llm.set_attribute("temperature", 0.5).set_attribute("stream", true).set_attribute("n", std::int64_t{3});
            llm.add_event("first_token", {{"ms", std::int64_t{12}}});
            if (i == 1) llm.set_status(status_code::error, "rate limited");
        }
        co_await asio::post(asio::use_awaitable);
    }
    *done = true;
}

} // namespace

BOOST_AUTO_TEST_SUITE(tool)

BOOST_AUTO_TEST_CASE(receiver_accepts_the_library_exporter_in_every_encoding) {
    using namespace tracecraft;
    struct variant {
        otlp_protocol protocol;
        bool gzip;
    };
    for (const variant v : {variant{otlp_protocol::http_protobuf, false}, variant{otlp_protocol::http_json, false},
                            variant{otlp_protocol::http_protobuf, true}, variant{otlp_protocol::http_json, true}}) {
        BOOST_TEST_CONTEXT("protocol " << static_cast<int>(v.protocol) << " gzip " << v.gzip) {
            server_env env;
            otlp_http_options o;
            o.endpoint = "http://127.0.0.1:" + std::to_string(env.server->port()) + "/v1/traces";
            o.protocol = v.protocol;
            o.gzip = v.gzip;
            trace_config cfg;
            cfg.service_name = "tool-test";
            cfg.exporters = {std::make_shared<otlp_http_exporter>(o)};
            cfg.flush_interval = std::chrono::milliseconds(5);
            cfg.batch_size = 2;
            auto rt = std::make_shared<runtime>(env.ioc, cfg);
            bool done = false;
            asio::co_spawn(make_executor(env.ioc, rt.get()), produce(5, &done), asio::detached);
            while (!done) env.ioc.run_one();
            rt->shutdown();
            env.server->stop();
            env.ioc.run();
            BOOST_TEST(env.server->stats().bad_requests == 0u);
            BOOST_TEST(env.server->stats().metric_requests >= 1u);   // the exporter's metrics (final export) are acknowledged
            BOOST_TEST(rt->stats().metric_export_failures == 0u);
            trace_filter f;
            std::int64_t total = 0;
            const auto traces = env.store->list(f, &total);
            BOOST_TEST_REQUIRE(total == 5);
            for (const trace_summary& t : traces) {
                const auto spans = env.store->spans(t.trace_id);
                BOOST_TEST_REQUIRE(spans.size() == 2u);
                const span_record& root = spans[0].parent_id.empty() ? spans[0] : spans[1];
                const span_record& llm = spans[0].parent_id.empty() ? spans[1] : spans[0];
                BOOST_TEST(llm.parent_id == root.span_id);
                BOOST_TEST(root.kind == "agent");
                BOOST_TEST(llm.kind == "llm");
                BOOST_TEST(llm.model == "gpt-4o");
                BOOST_TEST(llm.output_tokens.value_or(-1) == 2);
                BOOST_TEST(llm.service == "tool-test");
                BOOST_TEST(t.service == "tool-test");
                BOOST_TEST(t.name == root.name);
                BOOST_TEST(t.models == "gpt-4o");
                BOOST_TEST(llm.attributes.at("temperature").as_double() == 0.5);
                BOOST_TEST(llm.attributes.at("stream").as_bool() == true);
                BOOST_TEST(llm.attributes.at("n").as_int64() == 3);
                BOOST_TEST_REQUIRE(llm.events.size() == 1u);
                BOOST_TEST(llm.events[0].name == "first_token");
                BOOST_TEST(llm.events[0].attributes.at("ms").as_int64() == 12);
                BOOST_TEST(t.session_id.starts_with("session-"));
                BOOST_TEST(t.tags_json == R"(["t1","t2"])");
                BOOST_TEST(t.error_count == (t.name == "agent_1" ? 1 : 0));
                BOOST_TEST(t.input_tokens == 10 + std::stoi(t.name.substr(6)));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(handmade_protobuf_valid_and_partial_success) {
    server_env env;
    auto r = env.post(pb_request(pb_span("chat")));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body.empty());   // a full success is an empty ExportTraceServiceResponse
    const auto spans = env.store->spans(std::string(32, '1'));
    BOOST_TEST_REQUIRE(spans.size() == 1u);
    BOOST_TEST(spans[0].span_id == std::string(16, '2'));
    BOOST_TEST(spans[0].kind == "llm");
    BOOST_TEST(spans[0].input_tokens.value_or(0) == 7);
    BOOST_TEST(spans[0].status_code == 2);
    BOOST_TEST(spans[0].status_message == "boom");
    BOOST_TEST(spans[0].duration_ns() == 250'000'000);
    BOOST_TEST(spans[0].service == "hand");
    BOOST_TEST(spans[0].scope == "handmade");

    // an all-zero trace id: that span is rejected, the request answered with partial success
    pb scope_spans;
    scope_spans.msg(2, pb_span("good", '\x33', '\x44')).msg(2, pb_span("zero-trace", '\0', '\x45'));
    const std::string body = pb().msg(1, pb().msg(2, scope_spans)).b;
    r = env.post(body);
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(partial_rejected(r.body) == 1);
    BOOST_TEST(r.body.find("trace_id must be 16 bytes") != std::string::npos);
    BOOST_TEST(env.store->spans(std::string(32, '3')).size() == 1u);
    // the same in JSON
    r = env.post(json_request("00000000000000000000000000000000", {{"aaaaaaaaaaaaaaaa", "", "x", 0, 1}}), "application/json");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(json::parse(r.body).at("partialSuccess").at("rejectedSpans") == "1");
}

BOOST_AUTO_TEST_CASE(malformed_protobuf_is_400_never_a_crash) {
    server_env env;
    const std::string good = pb_request(pb_span("truncate-me"));
    // every proper prefix: a 400 naming the problem, or a 200 when the cut fell between fields
    int bad = 0;
    for (std::size_t n = 0; n < good.size(); ++n) {
        const auto r = env.post(good.substr(0, n));
        BOOST_TEST((r.status == 200u || r.status == 400u), "prefix " << n << " -> " << r.status);
        bad += r.status == 400u;
    }
    BOOST_TEST(bad > static_cast<int>(good.size()) / 2);
    // wrong wire type: the span's name (field 5) as a varint
    pb s = pb_span("x");
    s.uint(5, 42);
    auto r = env.post(pb_request(s));
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(r.body.find("field name has wire type 0") != std::string::npos, r.body);
    BOOST_TEST(r.content_type == "application/x-protobuf");   // a google.rpc.Status in the request's encoding
    // invalid UTF-8 in a string
    r = env.post(pb_request(pb_span("bad \xC3\x28 name")));
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(r.body.find("not valid UTF-8") != std::string::npos);
    r = env.post(pb_request(pb_span("x").msg(9, kv("k", "\xED\xA0\x80"))));   // an encoded surrogate
    BOOST_TEST(r.status == 400u);
    // deprecated group wire type, a field number 0, an over-long varint
    BOOST_TEST(env.post(std::string("\x0B\x0C", 2)).status == 400u);
    BOOST_TEST(env.post(std::string("\x00\x01", 2)).status == 400u);
    BOOST_TEST(env.post(std::string("\x08\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01", 12)).status == 400u);
    // a length beyond the body
    BOOST_TEST(env.post(std::string("\x0A\xFF\xFF\x03", 4)).status == 400u);
    // AnyValue nested 1000 deep: refused, not a stack overflow
    pb deep = pb().bytes(1, "leaf");
    for (int i = 0; i < 1000; ++i) deep = pb().msg(5, pb().msg(1, deep));
    r = env.post(pb_request(pb_span("deep").msg(9, pb().bytes(1, "k").msg(2, deep))));
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(r.body.find("nested deeper") != std::string::npos);
    // random bytes: never a crash
    std::mt19937 rng(7);
    for (int i = 0; i < 2000; ++i) {
        std::string junk(rng() % 64, '\0');
        for (char& c : junk) c = static_cast<char>(rng());
        const auto rr = env.post(junk);
        BOOST_TEST((rr.status == 200u || rr.status == 400u));
    }
    BOOST_TEST(env.store->list({}).size() <= 1u);   // junk may at most decode to an empty request
}

BOOST_AUTO_TEST_CASE(malformed_json_content_types_and_encodings) {
    server_env env;
    auto r = env.post("{\"resourceSpans\":[", "application/json");
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(json::parse(r.body).at("code") == 3);
    r = env.post(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]})", "application/json");
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(r.body.find("resourceSpans[0].scopeSpans[0].spans[0].traceId: expected hex digits") != std::string::npos, r.body);
    r = env.post(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"11111111111111111111111111111111","spanId":"2222222222222222","startTimeUnixNano":"soon"}]}]}]})",
                 "application/json");
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(r.body.find("startTimeUnixNano: expected an integer") != std::string::npos, r.body);
    r = env.post(R"({"resourceSpans":{}})", "application/json");
    BOOST_TEST(r.status == 400u);
    // unknown fields are ignored; enum names and numbers both work; "application/json; charset=utf-8"
    r = env.post(R"({"resourceSpans":[{"futureField":1,"scopeSpans":[{"spans":[{"traceId":"11111111111111111111111111111111","spanId":"2222222222222222","name":"n","kind":3,"status":{"code":"STATUS_CODE_ERROR"}}]}]}]})",
                 "application/json; charset=utf-8");
    BOOST_TEST(r.status == 200u, r.body);
    const auto sp = env.store->spans(std::string(32, '1'));
    BOOST_TEST_REQUIRE(sp.size() == 1u);
    BOOST_TEST(sp[0].otel_kind == 3);
    BOOST_TEST(sp[0].status_code == 2);
    // content types and encodings
    BOOST_TEST(env.post("x", "text/plain").status == 415u);
    BOOST_TEST(env.post("x", "").status == 415u);
    BOOST_TEST(env.post("x", "application/x-protobuf", "br").status == 415u);
    BOOST_TEST(env.post("not gzip", "application/x-protobuf", "gzip").status == 400u);
    const std::string zipped = gzip(pb_request(pb_span("zipped", '\x55', '\x66')));
    BOOST_TEST(env.post(zipped, "application/x-protobuf", "gzip").status == 200u);
    BOOST_TEST(env.store->spans(std::string(32, '5')).size() == 1u);
    BOOST_TEST(env.post(zipped.substr(0, zipped.size() / 2), "application/x-protobuf", "gzip").status == 400u);
    // a gzip bomb: 64 MiB of zeros in ~64 KiB; refused at the limit, not inflated whole
    const std::string bomb = gzip(std::string(64u << 20, '\0'));
    BOOST_TEST(bomb.size() < 200'000u);
    r = env.post(bomb, "application/x-protobuf", "gzip");
    BOOST_TEST(r.status == 413u);
    BOOST_TEST(env.server->stats().too_large == 1u);
    // other methods and paths
    BOOST_TEST(env.server->handle("GET", "/v1/traces", "", "", "").status == 405u);
    BOOST_TEST(env.server->handle("GET", "/nope", "", "", "").status == 404u);
    BOOST_TEST(env.server->handle("GET", "/health", "", "", "").body == R"({"status":"ok"})");
}

BOOST_AUTO_TEST_CASE(oversize_body_over_the_network_is_413) {
    serve_options o;
    o.max_body = 1u << 20;
    server_env env(o);
    std::thread t([&] { env.ioc.run(); });
    {
        client c(env.server->port());
        const std::string big(100u << 20, 'x');   // 100 MiB, refused as the header announces it
        http::request<http::string_body> req{http::verb::post, "/v1/traces", 11};
        req.set(http::field::content_type, "application/json");
        req.body() = big;
        req.prepare_payload();
        beast::error_code ec;
        http::write(c.stream, req, ec);   // the server may close before all is written
        http::response<http::string_body> res;
        http::read(c.stream, c.buf, res, ec);
        BOOST_TEST(!ec, ec.message());
        BOOST_TEST(res.result_int() == 413u);
        BOOST_TEST(res.body().find("exceeds") != std::string::npos);
    }
    {   // the server still serves
        client c(env.server->port());
        BOOST_TEST(c.post(json_request("abababababababababababababababab", {{"1111111111111111", "", "after", 0, 1}})).result_int() == 200u);
    }
    asio::post(env.ioc, [&] { env.server->stop(); });
    t.join();
    BOOST_TEST(env.store->spans("abababababababababababababababab").size() == 1u);
}

BOOST_AUTO_TEST_CASE(spans_of_one_trace_in_several_requests_are_merged) {
    server_env env;
    const std::string tid = "0123456789abcdef0123456789abcdef";
    const std::string llm_attrs = R"([{"key":"gen_ai.request.model","value":{"stringValue":"m1"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"5"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":7}},{"key":"tracecraft.cost_usd","value":{"doubleValue":0.25}}])";
    // children first (SDKs export spans as they end), the root last
    BOOST_TEST(env.post(json_request(tid, {{"00000000000000c1", "00000000000000a0", "llm-1", 10, 20, llm_attrs}}), "application/json").status == 200u);
    BOOST_TEST(env.post(json_request(tid, {{"00000000000000c2", "00000000000000a0", "tool", 20, 40, "[]", true}}), "application/json").status == 200u);
    auto partial = env.store->summary(tid);
    BOOST_TEST_REQUIRE(partial.has_value());
    BOOST_TEST(partial->span_count == 2);
    BOOST_TEST(env.post(json_request(tid, {{"00000000000000a0", "", "run", 0, 50}, {"00000000000000c3", "00000000000000c2", "llm-2", 25, 35, llm_attrs}}),
                        "application/json").status == 200u);
    auto t = env.store->summary(tid);
    BOOST_TEST_REQUIRE(t.has_value());
    BOOST_TEST(t->span_count == 4);
    BOOST_TEST(t->name == "run");
    BOOST_TEST(t->root_span_id == "00000000000000a0");
    BOOST_TEST(t->duration_ns() == 50'000'000);
    BOOST_TEST(t->input_tokens == 10);
    BOOST_TEST(t->output_tokens == 14);
    BOOST_TEST(t->cost_usd == 0.5);
    BOOST_TEST(t->error_count == 1);
    BOOST_TEST(t->models == "m1");
    // a retried request does not duplicate anything
    const auto version = env.store->version();
    BOOST_TEST(env.post(json_request(tid, {{"00000000000000a0", "", "run", 0, 50}}), "application/json").status == 200u);
    BOOST_TEST(env.store->summary(tid)->span_count == 4);
    BOOST_TEST(env.store->version() == version + 1);
    const auto spans = env.store->spans(tid);
    BOOST_TEST_REQUIRE(spans.size() == 4u);
    BOOST_TEST(spans[0].name == "run");
    BOOST_TEST(spans[3].parent_id == "00000000000000c2");
}

BOOST_AUTO_TEST_CASE(concurrent_clients_keep_alive) {
    server_env env;
    std::thread server_thread([&] { env.ioc.run(); });
    constexpr int clients = 8, requests = 25;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int c = 0; c < clients; ++c)
        threads.emplace_back([&, c] {
            client cl(env.server->port());
            for (int i = 0; i < requests; ++i) {
                char tid[33];
                std::snprintf(tid, sizeof tid, "%016x%016x", c + 1, i + 1);
                const auto res = cl.post(json_request(tid, {{"1000000000000001", "", "r", 0, 5}, {"1000000000000002", "1000000000000001", "c", 1, 2}}));
                ok += res.result_int() == 200 && res.keep_alive();
            }
        });
    for (auto& th : threads) th.join();
    asio::post(env.ioc, [&] { env.server->stop(); });
    server_thread.join();
    BOOST_TEST(ok.load() == clients * requests);
    std::int64_t total = 0;
    trace_filter f;
    f.limit = 1;
    (void)env.store->list(f, &total);
    BOOST_TEST(total == clients * requests);
    BOOST_TEST(env.server->stats().spans_stored == 2u * clients * requests);
}

BOOST_AUTO_TEST_CASE(database_restart_migrations_and_foreign_files) {
    temp_dir dir;
    const std::string db = dir.file("traces.db");
    const std::string tid = "fedcba9876543210fedcba9876543210";
    {
        server_env env({}, db);
        BOOST_TEST(env.post(json_request(tid, {{"00000000000000c1", "00000000000000a0", "child", 1, 2}}), "application/json").status == 200u);
    }
    {   // a restart on the same file: the trace is there, and new spans merge into it
        server_env env({}, db);
        BOOST_TEST(env.store->user_version() == trace_store::schema_version);
        BOOST_TEST(env.store->summary(tid)->span_count == 1);
        BOOST_TEST(env.post(json_request(tid, {{"00000000000000a0", "", "root", 0, 3}}), "application/json").status == 200u);
        BOOST_TEST(env.store->summary(tid)->span_count == 2);
        BOOST_TEST(env.store->summary(tid)->name == "root");
        BOOST_TEST(env.store->version() == 2);
    }
    // WAL journal mode is persistent in the file
    BOOST_TEST(fs::exists(db));
    // a database of schema 1 is migrated to the current one on open, keeping its rows
    const std::string old_db = dir.file("v1.db");
    trace_store::create_at_version(old_db, 1);
    {
        trace_store s(old_db);
        BOOST_TEST(s.user_version() == trace_store::schema_version);
        std::vector<span_record> spans(1);
        spans[0].trace_id = tid;
        spans[0].span_id = "0000000000000001";
        spans[0].name = "after-migration";
        s.store(spans);
        BOOST_TEST(s.summary(tid)->name == "after-migration");
    }
    // a newer schema, a foreign SQLite file, a file that is not SQLite, a missing one: clear errors
    const std::string newer = dir.file("newer.db");
    trace_store::create_at_version(newer, 2);
    {
        std::ofstream(dir.file("bump.sql")) << "";
    }
    {
        trace_store s(newer);
    }
    BOOST_TEST(std::system(("sqlite3 " + newer + " 'PRAGMA user_version=99' 2>/dev/null || true").c_str()) >= 0);
    if (std::system("command -v sqlite3 > /dev/null") == 0) {
        try {
            trace_store s(newer);
            BOOST_FAIL("a newer schema was opened");
        } catch (const input_error& e) {
            BOOST_TEST(std::string(e.what()).find("newer than this tracecraft") != std::string::npos, e.what());
        }
        const std::string foreign = dir.file("foreign.db");
        BOOST_TEST(std::system(("sqlite3 " + foreign + " 'CREATE TABLE t(x)'").c_str()) == 0);
        try {
            trace_store s(foreign);
            BOOST_FAIL("a foreign database was opened");
        } catch (const input_error& e) {
            BOOST_TEST(std::string(e.what()).find("not a tracecraft trace database") != std::string::npos, e.what());
        }
    }
    {
        std::ofstream(dir.file("text.db")) << "hello, not a database, but long enough to have a header of sorts......";
    }
    BOOST_CHECK_THROW(trace_store(dir.file("text.db")), input_error);
    BOOST_CHECK_THROW(trace_store(dir.file("missing.db"), trace_store::mode::open_existing), input_error);
    BOOST_CHECK_THROW((void)open_source(dir.file("missing.db")), input_error);
}

BOOST_AUTO_TEST_CASE(a_locked_database_is_503_so_the_sdk_retries) {
    temp_dir dir;
    const std::string db = dir.file("locked.db");
    server_env env({}, db);
    env.store->set_busy_timeout(std::chrono::milliseconds(20));
    sqlite3* other = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open(db.c_str(), &other) == SQLITE_OK);
    BOOST_TEST_REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
    const std::string body = json_request("e0000000000000000000000000000001", {{"0000000000000001", "", "r", 0, 1}});
    auto r = env.post(body, "application/json");
    BOOST_TEST(r.status == 503u);
    BOOST_TEST(json::parse(r.body).at("code") == 14);
    BOOST_TEST(env.server->stats().store_failures == 1u);
    sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(other);
    r = env.post(body, "application/json");   // the retry succeeds
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(env.store->summary("e0000000000000000000000000000001").has_value());
}

BOOST_AUTO_TEST_CASE(json_api_lists_filters_and_returns_traces) {
    server_env env;
    const std::string llm = R"([{"key":"gen_ai.request.model","value":{"stringValue":"claude"}},{"key":"tracecraft.cost_usd","value":{"doubleValue":0.02}}])";
    env.post(json_request("a0000000000000000000000000000001", {{"0000000000000001", "", "alpha run", 0, 100}}, "svc-a"), "application/json");
    env.post(json_request("a0000000000000000000000000000002", {{"0000000000000001", "", "beta run", 200, 210, "[]", true}}, "svc-b"), "application/json");
    env.post(json_request("a0000000000000000000000000000003", {{"0000000000000001", "", "gamma", 300, 1300}, {"0000000000000002", "0000000000000001", "llm", 301, 900, llm}}, "svc-a"),
             "application/json");
    auto all = env.get_json("/api/traces");
    BOOST_TEST(all.at("total") == 3);
    BOOST_TEST(all.at("traces").as_array()[0].at("name") == "gamma");   // newest first
    BOOST_TEST(env.get_json("/api/traces?name=RUN").at("total") == 2);
    BOOST_TEST(env.get_json("/api/traces?service=svc-b").at("traces").as_array()[0].at("name") == "beta run");
    BOOST_TEST(env.get_json("/api/traces?error=1").at("total") == 1);
    BOOST_TEST(env.get_json("/api/traces?model=claude").at("total") == 1);
    BOOST_TEST(env.get_json("/api/traces?min_duration_ms=50").at("total") == 2);
    BOOST_TEST(env.get_json("/api/traces?min_cost=0.01").at("total") == 1);
    BOOST_TEST(env.get_json("/api/traces?since=2025-06-15T15:06:40.250Z").at("total") == 1);
    auto page = env.get_json("/api/traces?limit=1&offset=1");
    BOOST_TEST(page.at("traces").as_array().size() == 1u);
    BOOST_TEST(page.at("traces").as_array()[0].at("name") == "beta run");
    BOOST_TEST(page.at("total") == 3);
    env.get_json("/api/traces?min_cost=cheap", 400);
    env.get_json("/api/traces?colour=red", 400);
    env.get_json("/api/traces?since=yesterday", 400);
    auto one = env.get_json("/api/traces/A0000000-0000-0000-0000-000000000003");   // a UUID form works too
    BOOST_TEST(one.at("trace").at("span_count") == 2);
    BOOST_TEST(one.at("trace").at("cost_usd").as_double() == 0.02);
    const auto& spans = one.at("spans").as_array();
    BOOST_TEST_REQUIRE(spans.size() == 2u);
    BOOST_TEST(spans[1].at("parent_id") == "0000000000000001");
    BOOST_TEST(spans[1].at("model") == "claude");
    BOOST_TEST(spans[1].at("kind") == "llm");
    BOOST_TEST(spans[1].at("offset_ms").as_double() == 1.0);
    BOOST_TEST(spans[1].at("duration_ms").as_double() == 599.0);
    BOOST_TEST(spans[1].at("attributes").at("gen_ai.request.model") == "claude");
    env.get_json("/api/traces/b0000000000000000000000000000009", 404);
    env.get_json("/api/traces/nope", 400);
    const auto v1 = env.get_json("/api/version").at("version").as_int64();
    env.post(json_request("a0000000000000000000000000000004", {{"0000000000000001", "", "late", 0, 1}}), "application/json");
    BOOST_TEST(env.get_json("/api/version").at("version").as_int64() == v1 + 1);
    // the viewer's files
    const auto page_html = env.server->handle("GET", "/", "", "", "");
    BOOST_TEST(page_html.content_type.starts_with("text/html"));
    BOOST_TEST(page_html.body.find("viewer.js") != std::string::npos);
    BOOST_TEST(env.server->handle("GET", "/viewer.js", "", "", "").body.find("api/traces") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(redaction_before_storing) {
    serve_options o;
    o.redact = true;
    server_env env(o);
    const std::string attrs = R"([{"key":"input.value","value":{"stringValue":"mail bob@example.com, key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"}},{"key":"nested","value":{"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"call +1 415 555 0100"}}]}}},{"key":"plain","value":{"stringValue":"nothing secret"}}])";
    BOOST_TEST(env.post(json_request("c0000000000000000000000000000001", {{"0000000000000001", "", "r", 0, 1, attrs}}), "application/json").status == 200u);
    const auto spans = env.store->spans("c0000000000000000000000000000001");
    BOOST_TEST_REQUIRE(spans.size() == 1u);
    const std::string input(spans[0].attributes.at("input.value").as_string());
    BOOST_TEST(input.find("bob@example.com") == std::string::npos, input);
    BOOST_TEST(input.find("sk-proj-abcdef") == std::string::npos, input);
    BOOST_TEST(input.find("[REDACTED]") != std::string::npos, input);
    const std::string nested = json::serialize(spans[0].attributes.at("nested"));
    BOOST_TEST(nested.find("555 0100") == std::string::npos, nested);
    BOOST_TEST(spans[0].attributes.at("plain") == "nothing secret");
    BOOST_TEST(env.server->stats().redactions >= 3u);
}

BOOST_AUTO_TEST_CASE(served_jsonl_validates_and_reads_back) {
    temp_dir dir;
    serve_options o;
    o.jsonl = dir.file("out.jsonl");
    server_env env(o);
    const std::string tid = "d0000000000000000000000000000001";
    const std::string llm = R"([{"key":"gen_ai.request.model","value":{"stringValue":"m"}},{"key":"input.value","value":{"stringValue":"{\"prompt\":\"hi\"}"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"3"}}])";
    env.post(json_request(tid, {{"00000000000000c1", "00000000000000a0", "llm", 1, 2, llm}}), "application/json");
    BOOST_TEST(!fs::exists(o.jsonl));   // the root has not arrived: the trace is not complete
    env.post(json_request(tid, {{"00000000000000a0", "", "run", 0, 3, "[]", true}, {"00000000000000c2", "00000000000000c1", "leaf", 1, 2}}), "application/json");
    BOOST_TEST(env.server->stats().jsonl_lines == 1u);
    std::vector<line_problem> problems;
    const std::string text = read_file(o.jsonl);
    validate_line(text.substr(0, text.size() - 1), 1, problems);
    BOOST_TEST(problems.empty(), (problems.empty() ? "" : problems[0].message));
    const jsonl_contents back = read_jsonl(o.jsonl);
    BOOST_TEST(back.runs == 1u);
    BOOST_TEST_REQUIRE(back.spans.size() == 3u);
    BOOST_TEST(back.spans[0].span_id == "00000000000000a0");   // the run is the stored root again
    BOOST_TEST(back.spans[0].status_code == 2);
    BOOST_TEST(back.spans[1].parent_id == "00000000000000a0");
    BOOST_TEST(back.spans[1].model == "m");
    BOOST_TEST(back.spans[1].input_tokens.value_or(0) == 3);
    BOOST_TEST(back.spans[2].parent_id == "00000000000000c1");
    const json::value inputs = json::parse(text).at("steps").at(0).at("inputs");
    BOOST_TEST(inputs.at("prompt") == "hi");
}

BOOST_AUTO_TEST_CASE(validate_reports_lines_and_fields) {
    // the library's own JSONL exporter writes lines that validate
    temp_dir dir;
    {
        using namespace tracecraft;
        asio::io_context ioc;
        trace_config cfg;
        jsonl_options jo;
        jo.path = dir.file("lib.jsonl");
        cfg.exporters = {std::make_shared<jsonl_exporter>(jo)};
        cfg.flush_interval = std::chrono::milliseconds(5);
        auto rt = std::make_shared<runtime>(ioc, cfg);
        bool done = false;
        asio::co_spawn(make_executor(ioc, rt.get()), produce(3, &done), asio::detached);
        while (!done) ioc.run_one();
        rt->shutdown();
        ioc.run();
    }
    const jsonl_contents lib = read_jsonl(dir.file("lib.jsonl"));
    BOOST_TEST(lib.problems.empty(), (lib.problems.empty() ? "" : lib.problems[0].message));
    BOOST_TEST(lib.runs == 3u);
    BOOST_TEST(lib.spans.size() == 6u);
    const jsonl_contents good = read_jsonl(data_dir + "/fixture.jsonl");
    BOOST_TEST(good.problems.empty());
    const jsonl_contents bad = read_jsonl(data_dir + "/broken.jsonl");
    std::vector<std::string> got;
    for (const line_problem& p : bad.problems) got.push_back(std::to_string(p.line) + ": " + p.message);
    const std::vector<std::string> want = {
        "1: not valid JSON: incomplete JSON",
        "2: expected a run object, got [1,2]",
        "3: name: required field is missing",
        "3: start_time: expected an ISO-8601 time, got 12",
        "4: total_tokens: expected an integer, got \"many\"",
        "4: colour: unknown field",
        "5: steps[0].type: unknown step type \"robot\"",
        "5: steps[0].children[0].id: expected a UUID string, got \"not-a-uuid\"",
        "5: steps[0].children[0].trace_id: required field is missing",
        "6: tags[1]: expected a string",
    };
    BOOST_TEST(got == want, boost::test_tools::per_element());
    BOOST_TEST(bad.runs == 1u);   // line 7 is valid
}

BOOST_AUTO_TEST_CASE(view_stats_query_golden_outputs) {
    const opened_source src = open_source(data_dir + "/fixture.jsonl");
    BOOST_TEST(src.problems.empty());
    const bool update = std::getenv("TRACECRAFT_UPDATE_GOLDEN") != nullptr;
    auto check = [&](const std::string& name, const std::string& got) {
        const std::string path = data_dir + "/golden/" + name;
        if (update) {
            fs::create_directories(data_dir + "/golden");
            std::ofstream(path, std::ios::binary) << got;
        }
        BOOST_TEST(got == read_file(path), name);
    };
    std::ostringstream view, one, stats, by_name, by_kind, by_model, q_table, q_csv, q_json, q_filtered;
    render_view(view, *src.store, view_options{});
    view_options vo;
    vo.trace_id = "5b2f7f3e-0000-4000-8000-000000000002";
    render_view(one, *src.store, vo);
    render_stats(stats, *src.store, stats_group::none, false);
    render_stats(by_name, *src.store, stats_group::name, false);
    render_stats(by_kind, *src.store, stats_group::kind, false);
    render_stats(by_model, *src.store, stats_group::model, true);
    trace_filter f;
    std::int64_t total = 0;
    auto all = src.store->list(f, &total);
    render_query(q_table, all, total, query_format::table);
    render_query(q_csv, all, total, query_format::csv);
    render_query(q_json, all, total, query_format::json);
    f.errors_only = true;
    f.model = "gpt-4o";
    auto filtered = src.store->list(f, &total);
    render_query(q_filtered, filtered, total, query_format::table);
    check("view.txt", view.str());
    check("view_one.txt", one.str());
    check("stats.txt", stats.str());
    check("stats_by_name.txt", by_name.str());
    check("stats_by_kind.txt", by_kind.str());
    check("stats_by_model.json", by_model.str());
    check("query.txt", q_table.str());
    check("query.csv", q_csv.str());
    check("query.json", q_json.str());
    check("query_errors_gpt4o.txt", q_filtered.str());
    view_options bad;
    bad.trace_id = "zz";
    std::ostringstream sink;
    BOOST_CHECK_THROW(render_view(sink, *src.store, bad), input_error);
    BOOST_TEST(parse_since("2h", 10'000'000'000'000) == 10'000'000'000'000 - 7'200'000'000'000);
    BOOST_CHECK_THROW((void)parse_since("2 weeks", 0), input_error);
}

BOOST_AUTO_TEST_CASE(standalone_html_inlines_everything) {
    const opened_source src = open_source(data_dir + "/fixture.jsonl");
    json::object data;
    auto traces = src.store->list({});
    data["list"] = list_json(traces, static_cast<std::int64_t>(traces.size()), 0);
    json::object by_id;
    for (const auto& t : traces) by_id[t.trace_id] = trace_json(t, src.store->spans(t.trace_id));
    by_id["x"] = json::object{{"evil", "</script><script>alert(1)</script>"}};
    data["traces"] = std::move(by_id);
    const std::string page = standalone_html(data);
    BOOST_TEST(page.find("viewer.css\"") == std::string::npos);    // no external stylesheet
    BOOST_TEST(page.find("src=\"viewer.js\"") == std::string::npos);   // no external script
    BOOST_TEST(page.find("http://") == std::string::npos);        // nothing from a network
    BOOST_TEST(page.find("https://") == std::string::npos);
    BOOST_TEST(page.find("<script>alert(1)") == std::string::npos);   // data cannot close the script element
    BOOST_TEST(page.find("window.TRACECRAFT_DATA") != std::string::npos);
    BOOST_TEST(std::string(viewer_js()).find("</") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
