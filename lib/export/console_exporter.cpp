// Console exporter: a tree per trace, printed through spdlog.
#include "tracecraft/exporters/console.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "support/utf8.hpp"

namespace tracecraft {
namespace {

const char* kind_colour(span_kind k) {
    switch (k) {
        case span_kind::agent: return "\x1b[1;36m";
        case span_kind::llm: return "\x1b[1;32m";
        case span_kind::tool: return "\x1b[1;33m";
        case span_kind::retrieval: return "\x1b[1;34m";
        case span_kind::memory: return "\x1b[1;35m";
        case span_kind::guardrail: return "\x1b[1;37m";
        case span_kind::error: return "\x1b[1;31m";
        case span_kind::workflow: return "\x1b[2m";
        default: return "\x1b[0m";
    }
}

std::string upper(std::string_view s) {
    std::string u(s);
    for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return u;
}

std::string with_commas(std::int64_t v) {
    const std::string digits = std::to_string(v < 0 ? -v : v);
    std::string out;
    out.reserve(digits.size() + digits.size() / 3 + 1);
    if (v < 0) out.push_back('-');
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
        out.push_back(digits[i]);
    }
    return out;
}

/// `s` safe to print on a terminal: control bytes (ESC sequences could rewrite the screen or
/// the title) shown as \xNN, bytes that are not valid UTF-8 as U+FFFD.
std::string printable(std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    std::string valid;
    detail::append_valid_utf8(valid, s);
    std::string out;
    out.reserve(valid.size());
    for (const char ch : valid) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) ((out += "\\x") += hex[c >> 4]) += hex[c & 0xF];
        else out += ch;
    }
    return out;
}

std::string value_text(const value_view& v) { return printable(to_display_string(v.to_value())); }

struct node {
    span_view view;
    std::vector<std::size_t> children;
};

void render_node(std::ostringstream& os, const std::vector<node>& nodes, std::size_t i, const std::string& prefix,
                 bool last, bool is_root, bool verbose, bool color) {
    const span_view& s = nodes[i].view;
    const char* reset = color ? "\x1b[0m" : "";
    std::string line = prefix;
    if (!is_root) line += last ? "└── " : "├── ";
    os << line << (color ? kind_colour(s.kind()) : "") << printable(s.name()) << reset << " (" << upper(to_string(s.kind()));
    const value_view model = s.attributes().find("gen_ai.request.model");
    if (model.type() == value_type::string) os << " " << printable(model.as_string());
    char dur[32];
    std::snprintf(dur, sizeof dur, "%.1f", static_cast<double>(s.duration_ns()) / 1e6);
    os << ") " << dur << " ms";
    const value_view in = s.attributes().find("gen_ai.usage.input_tokens");
    const value_view out = s.attributes().find("gen_ai.usage.output_tokens");
    const value_view total = s.attributes().find("tracecraft.run.total_tokens");
    if (in.type() == value_type::int64 || out.type() == value_type::int64)
        os << " [" << with_commas(in.type() == value_type::int64 ? in.as_int() : 0) << "/"
           << with_commas(out.type() == value_type::int64 ? out.as_int() : 0) << " tokens]";
    else if (total.type() == value_type::int64)   // run totals on the root (enrichment)
        os << " [" << with_commas(total.as_int()) << " tokens]";
    value_view cost = s.attributes().find("tracecraft.cost_usd");
    if (cost.type() != value_type::float64) cost = s.attributes().find("tracecraft.run.cost_usd");
    if (cost.type() == value_type::float64) {
        char c[32];
        std::snprintf(c, sizeof c, cost.as_double() < 0.01 ? "%.6f" : "%.4f", cost.as_double());
        os << " [$" << c << "]";
    }
    if (s.attributes().find("tracecraft.cancelled").type() == value_type::boolean) os << " [cancelled]";
    if (s.status() == status_code::error)
        os << (color ? " \x1b[1;31m" : " ") << "ERROR: " << printable(s.status_message()) << reset;
    os << "\n";
    const std::string child_prefix = is_root ? prefix : prefix + (last ? "    " : "│   ");
    if (verbose) {
        auto dump = [&](const char* label, const attribute_range& r) {
            if (r.raw_count() == 0) return;
            os << child_prefix << (nodes[i].children.empty() ? "    " : "│   ") << label << ": {";
            bool first = true;
            r.for_each([&](std::string_view k, const value_view& v) {
                os << (first ? "" : ", ") << printable(k) << ": " << value_text(v);
                first = false;
            });
            os << "}\n";
        };
        dump("inputs", s.inputs());
        dump("outputs", s.outputs());
    }
    const auto& ch = nodes[i].children;
    for (std::size_t k = 0; k < ch.size(); ++k)
        render_node(os, nodes, ch[k], child_prefix, k + 1 == ch.size(), false, verbose, color);
}

} // namespace

console_exporter::console_exporter(console_options options) : opt_(std::move(options)) {
    if (!opt_.sink) {
        opt_.sink = spdlog::get("tracecraft.console");
        if (!opt_.sink) {
            opt_.sink = spdlog::stdout_logger_mt("tracecraft.console");
            opt_.sink->set_pattern("%v");
            opt_.sink->set_level(spdlog::level::info);
        }
    }
    color_ = opt_.color && ::isatty(STDOUT_FILENO) != 0;
}

std::string console_exporter::render(const trace_view& trace, bool verbose, bool color) {
    std::vector<node> nodes;
    trace.for_each_span([&](const span_view& v) { nodes.push_back(node{v, {}}); });
    std::sort(nodes.begin(), nodes.end(),
              [](const node& a, const node& b) { return a.view.start_unix_ns() < b.view.start_unix_ns(); });
    std::map<std::uint64_t, std::size_t> index;
    for (std::size_t i = 0; i < nodes.size(); ++i) index[nodes[i].view.id().value] = i;
    std::vector<std::size_t> roots;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        auto it = index.find(nodes[i].view.parent_id().value);
        if (nodes[i].view.parent_id().valid() && it != index.end())
            nodes[it->second].children.push_back(i);
        else
            roots.push_back(i);
    }
    std::ostringstream os;
    for (std::size_t r : roots) render_node(os, nodes, r, "", true, true, verbose, color);
    return os.str();
}

boost::asio::awaitable<export_result> console_exporter::export_batch(span_batch batch) {
    batch.for_each_trace([&](const trace_view& t) {
        std::string text = render(t, opt_.verbose, color_);
        if (!text.empty() && text.back() == '\n') text.pop_back();
        opt_.sink->info("{}", text);
    });
    co_return export_result::ok();
}

} // namespace tracecraft
