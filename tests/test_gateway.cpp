// End to end: the LLM gateway example and the mock LLM on loopback, concurrent plain and
// streamed requests, the exported spans checked per request; then every bad-input and
// upstream-fault case (status code, ERROR spans, never a crash).
#include <filesystem>
#include <map>

#include <sys/resource.h>
#include <set>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "client.hpp"
#include "gateway.hpp"
#include "mock_llm.hpp"
#include "test_util.hpp"
#include "tracecraft/otlp/json.hpp"

namespace asio = boost::asio;
namespace json = boost::json;
using namespace tracecraft;
using llm_gateway::chat_client;
using llm_gateway::chat_response;

namespace {

struct request_spec {
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string target = "/v1/chat/completions";
};

struct gateway_env {
    tc_test::traced_env env;
    llm_gateway::mock_llm mock;
    std::unique_ptr<llm_gateway::gateway> gw;

    explicit gateway_env(llm_gateway::gateway_options g = {}, bool upstream_down = false, tracecraft::trace_config cfg = {})
        : env(std::move(cfg)), mock(env.ioc.get_executor(), mock_options()) {
        g.upstream_port = mock.port();
        if (upstream_down) {
            mock.stop();
            asio::ip::tcp::acceptor probe(env.ioc, {asio::ip::make_address("127.0.0.1"), 0});
            g.upstream_port = probe.local_endpoint().port();   // closed again below: nobody listens
        }
        gw = std::make_unique<llm_gateway::gateway>(env.ioc.get_executor(), g);
    }
    static llm_gateway::mock_llm_options mock_options() {
        llm_gateway::mock_llm_options m;
        m.delay = std::chrono::milliseconds(5);
        m.chunk_delay = std::chrono::milliseconds(1);
        m.chunks = 6;
        return m;
    }

    static asio::awaitable<void> send_all(asio::any_io_executor ex, unsigned short port, std::vector<request_spec> specs,
                                          std::vector<chat_response>* out, int* done) {
        chat_client client(ex, "127.0.0.1", port);
        for (auto& s : specs) {
            auto op = client.post(s.target, s.body, s.headers);
            out->push_back(co_await std::move(op));
        }
        ++*done;
    }

    /// Runs `clients` concurrent clients, each sending its list of requests in order.
    std::vector<std::vector<chat_response>> run(const std::vector<std::vector<request_spec>>& clients) {
        std::vector<std::vector<chat_response>> out(clients.size());
        int done = 0;
        for (std::size_t i = 0; i < clients.size(); ++i)
            asio::co_spawn(env.ioc, send_all(env.ioc.get_executor(), gw->port(), clients[i], &out[i], &done), asio::detached);
        while (done < static_cast<int>(clients.size())) env.ioc.run_one();
        return out;
    }
    std::vector<span_data> finish() {
        gw->stop();
        mock.stop();
        env.ioc.run_for(std::chrono::milliseconds(50));   // sessions see their sockets close
        return env.finish();
    }
};

std::map<std::string, std::vector<span_data>> by_trace(const std::vector<span_data>& spans) {
    std::map<std::string, std::vector<span_data>> m;
    for (const auto& s : spans) m[s.trace.to_hex()].push_back(s);
    return m;
}

const span_data& kind_of(const std::vector<span_data>& spans, span_kind k) {
    for (const auto& s : spans)
        if (s.kind == k) return s;
    BOOST_FAIL("no span of kind " << to_string(k));
    return spans.front();
}

std::int64_t int_attr(const span_data& s, std::string_view key) {
    const auto& v = s.attribute(key);
    BOOST_TEST_REQUIRE(std::holds_alternative<std::int64_t>(v), "attribute " << key << " missing on " << s.name);
    return std::get<std::int64_t>(v);
}

/// The single trace of a one-request run.
std::vector<span_data> only_trace(const std::vector<span_data>& spans) {
    auto m = by_trace(spans);
    BOOST_TEST_REQUIRE(m.size() == 1u);
    return m.begin()->second;
}

std::string error_message_of(const chat_response& r) {
    const auto doc = json::parse(r.body);
    return std::string(doc.at("error").at("message").as_string());
}

} // namespace

BOOST_AUTO_TEST_SUITE(gateway_end_to_end)

