#include "api_json.hpp"

#include <boost/json.hpp>

namespace tctool {

namespace json = boost::json;

std::string_view otel_kind_name(int k) noexcept {
    static constexpr std::string_view names[] = {"unspecified", "internal", "server", "client", "producer", "consumer"};
    return k >= 0 && k < 6 ? names[k] : "unspecified";
}

std::string_view status_name(int code) noexcept { return code == 2 ? "error" : code == 1 ? "ok" : "unset"; }

json::object summary_json(const trace_summary& t) {
    json::object o;
    o["trace_id"] = t.trace_id;
    o["name"] = t.name;
    o["service"] = t.service;
    o["start_time"] = iso_time(t.start_ns);
    o["start_ms"] = static_cast<double>(t.start_ns / 1000) / 1000.0;
    o["duration_ms"] = static_cast<double>(t.duration_ns()) / 1e6;
    o["span_count"] = t.span_count;
    o["error_count"] = t.error_count;
    o["input_tokens"] = t.input_tokens;
    o["output_tokens"] = t.output_tokens;
    o["total_tokens"] = t.total_tokens();
    o["cost_usd"] = t.cost_usd;
    json::array models;
    for (std::size_t p = 0; p < t.models.size();) {
        std::size_t c = t.models.find(',', p);
        if (c == std::string::npos) c = t.models.size();
        models.emplace_back(t.models.substr(p, c - p));
        p = c + 1;
    }
    o["models"] = std::move(models);
    o["session_id"] = t.session_id.empty() ? json::value(nullptr) : json::value(t.session_id);
    o["user_id"] = t.user_id.empty() ? json::value(nullptr) : json::value(t.user_id);
    boost::system::error_code ec;
    json::value tags = json::parse(t.tags_json.empty() ? "[]" : t.tags_json, ec);
    o["tags"] = ec ? json::value(json::array()) : std::move(tags);
    return o;
}

json::object span_json(const span_record& s, std::int64_t trace_start_ns) {
    json::object o;
    o["span_id"] = s.span_id;
    o["parent_id"] = s.parent_id.empty() ? json::value(nullptr) : json::value(s.parent_id);
    o["name"] = s.name;
    o["kind"] = s.kind;
    o["otel_kind"] = otel_kind_name(s.otel_kind);
    o["service"] = s.service;
    o["scope"] = s.scope;
    o["start_time"] = iso_time(s.start_ns);
    o["offset_ms"] = static_cast<double>(s.start_ns - trace_start_ns) / 1e6;
    o["duration_ms"] = static_cast<double>(s.duration_ns()) / 1e6;
    json::object st;
    st["code"] = status_name(s.status_code);
    st["message"] = s.status_message;
    o["status"] = std::move(st);
    o["model"] = s.model.empty() ? json::value(nullptr) : json::value(s.model);
    o["input_tokens"] = s.input_tokens ? json::value(*s.input_tokens) : json::value(nullptr);
    o["output_tokens"] = s.output_tokens ? json::value(*s.output_tokens) : json::value(nullptr);
    o["cost_usd"] = s.cost_usd ? json::value(*s.cost_usd) : json::value(nullptr);
    o["attributes"] = s.attributes;
    json::array events;
    for (const span_event& e : s.events) {
        json::object eo;
        eo["name"] = e.name;
        eo["time"] = iso_time(e.time_ns);
        eo["offset_ms"] = static_cast<double>(e.time_ns - trace_start_ns) / 1e6;
        eo["attributes"] = e.attributes;
        events.push_back(std::move(eo));
    }
    o["events"] = std::move(events);
    o["resource"] = s.resource;
    return o;
}

json::object trace_json(const trace_summary& t, const std::vector<span_record>& spans) {
    json::object o;
    o["trace"] = summary_json(t);
    json::array a;
    for (const span_record& s : spans) a.push_back(span_json(s, t.start_ns));
    o["spans"] = std::move(a);
    return o;
}

json::object list_json(const std::vector<trace_summary>& traces, std::int64_t total, std::int64_t version) {
    json::object o;
    json::array a;
    for (const trace_summary& t : traces) a.push_back(summary_json(t));
    o["traces"] = std::move(a);
    o["total"] = total;
    o["version"] = version;
    return o;
}

} // namespace tctool
