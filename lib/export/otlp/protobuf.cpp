// Hand-written protobuf encoder for OTLP traces.
//
// Written for speed (OTLP export throughput): one growing buffer and raw stores, no temporary strings. Key-values
// are sized exactly before they are written; nested messages whose size is only known after
// encoding (spans, events, links, status) reserve a 2-byte length slot and shift the body
// left when the varint is shorter (or right in the rare case of a body >= 2 MiB). The request
// header (ResourceSpans / ScopeSpans lengths) is written last into head room kept in front of
// the spans, so the body is never copied.
#include "export/otlp/protobuf_encoder.hpp"

#include <cstring>
#include <string>
#include <vector>

#include "tracecraft/detail/span_record.hpp"   // detail::copy_short

namespace tracecraft::otlp {
namespace {

enum wire : unsigned { varint = 0, fixed64 = 1, length = 2, fixed32 = 5 };
constexpr std::size_t slot_bytes = 2;   ///< length slot of a nested message of unknown size

constexpr std::size_t varint_size(std::uint64_t v) noexcept {
    std::size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}
constexpr std::size_t tag_size(unsigned field) noexcept { return varint_size(static_cast<std::uint64_t>(field) << 3); }

/// Raw stores at p (the caller ensured the room); each returns the end of what it wrote.
char* put_varint_at(char* p, std::uint64_t v) noexcept {
    while (v >= 0x80) {
        *p++ = static_cast<char>((v & 0x7F) | 0x80);
        v >>= 7;
    }
    *p++ = static_cast<char>(v);
    return p;
}

char* put_fixed64_at(char* p, std::uint64_t v) noexcept {   // little endian
    for (int i = 0; i < 8; ++i) *p++ = static_cast<char>((v >> (8 * i)) & 0xFF);
    return p;
}

/// A byte buffer with raw-pointer appends; `ensure(n)` before writing at most n bytes.
class writer {
public:
    explicit writer(std::string& s, std::size_t start) : s_(s), len_(start) {
        if (s_.size() < start + 4096) s_.resize(start + 4096);
    }
    void ensure(std::size_t n) {
        if (len_ + n > s_.size()) [[unlikely]]
            grow(n);
    }
    std::size_t size() const noexcept { return len_; }
    char* at(std::size_t pos) noexcept { return s_.data() + pos; }
    /// Raw write position, for writers that keep it in a local (stores through char* would
    /// otherwise make the compiler reload the string's pointer and length after every byte);
    /// `ensure` the bytes first, then hand the end back with `advance_to`.
    char* cursor() noexcept { return s_.data() + len_; }
    void advance_to(const char* p) noexcept { len_ = static_cast<std::size_t>(p - s_.data()); }
    void finish() { s_.resize(len_); }

    void raw_varint(std::uint64_t v) noexcept { advance_to(put_varint_at(cursor(), v)); }
    void raw(const void* p, std::size_t n) noexcept {
        detail::copy_short(s_.data() + len_, static_cast<const char*>(p), n);   // keys, ids, short values inline
        len_ += n;
    }
    void tag(unsigned field, wire w) noexcept { raw_varint((static_cast<std::uint64_t>(field) << 3) | w); }

    void bytes(unsigned field, const void* p, std::size_t n) {
        ensure(16 + n);
        tag(field, length);
        raw_varint(n);
        raw(p, n);
    }
    void string(unsigned field, std::string_view s) {
        if (!s.empty()) bytes(field, s.data(), s.size());
    }
    void fixed64_field(unsigned field, std::uint64_t v) {
        ensure(16);
        tag(field, fixed64);
        advance_to(put_fixed64_at(cursor(), v));
    }
    void fixed32_field(unsigned field, std::uint32_t v) {
        ensure(16);
        tag(field, fixed32);
        char b[4];
        for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
        raw(b, 4);
    }
    void uint_field(unsigned field, std::uint64_t v) {
        if (v == 0) return;
        ensure(16);
        tag(field, varint);
        raw_varint(v);
    }

