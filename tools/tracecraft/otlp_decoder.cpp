#include "otlp_decoder.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include <boost/json.hpp>

namespace tctool {
namespace {

namespace json = boost::json;

constexpr int max_depth = 32;   // nesting of AnyValue arrays / kvlists

enum wire_type : unsigned { wt_varint = 0, wt_fixed64 = 1, wt_length = 2, wt_start_group = 3, wt_end_group = 4, wt_fixed32 = 5 };

// ----------------------------------------------------------------------- protobuf reading

class pb_reader {
public:
    pb_reader(std::string_view data, const char* what) : p_(data.data()), end_(data.data() + data.size()), what_(what) {}

    bool done() const noexcept { return p_ == end_; }

    [[noreturn]] void fail(const std::string& why) const { throw input_error(std::string(what_) + ": " + why); }

    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_ == end_) fail("truncated varint");
            const auto b = static_cast<unsigned char>(*p_++);
            v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
            if (!(b & 0x80)) return v;
        }
        fail("varint longer than 10 bytes");
    }
    /// Next field: number and wire type.
    std::pair<std::uint32_t, unsigned> tag() {
        const std::uint64_t t = varint();
        const auto field = static_cast<std::uint32_t>(t >> 3);
        if (field == 0 || t >> 32) fail("invalid field number");
        return {field, static_cast<unsigned>(t & 7)};
    }
    std::uint64_t fixed64() {
        if (end_ - p_ < 8) fail("truncated fixed64");
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p_[i])) << (8 * i);
        p_ += 8;
        return v;
    }
    std::string_view bytes() {
        const std::uint64_t n = varint();
        if (n > static_cast<std::uint64_t>(end_ - p_)) fail("truncated length-delimited field");
        std::string_view s(p_, n);
        p_ += n;
        return s;
    }
    void skip(unsigned wt) {
        switch (wt) {
            case wt_varint: varint(); return;
            case wt_fixed64: fixed64(); return;
            case wt_length: bytes(); return;
            case wt_fixed32:
                if (end_ - p_ < 4) fail("truncated fixed32");
                p_ += 4;
                return;
            default: fail("unsupported wire type " + std::to_string(wt));
        }
    }
    void expect(unsigned got, unsigned want, const char* field) const {
        if (got != want)
            fail(std::string("field ") + field + " has wire type " + std::to_string(got) + ", expected " + std::to_string(want));
    }
    std::string string(unsigned wt, const char* field) {
        expect(wt, wt_length, field);
        std::string_view s = bytes();
        if (!valid_utf8(s)) fail(std::string("field ") + field + " is not valid UTF-8");
        return std::string(s);
    }

private:
    const char* p_;
    const char* end_;
    const char* what_;
};

