// JSON file and environment configuration (Boost.JSON).
#include "tracecraft/config_loader.hpp"

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/json.hpp>

#include "config/env.hpp"

namespace tracecraft {
namespace json = boost::json;

namespace {

[[noreturn]] void bad(const std::string& field, const std::string& problem) { throw config_error(field, problem); }

double as_number(const json::value& v, const std::string& field) {
    if (v.is_double()) return v.get_double();
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    bad(field, "expected a number");
}

std::uint64_t as_count(const json::value& v, const std::string& field) {
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
    if (v.is_uint64()) return v.get_uint64();
    bad(field, "expected a non-negative integer");
}

bool as_bool(const json::value& v, const std::string& field) {
    if (!v.is_bool()) bad(field, "expected true or false");
    return v.get_bool();
}

std::string as_string(const json::value& v, const std::string& field) {
    if (!v.is_string()) bad(field, "expected a string");
    return std::string(v.get_string());
}

std::vector<std::string> as_strings(const json::value& v, const std::string& field) {
    if (!v.is_array()) bad(field, "expected an array of strings");
    std::vector<std::string> out;
    std::size_t i = 0;
    for (const auto& e : v.get_array()) out.push_back(as_string(e, field + "[" + std::to_string(i++) + "]"));
    return out;
}

const json::object& as_object(const json::value& v, const std::string& field) {
    if (!v.is_object()) bad(field, "expected an object");
    return v.get_object();
}

/// The ready-made processor list a "processor_order" names.
processor_list parse_order(std::string_view s, const std::string& field) {
    if (s == "safety" || s == "SAFETY") return processors::safety();
    if (s == "efficiency" || s == "EFFICIENCY") return processors::efficiency();
    bad(field, "expected 'safety' or 'efficiency', got '" + std::string(s) + "'");
}

void apply_rule(sampling_rule& r, const json::object& o, const std::string& prefix) {
    for (const auto& kv : o) {
        const std::string key(kv.key());
        const std::string f = prefix + "." + key;
        if (key == "name") r.name = as_string(kv.value(), f);
        else if (key == "rate") r.rate = as_number(kv.value(), f);
        else if (key == "match_error") r.match_error = as_bool(kv.value(), f);
        else if (key == "match_names") r.match_names = as_strings(kv.value(), f);
        else if (key == "match_tags") r.match_tags = as_strings(kv.value(), f);
        else if (key == "min_duration_ms") r.min_duration_ms = as_number(kv.value(), f);
        else bad(f, "unknown key");
    }
}

void apply_sampling(sampling_config& s, const json::object& o) {
    for (const auto& kv : o) {
        const std::string key(kv.key());
        const std::string f = "sampling." + key;
        if (key == "rate") s.rate = as_number(kv.value(), f);
        else if (key == "always_keep_errors") s.always_keep_errors = as_bool(kv.value(), f);
        else if (key == "always_keep_slow") s.always_keep_slow = as_bool(kv.value(), f);
        else if (key == "slow_threshold_ms") s.slow_threshold_ms = as_number(kv.value(), f);
        else if (key == "rules") {
            if (!kv.value().is_array()) bad(f, "expected an array of rules");
            s.rules.clear();
            std::size_t i = 0;
            for (const auto& rv : kv.value().get_array()) {
                const std::string rf = f + "[" + std::to_string(i++) + "]";
                sampling_rule r;
                apply_rule(r, as_object(rv, rf), rf);
                s.rules.push_back(std::move(r));
            }
        } else bad(f, "unknown key");
    }
}

template <class T>
T checked_count(std::uint64_t v, const std::string& field) {
    if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) bad(field, "too large");
    return static_cast<T>(v);
}

bool parse_bool(std::string_view s, const std::string& var) {
    std::string l(s);
    for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (l == "1" || l == "true" || l == "yes" || l == "on") return true;
    if (l == "0" || l == "false" || l == "no" || l == "off") return false;
    bad(var, "expected true/false, got '" + std::string(s) + "'");
}

double parse_double(std::string_view s, const std::string& var) {
    const std::string str(s);
    char* end = nullptr;
    const double d = std::strtod(str.c_str(), &end);
    if (str.empty() || end != str.c_str() + str.size()) bad(var, "expected a number, got '" + str + "'");
    return d;
}

std::uint64_t parse_count(std::string_view s, const std::string& var) {
    const std::string str(s);
    char* end = nullptr;
    if (str.empty() || str[0] == '-') bad(var, "expected a non-negative integer, got '" + str + "'");
    const unsigned long long v = std::strtoull(str.c_str(), &end, 10);
    if (end != str.c_str() + str.size()) bad(var, "expected a non-negative integer, got '" + str + "'");
    return v;
}

} // namespace