BOOST_AUTO_TEST_CASE(concurrent_plain_and_streamed_requests) {
    gateway_env g;
    const int n_clients = 12;
    std::vector<std::vector<request_spec>> clients(n_clients);
    std::map<std::string, std::string> incoming;   // traceparent sent -> (checked below)
    for (int c = 0; c < n_clients; ++c) {
        for (int k = 0; k < 2; ++k) {   // two requests per connection: keep-alive, one trace each
            request_spec r;
            const bool stream = (c + k) % 2 == 1;
            r.body = llm_gateway::chat_body("gpt-4o-mini", "How long does shipping take? client " + std::to_string(c), stream);
            if (c % 2 == 0) {   // generation parameters and a conversation: recorded per the GenAI conventions
                auto doc = json::parse(r.body).as_object();
                doc["temperature"] = 0.25;
                doc["max_tokens"] = 64;
                r.body = json::serialize(doc);
                r.headers.emplace_back("x-session-id", "conv-" + std::to_string(c));
            }
            if (c % 3 == 0) {
                const std::string tp = "00-" + std::string(30, 'a') + std::to_string(c % 10) + std::to_string(k) + "-" +
                                       std::string(15, 'b') + std::to_string(k) + "-01";
                r.headers.emplace_back("traceparent", tp);
            }
            clients[c].push_back(r);
        }
    }
    const auto responses = g.run(clients);
    const auto upstream_traceparents = g.mock.traceparents();
    const std::int64_t gateway_port = g.gw->port(), upstream_port = g.mock.port();   // before they stop
    const auto spans = g.finish();
    const auto traces = by_trace(spans);
    BOOST_TEST(traces.size() == static_cast<std::size_t>(2 * n_clients));
    std::set<std::string> upstream(upstream_traceparents.begin(), upstream_traceparents.end());

    for (int c = 0; c < n_clients; ++c) {
        for (int k = 0; k < 2; ++k) {
            const chat_response& res = responses[c].at(k);
            const bool stream = (c + k) % 2 == 1;
            BOOST_TEST_REQUIRE(res.status == 200u);
            const auto tr = parse_traceparent(res.traceresponse);
            BOOST_TEST_REQUIRE(tr.has_value(), "traceresponse header: '" << res.traceresponse << "'");
            const auto it = traces.find(tr->trace.to_hex());
            BOOST_TEST_REQUIRE((it != traces.end()));
            const auto& t = it->second;
            BOOST_TEST(t.size() == 4u);   // AGENT root, RETRIEVAL, TOOL, LLM
            const auto& root = kind_of(t, span_kind::agent);
            const auto& llm = kind_of(t, span_kind::llm);
            BOOST_TEST((root.id == tr->span));
            for (const auto& s : t)   // tree shape: every child's parent is this request's root
                if (s.id != root.id) BOOST_TEST((s.parent_id == root.id), s.name << " has a foreign parent");
            BOOST_TEST((kind_of(t, span_kind::retrieval).name == "search_docs"));
            BOOST_TEST((kind_of(t, span_kind::tool).name == "word_stats"));
            BOOST_TEST((root.status != status_code::error));
            // span conventions: the root serves an incoming HTTP request, the LLM span calls a model server
            BOOST_TEST(root.otlp_kind == 2);   // SERVER
            BOOST_TEST(llm.otlp_kind == 3);    // CLIENT
            BOOST_TEST(std::get<std::string>(root.attribute("http.route")) == "/v1/chat/completions");
            BOOST_TEST(std::get<std::string>(root.attribute("http.request.method")) == "POST");
            BOOST_TEST(int_attr(root, "server.port") == gateway_port);
            BOOST_TEST(int_attr(root, "http.response.status_code") == 200);
            // an IP address is masked by the default redaction rules (ipv4), as any IP in any value
            BOOST_TEST(std::get<std::string>(llm.attribute("server.address")) == "[REDACTED]");
            BOOST_TEST(int_attr(llm, "server.port") == upstream_port);
            BOOST_TEST(std::get<bool>(llm.attribute("gen_ai.request.stream")) == stream);
            BOOST_TEST(std::get<std::string>(llm.attribute("gen_ai.operation.name")) == "chat");
            if (c % 2 == 0) {
                BOOST_TEST(std::get<double>(llm.attribute("gen_ai.request.temperature")) == 0.25);
                BOOST_TEST(int_attr(llm, "gen_ai.request.max_tokens") == 64);
                BOOST_TEST(std::get<std::string>(llm.attribute("gen_ai.conversation.id")) == "conv-" + std::to_string(c));
                BOOST_TEST(std::get<std::string>(root.attribute("session.id")) == "conv-" + std::to_string(c));
            } else {
                BOOST_TEST(std::holds_alternative<std::monostate>(llm.attribute("gen_ai.conversation.id")));
            }
            if (!stream) {
                BOOST_TEST(std::get<std::string>(llm.attribute("gen_ai.response.id")).starts_with("chatcmpl-mock-"));
                BOOST_TEST(!std::get<std::string>(root.output("output")).empty());   // the root's output.value
            }
            // traceparent continued
            if (c % 3 == 0) {
                std::string sent_header;
                for (const auto& [name, value] : clients[c][k].headers)
                    if (name == "traceparent") sent_header = value;
                const auto sent = parse_traceparent(sent_header);
                BOOST_TEST((root.trace == sent->trace));
                BOOST_TEST((root.parent_id == sent->span));
                BOOST_TEST(root.remote_parent);
            } else {
                BOOST_TEST(!root.parent_id.valid());
            }
            // the upstream request carried the LLM span's context
            BOOST_TEST(upstream.count(format_traceparent(span_context{llm.trace, llm.id, 1, false})) == 1u);
            // tokens: the span's usage is what the client saw; cost from the price table
            json::value usage;
            if (stream) {
                BOOST_TEST_REQUIRE(res.events.size() >= 3u);
                BOOST_TEST(res.events.back() == "[DONE]");
                usage = json::parse(res.events[res.events.size() - 2]).at("usage");
                BOOST_TEST(std::holds_alternative<double>(llm.attribute("gen_ai.response.time_to_first_chunk")));
                BOOST_TEST(int_attr(llm, "tracecraft.stream.chunks") >= 6);
                std::string text;
                for (std::size_t e = 0; e + 2 < res.events.size(); ++e) {
                    const auto ev = json::parse(res.events[e]);
                    const auto& d = ev.at("choices").as_array().at(0).at("delta").as_object();
                    if (const auto* ct = d.if_contains("content")) text += std::string(ct->as_string());
                }
                BOOST_TEST(std::get<std::string>(llm.output("completion")) == text);
            } else {
                usage = json::parse(res.body).at("usage");
                BOOST_TEST(std::holds_alternative<std::monostate>(llm.attribute("gen_ai.response.time_to_first_chunk")));
            }
            const std::int64_t in = usage.at("prompt_tokens").as_int64(), out = usage.at("completion_tokens").as_int64();
            BOOST_TEST(int_attr(llm, "gen_ai.usage.input_tokens") == in);
            BOOST_TEST(int_attr(llm, "gen_ai.usage.output_tokens") == out);
            BOOST_TEST(std::holds_alternative<std::monostate>(llm.attribute("tracecraft.usage.estimated")));
            const double cost = (static_cast<double>(in) * 0.15 + static_cast<double>(out) * 0.60) / 1e6;
            BOOST_TEST(std::get<double>(llm.attribute("tracecraft.cost_usd")) == cost, boost::test_tools::tolerance(1e-12));
            BOOST_TEST(int_attr(root, "tracecraft.run.total_tokens") == in + out);
            BOOST_TEST(std::get<double>(root.attribute("tracecraft.run.cost_usd")) == cost, boost::test_tools::tolerance(1e-12));
            BOOST_TEST(int_attr(root, "tracecraft.run.error_count") == 0);
        }
    }
    BOOST_TEST(g.gw->stats().errors == 0u);
}

