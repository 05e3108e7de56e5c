#include "gateway.hpp"
#include "listener.hpp"

#include <algorithm>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "tracecraft/llm_stream.hpp"
#include "tracecraft/tracecraft.hpp"

namespace llm_gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using tracecraft::span_kind;
using tracecraft::status_code;

struct gateway::state {
    gateway_options opt;
    asio::any_io_executor ex;
    tcp::acceptor acceptor;
    std::mutex pool_mutex;
    std::vector<std::unique_ptr<beast::tcp_stream>> idle;
    std::atomic<bool> stopped{false};
    unsigned short port = 0;   ///< bound port (server.port of the root spans)
    std::atomic<std::uint64_t> requests{0}, errors{0}, connects{0}, accept_errors{0}, client_timeouts{0};
    state(asio::any_io_executor e, gateway_options o) : opt(std::move(o)), ex(e), acceptor(e) {}
};

namespace {

using state_ptr = std::shared_ptr<gateway::state>;
using request = http::request<http::string_body>;

/// An HTTP error the gateway answers with (OpenAI error shape).
struct http_failure {
    unsigned status;
    std::string message;
    std::string type;
};

// ---- responses -------------------------------------------------------------------------

std::string error_body(const http_failure& f) {
    return json::serialize(json::object{{"error", json::object{{"message", f.message}, {"type", f.type}}}});
}

/// W3C Trace Context Level 2 `traceresponse`: which trace served this request.
std::string traceresponse(const tracecraft::span& run) { return tracecraft::format_traceparent(run.context()); }

asio::awaitable<void> write_json(beast::tcp_stream& stream, unsigned status, std::string body, bool keep_alive,
                                 std::string trace) {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::server, "tracecraft-llm-gateway");
    if (!trace.empty()) res.set("traceresponse", trace);
    res.set(http::field::content_type, "application/json");
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    co_await http::async_write(stream, res, asio::use_awaitable);
}

/// Records a failure on the run span, counts it and answers it. (By value: coroutine
/// parameters must not refer to the caller's temporaries.)
asio::awaitable<void> fail_request(state_ptr st, beast::tcp_stream& stream, tracecraft::span& run, http_failure f, bool keep_alive) {
    st->errors.fetch_add(1, std::memory_order_relaxed);
    run.set_attribute("http.response.status_code", static_cast<std::int64_t>(f.status));
    run.set_attribute("error.type", f.type);
    run.set_status(status_code::error, f.message);
    std::string body = error_body(f);
    auto op = write_json(stream, f.status, std::move(body), keep_alive, traceresponse(run));
    co_await std::move(op);
}

// ---- the RETRIEVAL and TOOL steps ---------------------------------------------------------

struct document {
    const char* id;
    const char* text;
};
constexpr document documents[] = {
    {"returns", "Items can be returned within 30 days of delivery for a full refund."},
    {"shipping", "Standard shipping takes 3 to 5 business days; express shipping takes 1 day."},
    {"warranty", "Electronics carry a two year warranty covering manufacturing defects."},
    {"payment", "We accept credit cards, bank transfers and gift cards at checkout."},
    {"orders", "You can track your order status from the orders page using the order number."},
    {"support", "Support is available by chat from 8am to 8pm on weekdays."},
};

std::vector<std::string> words_of(std::string_view s) {
    std::vector<std::string> out;
    std::string w;
    for (char c : s) {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            w.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        } else if (!w.empty()) {
            out.push_back(std::move(w));
            w.clear();
        }
    }
    if (!w.empty()) out.push_back(std::move(w));
    return out;
}

asio::awaitable<std::vector<std::string>> retrieve(std::string query) {
    tracecraft::span_scope s("search_docs", span_kind::retrieval);
    s.set_input("query", query);
    co_await asio::post(asio::use_awaitable);   // a real store would be I/O
    const auto q = words_of(query);
    std::vector<std::pair<int, const document*>> scored;
    for (const auto& d : documents) {
        int score = 0;
        for (const auto& w : words_of(d.text)) score += static_cast<int>(std::count(q.begin(), q.end(), w));
        if (score > 0) scored.emplace_back(score, &d);
    }
    std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::string> ids, texts;
    for (std::size_t i = 0; i < scored.size() && i < 2; ++i) {
        ids.emplace_back(scored[i].second->id);
        texts.emplace_back(scored[i].second->text);
    }
    s.set_attribute("retrieval.document_ids", ids);
    s.set_output("documents", static_cast<std::int64_t>(ids.size()));
    co_return texts;
}

