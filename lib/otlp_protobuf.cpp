// Hand-written protobuf encoder for OTLP traces.
#include "tracecraft/otlp/protobuf.hpp"

#include <cstring>

namespace tracecraft::otlp {
namespace {

enum wire : unsigned { varint = 0, fixed64 = 1, length = 2, fixed32 = 5 };

void put_varint(std::string& o, std::uint64_t v) {
    while (v >= 0x80) {
        o.push_back(static_cast<char>((v & 0x7F) | 0x80));
        v >>= 7;
    }
    o.push_back(static_cast<char>(v));
}
void put_tag(std::string& o, unsigned field, wire w) { put_varint(o, (static_cast<std::uint64_t>(field) << 3) | w); }
void put_bytes(std::string& o, unsigned field, const void* p, std::size_t n) {
    put_tag(o, field, length);
    put_varint(o, n);
    o.append(static_cast<const char*>(p), n);
}
void put_string(std::string& o, unsigned field, std::string_view s) {
    if (!s.empty()) put_bytes(o, field, s.data(), s.size());
}
void put_fixed64(std::string& o, unsigned field, std::uint64_t v) {
    put_tag(o, field, fixed64);
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);   // little endian
    o.append(b, 8);
}
void put_fixed32(std::string& o, unsigned field, std::uint32_t v) {
    put_tag(o, field, fixed32);
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    o.append(b, 4);
}
void put_uint(std::string& o, unsigned field, std::uint64_t v) {
    if (v == 0) return;
    put_tag(o, field, varint);
    put_varint(o, v);
}
/// A nested message: encoded into `tmp` by `fill`, then appended with its length.
template <class F>
void put_message(std::string& o, unsigned field, std::string& tmp, F&& fill) {
    tmp.clear();
    fill(tmp);
    put_bytes(o, field, tmp.data(), tmp.size());
}

// AnyValue { string_value=1; bool_value=2; int_value=3; double_value=4; array_value=5; }
void put_any_scalar(std::string& o, const value_view& v) {
    switch (v.type()) {
        case value_type::string: put_bytes(o, 1, v.as_string().data(), v.as_string().size()); break;
        case value_type::boolean: put_tag(o, 2, varint); put_varint(o, v.as_bool() ? 1 : 0); break;
        case value_type::int64: put_tag(o, 3, varint); put_varint(o, static_cast<std::uint64_t>(v.as_int())); break;
        case value_type::float64: {
            std::uint64_t bits;
            const double d = v.as_double();
            std::memcpy(&bits, &d, 8);
            put_fixed64(o, 4, bits);
            break;
        }
        default: break;
    }
}

void put_any(std::string& o, const value_view& v) {
    if (!is_array(v.type())) return put_any_scalar(o, v);
    std::string arr, item;   // ArrayValue { repeated AnyValue values = 1; }
    for_each_element(v, [&](const value_view& e) {
        item.clear();
        put_any_scalar(item, e);
        put_bytes(arr, 1, item.data(), item.size());
    });
    put_bytes(o, 5, arr.data(), arr.size());
}

// KeyValue { string key = 1; AnyValue value = 2; }
void put_key_value(std::string& o, unsigned field, std::string_view key, const value_view& v, std::string& tmp) {
    std::string any;
    put_any(any, v);
    tmp.clear();
    put_string(tmp, 1, key);
    put_bytes(tmp, 2, any.data(), any.size());
    put_bytes(o, field, tmp.data(), tmp.size());
}

value_view view_of(const attribute_value& v, std::vector<std::string_view>& keep) {
    if (const auto* s = std::get_if<std::string>(&v)) return value_view::of_string(s->data(), static_cast<std::uint32_t>(s->size()));
    if (const auto* i = std::get_if<std::int64_t>(&v)) return value_view::of_int(*i);
    if (const auto* d = std::get_if<double>(&v)) return value_view::of_double(*d);
    if (const auto* b = std::get_if<bool>(&v)) return value_view::of_bool(*b);
    if (const auto* a = std::get_if<std::vector<std::string>>(&v)) {
        keep.assign(a->begin(), a->end());
        return value_view::of_array(value_type::string_array, keep.data(), static_cast<std::uint32_t>(keep.size()));
    }
    return {};
}

void put_span(std::string& o, const span_view& s, std::string_view tracestate, dialect conventions) {
    unsigned char id[16];
    s.trace().write_bytes(id);
    put_bytes(o, 1, id, 16);
    s.id().write_bytes(id);
    put_bytes(o, 2, id, 8);
    put_string(o, 3, tracestate);
    if (s.parent_id().valid()) {
        s.parent_id().write_bytes(id);
        put_bytes(o, 4, id, 8);
    }
    put_string(o, 5, s.name());
    put_uint(o, 6, static_cast<std::uint64_t>(otlp_span_kind(s.kind())));
    put_fixed64(o, 7, static_cast<std::uint64_t>(s.start_unix_ns()));
    put_fixed64(o, 8, static_cast<std::uint64_t>(s.end_unix_ns()));
    std::string tmp;
    for_each_export_attribute(s, conventions, [&](std::string_view k, const value_view& v) { put_key_value(o, 9, k, v, tmp); });
    put_uint(o, 10, s.dropped_attributes());
    std::string ev;
    s.for_each_event([&](const event_view& e) {
        ev.clear();   // Event { fixed64 time=1; string name=2; repeated KeyValue attributes=3; }
        put_fixed64(ev, 1, static_cast<std::uint64_t>(e.time_unix_ns()));
        put_string(ev, 2, e.name());
        e.attributes().for_each([&](std::string_view k, const value_view& v) { put_key_value(ev, 3, k, v, tmp); });
        put_bytes(o, 11, ev.data(), ev.size());
    });
    s.for_each_link([&](const link_view& l) {
        ev.clear();   // Link { bytes trace_id=1; bytes span_id=2; ...; attributes=4; fixed32 flags=6; }
        unsigned char lid[16];
        l.context().trace.write_bytes(lid);
        put_bytes(ev, 1, lid, 16);
        l.context().span.write_bytes(lid);
        put_bytes(ev, 2, lid, 8);
        l.attributes().for_each([&](std::string_view k, const value_view& v) { put_key_value(ev, 4, k, v, tmp); });
        put_fixed32(ev, 6, 0x100u | (l.context().remote ? 0x200u : 0u) | l.context().flags);
        put_bytes(o, 13, ev.data(), ev.size());
    });
    if (s.status() != status_code::unset) {
        ev.clear();   // Status { string message = 2; StatusCode code = 3; }
        put_string(ev, 2, s.status_message());
        put_uint(ev, 3, static_cast<std::uint64_t>(s.status()));
        put_bytes(o, 15, ev.data(), ev.size());
    }
    // flags: W3C trace flags (sampled) | HAS_IS_REMOTE (0x100) | IS_REMOTE (0x200) of the parent
    put_fixed32(o, 16, 0x01u | 0x100u | (s.has_remote_parent() ? 0x200u : 0u));
}

} // namespace