std::string base64(std::string_view in) {
    static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += tbl[v >> 18];
        out += tbl[(v >> 12) & 63];
        out += tbl[(v >> 6) & 63];
        out += tbl[v & 63];
    }
    if (i < in.size()) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        out += tbl[v >> 18];
        out += tbl[(v >> 12) & 63];
        out += i + 1 < in.size() ? tbl[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

json::value finite_or_text(double d) {
    if (std::isfinite(d)) return d;
    return json::value(std::isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"));
}

void pb_key_values(pb_reader& outer, unsigned wt, json::object& into, int depth);

json::value pb_any_value(std::string_view data, int depth) {
    if (depth > max_depth) throw input_error("AnyValue: nested deeper than " + std::to_string(max_depth));
    pb_reader r(data, "AnyValue");
    json::value v;   // an empty AnyValue is null
    while (!r.done()) {
        const auto [f, wt] = r.tag();
        switch (f) {
            case 1: v = r.string(wt, "string_value"); break;
            case 2: r.expect(wt, wt_varint, "bool_value"); v = r.varint() != 0; break;
            case 3: r.expect(wt, wt_varint, "int_value"); v = static_cast<std::int64_t>(r.varint()); break;
            case 4: {
                r.expect(wt, wt_fixed64, "double_value");
                const std::uint64_t bits = r.fixed64();
                double d;
                std::memcpy(&d, &bits, 8);
                v = finite_or_text(d);
                break;
            }
            case 5: {
                r.expect(wt, wt_length, "array_value");
                pb_reader a(r.bytes(), "ArrayValue");
                json::array arr;
                while (!a.done()) {
                    const auto [af, awt] = a.tag();
                    if (af == 1) {
                        a.expect(awt, wt_length, "values");
                        arr.push_back(pb_any_value(a.bytes(), depth + 1));
                    } else {
                        a.skip(awt);
                    }
                }
                v = std::move(arr);
                break;
            }
            case 6: {
                r.expect(wt, wt_length, "kvlist_value");
                pb_reader k(r.bytes(), "KeyValueList");
                json::object obj;
                while (!k.done()) {
                    const auto [kf, kwt] = k.tag();
                    if (kf == 1)
                        pb_key_values(k, kwt, obj, depth + 1);
                    else
                        k.skip(kwt);
                }
                v = std::move(obj);
                break;
            }
            case 7: r.expect(wt, wt_length, "bytes_value"); v = base64(r.bytes()); break;
            default: r.skip(wt);
        }
    }
    return v;
}

/// One KeyValue field (already tagged) into `into`.
void pb_key_values(pb_reader& outer, unsigned wt, json::object& into, int depth) {
    outer.expect(wt, wt_length, "attributes");
    pb_reader r(outer.bytes(), "KeyValue");
    std::string key;
    json::value value;
    while (!r.done()) {
        const auto [f, fwt] = r.tag();
        if (f == 1)
            key = r.string(fwt, "key");
        else if (f == 2) {
            r.expect(fwt, wt_length, "value");
            value = pb_any_value(r.bytes(), depth);
        } else
            r.skip(fwt);
    }
    into[key] = std::move(value);
}

struct resource_info {
    json::object attributes;
    std::string service;
};

resource_info pb_resource(std::string_view data) {
    pb_reader r(data, "Resource");
    resource_info res;
    while (!r.done()) {
        const auto [f, wt] = r.tag();
        if (f == 1)
            pb_key_values(r, wt, res.attributes, 0);
        else
            r.skip(wt);
    }
    if (auto it = res.attributes.find("service.name"); it != res.attributes.end() && it->value().is_string())
        res.service = std::string(it->value().get_string());
    return res;
}

std::string pb_scope_name(std::string_view data) {
    pb_reader r(data, "InstrumentationScope");
    std::string name;
    while (!r.done()) {
        const auto [f, wt] = r.tag();
        if (f == 1)
            name = r.string(wt, "name");
        else
            r.skip(wt);
    }
    return name;
}

span_event pb_event(std::string_view data) {
    pb_reader r(data, "Span.Event");
    span_event e;
    while (!r.done()) {
        const auto [f, wt] = r.tag();
        switch (f) {
            case 1: r.expect(wt, wt_fixed64, "time_unix_nano"); e.time_ns = static_cast<std::int64_t>(r.fixed64()); break;
            case 2: e.name = r.string(wt, "name"); break;
            case 3: pb_key_values(r, wt, e.attributes, 0); break;
            default: r.skip(wt);
        }
    }
    return e;
}

void pb_status(std::string_view data, span_record& s) {
    pb_reader r(data, "Status");
    while (!r.done()) {
        const auto [f, wt] = r.tag();
        if (f == 2)
            s.status_message = r.string(wt, "message");
        else if (f == 3) {
            r.expect(wt, wt_varint, "code");
            s.status_code = static_cast<int>(r.varint() & 0xFFFFFFFF);
        } else
            r.skip(wt);
    }
}

/// Keeps `s` when its ids are valid, else counts it as rejected.
void admit(decoded_request& out, span_record&& s) {
    const char* why = nullptr;
    if (!valid_hex_id(s.trace_id, 32)) why = "trace_id must be 16 bytes and not all zero";
    else if (!valid_hex_id(s.span_id, 16)) why = "span_id must be 8 bytes and not all zero";
    else if (!s.parent_id.empty() && !valid_hex_id(s.parent_id, 16)) s.parent_id.clear();   // all-zero parent = root
    if (why) {
        if (out.rejected_spans++ == 0) out.rejection_message = std::string("span '") + s.name + "': " + why;
        return;
    }
    if (s.status_code < 0 || s.status_code > 2) s.status_code = 0;
    derive_fields(s);
    out.spans.push_back(std::move(s));
}

void pb_span(std::string_view data, const resource_info& res, const std::string& scope, decoded_request& out) {
    pb_reader r(data, "Span");
    span_record s;
    std::string_view tid, sid;
    while (!r.done()) {
        const auto [f, wt] = r.tag();
        switch (f) {
            case 1: r.expect(wt, wt_length, "trace_id"); tid = r.bytes(); break;
            case 2: r.expect(wt, wt_length, "span_id"); sid = r.bytes(); break;
            case 4: {
                r.expect(wt, wt_length, "parent_span_id");
                s.parent_id = to_hex(r.bytes());
                break;
            }
            case 5: s.name = r.string(wt, "name"); break;
            case 6: r.expect(wt, wt_varint, "kind"); s.otel_kind = static_cast<int>(r.varint() & 7); break;
            case 7: r.expect(wt, wt_fixed64, "start_time_unix_nano"); s.start_ns = static_cast<std::int64_t>(r.fixed64()); break;
            case 8: r.expect(wt, wt_fixed64, "end_time_unix_nano"); s.end_ns = static_cast<std::int64_t>(r.fixed64()); break;
            case 9: pb_key_values(r, wt, s.attributes, 0); break;
            case 11: r.expect(wt, wt_length, "events"); s.events.push_back(pb_event(r.bytes())); break;
            case 15: r.expect(wt, wt_length, "status"); pb_status(r.bytes(), s); break;
            default: r.skip(wt);   // trace_state, links, dropped counts, flags: not kept
        }
    }
    s.trace_id = to_hex(tid);
    s.span_id = to_hex(sid);
    s.service = res.service;
    s.resource = res.attributes;
    s.scope = scope;
    admit(out, std::move(s));
}

void pb_scope_spans(std::string_view data, const resource_info& res, decoded_request& out) {
    pb_reader r(data, "ScopeSpans");
    std::string scope;
    std::vector<std::string_view> spans;   // the scope may follow its spans on the wire
    while (!r.done()) {
        const auto [f, wt] = r.tag();
        if (f == 1) {
            r.expect(wt, wt_length, "scope");
            scope = pb_scope_name(r.bytes());
        } else if (f == 2) {
            r.expect(wt, wt_length, "spans");
            spans.push_back(r.bytes());
        } else
            r.skip(wt);
    }
    for (std::string_view s : spans) pb_span(s, res, scope, out);
}

void pb_resource_spans(std::string_view data, decoded_request& out) {
    pb_reader r(data, "ResourceSpans");
    resource_info res;
    std::vector<std::string_view> scopes;
    while (!r.done()) {
        const auto [f, wt] = r.tag();
        if (f == 1) {
            r.expect(wt, wt_length, "resource");
            res = pb_resource(r.bytes());
        } else if (f == 2) {
            r.expect(wt, wt_length, "scope_spans");
            scopes.push_back(r.bytes());
        } else
            r.skip(wt);
    }
    for (std::string_view s : scopes) pb_scope_spans(s, res, out);
}

// ----------------------------------------------------------------------- JSON reading

[[noreturn]] void jfail(const std::string& path, const std::string& why) { throw input_error(path + ": " + why); }

const json::object& as_object(const json::value& v, const std::string& path) {
    if (!v.is_object()) jfail(path, "expected an object");
    return v.get_object();
}

const json::array* array_field(const json::object& o, std::string_view key, const std::string& path) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return nullptr;
    if (!it->value().is_array()) jfail(path + "." + std::string(key), "expected an array");
    return &it->value().get_array();
}

std::string string_field(const json::object& o, std::string_view key, const std::string& path) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return {};
    if (!it->value().is_string()) jfail(path + "." + std::string(key), "expected a string");
    return std::string(it->value().get_string());
}