BOOST_AUTO_TEST_CASE(upstream_connections_are_reused) {
    gateway_env g;
    std::vector<request_spec> seq;
    for (int i = 0; i < 6; ++i) seq.push_back({llm_gateway::chat_body("gpt-4o-mini", "q", i % 2 == 0), {}});
    const auto res = g.run({seq});
    for (const auto& r : res[0]) BOOST_TEST(r.status == 200u);
    BOOST_TEST(g.gw->stats().upstream_connects == 1u);
    BOOST_TEST(g.mock.requests() == 6u);
    g.finish();
}

namespace {
/// One request against a fresh gateway; returns the response and the spans of its trace.
std::pair<chat_response, std::vector<span_data>> one(request_spec spec, llm_gateway::gateway_options o = {}, bool down = false) {
    gateway_env g(o, down);
    auto res = g.run({{std::move(spec)}});
    auto spans = g.finish();
    BOOST_TEST_REQUIRE(res[0].size() == 1u);
    return {res[0][0], only_trace(spans)};
}
void expect_failed_run(const std::vector<span_data>& t, std::int64_t status, std::string_view message_part) {
    const auto& root = kind_of(t, span_kind::agent);
    BOOST_TEST((root.status == status_code::error));
    BOOST_TEST(root.status_message.find(message_part) != std::string::npos, root.status_message);
    BOOST_TEST(int_attr(root, "http.response.status_code") == status);
}
} // namespace

