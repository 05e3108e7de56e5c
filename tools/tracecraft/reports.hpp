// Terminal output of `view`, `stats` and `query`, and opening a SOURCE (a trace database or a
// TraceCraft JSONL file).
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "jsonl_source.hpp"
#include "trace_store.hpp"

namespace tctool {

struct opened_source {
    std::unique_ptr<trace_store> store;     ///< the database, or an in-memory one holding the file
    std::vector<line_problem> problems;     ///< JSONL lines skipped
};
/// A SQLite file is opened as it is (migrated if older); anything else is read as JSONL.
/// Throws input_error naming the file.
[[nodiscard]] opened_source open_source(const std::string& path);

struct view_options {
    std::string trace_id;      ///< empty: the newest `limit` traces
    std::int64_t limit = 10;
    bool json = false;
    bool color = false;
    int bar_width = 24;
};
void render_view(std::ostream& out, const trace_store& store, const view_options& o);

enum class stats_group { none, name, kind, model };
void render_stats(std::ostream& out, const trace_store& store, stats_group by, bool json);

enum class query_format { table, json, csv };
void render_query(std::ostream& out, const std::vector<trace_summary>& traces, std::int64_t total, query_format f);

/// "1.24 s", "310 ms", "2.50 ms".
[[nodiscard]] std::string format_duration(std::int64_t ns);
/// `--since`: an ISO-8601 time or an age ("30s", "15m", "2h", "7d") before `now_ns`.
[[nodiscard]] std::int64_t parse_since(const std::string& text, std::int64_t now_ns);

} // namespace tctool