/// A 64-bit integer given as a number or a decimal string (the protobuf JSON mapping).
std::int64_t int_field(const json::object& o, std::string_view key, const std::string& path) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return 0;
    const json::value& v = it->value();
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64()) return static_cast<std::int64_t>(v.get_uint64());
    if (v.is_double() && std::floor(v.get_double()) == v.get_double() && std::fabs(v.get_double()) < 9.3e18)
        return static_cast<std::int64_t>(v.get_double());
    if (v.is_string()) {
        const std::string s(v.get_string());
        char* end = nullptr;
        errno = 0;
        const long long n = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && end && *end == '\0' && errno == 0) return n;
        const unsigned long long u = std::strtoull(s.c_str(), &end, 10);   // fixed64 above INT64_MAX
        if (!s.empty() && s[0] != '-' && end && *end == '\0' && errno == 0) return static_cast<std::int64_t>(u);
    }
    jfail(path + "." + std::string(key), "expected an integer (number or decimal string)");
}

/// An enum given as its number or its name ("SPAN_KIND_SERVER", "STATUS_CODE_ERROR").
int enum_field(const json::object& o, std::string_view key, const std::string& path,
               std::initializer_list<std::string_view> names) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return 0;
    if (it->value().is_string()) {
        int i = 0;
        for (std::string_view n : names) {
            if (it->value().get_string() == n) return i;
            ++i;
        }
        jfail(path + "." + std::string(key), "unknown enum name '" + std::string(it->value().get_string()) + "'");
    }
    return static_cast<int>(int_field(o, key, path));
}