asio::awaitable<std::string> word_stats_tool(std::string query) {
    tracecraft::span_scope s("word_stats", span_kind::tool);
    s.set_attribute("gen_ai.tool.name", "word_stats");
    s.set_input("text", query);
    co_await asio::post(asio::use_awaitable);
    const std::string result = "the question has " + std::to_string(words_of(query).size()) + " words";
    s.set_output("result", result);
    co_return result;
}

// ---- upstream connections (kept alive and reused) ------------------------------------------

struct upstream_conn {
    std::unique_ptr<beast::tcp_stream> stream;
    bool reused = false;
};

asio::awaitable<upstream_conn> acquire(state_ptr st) {
    {
        std::lock_guard lk(st->pool_mutex);
        while (!st->idle.empty()) {
            auto s = std::move(st->idle.back());
            st->idle.pop_back();
            if (s->socket().is_open()) co_return upstream_conn{std::move(s), true};
        }
    }
    auto s = std::make_unique<beast::tcp_stream>(st->ex);
    tcp::resolver resolver(st->ex);
    auto results = co_await resolver.async_resolve(st->opt.upstream_host, std::to_string(st->opt.upstream_port), asio::use_awaitable);
    s->expires_after(st->opt.upstream_timeout);
    co_await s->async_connect(results, asio::use_awaitable);
    st->connects.fetch_add(1, std::memory_order_relaxed);
    co_return upstream_conn{std::move(s), false};
}

void release(const state_ptr& st, upstream_conn c) {
    std::lock_guard lk(st->pool_mutex);
    if (!st->stopped && c.stream->socket().is_open() && st->idle.size() < st->opt.max_idle_upstream) {
        c.stream->expires_never();
        st->idle.push_back(std::move(c.stream));
    }
}

request upstream_request(const state_ptr& st, const std::string& body) {
    request req{http::verb::post, "/v1/chat/completions", 11};
    req.set(http::field::host, st->opt.upstream_host);
    req.set(http::field::content_type, "application/json");
    req.set("traceparent", tracecraft::current_traceparent());   // the LLM span's context
    if (const std::string ts = tracecraft::current_tracestate(); !ts.empty()) req.set("tracestate", ts);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    return req;
}

http_failure upstream_failure(const boost::system::system_error& e) {
    if (e.code() == beast::error::timeout) return {504, "upstream timed out", "upstream_timeout"};
    return {502, "upstream unavailable: " + e.code().message(), "upstream_error"};
}

/// Sends the request on a pooled connection (one retry on a fresh connection when a reused
/// one turns out to be closed) and reads the header. Throws system_error.
template <class Parser>
asio::awaitable<upstream_conn> send_upstream(state_ptr st, const request& req, beast::flat_buffer& buf, Parser& parser) {
    for (int attempt = 0;; ++attempt) {
        auto op = acquire(st);
        upstream_conn c = co_await std::move(op);
        try {
            c.stream->expires_after(st->opt.upstream_timeout);
            co_await http::async_write(*c.stream, req, asio::use_awaitable);
            co_await http::async_read_header(*c.stream, buf, parser, asio::use_awaitable);
            co_return c;
        } catch (const boost::system::system_error&) {
            if (!c.reused || attempt > 0) throw;   // a stale kept-alive connection: retry once
        }
        buf.clear();
    }
}

// ---- GenAI span conventions of the LLM call ----------------------------------------------

/// The request's generation parameters (forwarded upstream, recorded as gen_ai.request.*) and
/// the conversation it belongs to.
struct request_params {
    std::optional<double> temperature, top_p;
    std::optional<std::int64_t> max_tokens;
    bool stream = false;
    std::string conversation;   ///< x-session-id header: the run's session.id, gen_ai.conversation.id
};

