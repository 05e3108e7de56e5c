#include "client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace llm_gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct chat_client::state {
    asio::any_io_executor ex;
    std::string host;
    unsigned short port;
    std::unique_ptr<beast::tcp_stream> stream;
};

chat_client::chat_client(asio::any_io_executor ex, std::string host, unsigned short port)
    : st_(std::make_shared<state>(state{ex, std::move(host), port, nullptr})) {}
chat_client::~chat_client() { close(); }

void chat_client::close() {
    if (st_->stream) {
        beast::error_code ec;
        st_->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
        st_->stream->socket().close(ec);
        st_->stream.reset();
    }
}

asio::awaitable<chat_response> chat_client::post(std::string target, std::string body,
                                                 std::vector<std::pair<std::string, std::string>> headers) {
    auto st = st_;
    if (!st->stream || !st->stream->socket().is_open()) {
        st->stream = std::make_unique<beast::tcp_stream>(st->ex);
        const tcp::endpoint ep(asio::ip::make_address(st->host), st->port);
        co_await st->stream->async_connect(ep, asio::use_awaitable);
    }
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, st->host);
    req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();
    st->stream->expires_after(std::chrono::seconds(30));
    co_await http::async_write(*st->stream, req, asio::use_awaitable);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    co_await http::async_read(*st->stream, buf, parser, asio::use_awaitable);
    auto res = parser.release();
    chat_response out;
    out.status = res.result_int();
    out.content_type = std::string(res[http::field::content_type]);
    out.traceresponse = std::string(res["traceresponse"]);
    out.body = std::move(res.body());
    if (out.content_type.rfind("text/event-stream", 0) == 0) {
        std::size_t pos = 0;
        while ((pos = out.body.find("data: ", pos)) != std::string::npos) {
            const auto end = out.body.find("\n\n", pos);
            out.events.push_back(out.body.substr(pos + 6, end == std::string::npos ? std::string::npos : end - pos - 6));
            if (end == std::string::npos) break;
            pos = end + 2;
        }
    }
    if (!res.keep_alive()) close();
    co_return out;
}

std::string chat_body(const std::string& model, const std::string& question, bool stream) {
    namespace json = boost::json;
    return json::serialize(json::object{{"model", model},
                                        {"stream", stream},
                                        {"messages", json::array{json::object{{"role", "user"}, {"content", question}}}}});
}

} // namespace llm_gateway
