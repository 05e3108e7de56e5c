// JSON file and environment configuration (Boost.JSON).
#include "tracecraft/config_loader.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "config/env.hpp"
#include "config/limits.hpp"

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
    bad(field, "expected 'safety' or 'efficiency', got " + config_error::quote(s));
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

/// `v` within the documented range of `r` (naming `field`: a JSON key or a variable), as T.
template <class T>
T in_range(std::uint64_t v, const detail::setting_range& r, const std::string& field) {
    detail::check_range(r, v, field);
    return static_cast<T>(v);
}

bool parse_bool(std::string_view s, const std::string& var) {
    std::string l(s);
    for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (l == "1" || l == "true" || l == "yes" || l == "on") return true;
    if (l == "0" || l == "false" || l == "no" || l == "off") return false;
    bad(var, "expected true/false, got " + config_error::quote(s));
}

/// The whole string as a decimal number (no spaces, no trailing bytes).
double parse_double(std::string_view s, const std::string& var) {
    double d = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(d))
        bad(var, "expected a decimal number, got " + config_error::quote(s));
    return d;
}

/// The whole string as a non-negative decimal integer: digits only (no sign, no spaces, no
/// trailing bytes), at most 2^64-1.
std::uint64_t parse_count(std::string_view s, const std::string& var) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range) bad(var, "too large: " + config_error::quote(s));
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || s[0] < '0' || s[0] > '9')
        bad(var, "expected a non-negative decimal integer, got " + config_error::quote(s));
    return v;
}

/// Boost.JSON (1.81) keeps the last of duplicate keys silently; this handler of its SAX-style
/// parser sees every key, so a duplicate is an error with its position.
struct duplicate_key_check {
    static constexpr std::size_t max_object_size = std::size_t(-1), max_array_size = std::size_t(-1),
                                 max_key_size = std::size_t(-1), max_string_size = std::size_t(-1);
    struct frame {
        bool object;
        std::set<std::string, std::less<>> keys;
    };
    std::vector<frame> stack;
    std::string key, duplicate;
    using ec_t = boost::system::error_code;
    bool on_document_begin(ec_t&) { return true; }
    bool on_document_end(ec_t&) { return true; }
    bool on_array_begin(ec_t&) { stack.push_back({false, {}}); return true; }
    bool on_array_end(std::size_t, ec_t&) { stack.pop_back(); return true; }
    bool on_object_begin(ec_t&) { stack.push_back({true, {}}); return true; }
    bool on_object_end(std::size_t, ec_t&) { stack.pop_back(); return true; }
    bool on_string_part(json::string_view, std::size_t, ec_t&) { return true; }
    bool on_string(json::string_view, std::size_t, ec_t&) { return true; }
    bool on_key_part(json::string_view s, std::size_t, ec_t&) { key.append(s.data(), s.size()); return true; }
    bool on_key(json::string_view s, std::size_t, ec_t& ec) {
        key.append(s.data(), s.size());
        if (!stack.empty() && !stack.back().keys.insert(key).second) {
            duplicate = key;
            ec = make_error_code(std::errc::invalid_argument);
            return false;
        }
        key.clear();
        return true;
    }
    bool on_number_part(json::string_view, ec_t&) { return true; }
    bool on_int64(std::int64_t, json::string_view, ec_t&) { return true; }
    bool on_uint64(std::uint64_t, json::string_view, ec_t&) { return true; }
    bool on_double(double, json::string_view, ec_t&) { return true; }
    bool on_bool(bool, ec_t&) { return true; }
    bool on_null(ec_t&) { return true; }
    bool on_comment_part(json::string_view, ec_t&) { return true; }
    bool on_comment(json::string_view, ec_t&) { return true; }
};

/// "line L, column C" of byte offset `at` in `text` (both from 1).
std::string position(std::string_view text, std::size_t at) {
    at = std::min(at, text.size());
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < at; ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

/// Parses a configuration document: syntax errors and duplicate keys name their position.
json::value parse_document(std::string_view text) {
    json::basic_parser<duplicate_key_check> p{json::parse_options{}};
    boost::system::error_code ec;
    const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
    if (ec) {
        if (!p.handler().duplicate.empty())
            bad("json", "duplicate key " + config_error::quote(p.handler().duplicate) + " at " + position(text, n));
        bad("json", "syntax error at " + position(text, n) + ": " + ec.message());
    }
    if (n != text.size()) bad("json", "unexpected data after the document at " + position(text, n));
    json::value doc = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec) bad("json", "syntax error: " + ec.message());   // not reached: the first pass saw it all
    return doc;
}

} // namespace

namespace {
overflow_policy parse_overflow(std::string_view v, const std::string& field) {
    if (v == "drop_oldest") return overflow_policy::drop_oldest;
    if (v == "drop_newest") return overflow_policy::drop_newest;
    bad(field, "must be drop_oldest or drop_newest, got " + config_error::quote(v));
}
/// cumulative | delta (lowmemory, the OpenTelemetry SDKs' third choice, is delta for our counters
/// and histograms); any case.
metric_temporality parse_temporality(std::string_view v, const std::string& field) {
    std::string t(v);
    for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (t == "cumulative") return metric_temporality::cumulative;
    if (t == "delta" || t == "lowmemory") return metric_temporality::delta;
    bad(field, "expected cumulative, delta or lowmemory, got " + config_error::quote(v));
}

void apply_metrics(metrics_config& m, const json::object& o) {
    for (const auto& kv : o) {
        const std::string key(kv.key());
        const std::string f = "metrics." + key;
        if (key == "enabled") m.enabled = as_bool(kv.value(), f);
        else if (key == "max_series") m.max_series = in_range<std::size_t>(as_count(kv.value(), f), detail::metric_series_range, f);
        else if (key == "export_interval_ms")
            m.export_interval =
                std::chrono::milliseconds(in_range<std::int64_t>(as_count(kv.value(), f), detail::metric_interval_range, f));
        else if (key == "temporality") m.temporality = parse_temporality(as_string(kv.value(), f), f);
        else bad(f, "unknown key");
    }
}
} // namespace