/// What the GenAI conventions ask of a client span calling a model server.
void record_llm_request(tracecraft::span& llm, const gateway::state& st, const request_params& p) {
    llm.set_attribute("gen_ai.operation.name", "chat");
    llm.set_attribute("server.address", st.opt.upstream_host);
    llm.set_attribute("server.port", static_cast<std::int64_t>(st.opt.upstream_port));
    llm.set_attribute("gen_ai.request.stream", p.stream);
    if (p.temperature) llm.set_attribute("gen_ai.request.temperature", *p.temperature);
    if (p.top_p) llm.set_attribute("gen_ai.request.top_p", *p.top_p);
    if (p.max_tokens) llm.set_attribute("gen_ai.request.max_tokens", *p.max_tokens);
    if (!p.conversation.empty()) llm.set_attribute("gen_ai.conversation.id", p.conversation);
}

// ---- the LLM call: plain ----------------------------------------------------------------

asio::awaitable<bool> plain_call(state_ptr st, beast::tcp_stream& client, tracecraft::run_scope& run, std::string model,
                                 std::string body, bool keep_alive, request_params params) {
    std::optional<http_failure> failure;
    std::string answer;
    {
        tracecraft::span_scope llm("chat " + model, span_kind::llm);
        llm.set_model(model, "openai");
        record_llm_request(llm, *st, params);
        try {
            const request req = upstream_request(st, body);
            beast::flat_buffer buf;
            http::response_parser<http::string_body> parser;
            parser.body_limit(16 << 20);
            auto op = send_upstream(st, req, buf, parser);
            upstream_conn c = co_await std::move(op);
            co_await http::async_read(*c.stream, buf, parser, asio::use_awaitable);
            auto res = parser.release();
            if (res.keep_alive()) release(st, std::move(c));
            if (res.result_int() != 200) {
                failure = http_failure{502, "upstream answered HTTP " + std::to_string(res.result_int()), "upstream_error"};
            } else {
                boost::system::error_code ec;
                const json::value doc = json::parse(res.body(), ec);
                if (ec || !doc.is_object()) {
                    failure = http_failure{502, "upstream sent invalid JSON", "upstream_error"};
                } else {
                    const auto& o = doc.as_object();
                    if (auto u = tracecraft::parse_usage(res.body())) llm.set_usage(*u);
                    if (const auto* m = o.if_contains("model"); m && m->is_string())
                        llm.set_attribute("gen_ai.response.model", std::string_view(m->as_string()));
                    if (const auto* id = o.if_contains("id"); id && id->is_string())
                        llm.set_attribute("gen_ai.response.id", std::string_view(id->as_string()));
                    try {
                        const auto& choice = o.at("choices").as_array().at(0).as_object();
                        const std::string_view content = choice.at("message").at("content").as_string();
                        llm.set_output("completion", content);
                        run.set_run_output(content);   // the root's output.value
                        if (const auto* fr = choice.if_contains("finish_reason"); fr && fr->is_string())
                            llm.set_attribute("gen_ai.response.finish_reasons", {std::string_view(fr->as_string())});
                    } catch (const std::exception&) {
                        failure = http_failure{502, "upstream response has no choices[0].message.content", "upstream_error"};
                    }
                    answer = std::move(res.body());
                }
            }
        } catch (const boost::system::system_error& e) {
            failure = upstream_failure(e);
        }
        if (failure) llm.set_status(status_code::error, failure->message);
    }
    if (failure) {
        auto op = fail_request(st, client, run, *failure, keep_alive);   // named local: GCC 12 co_await rule
        co_await std::move(op);
        co_return keep_alive;
    }
    run.set_attribute("http.response.status_code", std::int64_t{200});
    auto op = write_json(client, 200, std::move(answer), keep_alive, traceresponse(run));
    co_await std::move(op);
    co_return keep_alive;
}

// ---- the LLM call: streamed (server-sent events in, server-sent events out) --------------

/// Chunk source over the upstream's SSE body, for tracecraft::llm_stream::next().
struct sse_source {
    beast::tcp_stream* stream;
    beast::flat_buffer* buf;
    http::response_parser<http::buffer_body>* parser;
    std::chrono::milliseconds timeout;
    std::string pending;
    std::string raw;   ///< the last event as received ("data: ...\n\n"), forwarded to the client
    bool done = false;

