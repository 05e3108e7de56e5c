// OTLP/HTTP exporter against an in-process Beast receiver on 127.0.0.1: keep-alive, both
// encodings, gzip, 503 + Retry-After, 400 not retried, partial success, receiver down then up,
// slow receiver (back-pressure), TLS with a self-signed certificate, and the OTEL_* environment
// precedence.
#include <zlib.h>

#include <deque>
#include <map>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "test_util.hpp"
#include "tracecraft/exporters/otlp_http.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace tracecraft;

namespace {

struct scripted {
    unsigned status = 200;
    std::string retry_after;
    std::string body;
};

struct received {
    std::string content_type, content_encoding, body, authorization;
    int connection = 0;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    BOOST_TEST_REQUIRE(in.good(), "cannot read " << path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

const std::string data_dir = TRACECRAFT_TEST_DATA_DIR;

class test_receiver {
public:
    /// With `tls`, connections are TLS with the self-signed tests/data/test_server.* pair.
    test_receiver(asio::io_context& ioc, unsigned short port = 0, bool tls = false)
        : acceptor_(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)), gate_(ioc) {
        port_ = acceptor_.local_endpoint().port();
        gate_.expires_at(asio::steady_timer::time_point::max());
        if (tls) {
            ssl_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
            ssl_->use_certificate_chain_file(data_dir + "/test_server.crt");
            ssl_->use_private_key_file(data_dir + "/test_server.key", asio::ssl::context::pem);
        }
        asio::co_spawn(ioc, accept_loop(this), asio::detached);
    }
    unsigned short port() const { return port_; }
    void stop() {
        beast::error_code ec;
        acceptor_.close(ec);
        for (auto& s : sockets_) s->close(ec);
        gate_.cancel();
    }
    /// While held, requests are read and recorded but not answered (a stalled collector).
    void hold() { held_ = true; }
    void release() {
        held_ = false;
        gate_.cancel();
    }
    std::deque<scripted> script;
    std::vector<received> requests;
    int connections = 0;
    int handshakes_failed = 0;

private:
    static asio::awaitable<void> accept_loop(test_receiver* self) {
        for (;;) {
            auto sock = std::make_shared<tcp::socket>(co_await self->acceptor_.async_accept(asio::use_awaitable));
            self->sockets_.push_back(sock);
            const int conn = ++self->connections;
            if (self->ssl_)
                asio::co_spawn(self->acceptor_.get_executor(), tls_session(self, sock, conn), asio::detached);
            else
                asio::co_spawn(self->acceptor_.get_executor(), session(self, *sock, conn, sock), asio::detached);
        }
    }
    static asio::awaitable<void> tls_session(test_receiver* self, std::shared_ptr<tcp::socket> sock, int conn) {
        asio::ssl::stream<tcp::socket&> stream(*sock, *self->ssl_);
        boost::system::error_code ec;
        co_await stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            ++self->handshakes_failed;
            co_return;
        }
        auto op = session(self, stream, conn, sock);
        co_await std::move(op);
    }
    template <class Stream>
    static asio::awaitable<void> session(test_receiver* self, Stream& stream, int conn, std::shared_ptr<tcp::socket> keep) {
        beast::flat_buffer buf;
        for (;;) {
            http::request<http::string_body> req;
            co_await http::async_read(stream, buf, req, asio::use_awaitable);
            received r;
            r.content_type = std::string(req[http::field::content_type]);
            r.content_encoding = std::string(req[http::field::content_encoding]);
            r.authorization = std::string(req[http::field::authorization]);
            r.body = req.body();
            r.connection = conn;
            self->requests.push_back(std::move(r));
            while (self->held_ && keep->is_open()) {
                boost::system::error_code ec;
                co_await self->gate_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            }
            scripted s;
            if (!self->script.empty()) {
                s = self->script.front();
                self->script.pop_front();
            }
            http::response<http::string_body> res{static_cast<http::status>(s.status), 11};
            if (!s.retry_after.empty()) res.set(http::field::retry_after, s.retry_after);
            res.body() = s.body;
            res.keep_alive(true);
            res.prepare_payload();
            co_await http::async_write(stream, res, asio::use_awaitable);
        }
    }
    tcp::acceptor acceptor_;
    asio::steady_timer gate_;
    bool held_ = false;
    std::unique_ptr<asio::ssl::context> ssl_;
    unsigned short port_ = 0;
    std::vector<std::shared_ptr<tcp::socket>> sockets_;
};

asio::awaitable<void> produce_with_back_pressure(runtime* rt, int runs, bool* done, int* waits) {
    for (int i = 0; i < runs; ++i) {
        if (!rt->has_capacity(2)) {
            ++*waits;
            co_await rt->async_wait_for_capacity(2);
        }
        {
            run_scope r("agent_" + std::to_string(i));
            span_scope llm("llm", span_kind::llm);
        }
        co_await asio::post(asio::use_awaitable);
    }
    *done = true;
}

asio::awaitable<void> produce(int runs, bool* done) {
    for (int i = 0; i < runs; ++i) {
        {
            run_scope r("agent_" + std::to_string(i));
            span_scope llm("llm", span_kind::llm);
            llm.set_model("gpt-4o").set_tokens(10, 2);
        }
        co_await asio::post(asio::use_awaitable);
    }
    *done = true;
}

struct http_env {
    asio::io_context ioc;
    std::unique_ptr<test_receiver> rx;
    std::shared_ptr<otlp_http_exporter> exp;
    std::shared_ptr<runtime> rt;

