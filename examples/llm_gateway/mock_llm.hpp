// A mock upstream LLM speaking the OpenAI chat-completions format, for the gateway example,
// its tests and the gateway benchmark. POST /v1/chat/completions answers after `delay` with a
// deterministic text and real `usage`; with "stream": true it sends server-sent events
// (chunks `chunk_delay` apart, a usage chunk, then [DONE]).
//
// Fault injection by model name: "fail-500" answers 500, "slow" waits 5 s before answering,
// "break-stream" sends two chunks and then closes the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

namespace llm_gateway {

struct mock_llm_options {
    std::string address = "127.0.0.1";
    unsigned short port = 0;                       ///< 0: any free port
    std::chrono::milliseconds delay{20};           ///< before the answer (or the first chunk)
    std::chrono::milliseconds chunk_delay{2};      ///< between streamed chunks
    int chunks = 8;                                ///< streamed content chunks
};

class mock_llm {
public:
    mock_llm(boost::asio::any_io_executor ex, mock_llm_options options = {});
    ~mock_llm();
    [[nodiscard]] unsigned short port() const noexcept;
    void stop();
    /// traceparent headers of the requests received so far (thread-safe copy).
    [[nodiscard]] std::vector<std::string> traceparents() const;
    [[nodiscard]] std::uint64_t requests() const;

    struct state;

private:
    std::shared_ptr<state> st_;
};

/// The mock's deterministic answer and its token counts (words), for tests.
struct mock_answer {
    std::vector<std::string> pieces;   ///< streamed content chunks; concatenated = full text
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
};
mock_answer make_mock_answer(const std::string& prompt_text, int chunks);

} // namespace llm_gateway
