// A small Beast client for the gateway: used by the demo mode, the end-to-end tests and the
// Load generator for the gateway benchmark and tests. One keep-alive connection per client object.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace llm_gateway {

struct chat_response {
    unsigned status = 0;
    std::string content_type;
    std::string traceresponse;         ///< the gateway's W3C traceresponse header
    std::string body;                  ///< JSON body, or the raw SSE text for streams
    std::vector<std::string> events;   ///< SSE data payloads (streams)
};

class chat_client {
public:
    chat_client(boost::asio::any_io_executor ex, std::string host, unsigned short port);
    ~chat_client();
    /// POSTs `body` to `target` with extra headers; reconnects when the server closed.
    boost::asio::awaitable<chat_response> post(std::string target, std::string body,
                                               std::vector<std::pair<std::string, std::string>> headers);
    void close();

    struct state;

private:
    std::shared_ptr<state> st_;
};

/// A chat-completions request body.
std::string chat_body(const std::string& model, const std::string& question, bool stream);

} // namespace llm_gateway