    /// Opens a nested message of unknown size: tag + a 2-byte length slot (a span body is
    /// almost always 128 B - 16 KiB: its length then fits exactly and nothing moves).
    std::size_t open(unsigned field) {
        ensure(16);
        tag(field, length);
        const std::size_t slot = len_;
        len_ += slot_bytes;
        return slot;
    }
    /// Closes it: writes the minimal varint length, moving the body when it is shorter (< 128 B)
    /// or longer (>= 16 KiB) than the slot.
    void close(std::size_t slot) {
        const std::size_t body = slot + slot_bytes;
        const std::size_t n = len_ - body;
        const std::size_t vn = varint_size(n);
        if (vn > slot_bytes) {
            ensure(vn - slot_bytes);
            std::memmove(s_.data() + body + (vn - slot_bytes), s_.data() + body, n);
        } else if (vn < slot_bytes) {
            std::memmove(s_.data() + slot + vn, s_.data() + body, n);
        }
        const std::size_t keep = len_;
        len_ = slot;
        raw_varint(n);
        len_ = keep + vn - slot_bytes;
    }

private:
    [[gnu::noinline]] void grow(std::size_t n) { s_.resize(std::max(s_.size() * 2, len_ + n)); }
    std::string& s_;
    std::size_t len_;
};

// AnyValue { string_value=1; bool_value=2; int_value=3; double_value=4; array_value=5; }
std::size_t any_scalar_size(const value_view& v) noexcept {
    switch (v.type()) {
        case value_type::string: return 1 + varint_size(v.as_string().size()) + v.as_string().size();
        case value_type::boolean: return 2;
        case value_type::int64: return 1 + varint_size(static_cast<std::uint64_t>(v.as_int()));
        case value_type::float64: return 9;
        default: return 0;
    }
}

void put_any_scalar(writer& w, const value_view& v) {
    switch (v.type()) {
        case value_type::string: w.bytes(1, v.as_string().data(), v.as_string().size()); break;
        case value_type::boolean:   // written even when false: AnyValue's oneof must say "bool"
            w.ensure(4);
            w.tag(2, varint);
            w.raw_varint(v.as_bool() ? 1 : 0);
            break;
        case value_type::int64:
            w.ensure(16);
            w.tag(3, varint);
            w.raw_varint(static_cast<std::uint64_t>(v.as_int()));
            break;
        case value_type::float64: {
            std::uint64_t bits;
            const double d = v.as_double();
            std::memcpy(&bits, &d, 8);
            w.fixed64_field(4, bits);
            break;
        }
        default: break;
    }
}

/// Size of the AnyValue message body.
std::size_t any_size(const value_view& v, std::size_t* array_body) noexcept {
    if (!is_array(v.type())) return any_scalar_size(v);
    std::size_t arr = 0;   // ArrayValue { repeated AnyValue values = 1; }
    for_each_element(v, [&](const value_view& e) {
        const std::size_t item = any_scalar_size(e);
        arr += 1 + varint_size(item) + item;
    });
    *array_body = arr;
    return 1 + varint_size(arr) + arr;
}

void put_any(writer& w, const value_view& v, std::size_t array_body) {
    if (!is_array(v.type())) return put_any_scalar(w, v);
    w.ensure(16);
    w.tag(5, length);
    w.raw_varint(array_body);
    for_each_element(v, [&](const value_view& e) {
        w.ensure(16);
        w.tag(1, length);
        w.raw_varint(any_scalar_size(e));
        put_any_scalar(w, e);
    });
}

char* put_bytes_at(char* p, std::string_view s) noexcept {
    p = put_varint_at(p, s.size());
    detail::copy_short(p, s.data(), s.size());
    return p + s.size();
}

// KeyValue { string key = 1; AnyValue value = 2; } — sized exactly, written in place.
void put_array_key_value(writer& w, unsigned field, std::string_view key, const value_view& v) {
    std::size_t array_body = 0;
    const std::size_t any = any_size(v, &array_body);
    const std::size_t key_part = key.empty() ? 0 : 1 + varint_size(key.size()) + key.size();
    const std::size_t kv = key_part + 1 + varint_size(any) + any;
    w.ensure(16 + key_part + 16);
    w.tag(field, length);
    w.raw_varint(kv);
    if (!key.empty()) {
        w.tag(1, length);
        w.raw_varint(key.size());
        w.raw(key.data(), key.size());
    }
    w.tag(2, length);
    w.raw_varint(any);
    put_any(w, v, array_body);
}

/// The common case (a scalar value): sizes computed once, one capacity check, and the bytes
/// written through a local pointer. Same bytes as put_array_key_value's general path.
void put_key_value(writer& w, unsigned field, std::string_view key, const value_view& v) {
    const value_type t = v.type();
    if (is_array(t)) return put_array_key_value(w, field, key, v);
    std::string_view str;
    std::uint64_t u = 0;
    std::size_t any = 0;   // AnyValue body
    switch (t) {
        case value_type::string:
            str = v.as_string();
            any = 1 + varint_size(str.size()) + str.size();
            break;
        case value_type::boolean: any = 2; break;
        case value_type::int64:
            u = static_cast<std::uint64_t>(v.as_int());
            any = 1 + varint_size(u);
            break;
        case value_type::float64: {
            const double d = v.as_double();
            std::memcpy(&u, &d, 8);
            any = 9;
            break;
        }
        default: break;
    }
    const std::size_t key_part = key.empty() ? 0 : 1 + varint_size(key.size()) + key.size();
    const std::size_t kv = key_part + 1 + varint_size(any) + any;
    w.ensure(kv + 16);   // + the KeyValue's own tag and length
    char* p = w.cursor();
    p = put_varint_at(p, (static_cast<std::uint64_t>(field) << 3) | length);
    p = put_varint_at(p, kv);
    if (!key.empty()) {
        *p++ = 0x0a;   // KeyValue.key = 1
        p = put_bytes_at(p, key);
    }
    *p++ = 0x12;   // KeyValue.value = 2
    p = put_varint_at(p, any);
    switch (t) {
        case value_type::string:
            *p++ = 0x0a;   // AnyValue.string_value = 1
            p = put_bytes_at(p, str);
            break;
        case value_type::boolean:   // written even when false: AnyValue's oneof must say "bool"
            *p++ = 0x10;            // AnyValue.bool_value = 2
            *p++ = v.as_bool() ? 1 : 0;
            break;
        case value_type::int64:
            *p++ = 0x18;   // AnyValue.int_value = 3
            p = put_varint_at(p, u);
            break;
        case value_type::float64:
            *p++ = 0x21;   // AnyValue.double_value = 4 (fixed64)
            p = put_fixed64_at(p, u);
            break;
        default: break;
    }
    w.advance_to(p);
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

/// The constant derived attributes (semconv.hpp) as encoded Span.attributes entries, built
/// once: each is then one copy instead of a key-value encode.
const std::vector<std::string>& encoded_span_constants() {
    static const std::vector<std::string> table = [] {
        std::vector<std::string> out;
        for (const constant_attribute& c : constant_attributes()) {
            std::string buf;
            writer w(buf, 0);
            put_key_value(w, 9, c.key, c.as_value());
            w.finish();
            out.push_back(std::move(buf));
        }
        return out;
    }();
    return table;
}

void put_span(writer& w, const span_view& s, std::string_view tracestate, dialect conventions) {
    // The fixed head of the Span, written through one pointer after one capacity check.
    const std::string_view name = s.name();
    const span_id parent = s.parent_id();
    w.ensure(96 + tracestate.size() + name.size());
    char* p = w.cursor();
    auto* u = reinterpret_cast<unsigned char*>(p);
    *u++ = 0x0a;   // trace_id = 1 (bytes, 16)
    *u++ = 16;
    s.trace().write_bytes(u);
    u += 16;
    *u++ = 0x12;   // span_id = 2 (bytes, 8)
    *u++ = 8;
    s.id().write_bytes(u);
    u += 8;
    p = reinterpret_cast<char*>(u);
    if (!tracestate.empty()) {
        *p++ = 0x1a;   // trace_state = 3
        p = put_bytes_at(p, tracestate);
    }
    if (parent.valid()) {
        u = reinterpret_cast<unsigned char*>(p);
        *u++ = 0x22;   // parent_span_id = 4 (bytes, 8)
        *u++ = 8;
        parent.write_bytes(u);
        p = reinterpret_cast<char*>(u + 8);
    }
    if (!name.empty()) {
        *p++ = 0x2a;   // name = 5
        p = put_bytes_at(p, name);
    }
    if (const int kind = s.otlp_kind(); kind != 0) {
        *p++ = 0x30;   // kind = 6 (varint)
        p = put_varint_at(p, static_cast<std::uint64_t>(kind));
    }
    *p++ = 0x39;   // start_time_unix_nano = 7 (fixed64)
    p = put_fixed64_at(p, static_cast<std::uint64_t>(s.start_unix_ns()));
    *p++ = 0x41;   // end_time_unix_nano = 8 (fixed64)
    p = put_fixed64_at(p, static_cast<std::uint64_t>(s.end_unix_ns()));
    w.advance_to(p);
    const std::vector<std::string>& constants = encoded_span_constants();
    for_each_export_attribute(
        s, conventions,
        attribute_visitor([&](std::string_view k, const value_view& v) { put_key_value(w, 9, k, v); },
                          [&](std::size_t id) {
                              const std::string& kv = constants[id];
                              w.ensure(kv.size());
                              w.raw(kv.data(), kv.size());
                          }));
    w.uint_field(10, s.dropped_attributes());
    s.for_each_event([&](const event_view& e) {
        const std::size_t slot = w.open(11);   // Event { fixed64 time=1; string name=2; repeated KeyValue attributes=3; }
        w.fixed64_field(1, static_cast<std::uint64_t>(e.time_unix_ns()));
        w.string(2, e.name());
        e.attributes().for_each([&](std::string_view k, const value_view& v) { put_key_value(w, 3, k, v); });
        w.close(slot);
    });
    s.for_each_link([&](const link_view& l) {
        const std::size_t slot = w.open(13);   // Link { bytes trace_id=1; bytes span_id=2; ...; attributes=4; fixed32 flags=6; }
        unsigned char lid[16];
        l.context().trace.write_bytes(lid);
        w.bytes(1, lid, 16);
        l.context().span.write_bytes(lid);
        w.bytes(2, lid, 8);
        l.attributes().for_each([&](std::string_view k, const value_view& v) { put_key_value(w, 4, k, v); });
        w.fixed32_field(6, 0x100u | (l.context().remote ? 0x200u : 0u) | l.context().flags);
        w.close(slot);
    });
    if (s.status() != status_code::unset) {
        const std::size_t slot = w.open(15);   // Status { string message = 2; StatusCode code = 3; }
        w.string(2, s.status_message());
        w.uint_field(3, static_cast<std::uint64_t>(s.status()));
        w.close(slot);
    }
    // flags: W3C trace flags (sampled) | HAS_IS_REMOTE (0x100) | IS_REMOTE (0x200) of the parent
    w.fixed32_field(16, 0x01u | 0x100u | (s.has_remote_parent() ? 0x200u : 0u));
}

/// Resource and scope messages (small, encoded first into their own buffer).
void encode_prefix(const resource_info& resource, std::string& res, std::string& scope) {
    std::vector<std::string_view> keep;
    writer r(res, 0);   // Resource { repeated KeyValue attributes = 1; }
    for (const auto& [k, v] : resource.attributes) put_key_value(r, 1, k, view_of(v, keep));
    r.finish();
    writer sc(scope, 0);   // InstrumentationScope { string name = 1; string version = 2; }
    sc.string(1, resource.scope_name);
    sc.string(2, resource.scope_version);
    sc.finish();
}

} // namespace


namespace {
/// The request for traces [first, last) of `batch`, written into buf from offset `at` on
/// (buf[0, at) is kept); returns its view. buf keeps its high-water size.
std::string_view encode_range(const span_batch& batch, std::size_t first, std::size_t last, const resource_info& resource,
                              std::string& buf, std::size_t at) {
    std::string res, scope;
    encode_prefix(resource, res, scope);
    // Head room for: rs tag+len, resource tag+len+body, ss tag+len, scope tag+len+body.
    const std::size_t head = at + 4 * 11 + res.size() + scope.size();
    writer w(buf, head);
    for (std::size_t i = first; i < last; ++i)
        batch.trace(i).for_each_span([&](const span_view& s) {
            const std::size_t slot = w.open(2);   // ScopeSpans.spans = 2
            put_span(w, s, batch.trace(i).tracestate(), resource.conventions);
            w.close(slot);
        });
    const std::size_t spans = w.size() - head;
    const std::size_t end = w.size();   // buf keeps its size (high-water mark) beyond `end`
    // ScopeSpans { scope = 1; spans = 2... }, ResourceSpans { resource = 1; scope_spans = 2; }
    const std::size_t scope_msg = 1 + varint_size(scope.size()) + scope.size();
    const std::size_t ss = scope_msg + spans;
    const std::size_t res_msg = 1 + varint_size(res.size()) + res.size();
    const std::size_t rs = res_msg + 1 + varint_size(ss) + ss;
    const std::size_t header = 1 + varint_size(rs) + res_msg + 1 + varint_size(ss) + scope_msg;
    const std::size_t off = head - header;
    char* p = buf.data() + off;
    *p++ = 0x0a;   // ExportTraceServiceRequest.resource_spans = 1
    p = put_varint_at(p, rs);
    *p++ = 0x0a;   // ResourceSpans.resource = 1
    p = put_varint_at(p, res.size());
    std::memcpy(p, res.data(), res.size());
    p += res.size();
    *p++ = 0x12;   // ResourceSpans.scope_spans = 2
    p = put_varint_at(p, ss);
    *p++ = 0x0a;   // ScopeSpans.scope = 1
    p = put_varint_at(p, scope.size());
    std::memcpy(p, scope.data(), scope.size());
    p += scope.size();
    return std::string_view(buf.data() + off, end - off);
}
} // namespace

std::string_view encode_request_into(const span_batch& batch, const resource_info& resource, std::string& buf) {
    return encode_range(batch, 0, batch.trace_count(), resource, buf, 0);
}

std::size_t encode_request_part(const span_batch& batch, std::size_t first_trace, std::size_t max_spans,
                                const resource_info& resource, std::string& buf, std::size_t& end) {
    std::size_t last = first_trace, spans = 0;
    while (last < batch.trace_count()) {
        const std::size_t n = batch.trace(last).span_count();
        if (last > first_trace && spans + n > max_spans) break;
        spans += n;
        ++last;
    }
    if (last == first_trace) return last;
    const std::string_view part = encode_range(batch, first_trace, last, resource, buf, end);
    // close the unused head room, so that the parts form one request: a protobuf message's
    // repeated fields concatenate, and each part is one more ResourceSpans
    std::memmove(buf.data() + end, part.data(), part.size());
    end += part.size();
    return last;
}

void encode_request(const span_batch& batch, const resource_info& resource, std::string& out) {
    std::string buf;
    out.append(encode_request_into(batch, resource, buf));
}

} // namespace tracecraft::otlp