    asio::awaitable<std::optional<tracecraft::llm_chunk>> next_chunk() {
        for (;;) {
            const auto end = pending.find("\n\n");
            if (end != std::string::npos) {
                raw = pending.substr(0, end + 2);
                pending.erase(0, end + 2);
                std::string_view data(raw);
                if (data.rfind("data: ", 0) != 0) continue;   // comments, event: lines
                data.remove_prefix(6);
                data.remove_suffix(2);
                if (data == "[DONE]") {
                    done = true;
                    continue;
                }
                tracecraft::llm_chunk c;
                boost::system::error_code ec;
                const json::value doc = json::parse(json::string_view(data.data(), data.size()), ec);
                if (ec || !doc.is_object()) throw std::runtime_error("upstream sent a malformed stream event");
                const auto& o = doc.as_object();
                if (const auto* m = o.if_contains("model"); m && m->is_string()) c.model = m->as_string();
                if (const auto* ch = o.if_contains("choices"); ch && ch->is_array() && !ch->as_array().empty()) {
                    const auto& choice = ch->as_array()[0].as_object();
                    if (const auto* d = choice.if_contains("delta"); d && d->is_object())
                        if (const auto* t = d->as_object().if_contains("content"); t && t->is_string()) c.text = t->as_string();
                    if (const auto* fr = choice.if_contains("finish_reason"); fr && fr->is_string()) c.finish_reason = fr->as_string();
                }
                c.usage = tracecraft::parse_usage(data);
                co_return c;
            }
            if (parser->is_done()) {
                if (!done) throw std::runtime_error("upstream stream ended without [DONE]");
                co_return std::nullopt;
            }
            char tmp[8192];
            parser->get().body().data = tmp;
            parser->get().body().size = sizeof tmp;
            stream->expires_after(timeout);
            boost::system::error_code ec;
            co_await http::async_read_some(*stream, *buf, *parser, asio::redirect_error(asio::use_awaitable, ec));
            if (ec && ec != http::error::need_buffer) throw boost::system::system_error(ec, "upstream stream");
            pending.append(tmp, sizeof tmp - parser->get().body().size);
        }
    }
};

asio::awaitable<void> write_sse(beast::tcp_stream& client, std::string text) {
    co_await asio::async_write(client, http::make_chunk(asio::buffer(text)), asio::use_awaitable);
}

asio::awaitable<bool> streamed_call(state_ptr st, beast::tcp_stream& client, tracecraft::run_scope& run, std::string model,
                                    std::string body, bool keep_alive, request_params params) {
    std::optional<http_failure> failure;   // before any byte went to the client
    std::string broken;                    // after the SSE response started
    bool started = false;
    {
        tracecraft::llm_stream s("chat " + model, model, "openai");
        record_llm_request(s.get_span(), *st, params);
        try {
            const request req = upstream_request(st, body);
            beast::flat_buffer buf;
            http::response_parser<http::buffer_body> parser;
            parser.body_limit(boost::none);
            auto op = send_upstream(st, req, buf, parser);
            upstream_conn c = co_await std::move(op);
            if (parser.get().result_int() != 200) {
                failure = http_failure{502, "upstream answered HTTP " + std::to_string(parser.get().result_int()), "upstream_error"};
                s.fail(failure->message);
            } else {
                http::response<http::empty_body> head{http::status::ok, 11};
                head.set(http::field::server, "tracecraft-llm-gateway");
                head.set("traceresponse", traceresponse(run));
                head.set(http::field::content_type, "text/event-stream");
                head.set(http::field::cache_control, "no-cache");
                head.keep_alive(keep_alive);
                head.chunked(true);
                http::response_serializer<http::empty_body> sr{head};
                co_await http::async_write_header(client, sr, asio::use_awaitable);
                started = true;
                sse_source src{c.stream.get(), &buf, &parser, st->opt.upstream_timeout, {}, {}, false};
                while (co_await s.next(src)) {
                    auto w = write_sse(client, src.raw);
                    co_await std::move(w);
                }
                auto w = write_sse(client, "data: [DONE]\n\n");
                co_await std::move(w);
                co_await asio::async_write(client, http::make_chunk_last(), asio::use_awaitable);
                if (parser.get().keep_alive()) release(st, std::move(c));
            }
        } catch (const boost::system::system_error& e) {
            if (started) broken = e.what();
            else failure = upstream_failure(e);
            if (!s.done()) s.fail(started ? broken : failure->message);
        } catch (const std::exception& e) {   // malformed stream (llm_stream::next already failed the span)
            if (started) broken = e.what();
            else failure = http_failure{502, e.what(), "upstream_error"};
        }
    }
    if (failure) {
        auto op = fail_request(st, client, run, *failure, keep_alive);   // named local: GCC 12 co_await rule
        co_await std::move(op);
        co_return keep_alive;
    }
    run.set_attribute("http.response.status_code", std::int64_t{200});
    if (!broken.empty()) {
        // The status line is gone; tell the client in-band and end the chunked body.
        st->errors.fetch_add(1, std::memory_order_relaxed);
        run.set_attribute("error.type", "stream_broken");
        run.set_status(status_code::error, broken);
        const std::string ev = "data: " + error_body(http_failure{502, broken, "upstream_error"}) + "\n\n";
        boost::system::error_code ec;
        co_await asio::async_write(client, http::make_chunk(asio::buffer(ev)), asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) co_await asio::async_write(client, http::make_chunk_last(), asio::redirect_error(asio::use_awaitable, ec));
        co_return false;
    }
    co_return keep_alive;
}