int otlp_span_kind(span_kind k) noexcept { return k == span_kind::llm ? 3 /*CLIENT*/ : 1 /*INTERNAL*/; }

void encode_request(const span_batch& batch, const resource_info& resource, std::string& out) {
    std::string rs, tmp, scope, spans, one;
    // Resource { repeated KeyValue attributes = 1; }
    std::vector<std::string_view> keep;
    put_message(rs, 1, tmp, [&](std::string& r) {
        std::string kv;
        for (const auto& [k, v] : resource.attributes) put_key_value(r, 1, k, view_of(v, keep), kv);
    });
    // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
    put_message(spans, 1, tmp, [&](std::string& sc) {
        put_string(sc, 1, resource.scope_name);
        put_string(sc, 2, resource.scope_version);
    });
    batch.for_each_trace([&](const trace_view& t) {
        t.for_each_span([&](const span_view& s) {
            one.clear();
            put_span(one, s, t.tracestate(), resource.conventions);
            put_bytes(spans, 2, one.data(), one.size());
        });
    });
    put_bytes(rs, 2, spans.data(), spans.size());   // ResourceSpans.scope_spans = 2
    put_bytes(out, 1, rs.data(), rs.size());        // ExportTraceServiceRequest.resource_spans = 1
}

} // namespace tracecraft::otlp
