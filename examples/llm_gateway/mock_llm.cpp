#include "mock_llm.hpp"
#include "listener.hpp"

#include <atomic>
#include <sstream>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace llm_gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

struct mock_llm::state {
    mock_llm_options opt;
    tcp::acceptor acceptor;
    mutable std::mutex m;
    std::vector<std::string> traceparents;
    std::atomic<std::uint64_t> requests{0};
    std::atomic<bool> stopped{false};
    state(asio::any_io_executor ex, mock_llm_options o) : opt(std::move(o)), acceptor(ex) {}
};

namespace {

std::int64_t count_words(const std::string& s) {
    std::istringstream in(s);
    std::int64_t n = 0;
    for (std::string w; in >> w;) ++n;
    return n;
}

std::string chunk_json(const std::string& id, const std::string& model, const std::string& content, const char* finish) {
    json::object delta;
    if (!content.empty()) delta["content"] = content;
    json::object choice{{"index", 0}, {"delta", std::move(delta)}};
    choice["finish_reason"] = finish ? json::value(finish) : json::value(nullptr);
    return json::serialize(json::object{{"id", id}, {"object", "chat.completion.chunk"}, {"model", model},
                                        {"choices", json::array{std::move(choice)}}});
}

using response = http::response<http::string_body>;

response json_response(unsigned status, const std::string& body, bool keep_alive) {
    response res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(keep_alive);
    res.body() = body;
    res.prepare_payload();
    return res;
}

asio::awaitable<void> session(std::shared_ptr<mock_llm::state> st, tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    beast::flat_buffer buf;
    asio::steady_timer timer(stream.get_executor());
    for (;;) {
        http::request<http::string_body> req;
        boost::system::error_code ec;
        co_await http::async_read(stream, buf, req, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        st->requests.fetch_add(1);
        {
            std::lock_guard lk(st->m);
            st->traceparents.emplace_back(req["traceparent"]);
        }
        json::value doc = json::parse(req.body(), ec);
        if (ec || !doc.is_object() || !doc.as_object().if_contains("messages")) {
            auto res = json_response(400, R"({"error":{"message":"bad request","type":"invalid_request_error"}})", req.keep_alive());
            co_await http::async_write(stream, res, asio::use_awaitable);
            continue;
        }
        const auto& o = doc.as_object();
        const std::string model = o.if_contains("model") && o.at("model").is_string() ? std::string(o.at("model").as_string()) : "mock";
        const bool streaming = o.if_contains("stream") && o.at("stream").is_bool() && o.at("stream").as_bool();
        std::string prompt;
        for (const auto& m : o.at("messages").as_array())
            if (m.is_object() && m.as_object().if_contains("content") && m.at("content").is_string())
                prompt += std::string(m.at("content").as_string()) + " ";
        const mock_answer ans = make_mock_answer(prompt, st->opt.chunks);
        timer.expires_after(model == "slow" ? std::chrono::milliseconds(5000) : st->opt.delay);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (model == "fail-500") {
            auto res = json_response(500, R"({"error":{"message":"mock upstream failure","type":"server_error"}})", req.keep_alive());
            co_await http::async_write(stream, res, asio::use_awaitable);
            continue;
        }
        const std::string id = "chatcmpl-mock-" + std::to_string(st->requests.load());
        json::object usage{{"prompt_tokens", ans.prompt_tokens},
                           {"completion_tokens", ans.completion_tokens},
                           {"total_tokens", ans.prompt_tokens + ans.completion_tokens}};
        if (!streaming) {
            std::string text;
            for (const auto& p : ans.pieces) text += p;
            json::object msg{{"role", "assistant"}, {"content", text}};
            json::object choice{{"index", 0}, {"message", std::move(msg)}, {"finish_reason", "stop"}};
            const std::string body = json::serialize(json::object{{"id", id}, {"object", "chat.completion"}, {"model", model},
                                                                  {"choices", json::array{std::move(choice)}}, {"usage", usage}});
            auto res = json_response(200, body, req.keep_alive());
            co_await http::async_write(stream, res, asio::use_awaitable);
            continue;
        }
        http::response<http::empty_body> head{http::status::ok, 11};
        head.set(http::field::content_type, "text/event-stream");
        head.set(http::field::cache_control, "no-cache");
        head.keep_alive(req.keep_alive());
        head.chunked(true);
        http::response_serializer<http::empty_body> sr{head};
        co_await http::async_write_header(stream, sr, asio::use_awaitable);
        const bool breaks = model == "break-stream";
        for (std::size_t i = 0; i < ans.pieces.size(); ++i) {
            if (breaks && i == 2) {
                stream.socket().shutdown(tcp::socket::shutdown_both, ec);
                stream.close();
                co_return;
            }
            const bool last = i + 1 == ans.pieces.size();
            const std::string ev = "data: " + chunk_json(id, model, ans.pieces[i], last ? "stop" : nullptr) + "\n\n";
            co_await asio::async_write(stream, http::make_chunk(asio::buffer(ev)), asio::use_awaitable);
            if (!last && st->opt.chunk_delay.count() > 0) {
                timer.expires_after(st->opt.chunk_delay);
                co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            }
        }
        const std::string usage_ev =
            "data: " + json::serialize(json::object{{"id", id}, {"object", "chat.completion.chunk"}, {"model", model},
                                                    {"choices", json::array{}}, {"usage", usage}}) + "\n\ndata: [DONE]\n\n";
        co_await asio::async_write(stream, http::make_chunk(asio::buffer(usage_ev)), asio::use_awaitable);
        co_await asio::async_write(stream, http::make_chunk_last(), asio::use_awaitable);
        if (!req.keep_alive()) co_return;
    }
}

asio::awaitable<void> accept_loop(std::shared_ptr<mock_llm::state> st) {
    for (;;) {
        boost::system::error_code ec;
        tcp::socket sock = co_await st->acceptor.async_accept(asio::make_strand(st->acceptor.get_executor()),
                                                              asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        auto ex = sock.get_executor();
        asio::co_spawn(ex, session(st, std::move(sock)), asio::detached);
    }
}

} // namespace

mock_answer make_mock_answer(const std::string& prompt, int chunks) {
    mock_answer a;
    const std::string text = "The mock model read your request of " + std::to_string(count_words(prompt)) +
                             " words and answers it with a short deterministic reply for tracing tests.";
    a.prompt_tokens = count_words(prompt);
    a.completion_tokens = count_words(text);
    const std::size_t n = static_cast<std::size_t>(std::max(1, chunks));
    const std::size_t step = (text.size() + n - 1) / n;
    for (std::size_t i = 0; i < text.size(); i += step) a.pieces.push_back(text.substr(i, step));
    return a;
}

mock_llm::mock_llm(asio::any_io_executor ex, mock_llm_options options) : st_(std::make_shared<state>(ex, std::move(options))) {
    listen_on(st_->acceptor, st_->opt.address, st_->opt.port);
    asio::co_spawn(ex, accept_loop(st_), asio::detached);
}

mock_llm::~mock_llm() { stop(); }

unsigned short mock_llm::port() const noexcept { return bound_port(st_->acceptor); }

void mock_llm::stop() {
    if (st_->stopped.exchange(true)) return;
    asio::post(st_->acceptor.get_executor(), [st = st_] {
        boost::system::error_code ec;
        st->acceptor.close(ec);
    });
}

std::vector<std::string> mock_llm::traceparents() const {
    std::lock_guard lk(st_->m);
    return st_->traceparents;
}

std::uint64_t mock_llm::requests() const { return st_->requests.load(); }

} // namespace llm_gateway
