// TraceCraft C++ — JSONL exporter: one line per finished run in the Python SDK's line schema
// (an AgentRun with nested steps, every field present, nulls included), so files are
// interchangeable with the Python tools (TUI, `tracecraft validate`).
//
// Ids: the run id is the trace id as a UUID string; a step id is its span id as the first 8
// bytes of a UUID with the last 8 zero (the Python receiver's own mapping). Times are ISO-8601
// UTC with microseconds. Run totals (tokens, cost, error count) are computed from the steps.
// Writes happen on the pipeline strand (never in a user's handler); files rotate by size.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "tracecraft/exporter.hpp"

namespace tracecraft {

struct jsonl_options {
    std::string path = "traces/tracecraft.jsonl";   ///< parent directories are created
    std::uint64_t max_bytes = 0;                     ///< rotate to path.1, path.2, ... (0 = never)
    std::uint32_t max_files = 5;                     ///< rotated files kept
    bool fsync = false;                              ///< fsync after every batch
};

class jsonl_exporter final : public exporter {
public:
    explicit jsonl_exporter(jsonl_options options = {});
    ~jsonl_exporter() override;

    [[nodiscard]] std::string_view name() const noexcept override { return "jsonl"; }
    boost::asio::awaitable<export_result> export_batch(span_batch batch) override;
    boost::asio::awaitable<void> force_flush() override;
    boost::asio::awaitable<void> shutdown() override;

    /// The line for one trace (no trailing newline).
    [[nodiscard]] static std::string render(const trace_view& trace);

private:
    export_result write(const std::string& data);
    jsonl_options opt_;
    std::FILE* f_ = nullptr;
    std::uint64_t size_ = 0;
};

} // namespace tracecraft