std::string hex_id_field(const json::object& o, std::string_view key, const std::string& path) {
    std::string s = string_field(o, key, path);
    for (char& c : s) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) jfail(path + "." + std::string(key), "expected hex digits");
    }
    return s;
}

void json_key_values(const json::object& parent, std::string_view field, const std::string& path, json::object& into, int depth);

json::value json_any_value(const json::value& v, const std::string& path, int depth) {
    if (depth > max_depth) jfail(path, "nested deeper than " + std::to_string(max_depth));
    if (v.is_null()) return nullptr;
    const json::object& o = as_object(v, path);
    if (auto it = o.find("stringValue"); it != o.end()) {
        if (!it->value().is_string()) jfail(path + ".stringValue", "expected a string");
        return it->value();
    }
    if (auto it = o.find("boolValue"); it != o.end()) {
        if (!it->value().is_bool()) jfail(path + ".boolValue", "expected true or false");
        return it->value();
    }
    if (o.contains("intValue")) return int_field(o, "intValue", path);
    if (auto it = o.find("doubleValue"); it != o.end()) {
        const json::value& d = it->value();
        if (d.is_double()) return d;
        if (d.is_int64() || d.is_uint64()) return d.to_number<double>();
        if (d.is_string() && (d.get_string() == "NaN" || d.get_string() == "Infinity" || d.get_string() == "-Infinity")) return d;
        jfail(path + ".doubleValue", "expected a number");
    }
    if (auto it = o.find("arrayValue"); it != o.end()) {
        json::array arr;
        if (const json::array* vals = array_field(as_object(it->value(), path + ".arrayValue"), "values", path + ".arrayValue")) {
            std::size_t i = 0;
            for (const json::value& e : *vals) arr.push_back(json_any_value(e, path + ".arrayValue.values[" + std::to_string(i++) + "]", depth + 1));
        }
        return arr;
    }
    if (auto it = o.find("kvlistValue"); it != o.end()) {
        json::object obj;
        json_key_values(as_object(it->value(), path + ".kvlistValue"), "values", path + ".kvlistValue", obj, depth + 1);
        return obj;
    }
    if (auto it = o.find("bytesValue"); it != o.end()) {
        if (!it->value().is_string()) jfail(path + ".bytesValue", "expected a base64 string");
        return it->value();
    }
    return nullptr;
}

void json_key_values(const json::object& parent, std::string_view field, const std::string& path, json::object& into, int depth) {
    const json::array* kvs = array_field(parent, field, path);
    if (!kvs) return;
    std::size_t i = 0;
    for (const json::value& kv : *kvs) {
        const std::string p = path + "." + std::string(field) + "[" + std::to_string(i++) + "]";
        const json::object& o = as_object(kv, p);
        std::string key = string_field(o, "key", p);
        auto it = o.find("value");
        into[key] = it == o.end() ? json::value(nullptr) : json_any_value(it->value(), p + ".value", depth);
    }
}

void json_span(const json::object& o, const std::string& path, const resource_info& res, const std::string& scope, decoded_request& out) {
    span_record s;
    s.trace_id = hex_id_field(o, "traceId", path);
    s.span_id = hex_id_field(o, "spanId", path);
    s.parent_id = hex_id_field(o, "parentSpanId", path);
    s.name = string_field(o, "name", path);
    s.otel_kind = enum_field(o, "kind", path, {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
                                               "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"});
    s.start_ns = int_field(o, "startTimeUnixNano", path);
    s.end_ns = int_field(o, "endTimeUnixNano", path);
    json_key_values(o, "attributes", path, s.attributes, 0);
    if (const json::array* evs = array_field(o, "events", path)) {
        std::size_t i = 0;
        for (const json::value& ev : *evs) {
            const std::string p = path + ".events[" + std::to_string(i++) + "]";
            const json::object& eo = as_object(ev, p);
            span_event e;
            e.time_ns = int_field(eo, "timeUnixNano", p);
            e.name = string_field(eo, "name", p);
            json_key_values(eo, "attributes", p, e.attributes, 0);
            s.events.push_back(std::move(e));
        }
    }
    if (auto it = o.find("status"); it != o.end() && !it->value().is_null()) {
        const json::object& st = as_object(it->value(), path + ".status");
        s.status_message = string_field(st, "message", path + ".status");
        s.status_code = enum_field(st, "code", path + ".status", {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"});
    }
    s.service = res.service;
    s.resource = res.attributes;
    s.scope = scope;
    admit(out, std::move(s));
}

} // namespace

bool valid_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        const unsigned c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        int n;
        std::uint32_t cp;
        if ((c & 0xE0) == 0xC0) n = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0) n = 2, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0) n = 3, cp = c & 0x07;
        else return false;
        if (end - p <= n) return false;
        for (int i = 1; i <= n; ++i) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

