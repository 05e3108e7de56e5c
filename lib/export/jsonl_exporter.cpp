// JSONL exporter in the TraceCraft line schema.
#include "tracecraft/exporters/jsonl.hpp"

#include <cmath>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <vector>

#include "pipeline/enrichment.hpp"
#include "tracecraft/otlp/semconv.hpp"
#include "llm/token_counts.hpp"

namespace tracecraft {
namespace {

using otlp::append_json_string;

std::string uuid_of(std::uint64_t hi, std::uint64_t lo) {
    char h[33];
    std::snprintf(h, sizeof h, "%016llx%016llx", static_cast<unsigned long long>(hi), static_cast<unsigned long long>(lo));
    std::string s(h, 8);
    s += '-';
    s.append(h + 8, 4);
    s += '-';
    s.append(h + 12, 4);
    s += '-';
    s.append(h + 16, 4);
    s += '-';
    s.append(h + 20, 12);
    return s;
}

std::string iso_time(std::int64_t unix_ns) {
    const std::time_t secs = static_cast<std::time_t>(unix_ns / 1'000'000'000);
    const long micros = static_cast<long>((unix_ns % 1'000'000'000) / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
    return buf;
}

using otlp::append_json_value;

void json_object(std::string& o, const attribute_range& r, const std::vector<std::string_view>& skip = {}) {
    otlp::append_json_object(o, r, skip);
}

void str_or_null(std::string& o, const value_view& v) {
    if (v.type() == value_type::string)
        append_json_string(o, v.as_string());
    else
        o += "null";
}

void num_or_null(std::string& o, const value_view& v) {
    if (v.type() == value_type::int64 || v.type() == value_type::float64)
        append_json_value(o, v);
    else
        o += "null";
}

// attributes that become dedicated step fields
const std::vector<std::string_view> step_fields = {"gen_ai.request.model", "gen_ai.provider.name",
                                                   "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                                                   "tracecraft.cost_usd", "error.type"};

void step_json(std::string& o, const std::vector<span_view>& spans, std::size_t i,
               const std::multimap<std::uint64_t, std::size_t>& children, const trace_id& tid) {
    const span_view& s = spans[i];
    const auto a = s.attributes();
    o += "{\"id\":";
    append_json_string(o, uuid_of(s.id().value, 0));
    o += ",\"parent_id\":";
    if (s.parent_id().valid() && !s.is_local_root())
        append_json_string(o, uuid_of(s.parent_id().value, 0));
    else
        o += "null";
    o += ",\"trace_id\":";
    append_json_string(o, uuid_of(tid.hi, tid.lo));
    o += ",\"type\":";
    append_json_string(o, to_string(s.kind()));
    o += ",\"name\":";
    append_json_string(o, s.name());
    o += ",\"start_time\":\"" + iso_time(s.start_unix_ns()) + "\",\"end_time\":\"" + iso_time(s.end_unix_ns()) + "\"";
    char dur[32];
    std::snprintf(dur, sizeof dur, "%.3f", static_cast<double>(s.duration_ns()) / 1e6);
    o += ",\"duration_ms\":";
    o += dur;
    o += ",\"inputs\":";
    json_object(o, s.inputs());
    o += ",\"outputs\":";
    json_object(o, s.outputs());
    o += ",\"attributes\":";
    json_object(o, a, step_fields);
    o += ",\"model_name\":";
    str_or_null(o, a.find("gen_ai.request.model"));
    o += ",\"model_provider\":";
    str_or_null(o, a.find("gen_ai.provider.name"));
    const value_view in = a.find("gen_ai.usage.input_tokens"), out = a.find("gen_ai.usage.output_tokens");
    o += ",\"input_tokens\":";
    num_or_null(o, in);
    o += ",\"output_tokens\":";
    num_or_null(o, out);
    const value_view cost = a.find("tracecraft.cost_usd");
    o += ",\"cost_usd\":";
    num_or_null(o, cost);
    o += ",\"is_streaming\":false,\"streaming_chunks\":[]";
    o += ",\"error\":";
    if (s.status() == status_code::error) {
        append_json_string(o, s.status_message());
    } else {
        o += "null";
    }
    o += ",\"error_type\":";
    str_or_null(o, s.status() == status_code::error ? a.find("error.type") : value_view{});
    o += ",\"children\":[";
    auto [b, e] = children.equal_range(s.id().value);
    bool first = true;
    for (auto it = b; it != e; ++it) {
        if (!first) o.push_back(',');
        first = false;
        step_json(o, spans, it->second, children, tid);
    }
    o += "]}";
}

} // namespace

std::string jsonl_exporter::render(const trace_view& trace) {
    std::vector<span_view> spans;
    trace.for_each_span([&](const span_view& v) { spans.push_back(v); });
    std::sort(spans.begin(), spans.end(), [](const span_view& a, const span_view& b) { return a.start_unix_ns() < b.start_unix_ns(); });
    std::multimap<std::uint64_t, std::size_t> children;
    std::vector<std::size_t> roots;
    std::map<std::uint64_t, std::size_t> index;
    for (std::size_t i = 0; i < spans.size(); ++i) index[spans[i].id().value] = i;
    for (std::size_t i = 0; i < spans.size(); ++i) {
        const auto p = spans[i].parent_id().value;
        if (!spans[i].is_local_root() && index.count(p))
            children.emplace(p, i);
        else
            roots.push_back(i);
    }
    const trace_id tid = trace.id();
    std::string o;
    std::string steps;
    const bool run_root = roots.size() == 1;   // one root: it is the run; its children are the steps
    if (run_root) {
        auto [b, e] = children.equal_range(spans[roots[0]].id().value);
        bool first = true;
        for (auto it = b; it != e; ++it) {
            if (!first) steps.push_back(',');
            first = false;
            step_json(steps, spans, it->second, children, tid);
        }
    } else {
        for (std::size_t k = 0; k < roots.size(); ++k) {
            if (k) steps.push_back(',');
            step_json(steps, spans, roots[k], children, tid);
        }
    }
    const span_view* run = run_root ? &spans[roots[0]] : (roots.empty() ? nullptr : &spans[roots[0]]);
    const attribute_range ra = run ? run->attributes() : attribute_range();
    o += "{\"id\":";
    append_json_string(o, uuid_of(tid.hi, tid.lo));
    o += ",\"name\":";
    append_json_string(o, run ? run->name() : std::string_view("trace"));
    o += ",\"description\":";
    str_or_null(o, ra.find("tracecraft.run.description"));
    if (run) {
        o += ",\"start_time\":\"" + iso_time(run->start_unix_ns()) + "\",\"end_time\":\"" + iso_time(run->end_unix_ns()) + "\"";
        char dur[32];
        std::snprintf(dur, sizeof dur, "%.3f", static_cast<double>(run->duration_ns()) / 1e6);
        o += ",\"duration_ms\":";
        o += dur;
    } else {
        o += ",\"start_time\":null,\"end_time\":null,\"duration_ms\":null";
    }
    o += ",\"session_id\":";
    str_or_null(o, ra.find("session.id"));
    o += ",\"user_id\":";
    str_or_null(o, ra.find("user.id"));
    o += ",\"environment\":";
    const value_view env = ra.find("deployment.environment.name");
    if (env.type() == value_type::string)
        append_json_string(o, env.as_string());
    else
        o += "\"development\"";
    o += ",\"tags\":";
    const value_view tags = ra.find("tag.tags");
    if (tags.type() == value_type::string_array)
        append_json_value(o, tags);
    else
        o += "[]";
    o += ",\"agent_name\":";
    if (run && run->kind() == span_kind::agent)
        append_json_string(o, run->name());
    else
        o += "null";
    o += ",\"agent_id\":null,\"agent_description\":null,\"cloud_provider\":null,\"cloud_trace_id\":null";
    o += ",\"input\":";
    str_or_null(o, run_root ? run->inputs().find("input") : value_view{});
    o += ",\"output\":";
    str_or_null(o, run_root ? run->outputs().find("output") : value_view{});
    o += ",\"steps\":[" + steps + "]";
    // the run totals as enrichment put them on the root (computed here when it did not run)
    const detail::run_totals t = detail::run_totals_of(trace);
    char cost[40] = "0";
    if (std::isfinite(t.cost_usd)) std::snprintf(cost, sizeof cost, "%.6f", t.cost_usd);   // a NaN cost is no cost
    o += ",\"total_tokens\":" + std::to_string(detail::add_tokens(t.input_tokens, t.output_tokens)) + ",\"total_cost_usd\":" + cost +
         ",\"error_count\":" + std::to_string(t.error_count);
    o += ",\"error\":";
    if (run_root && run->status() == status_code::error)
        append_json_string(o, run->status_message());
    else
        o += "null";
    o += ",\"error_type\":";
    str_or_null(o, run_root && run->status() == status_code::error ? ra.find("error.type") : value_view{});
    o += ",\"attributes\":";
    if (run_root)
        json_object(o, ra, {"tracecraft.run.description", "session.id", "user.id", "deployment.environment.name", "tag.tags"});
    else
        o += "{}";
    o += ",\"should_export\":true,\"sample_reason\":";
    append_json_string(o, trace.sample_reason());
    o += "}";
    return o;
}

jsonl_exporter::jsonl_exporter(jsonl_options options) : opt_(std::move(options)) {
    if (opt_.path.empty()) throw std::invalid_argument("jsonl_exporter: path must not be empty");
}

jsonl_exporter::~jsonl_exporter() {
    if (f_) std::fclose(f_);
}

export_result jsonl_exporter::write(const std::string& data) {
    namespace fs = std::filesystem;
    if (!f_) {
        std::error_code ec;
        const fs::path p(opt_.path);
        if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
        f_ = std::fopen(opt_.path.c_str(), "ab");
        if (!f_) return export_result::failure("jsonl: cannot open '" + opt_.path + "': " + std::strerror(errno), true);
        size_ = static_cast<std::uint64_t>(fs::file_size(p, ec));
    }
    if (opt_.max_bytes && size_ > 0 && size_ + data.size() > opt_.max_bytes) {
        std::fclose(f_);
        f_ = nullptr;
        std::error_code ec;
        for (std::uint32_t i = opt_.max_files; i > 1; --i)
            fs::rename(opt_.path + "." + std::to_string(i - 1), opt_.path + "." + std::to_string(i), ec);
        fs::rename(opt_.path, opt_.path + ".1", ec);
        fs::remove(opt_.path + "." + std::to_string(opt_.max_files + 1), ec);
        return write(data);
    }
    if (std::fwrite(data.data(), 1, data.size(), f_) != data.size() || std::fflush(f_) != 0)
        return export_result::failure("jsonl: write to '" + opt_.path + "' failed: " + std::strerror(errno), true);
    if (opt_.fsync) ::fsync(::fileno(f_));
    size_ += data.size();
    return export_result::ok();
}

boost::asio::awaitable<export_result> jsonl_exporter::export_batch(span_batch batch) {
    std::string data;
    batch.for_each_trace([&](const trace_view& t) {
        data += render(t);
        data.push_back('\n');
    });
    co_return write(data);
}

boost::asio::awaitable<void> jsonl_exporter::force_flush() {
    if (f_) std::fflush(f_);
    co_return;
}

boost::asio::awaitable<void> jsonl_exporter::shutdown() {
    if (f_) {
        std::fflush(f_);
        if (opt_.fsync) ::fsync(::fileno(f_));
        std::fclose(f_);
        f_ = nullptr;
    }
    co_return;
}

} // namespace tracecraft