void apply_json(trace_config& cfg, std::string_view text) {
    boost::system::error_code ec;
    const json::value doc = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec) bad("json", "parse error: " + ec.message());
    const json::object& o = as_object(doc, "json");
    for (const auto& kv : o) {
        const std::string key(kv.key());
        const json::value& v = kv.value();
        if (key == "service_name") cfg.service_name = as_string(v, key);
        else if (key == "environment") cfg.environment = as_string(v, key);
        else if (key == "sampling") apply_sampling(cfg.sampling, as_object(v, key));
        else if (key == "processor_order") cfg.processors = parse_order(as_string(v, key), key);
        else if (key == "max_step_depth") cfg.max_step_depth = checked_count<std::uint32_t>(as_count(v, key), key);
        else if (key == "max_queue_spans") cfg.max_queue_spans = checked_count<std::size_t>(as_count(v, key), key);
        else if (key == "batch_size") cfg.batch_size = checked_count<std::size_t>(as_count(v, key), key);
        else if (key == "flush_interval_ms")
            cfg.flush_interval = std::chrono::milliseconds(checked_count<std::int64_t>(as_count(v, key), key));
        else if (key == "max_attributes_per_span")
            cfg.max_attributes_per_span = checked_count<std::uint32_t>(as_count(v, key), key);
        else if (key == "max_attribute_value_length")
            cfg.max_attribute_value_length = checked_count<std::uint32_t>(as_count(v, key), key);
        else bad(key, "unknown key");
    }
}

void apply_json_file(trace_config& cfg, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) bad("file", "cannot read configuration file '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    try {
        apply_json(cfg, ss.str());
    } catch (const config_error& e) {
        throw config_error(e.field(), std::string(e.what()).substr(e.field().size() + 2) + " (in " + path + ")");
    }
}

void apply_env(trace_config& cfg, const env_lookup& lookup_in) {
    const env_lookup lookup = detail::env_or_process(lookup_in);
    auto get = [&](const char* name) -> const char* {
        const char* v = lookup(name);
        return (v && *v) ? v : nullptr;
    };
    if (auto v = get("TRACECRAFT_SERVICE_NAME")) cfg.service_name = v;
    if (auto v = get("TRACECRAFT_ENVIRONMENT")) cfg.environment = v;
    if (auto v = get("TRACECRAFT_SAMPLING_RATE")) cfg.sampling.rate = parse_double(v, "TRACECRAFT_SAMPLING_RATE");
    if (auto v = get("TRACECRAFT_SAMPLING_KEEP_ERRORS"))
        cfg.sampling.always_keep_errors = parse_bool(v, "TRACECRAFT_SAMPLING_KEEP_ERRORS");
    if (auto v = get("TRACECRAFT_SAMPLING_KEEP_SLOW"))
        cfg.sampling.always_keep_slow = parse_bool(v, "TRACECRAFT_SAMPLING_KEEP_SLOW");
    if (auto v = get("TRACECRAFT_SAMPLING_SLOW_THRESHOLD_MS"))
        cfg.sampling.slow_threshold_ms = parse_double(v, "TRACECRAFT_SAMPLING_SLOW_THRESHOLD_MS");
    if (auto v = get("TRACECRAFT_PROCESSOR_ORDER")) cfg.processors = parse_order(v, "TRACECRAFT_PROCESSOR_ORDER");
    if (auto v = get("TRACECRAFT_MAX_STEP_DEPTH"))
        cfg.max_step_depth = checked_count<std::uint32_t>(parse_count(v, "TRACECRAFT_MAX_STEP_DEPTH"), "TRACECRAFT_MAX_STEP_DEPTH");
    if (auto v = get("TRACECRAFT_MAX_QUEUE_SPANS")) cfg.max_queue_spans = parse_count(v, "TRACECRAFT_MAX_QUEUE_SPANS");
    if (auto v = get("TRACECRAFT_BATCH_SIZE")) cfg.batch_size = parse_count(v, "TRACECRAFT_BATCH_SIZE");
    if (auto v = get("TRACECRAFT_FLUSH_INTERVAL_MS"))
        cfg.flush_interval = std::chrono::milliseconds(
            checked_count<std::int64_t>(parse_count(v, "TRACECRAFT_FLUSH_INTERVAL_MS"), "TRACECRAFT_FLUSH_INTERVAL_MS"));
    if (auto v = get("TRACECRAFT_MAX_ATTRIBUTES"))
        cfg.max_attributes_per_span =
            checked_count<std::uint32_t>(parse_count(v, "TRACECRAFT_MAX_ATTRIBUTES"), "TRACECRAFT_MAX_ATTRIBUTES");
    if (auto v = get("TRACECRAFT_MAX_ATTRIBUTE_LENGTH"))
        cfg.max_attribute_value_length = checked_count<std::uint32_t>(
            parse_count(v, "TRACECRAFT_MAX_ATTRIBUTE_LENGTH"), "TRACECRAFT_MAX_ATTRIBUTE_LENGTH");
}

trace_config load_config(const std::string& path, const env_lookup& lookup_in) {
    const env_lookup lookup = detail::env_or_process(lookup_in);
    trace_config cfg;
    std::string file = path;
    if (file.empty()) {
        const char* f = lookup("TRACECRAFT_CONFIG_FILE");
        if (f && *f) file = f;
    }
    if (!file.empty()) apply_json_file(cfg, file);
    apply_env(cfg, lookup);
    cfg.validate();
    return cfg;
}

} // namespace tracecraft
