#include "reports.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <ostream>
#include <set>

#include <boost/json.hpp>

#include "api_json.hpp"

namespace tctool {

namespace json = boost::json;

namespace {

std::string fixed(double v, int digits) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

std::string cost_text(double c) {
    if (!(c > 0)) return "-";
    std::string s = "$";   // (not "$" + string: GCC 12 -O3 warns falsely on that insert)
    s += fixed(c, 5);
    return s;
}

/// Display width: code points (the tree and bar glyphs are one column each).
std::size_t width(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::string pad(std::string s, std::size_t w, bool right = false) {
    std::size_t have = width(s);
    if (have > w) {   // truncate on a code point boundary, mark with an ellipsis
        std::string out;
        std::size_t n = 0;
        for (std::size_t i = 0; i < s.size(); ++i) {
            const bool start = (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
            if (start && ++n > w - 1) break;
            out.push_back(s[i]);
        }
        return out + "…";
    }
    const std::string fill(w - have, ' ');
    return right ? fill + s : s + fill;
}

struct palette {
    bool on;
    std::string operator()(std::string_view code, const std::string& text) const {
        return on ? "\x1b[" + std::string(code) + "m" + text + "\x1b[0m" : text;
    }
    static std::string_view kind(std::string_view k) {
        if (k == "agent") return "35";
        if (k == "llm") return "34";
        if (k == "tool") return "33";
        if (k == "retrieval") return "32";
        if (k == "error") return "31";
        return "90";
    }
};

std::string bar(std::int64_t start, std::int64_t end, std::int64_t t0, std::int64_t total, int w) {
    if (total <= 0) total = 1;
    const double a = static_cast<double>(start - t0) / static_cast<double>(total) * w;
    const double b = static_cast<double>(end - t0) / static_cast<double>(total) * w;
    int from = std::clamp(static_cast<int>(std::floor(a)), 0, w - 1);
    int to = std::clamp(static_cast<int>(std::ceil(b)), from + 1, w);
    std::string s;
    for (int i = 0; i < w; ++i) s += (i >= from && i < to) ? "█" : "·";
    return s;
}

void view_trace(std::ostream& out, const trace_summary& t, const std::vector<span_record>& spans, const view_options& o) {
    const palette c{o.color};
    out << c("1", "trace " + t.trace_id) << "  " << c("1", t.name) << "  " << format_duration(t.duration_ns()) << "  "
        << t.span_count << (t.span_count == 1 ? " span" : " spans") << "  " << t.total_tokens() << " tokens  " << cost_text(t.cost_usd);
    if (t.error_count) out << "  " << c("31;1", std::to_string(t.error_count) + (t.error_count == 1 ? " error" : " errors"));
    if (!t.service.empty()) out << "  service " << t.service;
    out << "\n";
    std::set<std::string> ids;
    for (const span_record& s : spans) ids.insert(s.span_id);
    std::multimap<std::string, const span_record*> children;
    std::vector<const span_record*> roots;
    for (const span_record& s : spans) {
        if (!s.parent_id.empty() && ids.count(s.parent_id)) children.emplace(s.parent_id, &s);
        else roots.push_back(&s);
    }
    auto line = [&](const span_record& s, const std::string& prefix, auto& self, bool last, bool top) -> void {
        const std::string branch = top ? "" : (last ? "└─ " : "├─ ");
        std::string label = prefix + branch + s.name + " [" + s.kind + "]";
        const bool err = s.status_code == 2;
        std::string text = pad(label, 46);
        if (o.color) {   // colour the kind tag inside the padded label
            const std::string tag = "[" + s.kind + "]";
            if (auto p = text.rfind(tag); p != std::string::npos) text.replace(p, tag.size(), c(palette::kind(s.kind), tag));
            if (err) text = c("31", text);
        }
        out << text << " " << pad(format_duration(s.duration_ns()), 9, true) << " " << c("36", bar(s.start_ns, s.end_ns, t.start_ns, t.duration_ns(), o.bar_width));
        if (!s.model.empty()) out << "  " << s.model;
        if (s.input_tokens || s.output_tokens) out << "  " << s.input_tokens.value_or(0) << "+" << s.output_tokens.value_or(0) << " tok";
        if (s.cost_usd && *s.cost_usd > 0) out << "  " << cost_text(*s.cost_usd);
        if (err) out << "  " << c("31;1", "✗ " + (s.status_message.empty() ? std::string("error") : s.status_message));
        out << "\n";
        auto [b, e] = children.equal_range(s.span_id);
        const std::string next = top ? "" : prefix + (last ? "   " : "│  ");
        for (auto it = b; it != e; ++it) {
            auto nx = std::next(it);
            self(*it->second, next, self, nx == e, false);
        }
    };
    for (const span_record* r : roots) line(*r, "", line, true, true);
}

std::int64_t percentile(std::vector<std::int64_t>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string o = "\"";
    for (char ch : s) {
        if (ch == '"') o += '"';
        o += ch;
    }
    return o + "\"";
}

} // namespace

std::string format_duration(std::int64_t ns) {
    const double ms = static_cast<double>(ns) / 1e6;
    if (ms >= 60'000) return fixed(ms / 60'000, 1) + " min";
    if (ms >= 1000) return fixed(ms / 1000, 2) + " s";
    if (ms >= 10) return fixed(ms, 0) + " ms";
    return fixed(ms, 2) + " ms";
}

std::int64_t parse_since(const std::string& text, std::int64_t now_ns) {
    if (auto t = parse_iso_time(text)) return *t;
    if (text.size() >= 2) {
        std::size_t used = 0;
        double n = -1;
        try {
            n = std::stod(text.substr(0, text.size() - 1), &used);
        } catch (const std::exception&) {
        }
        const char unit = text.back();
        const double scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : -1;
        if (n >= 0 && scale > 0 && used == text.size() - 1) return now_ns - static_cast<std::int64_t>(n * scale * 1e9);
    }
    throw input_error("--since: expected an ISO-8601 time (2026-12-01T10:00:00Z) or an age (30s, 15m, 2h, 7d), got '" + text + "'");
}

opened_source open_source(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error("cannot read '" + path + "'");
    char magic[16] = {};
    in.read(magic, 16);
    opened_source s;
    if (in.gcount() == 16 && std::string_view(magic, 16) == std::string_view("SQLite format 3\0", 16)) {
        s.store = std::make_unique<trace_store>(path, trace_store::mode::open_existing);
        return s;
    }
    jsonl_contents c = read_jsonl(path);
    s.store = std::make_unique<trace_store>(":memory:");
    s.store->store(c.spans);
    s.problems = std::move(c.problems);
    return s;
}

void render_view(std::ostream& out, const trace_store& store, const view_options& o) {
    std::vector<trace_summary> traces;
    if (!o.trace_id.empty()) {
        const std::string id = normalise_trace_id(o.trace_id);
        if (id.empty()) throw input_error("--trace: '" + o.trace_id + "' is not a trace id (32 hex digits or a UUID)");
        auto t = store.summary(id);
        if (!t) throw input_error("no trace " + id + " in the source");
        traces.push_back(*t);
    } else {
        trace_filter f;
        f.limit = o.limit;
        traces = store.list(f);
        std::reverse(traces.begin(), traces.end());   // oldest first, as a log reads
    }
    if (o.json) {
        json::array a;
        for (const trace_summary& t : traces) a.push_back(trace_json(t, store.spans(t.trace_id)));
        out << json::serialize(a) << "\n";
        return;
    }
    if (traces.empty()) out << "no traces\n";
    for (std::size_t i = 0; i < traces.size(); ++i) {
        if (i) out << "\n";
        view_trace(out, traces[i], store.spans(traces[i].trace_id), o);
    }
}

void render_stats(std::ostream& out, const trace_store& store, stats_group by, bool as_json) {
    struct group {
        std::set<std::string> traces;
        std::int64_t spans = 0, errors = 0, tokens = 0;
        double cost = 0;
        std::vector<std::int64_t> durations;
    };
    std::map<std::string, group> groups;
    if (by == stats_group::none) {
        trace_filter f;
        f.limit = -1;
        group& g = groups["all traces"];
        for (const trace_summary& t : store.list(f)) {
            g.traces.insert(t.trace_id);
            g.spans += t.span_count;
            g.errors += t.error_count;
            g.tokens += t.total_tokens();
            g.cost += t.cost_usd;
            g.durations.push_back(t.duration_ns());
        }
    } else {
        for (const span_record& s : store.all_spans_brief()) {
            const std::string key = by == stats_group::name ? s.name : by == stats_group::kind ? s.kind : (s.model.empty() ? "(none)" : s.model);
            group& g = groups[key];
            g.traces.insert(s.trace_id);
            ++g.spans;
            g.errors += s.status_code == 2;
            g.tokens += s.input_tokens.value_or(0) + s.output_tokens.value_or(0);
            g.cost += s.cost_usd.value_or(0);
            g.durations.push_back(s.duration_ns());
        }
    }
    if (as_json) {
        json::array a;
        for (auto& [key, g] : groups) {
            json::object o;
            o["group"] = key;
            o["traces"] = g.traces.size();
            o["spans"] = g.spans;
            o["errors"] = g.errors;
            o["tokens"] = g.tokens;
            o["cost_usd"] = g.cost;
            o["p50_ms"] = static_cast<double>(percentile(g.durations, 0.50)) / 1e6;
            o["p90_ms"] = static_cast<double>(percentile(g.durations, 0.90)) / 1e6;
            o["p99_ms"] = static_cast<double>(percentile(g.durations, 0.99)) / 1e6;
            a.push_back(std::move(o));
        }
        out << json::serialize(a) << "\n";
        return;
    }
    const char* head = by == stats_group::none ? "" : by == stats_group::name ? "name" : by == stats_group::kind ? "kind" : "model";
    out << pad(head, 28) << pad("traces", 8, true) << pad("spans", 8, true) << pad("errors", 8, true) << pad("tokens", 10, true)
        << pad("cost", 12, true) << pad("p50", 10, true) << pad("p90", 10, true) << pad("p99", 10, true) << "\n";
    for (auto& [key, g] : groups) {
        if (g.traces.empty() && by == stats_group::none) continue;
        out << pad(key, 28) << pad(std::to_string(g.traces.size()), 8, true) << pad(std::to_string(g.spans), 8, true)
            << pad(std::to_string(g.errors), 8, true) << pad(std::to_string(g.tokens), 10, true) << pad(cost_text(g.cost), 12, true)
            << pad(format_duration(percentile(g.durations, 0.50)), 10, true) << pad(format_duration(percentile(g.durations, 0.90)), 10, true)
            << pad(format_duration(percentile(g.durations, 0.99)), 10, true) << "\n";
    }
}

void render_query(std::ostream& out, const std::vector<trace_summary>& traces, std::int64_t total, query_format f) {
    if (f == query_format::json) {
        out << json::serialize(list_json(traces, total, 0)["traces"]) << "\n";
        return;
    }
    if (f == query_format::csv) {
        out << "trace_id,start_time,name,service,duration_ms,spans,errors,input_tokens,output_tokens,cost_usd,models\n";
        for (const trace_summary& t : traces)
            out << t.trace_id << "," << iso_time(t.start_ns) << "," << csv_field(t.name) << "," << csv_field(t.service) << ","
                << fixed(static_cast<double>(t.duration_ns()) / 1e6, 3) << "," << t.span_count << "," << t.error_count << ","
                << t.input_tokens << "," << t.output_tokens << "," << fixed(t.cost_usd, 6) << "," << csv_field(t.models) << "\n";
        return;
    }
    out << pad("start (UTC)", 21) << pad("trace id", 34) << pad("name", 24) << pad("duration", 10, true) << pad("spans", 7, true)
        << pad("tokens", 9, true) << pad("cost", 11, true) << pad("errors", 8, true) << "\n";
    for (const trace_summary& t : traces)
        out << pad(iso_time(t.start_ns).substr(0, 19), 21) << pad(t.trace_id, 34) << pad(t.name, 24)
            << pad(format_duration(t.duration_ns()), 10, true) << pad(std::to_string(t.span_count), 7, true)
            << pad(std::to_string(t.total_tokens()), 9, true) << pad(cost_text(t.cost_usd), 11, true)
            << pad(std::to_string(t.error_count), 8, true) << "\n";
    out << traces.size() << " of " << total << (total == 1 ? " trace" : " traces") << "\n";
}

} // namespace tctool