// ---- one request -------------------------------------------------------------------------

std::optional<http_failure> validate(const json::value& doc, std::string* model, request_params* params, std::string* query,
                                     json::array* messages) {
    if (!doc.is_object()) return http_failure{400, "request body must be a JSON object", "invalid_request_error"};
    const auto& o = doc.as_object();
    const auto* m = o.if_contains("model");
    if (!m || !m->is_string() || m->as_string().empty())
        return http_failure{400, "'model' is required and must be a non-empty string", "invalid_request_error"};
    *model = m->as_string();
    const auto* msgs = o.if_contains("messages");
    if (!msgs || !msgs->is_array() || msgs->as_array().empty())
        return http_failure{400, "'messages' is required and must be a non-empty array", "invalid_request_error"};
    for (const auto& v : msgs->as_array()) {
        if (!v.is_object() || !v.as_object().if_contains("role") || !v.at("role").is_string() ||
            !v.as_object().if_contains("content") || !v.at("content").is_string())
            return http_failure{400, "each message needs string 'role' and 'content'", "invalid_request_error"};
        if (v.at("role").as_string() == "user") *query = v.at("content").as_string();
    }
    *messages = msgs->as_array();
    if (const auto* s = o.if_contains("stream")) {
        if (!s->is_bool()) return http_failure{400, "'stream' must be a boolean", "invalid_request_error"};
        params->stream = s->as_bool();
    }
    for (const char* key : {"temperature", "top_p"}) {
        const auto* v = o.if_contains(key);
        if (!v || v->is_null()) continue;
        if (!v->is_number()) return http_failure{400, std::string("'") + key + "' must be a number", "invalid_request_error"};
        (std::string_view(key) == "temperature" ? params->temperature : params->top_p) = v->to_number<double>();
    }
    if (const auto* v = o.if_contains("max_tokens"); v && !v->is_null()) {
        if (!v->is_int64() && !v->is_uint64()) return http_failure{400, "'max_tokens' must be an integer", "invalid_request_error"};
        params->max_tokens = v->to_number<std::int64_t>();
    }
    return std::nullopt;
}

tracecraft::run_options run_options_for(const http::fields& req) {
    tracecraft::run_options ro;
    ro.description = "POST /v1/chat/completions";
    ro.otel_kind = tracecraft::otel_span_kind::server;   // the run serves an incoming request
    if (const auto sid = req.find("x-session-id"); sid != req.end()) ro.session_id = std::string(sid->value()).substr(0, 256);
    if (const auto tp = req.find("traceparent"); tp != req.end()) {
        const auto ts = req.find("tracestate");
        std::string error;
        const std::string_view tracestate = ts == req.end() ? std::string_view() : std::string_view(ts->value());
        if (auto remote = tracecraft::extract(std::string_view(tp->value()), tracestate, &error)) {
            ro.parent = remote->parent;
            ro.tracestate = remote->tracestate;
        }
    }
    return ro;
}

