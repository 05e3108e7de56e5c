// OTLP/JSON writer.
#include "export/otlp/protobuf_encoder.hpp"
#include "tracecraft/otlp/json.hpp"
#include "tracecraft/otlp/semconv.hpp"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace tracecraft::otlp {
namespace {

void u64(std::string& o, std::uint64_t v) {
    o.push_back('"');
    o += std::to_string(v);
    o.push_back('"');
}

void any_scalar(std::string& o, const value_view& v) {
    switch (v.type()) {
        case value_type::string:
            o += "{\"stringValue\":";
            append_json_string(o, v.as_string());
            o.push_back('}');
            break;
        case value_type::boolean: o += v.as_bool() ? "{\"boolValue\":true}" : "{\"boolValue\":false}"; break;
        case value_type::int64:
            o += "{\"intValue\":\"";
            o += std::to_string(v.as_int());
            o += "\"}";
            break;
        case value_type::float64:   // NaN and the infinities as the proto3 JSON mapping writes them
            o += "{\"doubleValue\":";
            append_json_value(o, v);
            o.push_back('}');
            break;
        default: o += "{}"; break;
    }
}

void any(std::string& o, const value_view& v) {
    if (!is_array(v.type())) return any_scalar(o, v);
    o += "{\"arrayValue\":{\"values\":[";
    bool first = true;
    for_each_element(v, [&](const value_view& e) {
        if (!first) o.push_back(',');
        first = false;
        any_scalar(o, e);
    });
    o += "]}}";
}

struct kv_writer {
    std::string& o;
    bool first = true;
    void operator()(std::string_view k, const value_view& v) {
        if (!first) o.push_back(',');
        first = false;
        o += "{\"key\":";
        append_json_string(o, k);
        o += ",\"value\":";
        any(o, v);
        o.push_back('}');
    }
};

/// The constant derived attributes (semconv.hpp) rendered once as KeyValue objects.
const std::vector<std::string>& rendered_constants() {
    static const std::vector<std::string> table = [] {
        std::vector<std::string> out;
        for (const constant_attribute& c : constant_attributes()) {
            std::string one;
            kv_writer w{one};
            w(c.key, c.as_value());
            out.push_back(std::move(one));
        }
        return out;
    }();
    return table;
}

void hex_field(std::string& o, const char* name, const char* hex, std::size_t n) {
    o += name;
    o.push_back('"');
    o.append(hex, n);
    o.push_back('"');
}

void span_json(std::string& o, const span_view& s, std::string_view tracestate, dialect conventions) {
    char hex[32];
    s.trace().write_hex(hex);
    hex_field(o, "{\"traceId\":", hex, 32);
    s.id().write_hex(hex);
    hex_field(o, ",\"spanId\":", hex, 16);
    if (!tracestate.empty()) {
        o += ",\"traceState\":";
        append_json_string(o, tracestate);
    }
    if (s.parent_id().valid()) {
        s.parent_id().write_hex(hex);
        hex_field(o, ",\"parentSpanId\":", hex, 16);
    }
    o += ",\"flags\":";
    o += std::to_string(0x01u | 0x100u | (s.has_remote_parent() ? 0x200u : 0u));
    o += ",\"name\":";
    append_json_string(o, s.name());
    o += ",\"kind\":";
    o += std::to_string(s.otlp_kind());
    o += ",\"startTimeUnixNano\":";
    u64(o, static_cast<std::uint64_t>(s.start_unix_ns()));
    o += ",\"endTimeUnixNano\":";
    u64(o, static_cast<std::uint64_t>(s.end_unix_ns()));
    o += ",\"attributes\":[";
    kv_writer w{o};
    const std::vector<std::string>& constants = rendered_constants();
    for_each_export_attribute(s, conventions,
                              attribute_visitor([&](std::string_view k, const value_view& v) { w(k, v); },
                                                [&](std::size_t id) {
                                                    if (!w.first) o.push_back(',');
                                                    w.first = false;
                                                    o += constants[id];
                                                }));
    o.push_back(']');
    if (s.dropped_attributes()) {
        o += ",\"droppedAttributesCount\":";
        o += std::to_string(s.dropped_attributes());
    }
    if (s.event_count()) {
        o += ",\"events\":[";
        bool first = true;
        s.for_each_event([&](const event_view& e) {
            if (!first) o.push_back(',');
            first = false;
            o += "{\"timeUnixNano\":";
            u64(o, static_cast<std::uint64_t>(e.time_unix_ns()));
            o += ",\"name\":";
            append_json_string(o, e.name());
            o += ",\"attributes\":[";
            kv_writer ew{o};
            e.attributes().for_each([&](std::string_view k, const value_view& v) { ew(k, v); });
            o += "]}";
        });
        o.push_back(']');
    }
    if (s.link_count()) {
        o += ",\"links\":[";
        bool first = true;
        s.for_each_link([&](const link_view& l) {
            if (!first) o.push_back(',');
            first = false;
            char lh[32];
            l.context().trace.write_hex(lh);
            hex_field(o, "{\"traceId\":", lh, 32);
            l.context().span.write_hex(lh);
            hex_field(o, ",\"spanId\":", lh, 16);
            o += ",\"attributes\":[";
            kv_writer lw{o};
            l.attributes().for_each([&](std::string_view k, const value_view& v) { lw(k, v); });
            o += "],\"flags\":";
            o += std::to_string(0x100u | (l.context().remote ? 0x200u : 0u) | l.context().flags);
            o.push_back('}');
        });
        o.push_back(']');
    }
    if (s.status() != status_code::unset) {
        o += ",\"status\":{";
        if (!s.status_message().empty()) {
            o += "\"message\":";
            append_json_string(o, s.status_message());
            o.push_back(',');
        }
        o += "\"code\":";
        o += std::to_string(static_cast<int>(s.status()));
        o.push_back('}');
    }
    o.push_back('}');
}

} // namespace

void encode_request_json(const span_batch& batch, const resource_info& resource, std::string& out) {
    out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
    kv_writer rw{out};
    std::vector<std::string_view> keep;
    for (const auto& [k, v] : resource.attributes) {
        if (const auto* s = std::get_if<std::string>(&v)) rw(k, value_view::of_string(s->data(), static_cast<std::uint32_t>(s->size())));
        else if (const auto* i = std::get_if<std::int64_t>(&v)) rw(k, value_view::of_int(*i));
        else if (const auto* d = std::get_if<double>(&v)) rw(k, value_view::of_double(*d));
        else if (const auto* b = std::get_if<bool>(&v)) rw(k, value_view::of_bool(*b));
        else if (const auto* a = std::get_if<std::vector<std::string>>(&v)) {
            keep.assign(a->begin(), a->end());
            rw(k, value_view::of_array(value_type::string_array, keep.data(), static_cast<std::uint32_t>(keep.size())));
        }
    }
    out += "]},\"scopeSpans\":[{\"scope\":{\"name\":";
    append_json_string(out, resource.scope_name);
    out += ",\"version\":";
    append_json_string(out, resource.scope_version);
    out += "},\"spans\":[";
    bool first = true;
    batch.for_each_trace([&](const trace_view& t) {
        t.for_each_span([&](const span_view& s) {
            if (!first) out.push_back(',');
            first = false;
            span_json(out, s, t.tracestate(), resource.conventions);
        });
    });
    out += "]}]}]}";
}

} // namespace tracecraft::otlp
