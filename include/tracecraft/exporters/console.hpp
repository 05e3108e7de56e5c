// TraceCraft C++ — console exporter: each finished trace as a readable tree.
//
//   agent_run (AGENT) 212.4 ms [1,260 tokens] [$0.0042]
//   ├── retrieve_docs (RETRIEVAL) 20.1 ms
//   ├── search_tool (TOOL) 15.2 ms
//   └── chat (LLM gpt-4o) 150.3 ms [1,000/260 tokens]
//
// Lines go through an spdlog logger (default: "tracecraft.console", stdout, pattern "%v").
// Colour is used when that stream is a terminal; verbose mode adds inputs and outputs.
#pragma once

#include <memory>
#include <string>

#include "tracecraft/exporter.hpp"

namespace spdlog {
class logger;
}

namespace tracecraft {

struct console_options {
    bool verbose = false;               ///< print inputs/outputs under each span
    bool color = true;                  ///< colour when the output is a terminal
    std::shared_ptr<spdlog::logger> sink;   ///< null: "tracecraft.console" on stdout
};

class console_exporter final : public exporter {
public:
    explicit console_exporter(console_options options = {});
    [[nodiscard]] std::string_view name() const noexcept override { return "console"; }
    boost::asio::awaitable<export_result> export_batch(span_batch batch) override;

    /// The tree of one trace as text lines (no colour), for tests and tools.
    [[nodiscard]] static std::string render(const trace_view& trace, bool verbose = false, bool color = false);

private:
    console_options opt_;
    bool color_ = false;
};

} // namespace tracecraft