asio::awaitable<bool> handle(state_ptr st, beast::tcp_stream& client, request req) {
    st->requests.fetch_add(1, std::memory_order_relaxed);
    const bool keep_alive = req.keep_alive();
    tracecraft::run_scope run("chat_completion", run_options_for(req.base()));
    run.set_attribute("http.request.method", std::string_view(req.method_string()));
    run.set_attribute("url.path", std::string_view(req.target()));
    run.set_attribute("url.scheme", "http");
    run.set_attribute("http.route", "/v1/chat/completions");
    run.set_attribute("network.protocol.version", req.version() == 10 ? "1.0" : "1.1");
    run.set_attribute("server.address", st->opt.address);
    run.set_attribute("server.port", static_cast<std::int64_t>(st->port));
    if (const auto ua = req.find(http::field::user_agent); ua != req.end())
        run.set_attribute("user_agent.original", std::string_view(ua->value()));
    std::optional<http_failure> failure;
    std::string model, query;
    request_params params;
    if (const auto sid = req.find("x-session-id"); sid != req.end()) params.conversation = std::string(sid->value()).substr(0, 256);
    json::array messages;
    if (req.target() != "/v1/chat/completions") {
        failure = http_failure{404, "no route for " + std::string(req.target()), "not_found"};
    } else if (req.method() != http::verb::post) {
        failure = http_failure{405, "use POST", "method_not_allowed"};
    } else {
        boost::system::error_code ec;
        const json::value doc = json::parse(req.body(), ec);
        if (ec) failure = http_failure{400, "invalid JSON: " + ec.message(), "invalid_request_error"};
        else failure = validate(doc, &model, &params, &query, &messages);
    }
    if (failure) {
        auto op = fail_request(st, client, run, *failure, keep_alive);   // named local: GCC 12 co_await rule
        co_await std::move(op);
        co_return keep_alive;
    }
    run.set_input("query", query);
    run.set_attribute("gen_ai.request.model", model);
    run.set_attribute("tracecraft.stream", params.stream);

    auto fan_out = tracecraft::when_all(retrieve(query), word_stats_tool(query));   // named local: GCC 12 rule
    auto [docs, tool_result] = co_await std::move(fan_out);

    std::string context = "Context:";
    for (const auto& d : docs) context += "\n- " + d;
    context += "\nTool: " + tool_result;
    json::array upstream_messages;
    upstream_messages.push_back(json::object{{"role", "system"}, {"content", context}});
    for (auto& m : messages) upstream_messages.push_back(std::move(m));
    json::object upstream{{"model", model}, {"messages", std::move(upstream_messages)}, {"stream", params.stream}};
    if (params.stream) upstream["stream_options"] = json::object{{"include_usage", true}};
    if (params.temperature) upstream["temperature"] = *params.temperature;
    if (params.top_p) upstream["top_p"] = *params.top_p;
    if (params.max_tokens) upstream["max_tokens"] = *params.max_tokens;
    std::string body = json::serialize(upstream);

    bool keep = false;
    if (params.stream) {
        auto op = streamed_call(st, client, run, model, std::move(body), keep_alive, params);
        keep = co_await std::move(op);
    } else {
        auto op = plain_call(st, client, run, model, std::move(body), keep_alive, params);
        keep = co_await std::move(op);
    }
    co_return keep;
}

/// The status for a request Beast could not parse: 431 for a header block over the limit, 400
/// for the rest (control bytes in the path or a header, a bad or conflicting Content-Length,
/// a bad chunk size, a bad version, ...), or 0 for a connection that simply ended.
unsigned status_for_parse_error(const boost::system::error_code& ec) {
    if (ec == http::error::header_limit) return 431;
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
    if (ec.category() == http::make_error_code(http::error::bad_method).category()) return 400;
    return 0;
}