    explicit http_env(otlp_http_options o = {}, std::size_t batch = 4, bool start_receiver = true, bool tls = false,
                      std::size_t max_queue_spans = 2048, overflow_policy overflow = overflow_policy::drop_oldest)
        : rx(std::make_unique<test_receiver>(ioc, 0, tls)) {
        if (!start_receiver) rx->stop();
        if (o.endpoint == otlp_http_options{}.endpoint)
            o.endpoint = std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(rx->port()) + "/v1/traces";
        if (o.retry.initial_interval == retry_policy{}.initial_interval) {
            o.retry.initial_interval = std::chrono::milliseconds(10);
            o.retry.max_interval = std::chrono::milliseconds(50);
        }
        o.metrics.enabled = false;   // these tests decode every request as traces
        exp = std::make_shared<otlp_http_exporter>(o);
        trace_config cfg;
        cfg.service_name = "otlp-http-test";
        cfg.exporters = {exp};
        cfg.batch_size = batch;
        cfg.max_queue_spans = max_queue_spans;
        cfg.overflow = overflow;
        cfg.flush_interval = std::chrono::milliseconds(5);
        rt = std::make_shared<runtime>(ioc, cfg);
    }
    void run(int traces) {
        bool done = false;
        asio::co_spawn(make_executor(ioc, rt.get()), produce(traces, &done), asio::detached);
        while (!done) ioc.run_one();
        rt->shutdown();
        rx->stop();
        ioc.run();
    }
};

std::string inflate_gzip(const std::string& in) {
    z_stream zs{};
    inflateInit2(&zs, 15 + 16);
    std::string out(in.size() * 20 + 1024, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    inflateEnd(&zs);
    return rc == Z_STREAM_END ? out : std::string();
}

} // namespace

BOOST_AUTO_TEST_SUITE(otlp_http)

BOOST_AUTO_TEST_CASE(protobuf_over_one_keep_alive_connection) {
    otlp_http_options o;
    o.headers = {{"authorization", "Bearer test-token"}};
    http_env env(o, 4);
    env.run(6);   // 6 traces x 2 spans, batches of 4 spans -> 3 requests
    BOOST_TEST(env.rx->requests.size() == 3u);
    BOOST_TEST(env.rx->connections == 1);
    for (const auto& r : env.rx->requests) {
        BOOST_TEST(r.content_type == "application/x-protobuf");
        BOOST_TEST(r.authorization == "Bearer test-token");
        BOOST_TEST(!r.body.empty());
        BOOST_TEST(static_cast<unsigned char>(r.body[0]) == 0x0a);   // field 1, length-delimited
    }
    BOOST_TEST(env.exp->get_stats().exported_spans == 12u);
    BOOST_TEST(env.rt->stats().spans_exported == 12u);
}

BOOST_AUTO_TEST_CASE(json_and_gzip) {
    otlp_http_options o;
    o.protocol = otlp_protocol::http_json;
    o.gzip = true;
    http_env env(o, 100);
    env.run(3);
    BOOST_TEST_REQUIRE(env.rx->requests.size() >= 1u);
    const auto& r = env.rx->requests[0];
    BOOST_TEST(r.content_type == "application/json");
    BOOST_TEST(r.content_encoding == "gzip");
    const std::string plain = inflate_gzip(r.body);
    BOOST_TEST_REQUIRE(!plain.empty());
    const auto doc = boost::json::parse(plain);
    const auto& spans = doc.at("resourceSpans").as_array().at(0).at("scopeSpans").as_array().at(0).at("spans").as_array();
    BOOST_TEST(spans.size() == 6u);
    const auto& res_attrs = doc.at("resourceSpans").as_array().at(0).at("resource").at("attributes").as_array();
    BOOST_TEST(res_attrs.at(0).at("value").at("stringValue").as_string() == "otlp-http-test");   // service.name
}

BOOST_AUTO_TEST_CASE(retries_503_honouring_retry_after) {
    http_env env({}, 100);
    env.rx->script = {scripted{503, "1", ""}};
    const auto t0 = std::chrono::steady_clock::now();
    env.run(2);
    BOOST_TEST(env.rx->requests.size() == 2u);
    BOOST_TEST(env.exp->get_stats().retries == 1u);
    BOOST_TEST(env.exp->get_stats().exported_spans == 4u);
    BOOST_TEST((std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(950)));   // Retry-After: 1 s
}

BOOST_AUTO_TEST_CASE(status_400_is_not_retried) {
    http_env env({}, 100);
    env.rx->script = {scripted{400, "", ""}};
    env.run(2);
    BOOST_TEST(env.rx->requests.size() == 1u);
    BOOST_TEST(env.exp->get_stats().failed_batches == 1u);
    BOOST_TEST(env.rt->stats().spans_export_failed == 4u);
}

BOOST_AUTO_TEST_CASE(partial_success_is_counted) {
    http_env env({}, 100);
    env.rx->script = {scripted{200, "", std::string("\x0a\x02\x08\x03", 4)}};   // rejected_spans = 3
    env.run(2);
    BOOST_TEST(env.exp->get_stats().rejected_spans == 3u);
    BOOST_TEST(env.exp->get_stats().exported_spans == 1u);
}

BOOST_AUTO_TEST_CASE(receiver_down_then_up) {
    unsigned short port;
    {
        asio::io_context probe;
        tcp::acceptor a(probe, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port = a.local_endpoint().port();
    }
    otlp_http_options o;
    o.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/v1/traces";
    o.retry.initial_interval = std::chrono::milliseconds(5);
    o.retry.max_interval = std::chrono::milliseconds(20);
    http_env env(o, 100, false);
    std::unique_ptr<test_receiver> late;
    asio::steady_timer up(env.ioc, std::chrono::milliseconds(150));
    up.async_wait([&](boost::system::error_code) { late = std::make_unique<test_receiver>(env.ioc, port); });
    bool done = false;
    asio::co_spawn(make_executor(env.ioc, env.rt.get()), produce(2, &done), asio::detached);
    while (!done) env.ioc.run_one();
    env.rt->shutdown();
    BOOST_TEST_REQUIRE(late != nullptr);
    BOOST_TEST(late->requests.size() == 1u);
    BOOST_TEST(env.exp->get_stats().retries >= 1u);
    BOOST_TEST(env.exp->get_stats().exported_spans == 4u);
    late->stop();
    env.ioc.run();
}

BOOST_AUTO_TEST_CASE(environment_precedence) {
    auto env_of = [](std::map<std::string, std::string> m) {
        auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(m));
        return env_lookup([shared](const char* n) -> const char* {
            auto it = shared->find(n);
            return it == shared->end() ? nullptr : it->second.c_str();
        });
    };
    // generic endpoint gets /v1/traces appended
    BOOST_TEST(otlp_http_options::from_env(env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}})).endpoint ==
               "http://collector:4318/v1/traces");
    BOOST_TEST(otlp_http_options::from_env(env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"}})).endpoint ==
               "http://collector:4318/v1/traces");
    // the signal-specific endpoint is used as is and wins
    BOOST_TEST(otlp_http_options::from_env(env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"},
                                                   {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:9999/custom"}}))
                   .endpoint == "http://b:9999/custom");
    const auto o = otlp_http_options::from_env(env_of({{"OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret%20value, x=1"},
                                                       {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "only=traces"},
                                                       {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
                                                       {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"},
                                                       {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
                                                       {"OTEL_SERVICE_NAME", "svc"},
                                                       {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=prod"}}));
    BOOST_TEST_REQUIRE(o.headers.size() == 1u);   // signal-specific headers win
    BOOST_TEST(o.headers[0].first == "only");
    BOOST_TEST((o.protocol == otlp_protocol::http_json));
    BOOST_TEST(o.gzip);
    BOOST_TEST(o.timeout.count() == 2500);
    BOOST_TEST(o.resource_attributes.size() == 2u);
    const auto g = otlp_http_options::from_env(env_of({{"OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret%20value, x=1"}}));
    BOOST_TEST_REQUIRE(g.headers.size() == 2u);
    BOOST_TEST(g.headers[0].second == "secret value");   // percent-decoded
    BOOST_CHECK_THROW(otlp_http_options::from_env(env_of({{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}})), config_error);
    BOOST_CHECK_THROW(otlp_http_options::from_env(env_of({{"OTEL_EXPORTER_OTLP_TIMEOUT", "soon"}})), config_error);
    const auto t = otlp_http_options::from_env(env_of({{"OTEL_EXPORTER_OTLP_CERTIFICATE", "/generic/ca.pem"},
                                                       {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/traces/ca.pem"},
                                                       {"OTEL_EXPORTER_OTLP_CLIENT_KEY", "/k.pem"}}));
    BOOST_TEST(t.tls.ca_file == "/traces/ca.pem");
    BOOST_TEST(t.tls.client_key_file == "/k.pem");
    otlp_http_options https;
    https.endpoint = "https://collector/v1/traces";
    https.tls.ca_file = "/nonexistent/ca.pem";
    try {
        otlp_http_exporter bad{https};
        BOOST_ERROR("a missing CA file must be rejected");
    } catch (const config_error& e) {
        BOOST_TEST(std::string(e.what()).find("otlp_http.tls.ca_file") != std::string::npos, e.what());
    }
    https.tls.ca_file.clear();
    https.tls.client_key_file = "/k.pem";   // without a certificate
    BOOST_CHECK_THROW(otlp_http_exporter{https}, config_error);
    https.endpoint = "ftp://collector";
    BOOST_CHECK_THROW(otlp_http_exporter{https}, config_error);
}

BOOST_AUTO_TEST_CASE(tls_with_a_self_signed_certificate) {
    otlp_http_options o;
    o.tls.ca_pem = read_file(data_dir + "/test_server.crt");   // trust exactly the test server's certificate
    o.protocol = otlp_protocol::http_json;
    http_env env(o, 4, true, /*tls=*/true);
    env.run(4);   // 8 spans -> 2 requests over one TLS connection
    BOOST_TEST(env.rx->requests.size() == 2u);
    BOOST_TEST(env.rx->connections == 1);
    BOOST_TEST(env.rx->handshakes_failed == 0);
    const auto doc = boost::json::parse(env.rx->requests.at(0).body);   // decrypted by the receiver
    BOOST_TEST(doc.at("resourceSpans").as_array().at(0).at("scopeSpans").as_array().at(0).at("spans").as_array().size() == 4u);
    BOOST_TEST(env.exp->get_stats().exported_spans == 8u);
}

BOOST_AUTO_TEST_CASE(tls_rejects_an_untrusted_certificate) {
    otlp_http_options o;
    o.retry.max_attempts = 2;   // the system CA store does not trust the self-signed test certificate
    http_env env(o, 100, true, /*tls=*/true);
    env.run(1);
    BOOST_TEST(env.rx->requests.empty());
    BOOST_TEST(env.rx->handshakes_failed >= 1);
    BOOST_TEST(env.exp->get_stats().failed_batches == 1u);
    BOOST_TEST(env.rt->stats().spans_export_failed == 2u);
}

BOOST_AUTO_TEST_CASE(slow_receiver_back_pressure_is_counted_and_producers_run_on) {
    // The receiver reads requests but answers none until released: the exporter stalls on its
    // first batch, the queue (64 spans) fills, and further traces are refused and counted
    // (drop_newest; drop_oldest is covered by the export matrix). The producer never waits for
    // the exporter: all its runs complete while the receiver is held.
    http_env env({}, 16, true, false, /*max_queue_spans=*/64, overflow_policy::drop_newest);
    env.rx->hold();
    const int runs = 500;
    bool done = false;
    asio::co_spawn(make_executor(env.ioc, env.rt.get()), produce(runs, &done), asio::detached);
    while (!done) env.ioc.run_one();
    BOOST_TEST(env.rx->requests.size() <= 1u);   // nothing answered yet
    const auto held = env.rt->stats();
    BOOST_TEST(held.traces_completed == static_cast<std::uint64_t>(runs));
    BOOST_TEST(held.traces_queue_dropped > 0u);
    BOOST_TEST(held.spans_exported == 0u);
    env.rx->release();
    env.rt->shutdown();
    const auto s = env.rt->stats();
    BOOST_TEST(s.spans_exported + s.spans_queue_dropped == 2u * runs);   // every span accounted for
    BOOST_TEST(s.spans_exported >= 64u);
    BOOST_TEST(s.spans_exported == env.exp->get_stats().exported_spans);
    env.rx->stop();
    env.ioc.run();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(otlp_http_back_pressure)

BOOST_AUTO_TEST_CASE(waiting_for_capacity_loses_nothing) {
    // Same stalled receiver, but the producer waits for capacity: nothing is dropped, the
    // producer is held while the receiver is, and everything arrives after release.
    http_env env({}, 16, true, false, /*max_queue_spans=*/64);
    env.rx->hold();
    asio::steady_timer release(env.ioc, std::chrono::milliseconds(100));
    bool released = false;
    release.async_wait([&](boost::system::error_code) {
        released = true;
        env.rx->release();
    });
    const int runs = 300;
    bool done = false;
    int waits = 0;
    asio::co_spawn(make_executor(env.ioc, env.rt.get()), produce_with_back_pressure(env.rt.get(), runs, &done, &waits),
                   asio::detached);
    while (!done) env.ioc.run_one();
    BOOST_TEST(released);   // the producer could not finish while the receiver held everything
    BOOST_TEST(waits > 0);
    env.rt->shutdown();
    const auto s = env.rt->stats();
    BOOST_TEST(s.spans_queue_dropped == 0u);
    BOOST_TEST(s.spans_exported == 2u * runs);
    BOOST_TEST(env.exp->get_stats().exported_spans == 2u * runs);
    env.rx->stop();
    env.ioc.run();
}

BOOST_AUTO_TEST_SUITE_END()
