// OTLP metrics encoding. Metrics leave the process once per export interval, so clarity wins
// over speed here: nested messages are built bottom-up into strings.
#include "tracecraft/otlp/metrics.hpp"

#include <bit>
#include <cmath>

#include <boost/json.hpp>

namespace tracecraft::otlp {

namespace {

// ------------------------------------------------------------------ protobuf

struct pb {
    std::string b;
    void varint(std::uint64_t v) {
        while (v >= 0x80) {
            b.push_back(static_cast<char>((v & 0x7F) | 0x80));
            v >>= 7;
        }
        b.push_back(static_cast<char>(v));
    }
    void tag(unsigned field, unsigned wire) { varint((static_cast<std::uint64_t>(field) << 3) | wire); }
    void raw64(std::uint64_t v) {
        for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    }
    void fixed64(unsigned field, std::uint64_t v) {
        tag(field, 1);
        raw64(v);
    }
    void dbl(unsigned field, double v) { fixed64(field, std::bit_cast<std::uint64_t>(v)); }
    void bytes(unsigned field, std::string_view s) {
        tag(field, 2);
        varint(s.size());
        b.append(s);
    }
    void msg(unsigned field, const pb& m) { bytes(field, m.b); }
    void uint(unsigned field, std::uint64_t v) {
        tag(field, 0);
        varint(v);
    }
};

pb any_value(const attribute_value& v) {
    pb a;
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) a.bytes(1, x);
            else if constexpr (std::is_same_v<T, bool>) a.uint(2, x ? 1 : 0);
            else if constexpr (std::is_same_v<T, std::int64_t>) a.uint(3, static_cast<std::uint64_t>(x));
            else if constexpr (std::is_same_v<T, double>) a.dbl(4, x);
            else a.bytes(1, to_display_string(v));   // arrays: as text (metric attributes are scalars)
        },
        v);
    return a;
}

void key_values(pb& out, unsigned field, const std::vector<std::pair<std::string, attribute_value>>& attrs) {
    for (const auto& [k, v] : attrs) {
        pb kv;
        kv.bytes(1, k);
        kv.msg(2, any_value(v));
        out.msg(field, kv);
    }
}

std::uint64_t temporality_code(metric_temporality t) { return t == metric_temporality::delta ? 1 : 2; }

pb metric_pb(const metric_data& m, const metrics_snapshot& s) {
    pb data;
    for (const metric_point& p : m.points) {
        pb dp;
        if (m.type == metric_type::histogram) {
            key_values(dp, 9, p.attributes);
            dp.fixed64(2, static_cast<std::uint64_t>(s.start_unix_ns));
            dp.fixed64(3, static_cast<std::uint64_t>(s.time_unix_ns));
            dp.fixed64(4, p.count);
            dp.dbl(5, p.sum);
            dp.tag(6, 2);   // packed fixed64
            dp.varint(p.bucket_counts.size() * 8);
            for (std::uint64_t c : p.bucket_counts) dp.raw64(c);
            dp.tag(7, 2);   // packed double
            dp.varint(m.bounds.size() * 8);
            for (double b : m.bounds) dp.raw64(std::bit_cast<std::uint64_t>(b));
            if (p.count && std::isfinite(p.min) && std::isfinite(p.max)) {   // unknown for a delta interval
                dp.dbl(11, p.min);
                dp.dbl(12, p.max);
            }
        } else {
            key_values(dp, 7, p.attributes);
            if (m.type == metric_type::counter) dp.fixed64(2, static_cast<std::uint64_t>(s.start_unix_ns));
            dp.fixed64(3, static_cast<std::uint64_t>(s.time_unix_ns));
            if (p.integer) dp.fixed64(6, static_cast<std::uint64_t>(static_cast<std::int64_t>(p.value)));   // sfixed64 as_int
            else dp.dbl(4, p.value);
        }
        data.msg(1, dp);
    }
    pb out;
    out.bytes(1, m.name);
    if (!m.description.empty()) out.bytes(2, m.description);
    if (!m.unit.empty()) out.bytes(3, m.unit);
    if (m.type == metric_type::gauge) {
        out.msg(5, data);
    } else if (m.type == metric_type::counter) {
        data.uint(2, temporality_code(s.temporality));
        data.uint(3, 1);   // is_monotonic
        out.msg(7, data);
    } else {
        data.uint(2, temporality_code(s.temporality));
        out.msg(9, data);
    }
    return out;
}

