// TraceCraft JSONL files (one run per line, the line schema of the Python SDK and of
// tracecraft::jsonl_exporter): validation against the schema and conversion to spans.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "trace_model.hpp"
#include "trace_store.hpp"

namespace tctool {

struct line_problem {
    std::size_t line = 0;
    std::string message;   ///< "steps[0].start_time: expected an ISO-8601 time, got 12"
};

/// Checks one line; appends a problem per violation (the field's path in each message).
void validate_line(std::string_view line, std::size_t line_no, std::vector<line_problem>& problems);

struct jsonl_contents {
    std::vector<span_record> spans;
    std::vector<line_problem> problems;   ///< lines skipped, and why
    std::size_t lines = 0, runs = 0;
};
/// Reads a JSONL file into spans (the run becomes the root span). Invalid lines are skipped and
/// reported. Throws input_error if the file cannot be read.
[[nodiscard]] jsonl_contents read_jsonl(const std::string& path);

/// The spans of one run line (already valid).
void run_to_spans(const boost::json::object& run, std::vector<span_record>& out);

/// One line of the TraceCraft schema for a stored trace: the root span is the run, its
/// descendants the steps (the inverse of run_to_spans; `validate` accepts it).
[[nodiscard]] std::string render_run_line(const trace_summary& t, const std::vector<span_record>& spans);

} // namespace tctool