void apply_json(trace_config& cfg, std::string_view text) {
    const json::value doc = parse_document(text);
    const json::object& o = as_object(doc, "json");
    for (const auto& kv : o) {
        const std::string key(kv.key());
        const json::value& v = kv.value();
        if (key == "service_name") cfg.service_name = as_string(v, key);
        else if (key == "environment") cfg.environment = as_string(v, key);
        else if (key == "sampling") apply_sampling(cfg.sampling, as_object(v, key));
        else if (key == "processor_order") cfg.processors = parse_order(as_string(v, key), key);
        else if (key == "max_step_depth")
            cfg.max_step_depth = in_range<std::uint32_t>(as_count(v, key), detail::max_step_depth_range, key);
        else if (key == "max_queue_spans")
            cfg.max_queue_spans = in_range<std::size_t>(as_count(v, key), detail::max_queue_spans_range, key);
        else if (key == "batch_size") cfg.batch_size = in_range<std::size_t>(as_count(v, key), detail::batch_size_range, key);
        else if (key == "flush_interval_ms")
            cfg.flush_interval =
                std::chrono::milliseconds(in_range<std::int64_t>(as_count(v, key), detail::flush_interval_range, key));
        else if (key == "shutdown_timeout_ms")
            cfg.shutdown_timeout =
                std::chrono::milliseconds(in_range<std::int64_t>(as_count(v, key), detail::shutdown_timeout_range, key));
        else if (key == "overflow") cfg.overflow = parse_overflow(as_string(v, key), key);
        else if (key == "max_attributes_per_span")
            cfg.max_attributes_per_span = in_range<std::uint32_t>(as_count(v, key), detail::max_attributes_range, key);
        else if (key == "max_attribute_value_length")
            cfg.max_attribute_value_length =
                in_range<std::uint32_t>(as_count(v, key), detail::max_value_length_range, key);
        else if (key == "capture_message_content") cfg.capture_message_content = as_bool(v, key);
        else if (key == "metrics") apply_metrics(cfg.metrics, as_object(v, key));
        else bad(key, "unknown key");
    }
}

void apply_json_file(trace_config& cfg, const std::string& path) {
    // a regular file only (a FIFO would block, /dev/zero never ends), read up to the limit
    std::error_code fec;
    const auto st = std::filesystem::status(path, fec);
    if (fec || !std::filesystem::exists(st))
        bad("file", "cannot read configuration file " + config_error::quote(path, 256));
    if (!std::filesystem::is_regular_file(st))
        bad("file", "configuration file " + config_error::quote(path, 256) + " is not a regular file");
    std::ifstream in(path, std::ios::binary);
    if (!in) bad("file", "cannot read configuration file " + config_error::quote(path, 256));
    std::string text(max_config_file_bytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_config_file_bytes)
        bad("file", "configuration file " + config_error::quote(path, 256) + " is larger than " +
                        std::to_string(max_config_file_bytes) + " bytes");
    try {
        apply_json(cfg, text);
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
    auto count = [&](const char* var, const detail::setting_range& r) -> std::optional<std::uint64_t> {
        const char* v = get(var);
        if (!v) return std::nullopt;
        const std::uint64_t n = parse_count(v, var);
        detail::check_range(r, n, var);
        return n;
    };
    if (auto n = count("TRACECRAFT_MAX_STEP_DEPTH", detail::max_step_depth_range)) cfg.max_step_depth = static_cast<std::uint32_t>(*n);
    if (auto n = count("TRACECRAFT_MAX_QUEUE_SPANS", detail::max_queue_spans_range)) cfg.max_queue_spans = *n;
    if (auto n = count("TRACECRAFT_BATCH_SIZE", detail::batch_size_range)) cfg.batch_size = *n;
    if (auto n = count("TRACECRAFT_FLUSH_INTERVAL_MS", detail::flush_interval_range))
        cfg.flush_interval = std::chrono::milliseconds(static_cast<std::int64_t>(*n));
    if (auto n = count("TRACECRAFT_SHUTDOWN_TIMEOUT_MS", detail::shutdown_timeout_range))
        cfg.shutdown_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(*n));
    if (auto v = get("TRACECRAFT_OVERFLOW")) cfg.overflow = parse_overflow(v, "TRACECRAFT_OVERFLOW");
    if (auto n = count("TRACECRAFT_MAX_ATTRIBUTES", detail::max_attributes_range))
        cfg.max_attributes_per_span = static_cast<std::uint32_t>(*n);
    if (auto n = count("TRACECRAFT_MAX_ATTRIBUTE_LENGTH", detail::max_value_length_range))
        cfg.max_attribute_value_length = static_cast<std::uint32_t>(*n);
    if (auto v = get("TRACECRAFT_METRICS")) cfg.metrics.enabled = parse_bool(v, "TRACECRAFT_METRICS");
    if (auto v = get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"))
        cfg.capture_message_content = parse_bool(v, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT");
    if (auto n = count("TRACECRAFT_METRICS_MAX_SERIES", detail::metric_series_range)) cfg.metrics.max_series = *n;
    if (auto n = count("OTEL_METRIC_EXPORT_INTERVAL", detail::metric_interval_range))
        cfg.metrics.export_interval = std::chrono::milliseconds(static_cast<std::int64_t>(*n));
    if (auto v = get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"))
        cfg.metrics.temporality = parse_temporality(v, "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE");
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