// ------------------------------------------------------------------ JSON

namespace json = boost::json;

json::object any_value_json(const attribute_value& v) {
    json::object o;
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) o["stringValue"] = x;
            else if constexpr (std::is_same_v<T, bool>) o["boolValue"] = x;
            else if constexpr (std::is_same_v<T, std::int64_t>) o["intValue"] = std::to_string(x);
            else if constexpr (std::is_same_v<T, double>) o["doubleValue"] = x;
            else o["stringValue"] = to_display_string(v);
        },
        v);
    return o;
}

json::array key_values_json(const std::vector<std::pair<std::string, attribute_value>>& attrs) {
    json::array a;
    for (const auto& [k, v] : attrs) a.push_back(json::object{{"key", k}, {"value", any_value_json(v)}});
    return a;
}

/// A finite double for JSON (JSON has no NaN or infinity).
double finite(double d) { return std::isfinite(d) ? d : 0.0; }

json::object metric_json(const metric_data& m, const metrics_snapshot& s) {
    json::array points;
    for (const metric_point& p : m.points) {
        json::object dp;
        dp["attributes"] = key_values_json(p.attributes);
        dp["timeUnixNano"] = std::to_string(s.time_unix_ns);
        if (m.type != metric_type::gauge) dp["startTimeUnixNano"] = std::to_string(s.start_unix_ns);
        if (m.type == metric_type::histogram) {
            dp["count"] = std::to_string(p.count);
            dp["sum"] = finite(p.sum);
            json::array counts, bounds;
            for (std::uint64_t c : p.bucket_counts) counts.emplace_back(std::to_string(c));
            for (double b : m.bounds) bounds.emplace_back(b);
            dp["bucketCounts"] = std::move(counts);
            dp["explicitBounds"] = std::move(bounds);
            if (p.count && std::isfinite(p.min) && std::isfinite(p.max)) {
                dp["min"] = p.min;
                dp["max"] = p.max;
            }
        } else if (p.integer) {
            dp["asInt"] = std::to_string(static_cast<std::int64_t>(p.value));
        } else {
            dp["asDouble"] = finite(p.value);
        }
        points.push_back(std::move(dp));
    }
    json::object data;
    data["dataPoints"] = std::move(points);
    json::object out;
    out["name"] = m.name;
    out["description"] = m.description;
    out["unit"] = m.unit;
    if (m.type == metric_type::gauge) {
        out["gauge"] = std::move(data);
    } else {
        data["aggregationTemporality"] = temporality_code(s.temporality);
        if (m.type == metric_type::counter) {
            data["isMonotonic"] = true;
            out["sum"] = std::move(data);
        } else {
            out["histogram"] = std::move(data);
        }
    }
    return out;
}

} // namespace

void encode_metrics_request(const metrics_snapshot& m, const resource_info& resource, std::string& out) {
    pb res;
    key_values(res, 1, resource.attributes);
    pb scope;
    scope.bytes(1, resource.scope_name);
    scope.bytes(2, resource.scope_version);
    pb sm;
    sm.msg(1, scope);
    for (const metric_data& d : m.metrics) sm.msg(2, metric_pb(d, m));
    pb rm;
    rm.msg(1, res);
    rm.msg(2, sm);
    pb req;
    req.msg(1, rm);
    out.append(req.b);
}

void encode_metrics_request_json(const metrics_snapshot& m, const resource_info& resource, std::string& out) {
    json::array metrics;
    for (const metric_data& d : m.metrics) metrics.push_back(metric_json(d, m));
    json::object scope{{"name", resource.scope_name}, {"version", resource.scope_version}};
    json::object sm{{"scope", std::move(scope)}, {"metrics", std::move(metrics)}};
    json::object rm{{"resource", json::object{{"attributes", key_values_json(resource.attributes)}}},
                    {"scopeMetrics", json::array{std::move(sm)}}};
    out += json::serialize(json::object{{"resourceMetrics", json::array{std::move(rm)}}});
}

} // namespace tracecraft::otlp