decoded_request decode_otlp_protobuf(std::string_view body) {
    decoded_request out;
    pb_reader r(body, "ExportTraceServiceRequest");
    while (!r.done()) {
        const auto [f, wt] = r.tag();
        if (f == 1) {
            r.expect(wt, wt_length, "resource_spans");
            pb_resource_spans(r.bytes(), out);
        } else
            r.skip(wt);
    }
    return out;
}

decoded_request decode_otlp_json(std::string_view body) {
    boost::system::error_code ec;
    json::parse_options opt;
    opt.max_depth = 4 * max_depth + 16;
    const json::value doc = json::parse(body, ec, {}, opt);
    if (ec) throw input_error("request body is not valid JSON: " + ec.message());
    decoded_request out;
    const json::object& root = as_object(doc, "request");
    if (const json::array* rss = array_field(root, "resourceSpans", "request")) {
        std::size_t i = 0;
        for (const json::value& rsv : *rss) {
            const std::string rp = "resourceSpans[" + std::to_string(i++) + "]";
            const json::object& rs = as_object(rsv, rp);
            resource_info res;
            if (auto it = rs.find("resource"); it != rs.end() && !it->value().is_null()) {
                json_key_values(as_object(it->value(), rp + ".resource"), "attributes", rp + ".resource", res.attributes, 0);
                if (auto sn = res.attributes.find("service.name"); sn != res.attributes.end() && sn->value().is_string())
                    res.service = std::string(sn->value().get_string());
            }
            if (const json::array* sss = array_field(rs, "scopeSpans", rp)) {
                std::size_t j = 0;
                for (const json::value& ssv : *sss) {
                    const std::string sp = rp + ".scopeSpans[" + std::to_string(j++) + "]";
                    const json::object& ss = as_object(ssv, sp);
                    std::string scope;
                    if (auto it = ss.find("scope"); it != ss.end() && !it->value().is_null())
                        scope = string_field(as_object(it->value(), sp + ".scope"), "name", sp + ".scope");
                    if (const json::array* spans = array_field(ss, "spans", sp)) {
                        std::size_t k = 0;
                        for (const json::value& s : *spans) {
                            const std::string p = sp + ".spans[" + std::to_string(k++) + "]";
                            json_span(as_object(s, p), p, res, scope, out);
                        }
                    }
                }
            }
        }
    }
    return out;
}

std::string encode_response_protobuf(std::int64_t rejected, std::string_view message) {
    if (rejected == 0 && message.empty()) return {};
    auto varint = [](std::string& o, std::uint64_t v) {
        while (v >= 0x80) {
            o.push_back(static_cast<char>((v & 0x7F) | 0x80));
            v >>= 7;
        }
        o.push_back(static_cast<char>(v));
    };
    std::string partial;
    if (rejected) {
        partial.push_back(0x08);
        varint(partial, static_cast<std::uint64_t>(rejected));
    }
    if (!message.empty()) {
        partial.push_back(0x12);
        varint(partial, message.size());
        partial.append(message);
    }
    std::string out;
    out.push_back(0x0A);
    varint(out, partial.size());
    return out + partial;
}

std::string encode_response_json(std::int64_t rejected, std::string_view message) {
    if (rejected == 0 && message.empty()) return "{}";
    json::object partial;
    partial["rejectedSpans"] = std::to_string(rejected);
    partial["errorMessage"] = message;
    json::object o;
    o["partialSuccess"] = std::move(partial);
    return json::serialize(o);
}

} // namespace tctool
