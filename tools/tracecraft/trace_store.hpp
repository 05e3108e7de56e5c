// SQLite storage of received traces: one table each for traces (run-level summary columns),
// spans, attributes and events; WAL journal; a schema version in `PRAGMA user_version` brought
// up to date by numbered migrations when a database is opened.
//
// Spans of one trace may arrive in many requests (an SDK exports spans as they end): store()
// upserts spans by (trace_id, span_id) — a re-sent span replaces itself, so retries are
// idempotent — and recomputes the summary of every trace it touched from all its stored spans.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trace_model.hpp"

struct sqlite3;

namespace tctool {

struct trace_summary {
    std::string trace_id, name, service, root_span_id;
    std::int64_t start_ns = 0, end_ns = 0;
    std::int64_t span_count = 0, error_count = 0;
    std::int64_t input_tokens = 0, output_tokens = 0;
    double cost_usd = 0;
    std::string models;       ///< distinct models, comma-separated
    std::string session_id, user_id;
    std::string tags_json;    ///< JSON array
    [[nodiscard]] std::int64_t duration_ns() const noexcept { return end_ns > start_ns ? end_ns - start_ns : 0; }
    [[nodiscard]] std::int64_t total_tokens() const noexcept { return input_tokens + output_tokens; }
};

struct trace_filter {
    std::string name;                   ///< substring of the trace name
    std::string service;                ///< exact service name
    std::string model;                  ///< a span of the trace used this model
    bool errors_only = false;
    double min_duration_ms = 0;
    double min_cost = 0;
    std::optional<std::int64_t> since_ns;
    std::int64_t limit = 100, offset = 0;
};

class trace_store {
public:
    static constexpr int schema_version = 2;

    enum class mode { create, open_existing };
    /// Opens (and migrates) the database at `path`; ":memory:" for a private in-memory one.
    /// Throws input_error naming the file and SQLite's message.
    explicit trace_store(const std::string& path, mode m = mode::create);
    ~trace_store();
    trace_store(const trace_store&) = delete;
    trace_store& operator=(const trace_store&) = delete;

    struct store_result {
        std::size_t spans = 0, traces = 0;
    };
    /// Stores spans in one transaction; recomputes the touched traces' summaries.
    store_result store(const std::vector<span_record>& spans);

    [[nodiscard]] std::vector<trace_summary> list(const trace_filter& f, std::int64_t* total = nullptr) const;
    [[nodiscard]] std::optional<trace_summary> summary(const std::string& trace_id) const;
    /// Spans of a trace ordered by start time (attributes and events included).
    [[nodiscard]] std::vector<span_record> spans(const std::string& trace_id) const;
    /// Every span without attributes or events (for statistics).
    [[nodiscard]] std::vector<span_record> all_spans_brief() const;
    /// Grows by one with every store() that changed something (for live viewers).
    [[nodiscard]] std::int64_t version() const;
    [[nodiscard]] int user_version() const;
    /// How long a write waits for another connection's lock before failing (default 5 s).
    void set_busy_timeout(std::chrono::milliseconds t);

    /// Test hook: a new database left at schema `version` (to test migrations).
    static void create_at_version(const std::string& path, int version);

private:
    void exec(const char* sql) const;
    void migrate();
    void refresh_summary(const std::string& trace_id);
    sqlite3* db_ = nullptr;
    std::string path_;
};

} // namespace tctool
