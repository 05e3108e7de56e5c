// The standard OpenTelemetry environment variables (OTEL_EXPORTER_OTLP_*, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES) with the precedence of the OTel specification
// (https://opentelemetry.io/docs/specs/otel/protocol/exporter/): signal-specific variables win
// over generic ones; OTEL_EXPORTER_OTLP_ENDPOINT gets /v1/traces appended.
#include <charconv>
#include <cstdint>
#include <cstdlib>

#include "config/env.hpp"
#include "tracecraft/exporters/otlp_http.hpp"

namespace tracecraft {

namespace detail {
namespace {

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// %XX escapes decoded; a '%' not followed by two hex digits is kept as it is (the W3C Baggage
/// format the variables use percent-encodes, but users write a bare '%' too).
std::string percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const int hi = s[i] == '%' && i + 2 < s.size() ? hex_digit(s[i + 1]) : -1;
        const int lo = hi >= 0 ? hex_digit(s[i + 2]) : -1;
        if (lo >= 0) {
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
}

std::vector<std::pair<std::string, std::string>> parse_kv_list(std::string_view s, const char* var) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        const std::string_view item = s.substr(0, comma);
        if (!trim(item).empty()) {
            const auto eq = item.find('=');
            if (eq == std::string_view::npos) throw config_error(var, "expected key=value, got " + config_error::quote(item));
            out.emplace_back(trim(percent_decode(item.substr(0, eq))), trim(percent_decode(item.substr(eq + 1))));
        }
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

otlp_protocol parse_protocol(const std::string& p, const std::string& var) {
    if (p == "http/protobuf") return otlp_protocol::http_protobuf;
    if (p == "http/json") return otlp_protocol::http_json;
    throw config_error(var, "expected http/protobuf or http/json, got " + config_error::quote(p) + " (grpc is not supported)");
}

bool parse_compression(const std::string& c, const std::string& var) {
    if (c == "gzip") return true;
    if (c == "none") return false;
    throw config_error(var, "expected gzip or none, got " + config_error::quote(c));
}

std::chrono::milliseconds parse_timeout(const std::string& t, const std::string& var) {
    std::int64_t ms = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), ms);
    if (ec != std::errc() || end != t.data() + t.size() || ms <= 0 || ms > 3'600'000)
        throw config_error(var, "expected milliseconds between 1 and 3600000, got " + config_error::quote(t));
    return std::chrono::milliseconds(ms);
}

} // namespace
} // namespace detail

otlp_http_options otlp_http_options::from_env(const env_lookup& lookup_in) {
    const env_lookup lookup = detail::env_or_process(lookup_in);
    auto get = [&](const char* n) -> std::string {
        const char* v = lookup(n);
        return v ? std::string(v) : std::string();
    };
    auto first = [&](const char* specific, const char* generic, std::string* which) {
        std::string v = get(specific);
        if (!v.empty()) {
            *which = specific;
            return v;
        }
        *which = generic;
        return get(generic);
    };
    otlp_http_options o;
    std::string var;
    if (const std::string e = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); !e.empty()) {
        o.endpoint = e;   // used as is
    } else if (std::string g = get("OTEL_EXPORTER_OTLP_ENDPOINT"); !g.empty()) {
        while (!g.empty() && g.back() == '/') g.pop_back();
        o.endpoint = g + "/v1/traces";
    }
    if (const std::string h = first("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", &var); !h.empty())
        o.headers = detail::parse_kv_list(h, var.c_str());
    if (const std::string p = first("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", &var); !p.empty())
        o.protocol = detail::parse_protocol(p, var);
    if (const std::string c = first("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION", &var); !c.empty())
        o.gzip = detail::parse_compression(c, var);
    if (const std::string t = first("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", &var); !t.empty())
        o.timeout = detail::parse_timeout(t, var);
    // metrics: the signal-specific variables; the generic ones (already applied above) otherwise
    if (const std::string m = get("OTEL_METRICS_EXPORTER"); !m.empty()) {
        if (m == "none") o.metrics.enabled = false;
        else if (m != "otlp") throw config_error("OTEL_METRICS_EXPORTER", "expected otlp or none, got " + config_error::quote(m));
    }
    if (const std::string e = get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"); !e.empty()) {
        o.metrics.endpoint = e;   // used as is
    } else if (std::string g = get("OTEL_EXPORTER_OTLP_ENDPOINT"); !g.empty()) {
        while (!g.empty() && g.back() == '/') g.pop_back();
        o.metrics.endpoint = g + "/v1/metrics";
    }
    if (const std::string h = get("OTEL_EXPORTER_OTLP_METRICS_HEADERS"); !h.empty())
        o.metrics.headers = detail::parse_kv_list(h, "OTEL_EXPORTER_OTLP_METRICS_HEADERS");
    if (const std::string p = get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"); !p.empty())
        o.metrics.protocol = detail::parse_protocol(p, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL");
    if (const std::string c = get("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"); !c.empty())
        o.metrics.gzip = detail::parse_compression(c, "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION");
    if (const std::string t = get("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"); !t.empty())
        o.metrics.timeout = detail::parse_timeout(t, "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT");
    if (const std::string c = first("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE", &var); !c.empty())
        o.tls.ca_file = c;
    if (const std::string c = first("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &var);
        !c.empty())
        o.tls.client_certificate_file = c;
    if (const std::string k = first("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY", &var); !k.empty())
        o.tls.client_key_file = k;
    if (const std::string r = get("OTEL_RESOURCE_ATTRIBUTES"); !r.empty())
        for (auto& [k, v] : detail::parse_kv_list(r, "OTEL_RESOURCE_ATTRIBUTES")) o.resource_attributes.emplace_back(k, v);
    if (const std::string s = get("OTEL_SERVICE_NAME"); !s.empty()) o.resource_attributes.emplace_back("service.name", s);
    if (const std::string d = get("TRACECRAFT_SPOOL_DIR"); !d.empty()) o.spool_dir = d;
    if (const std::string m = get("TRACECRAFT_SPOOL_MAX_BYTES"); !m.empty()) {
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(m.data(), m.data() + m.size(), n);
        if (ec != std::errc() || end != m.data() + m.size() || n < 4096)
            throw config_error("TRACECRAFT_SPOOL_MAX_BYTES", "expected a byte count >= 4096, got " + config_error::quote(m));
        o.spool_max_bytes = n;
    }
    if (const std::string f = get("TRACECRAFT_SPOOL_FSYNC"); !f.empty()) {
        if (f == "true" || f == "1") o.spool_fsync = true;
        else if (f == "false" || f == "0") o.spool_fsync = false;
        else throw config_error("TRACECRAFT_SPOOL_FSYNC", "expected true or false, got " + config_error::quote(f));
    }
    return o;
}

} // namespace tracecraft