BOOST_AUTO_TEST_CASE(invalid_json_is_400) {
    auto [res, t] = one({"{\"model\": \"gpt-4o\", \"messages\": [", {}});
    BOOST_TEST(res.status == 400u);
    BOOST_TEST(error_message_of(res).find("invalid JSON") == 0u);
    expect_failed_run(t, 400, "invalid JSON");
    BOOST_TEST(t.size() == 1u);   // no fan-out, no LLM call
}

BOOST_AUTO_TEST_CASE(missing_fields_are_400) {
    auto [r1, t1] = one({R"({"model":"gpt-4o"})", {}});
    BOOST_TEST(r1.status == 400u);
    expect_failed_run(t1, 400, "'messages' is required");
    auto [r2, t2] = one({R"({"messages":[{"role":"user","content":"hi"}]})", {}});
    BOOST_TEST(r2.status == 400u);
    expect_failed_run(t2, 400, "'model' is required");
    auto [r3, t3] = one({R"({"model":"m","messages":[{"role":"user"}]})", {}});
    BOOST_TEST(r3.status == 400u);
    auto [r4, t4] = one({R"({"model":"m","stream":"yes","messages":[{"role":"user","content":"x"}]})", {}});
    BOOST_TEST(r4.status == 400u);
    expect_failed_run(t4, 400, "'stream' must be a boolean");
}

BOOST_AUTO_TEST_CASE(huge_body_is_413) {
    llm_gateway::gateway_options o;
    o.max_body = 1024;
    auto [res, t] = one({llm_gateway::chat_body("gpt-4o", std::string(4096, 'x'), false), {}}, o);
    BOOST_TEST(res.status == 413u);
    expect_failed_run(t, 413, "exceeds 1024 bytes");
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404) {
    request_spec r{llm_gateway::chat_body("gpt-4o", "q", false), {}, "/v1/embeddings"};
    auto [res, t] = one(r);
    BOOST_TEST(res.status == 404u);
    expect_failed_run(t, 404, "no route");
}

BOOST_AUTO_TEST_CASE(upstream_down_is_502) {
    auto [res, t] = one({llm_gateway::chat_body("gpt-4o-mini", "q", false), {}}, {}, /*down=*/true);
    BOOST_TEST(res.status == 502u);
    expect_failed_run(t, 502, "upstream unavailable");
    const auto& llm = kind_of(t, span_kind::llm);
    BOOST_TEST((llm.status == status_code::error));
}

BOOST_AUTO_TEST_CASE(upstream_down_while_streaming_is_502) {
    auto [res, t] = one({llm_gateway::chat_body("gpt-4o-mini", "q", true), {}}, {}, /*down=*/true);
    BOOST_TEST(res.status == 502u);
    expect_failed_run(t, 502, "upstream unavailable");
    BOOST_TEST((kind_of(t, span_kind::llm).status == status_code::error));
}

BOOST_AUTO_TEST_CASE(slow_upstream_is_504) {
    llm_gateway::gateway_options o;
    o.upstream_timeout = std::chrono::milliseconds(200);
    auto [res, t] = one({llm_gateway::chat_body("slow", "q", false), {}}, o);
    BOOST_TEST(res.status == 504u);
    expect_failed_run(t, 504, "timed out");
    BOOST_TEST((kind_of(t, span_kind::llm).status == status_code::error));
}

BOOST_AUTO_TEST_CASE(upstream_500_is_502) {
    auto [res, t] = one({llm_gateway::chat_body("fail-500", "q", false), {}});
    BOOST_TEST(res.status == 502u);
    expect_failed_run(t, 502, "HTTP 500");
    auto [rs, ts] = one({llm_gateway::chat_body("fail-500", "q", true), {}});
    BOOST_TEST(rs.status == 502u);
    expect_failed_run(ts, 502, "HTTP 500");
}

