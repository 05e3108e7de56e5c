// A fault-injecting OTLP/HTTP (JSON) receiver for the export tests, on 127.0.0.1: it can be
// down (connections refused), answer any status with Retry-After, answer late, reset the
// connection in the middle of a request body, and answer with a partial success. It records
// the span ids it accepted (a set: a retried batch the receiver had already taken is counted
// once, and the duplicates are counted apart).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace tc_test {

/// What the receiver does with one request.
struct fault {
    unsigned status = 200;
    std::string retry_after;                 ///< Retry-After header value (empty: none)
    std::chrono::milliseconds delay{0};      ///< wait before answering
    bool reset = false;                      ///< read the headers, then reset the connection
    std::uint64_t reject = 0;                ///< 200 with partial success: the first N spans rejected

    static fault status_only(unsigned s) {
        fault f;
        f.status = s;
        return f;
    }
};

class fault_receiver {
public:
    using clock = std::chrono::steady_clock;

    /// Takes a port at once and holds it while down (bound, not listening: connections are
    /// refused), so that no other receiver of the test can take it meanwhile.
    explicit fault_receiver(boost::asio::io_context& ioc) : ioc_(ioc) {
        hold_ = bound(0);
        port_ = hold_->local_endpoint().port();
    }
    ~fault_receiver() {
        down();
        boost::system::error_code ec;
        if (hold_) hold_->close(ec);
    }

    [[nodiscard]] unsigned short port() const { return port_; }
    [[nodiscard]] std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }

    /// Starts accepting (again) on the same port.
    void up() {
        namespace asio = boost::asio;
        if (acceptor_) return;
        acceptor_ = hold_ ? std::move(hold_) : bound(port_);
        acceptor_->listen();
        asio::co_spawn(ioc_, accept_loop(this, acceptor_), asio::detached);
    }
    /// Stops accepting and closes every connection: clients see refused/reset connections.
    void down() {
        boost::system::error_code ec;
        if (!acceptor_) return;
        acceptor_->close(ec);
        acceptor_.reset();
        for (auto& w : sockets_)
            if (auto s = w.lock()) s->close(ec);
        sockets_.clear();
        hold_ = bound(port_);
    }

    /// Decides each request's fault by its number (0-based). Default: 200.
    std::function<fault(int)> plan;

    std::set<std::string> span_ids;        ///< accepted (unique)
    std::uint64_t duplicate_spans = 0;     ///< accepted again (a retry of a batch already taken)
    std::uint64_t rejected_spans = 0;      ///< refused by partial success
    int requests = 0;
    std::vector<clock::time_point> request_times;
    std::vector<unsigned> statuses;
    std::vector<std::string> metric_bodies;   ///< accepted POST /v1/metrics bodies (OTLP/JSON)

private:
    using tcp = boost::asio::ip::tcp;

    std::shared_ptr<tcp::acceptor> bound(unsigned short port) {
        namespace asio = boost::asio;
        auto a = std::make_shared<tcp::acceptor>(ioc_);
        const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
        a->open(ep.protocol());
        a->set_option(asio::socket_base::reuse_address(true));
        a->bind(ep);
        return a;
    }

    static boost::asio::awaitable<void> accept_loop(fault_receiver* self, std::shared_ptr<tcp::acceptor> acc) {
        namespace asio = boost::asio;
        for (;;) {
            boost::system::error_code ec;
            tcp::socket s = co_await acc->async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            auto sock = std::make_shared<tcp::socket>(std::move(s));
            self->sockets_.push_back(sock);
            asio::co_spawn(acc->get_executor(), session(self, sock), asio::detached);
        }
    }

    void accept_spans(const std::string& body, std::uint64_t reject) {
        boost::system::error_code ec;
        const auto doc = boost::json::parse(body, ec);
        if (ec) return;
        for (const auto& rs : doc.at("resourceSpans").as_array())
            for (const auto& ss : rs.at("scopeSpans").as_array())
                for (const auto& sp : ss.at("spans").as_array()) {
                    if (reject > 0) {
                        --reject;
                        ++rejected_spans;
                        continue;
                    }
                    const std::string id = std::string(sp.at("traceId").as_string()) + std::string(sp.at("spanId").as_string());
                    if (!span_ids.insert(id).second) ++duplicate_spans;
                }
    }

    static boost::asio::awaitable<void> session(fault_receiver* self, std::shared_ptr<tcp::socket> sock) {
        namespace asio = boost::asio;
        namespace beast = boost::beast;
        namespace http = beast::http;
        beast::flat_buffer buf;
        try {
            for (;;) {
                http::request_parser<http::string_body> parser;
                parser.body_limit(64 * 1024 * 1024);
                co_await http::async_read_header(*sock, buf, parser, asio::use_awaitable);
                const int n = self->requests++;
                self->request_times.push_back(clock::now());
                const fault f = self->plan ? self->plan(n) : fault{};
                if (f.reset) {
                    self->statuses.push_back(0);
                    sock->set_option(asio::socket_base::linger(true, 0));   // RST, not FIN
                    sock->close();
                    co_return;
                }
                co_await http::async_read(*sock, buf, parser, asio::use_awaitable);
                if (f.delay.count() > 0) {
                    asio::steady_timer t(sock->get_executor(), f.delay);
                    co_await t.async_wait(asio::use_awaitable);
                }
                self->statuses.push_back(f.status);
                http::response<http::string_body> res{static_cast<http::status>(f.status), 11};
                if (f.status >= 200 && f.status < 300 && parser.get().target() == "/v1/metrics") {
                    self->metric_bodies.push_back(parser.get().body());
                    res.set(http::field::content_type, "application/json");
                    res.body() = "{}";
                } else if (f.status >= 200 && f.status < 300) {
                    self->accept_spans(parser.get().body(), f.reject);
                    res.set(http::field::content_type, "application/json");
                    res.body() = f.reject ? "{\"partialSuccess\":{\"rejectedSpans\":\"" + std::to_string(f.reject) +
                                                "\",\"errorMessage\":\"test rejects\"}}"
                                          : "{}";
                } else {
                    res.body() = "refused by the test receiver";
                }
                if (!f.retry_after.empty()) res.set(http::field::retry_after, f.retry_after);
                res.keep_alive(true);
                res.prepare_payload();
                co_await http::async_write(*sock, res, asio::use_awaitable);
            }
        } catch (const std::exception&) {
            // the client went away (timeouts close the connection), or down() closed it
        }
    }

    boost::asio::io_context& ioc_;
    unsigned short port_ = 0;
    std::shared_ptr<tcp::acceptor> acceptor_;   ///< listening (up)
    std::shared_ptr<tcp::acceptor> hold_;       ///< bound, not listening (down)
    std::vector<std::weak_ptr<tcp::socket>> sockets_;
};

} // namespace tc_test