asio::awaitable<void> session(state_ptr st, tcp::socket sock) {
    beast::tcp_stream client(std::move(sock));
    beast::flat_buffer buf;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(st->opt.max_body);
        parser.header_limit(static_cast<std::uint32_t>(st->opt.max_header));
        boost::system::error_code ec;
        // one deadline for the whole request (headers and body) and for the wait between
        // kept-alive requests: a client that sends slowly or not at all is closed
        client.expires_after(st->opt.client_timeout);
        co_await http::async_read(client, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
        client.expires_never();
        if (ec == http::error::body_limit) {
            st->requests.fetch_add(1, std::memory_order_relaxed);
            tracecraft::run_scope run("chat_completion", run_options_for(parser.get().base()));
            http_failure too_large{413, "request body exceeds " + std::to_string(st->opt.max_body) + " bytes", "request_too_large"};
            auto op = fail_request(st, client, run, std::move(too_large), false);
            co_await std::move(op);
            break;
        }
        if (ec == beast::error::timeout) {   // the stream is closed already (as nginx does for client_header_timeout)
            st->client_timeouts.fetch_add(1, std::memory_order_relaxed);
            co_return;
        }
        if (ec) {
            if (const unsigned status = status_for_parse_error(ec)) {
                st->requests.fetch_add(1, std::memory_order_relaxed);
                tracecraft::run_scope run("chat_completion");
                http_failure bad{status, status == 431 ? "request header fields too large" : "malformed HTTP request: " + ec.message(),
                                 status == 431 ? "request_header_fields_too_large" : "invalid_request_error"};
                client.expires_after(std::chrono::seconds(1));
                auto op = fail_request(st, client, run, std::move(bad), false);
                try {
                    co_await std::move(op);
                } catch (const std::exception&) {
                }
            }
            break;   // closed, or not HTTP: after a parse error the stream position is unknown
        }
        auto op = handle(st, client, parser.release());
        bool keep = false;
        try {
            keep = co_await std::move(op);
        } catch (const std::exception&) {
            keep = false;   // the client went away mid-response
        }
        if (!keep) break;
    }
    boost::system::error_code ec;
    client.socket().shutdown(tcp::socket::shutdown_both, ec);
}

asio::awaitable<void> accept_loop(state_ptr st) {
    asio::steady_timer pause(st->ex);
    for (;;) {
        boost::system::error_code ec;
        tcp::socket sock = co_await st->acceptor.async_accept(asio::make_strand(st->ex), asio::redirect_error(asio::use_awaitable, ec));
        if (st->stopped.load() || ec == asio::error::operation_aborted || !st->acceptor.is_open()) co_return;
        if (ec) {
            // Out of file descriptors (EMFILE/ENFILE) or a transient network error: the pending
            // connection stays in the backlog; wait a little and accept again, instead of
            // returning and never accepting any more.
            st->accept_errors.fetch_add(1, std::memory_order_relaxed);
            pause.expires_after(std::chrono::milliseconds(50));
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        auto ex = sock.get_executor();
        tracecraft::spawn(ex, session(st, std::move(sock)), asio::detached);   // a fresh context per connection
    }
}

} // namespace

gateway::gateway(asio::any_io_executor ex, gateway_options options) : st_(std::make_shared<state>(ex, std::move(options))) {
    listen_on(st_->acceptor, st_->opt.address, st_->opt.port);
    st_->port = bound_port(st_->acceptor);
    asio::co_spawn(ex, accept_loop(st_), asio::detached);
}

gateway::~gateway() { stop(); }

unsigned short gateway::port() const noexcept { return bound_port(st_->acceptor); }

void gateway::stop() {
    if (st_->stopped.exchange(true)) return;
    asio::post(st_->acceptor.get_executor(), [st = st_] {
        boost::system::error_code ec;
        st->acceptor.close(ec);
        std::lock_guard lk(st->pool_mutex);
        for (auto& s : st->idle) {
            s->socket().shutdown(tcp::socket::shutdown_both, ec);
            s->socket().close(ec);
        }
        st->idle.clear();
    });
}

gateway_stats gateway::stats() const noexcept {
    return gateway_stats{st_->requests.load(), st_->errors.load(), st_->connects.load(), st_->accept_errors.load(),
                         st_->client_timeouts.load()};
}

} // namespace llm_gateway