BOOST_AUTO_TEST_CASE(broken_stream_ends_with_an_error_event) {
    auto [res, t] = one({llm_gateway::chat_body("break-stream", "q", true), {}});
    BOOST_TEST(res.status == 200u);   // the status line went out before the upstream broke
    BOOST_TEST_REQUIRE(!res.events.empty());
    BOOST_TEST(json::parse(res.events.back()).as_object().contains("error"));
    const auto& root = kind_of(t, span_kind::agent);
    BOOST_TEST((root.status == status_code::error));
    const auto& llm = kind_of(t, span_kind::llm);
    BOOST_TEST((llm.status == status_code::error));
    BOOST_TEST(int_attr(llm, "tracecraft.stream.chunks") == 2);
    BOOST_TEST(!std::get<std::string>(llm.output("completion")).empty());   // partial output kept
    BOOST_TEST(int_attr(root, "tracecraft.run.error_count") == 2);
}


// ---- hostile clients -------------------------------------------------------------------------

namespace {

/// Sends raw bytes on a fresh connection (optionally in two parts with a pause between) and
/// returns everything received until the server closes or `wait` passes.
asio::awaitable<void> raw_exchange(asio::any_io_executor ex, unsigned short port, std::string first, std::string second,
                                   std::chrono::milliseconds pause, std::chrono::milliseconds wait, std::string* out,
                                   bool* done) {
    asio::ip::tcp::socket sock(ex);
    co_await sock.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
    boost::system::error_code ec;
    co_await asio::async_write(sock, asio::buffer(first), asio::redirect_error(asio::use_awaitable, ec));
    if (!second.empty()) {
        asio::steady_timer t(ex, pause);
        co_await t.async_wait(asio::use_awaitable);
        co_await asio::async_write(sock, asio::buffer(second), asio::redirect_error(asio::use_awaitable, ec));
    }
    asio::steady_timer deadline(ex, wait);
    deadline.async_wait([&sock](boost::system::error_code e) {
        if (!e) sock.close();
    });
    char buf[4096];
    for (;;) {
        const std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        out->append(buf, n);
        if (ec) break;
    }
    deadline.cancel();
    *done = true;
}

std::string exchange(gateway_env& g, std::string first, std::string second = {},
                     std::chrono::milliseconds pause = std::chrono::milliseconds(0),
                     std::chrono::milliseconds wait = std::chrono::milliseconds(3000)) {
    std::string out;
    bool done = false;
    asio::co_spawn(g.env.ioc, raw_exchange(g.env.ioc.get_executor(), g.gw->port(), std::move(first), std::move(second), pause, wait, &out, &done),
                   asio::detached);
    while (!done) g.env.ioc.run_one();
    return out;
}

std::string post_raw(const std::string& extra_headers, const std::string& body, const std::string& target = "/v1/chat/completions") {
    return "POST " + target + " HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n" + extra_headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

unsigned status_of(const std::string& response) {
    if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
    return static_cast<unsigned>(std::stoul(response.substr(9, 3)));
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double latency_budget_ms = 1000;   // sanitizers slow everything ~5-10x
#else
constexpr double latency_budget_ms = 100;
#endif

} // namespace

BOOST_AUTO_TEST_CASE(malformed_http_is_answered_400_or_431_not_closed_silently) {
    gateway_env g;
    const std::string body = llm_gateway::chat_body("gpt-4o", "hi", false);
    const std::pair<std::string, unsigned> cases[] = {
        {"POST /v1/chat\x01completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\n{}", 400},   // control byte in path
        {post_raw("X-Note: a\x01" "b\r\n", body), 400},                                                 // control byte in a header
        {"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 12abc\r\n\r\n{}", 400},   // bad Content-Length
        {"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400},   // conflicting
        {"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400},   // bad chunk size
        {"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Big: " + std::string(20000, 'a') + "\r\nContent-Length: 2\r\n\r\n{}", 431},
        {"BREW /pot HTCPCP/1.0\r\n\r\n", 400},
    };
    for (const auto& [request, want] : cases) {
        const std::string res = exchange(g, request);
        BOOST_TEST(status_of(res) == want, "request " << tracecraft::config_error::quote(request, 60) << " got " << tracecraft::config_error::quote(res, 80));
    }
    // malformed traceparent values: the request is served under a new trace
    for (const std::string& tp : {std::string("00-\xff\xfe-zz"), std::string("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\xc3"),
                                 std::string(300, 'f'), std::string("")}) {
        const std::string res = exchange(g, post_raw("traceparent: " + tp + "\r\nConnection: close\r\n", body));
        BOOST_TEST(status_of(res) == 200u, tracecraft::config_error::quote(tp) << " got " << tracecraft::config_error::quote(res, 80));
    }
    // a control byte inside the traceparent value is malformed HTTP: 400, not a silent close
    const std::string res = exchange(g, post_raw("traceparent: 00-\x1b[2J\r\nConnection: close\r\n", body));
    BOOST_TEST(status_of(res) == 400u);
    // and the gateway still serves normal requests
    BOOST_TEST(status_of(exchange(g, post_raw("Connection: close\r\n", body))) == 200u);
    (void)g.finish();
}

BOOST_AUTO_TEST_CASE(slow_and_idle_clients_are_timed_out) {
    llm_gateway::gateway_options o;
    o.client_timeout = std::chrono::milliseconds(200);
    gateway_env g(o);
    const auto t0 = std::chrono::steady_clock::now();
    // headers begun, never finished: closed
    const std::string slow = exchange(g, "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n", {}, {}, std::chrono::milliseconds(5000));
    BOOST_TEST(slow.empty(), slow);
    // connected, silent: closed
    const std::string idle = exchange(g, "", {}, {}, std::chrono::milliseconds(5000));
    BOOST_TEST(idle.empty());
    // a body sent slowly after complete headers: closed before the rest arrives
    const std::string body = llm_gateway::chat_body("gpt-4o", "hi", false);
    const std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    const std::string part = exchange(g, head + body.substr(0, 5), body.substr(5), std::chrono::milliseconds(600), std::chrono::milliseconds(5000));
    BOOST_TEST(part.empty(), part);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    BOOST_TEST(secs < 3.0);   // each closed by the gateway's 200 ms deadline, not by our 5 s
    BOOST_TEST(g.gw->stats().client_timeouts == 3u);
    // a kept-alive connection works within the deadline
    BOOST_TEST(status_of(exchange(g, post_raw("Connection: close\r\n", body))) == 200u);
    (void)g.finish();
}

// The prompt that froze the gateway: digit groups (card and phone candidates everywhere). Its
// trace is redacted on the same io_context; the next request must still be answered at once.
BOOST_AUTO_TEST_CASE(a_digit_group_prompt_does_not_delay_the_next_request) {
    llm_gateway::gateway_options o;
    o.max_body = 2 << 20;
    gateway_env g(o);
    std::string prompt;
    while (prompt.size() < (900u << 10)) prompt += "1234 ";
    const std::string big = exchange(g, post_raw("Connection: close\r\n", llm_gateway::chat_body("gpt-4o", prompt, false)));
    BOOST_TEST_REQUIRE(status_of(big) == 200u);
    const std::string body = llm_gateway::chat_body("gpt-4o", "where is my order?", false);
    double worst = 0;
    for (int i = 0; i < 5; ++i) {   // while the big trace is being redacted
        const auto t0 = std::chrono::steady_clock::now();
        BOOST_TEST(status_of(exchange(g, post_raw("Connection: close\r\n", body))) == 200u);
        worst = std::max(worst, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    BOOST_TEST_MESSAGE("slowest request while the digit prompt was redacted: " << worst << " ms");
    BOOST_TEST(worst < latency_budget_ms, "slowest request after the digit prompt took " << worst << " ms");
    const auto spans = g.finish();
    BOOST_TEST(g.env.rt->stats().redaction_budget_exhausted == 0u);
    BOOST_TEST(spans.size() >= 6u);
}

BOOST_AUTO_TEST_CASE(out_of_file_descriptors_pauses_accepting_instead_of_ending_it) {
    gateway_env g;
    rlimit old{};
    BOOST_TEST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
    std::size_t open_fds = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) (void)e, ++open_fds;
    rlimit low = old;
    low.rlim_cur = open_fds + 24;
    BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::vector<std::unique_ptr<asio::ip::tcp::socket>> held;
    for (int i = 0; i < 40; ++i) {   // each costs two descriptors here (both ends): the limit is hit
        auto s = std::make_unique<asio::ip::tcp::socket>(g.env.ioc);
        boost::system::error_code ec;
        s->connect({asio::ip::make_address("127.0.0.1"), g.gw->port()}, ec);
        if (ec) break;
        held.push_back(std::move(s));
        g.env.ioc.run_for(std::chrono::milliseconds(2));
    }
    g.env.ioc.run_for(std::chrono::milliseconds(100));
    const auto errors = g.gw->stats().accept_errors;
    held.clear();   // the clients go away; the gateway's sessions close their ends
    g.env.ioc.run_for(std::chrono::milliseconds(300));
    BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
    BOOST_TEST(errors > 0u);   // accept did fail with EMFILE
    const std::string body = llm_gateway::chat_body("gpt-4o", "still there?", false);
    BOOST_TEST(status_of(exchange(g, post_raw("Connection: close\r\n", body))) == 200u);
    (void)g.finish();
}


// Secrets in a request body, one of them JSON inside a message's content: none of them may
// appear in the OTLP bodies the runtime exports (encoded, then decoded with Boost.JSON).
namespace {
struct otlp_json_capture final : tracecraft::exporter {
    std::vector<std::string> bodies;
    std::string_view name() const noexcept override { return "otlp-json-capture"; }
    boost::asio::awaitable<tracecraft::export_result> export_batch(tracecraft::span_batch b) override {
        tracecraft::otlp::resource_info res;
        res.attributes = {{"service.name", std::string("gateway-test")}};
        std::string body;
        tracecraft::otlp::encode_request_json(b, res, body);
        bodies.push_back(std::move(body));
        co_return tracecraft::export_result::ok();
    }
};

void strings_of(const json::value& v, std::vector<std::string>& out) {
    if (v.is_string()) out.emplace_back(v.as_string());
    else if (v.is_array())
        for (const auto& e : v.as_array()) strings_of(e, out);
    else if (v.is_object())
        for (const auto& kv : v.as_object()) {
            out.emplace_back(kv.key());
            strings_of(kv.value(), out);
        }
}
} // namespace

BOOST_AUTO_TEST_CASE(secrets_in_a_request_never_reach_the_exported_otlp) {
    auto capture = std::make_shared<otlp_json_capture>();
    tracecraft::trace_config cfg;
    cfg.exporters.push_back(capture);
    gateway_env g({}, false, cfg);
    const char* secrets[] = {"hunter2hunter2", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx", "jane.doe@example.com",
                             "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlX3ZhbHVlXzEy", "wJalrXUtnFEMIK7MDENGbPxRfiCY",
                             "555-867-5309", "4111 1111 1111 1111"};
    const std::string content = std::string(R"({"password": "hunter2hunter2", "note": "key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx"})") +
                                "\nmail jane.doe@example.com, token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlX3ZhbHVlXzEy" +
                                "\naws_secret_access_key: wJalrXUtnFEMIK7MDENGbPxRfiCY\ncall 555-867-5309, card 4111 1111 1111 1111";
    const std::string body = json::serialize(json::object{
        {"model", "gpt-4o"},
        {"messages", json::array{json::object{{"role", "user"}, {"content", content}}}}});   // the content JSON-escaped
    BOOST_TEST_REQUIRE(body.find(R"(\"password\": \"hunter2hunter2\")") != std::string::npos);
    const auto responses = g.run({{request_spec{body, {}}, request_spec{llm_gateway::chat_body("gpt-4o", content, true), {}}}});
    BOOST_TEST_REQUIRE(responses[0].size() == 2u);
    BOOST_TEST(responses[0][0].status == 200u);
    (void)g.finish();
    BOOST_TEST_REQUIRE(!capture->bodies.empty());
    std::size_t strings = 0, redacted = 0;
    for (const auto& b : capture->bodies) {
        std::vector<std::string> all;
        strings_of(json::parse(b), all);
        strings += all.size();
        for (const auto& s : all) {
            redacted += s.find("[REDACTED]") != std::string::npos;
            for (const char* secret : secrets) BOOST_TEST(s.find(secret) == std::string::npos, "exported: " << s);
        }
    }
    BOOST_TEST(strings > 50u);
    BOOST_TEST(redacted >= 3u);   // the values were there, masked
}

BOOST_AUTO_TEST_SUITE_END()
