// W3C Trace Context parsing and formatting.
#include "tracecraft/propagation.hpp"
#include "tracecraft/config_error.hpp"

#include <set>
#include <vector>

#include "tracecraft/detail/task_context.hpp"
#include "tracecraft/detail/trace_buffer.hpp"

namespace tracecraft {
namespace {

bool fail(std::string* error, std::string msg) {
    if (error) *error = std::move(msg);
    return false;
}

bool is_lower_hex(char c) noexcept { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool all_lower_hex(std::string_view s) noexcept {
    for (char c : s)
        if (!is_lower_hex(c)) return false;
    return true;
}

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_lcalpha(char c) noexcept { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_key_char(char c) noexcept {
    return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

bool valid_key(std::string_view k) noexcept {
    const auto at = k.find('@');
    if (at == std::string_view::npos) {
        if (k.empty() || k.size() > 256 || !is_lcalpha(k[0])) return false;
        for (char c : k.substr(1))
            if (!is_key_char(c)) return false;
        return true;
    }
    const std::string_view tenant = k.substr(0, at), system = k.substr(at + 1);
    if (tenant.empty() || tenant.size() > 241 || !(is_lcalpha(tenant[0]) || is_digit(tenant[0]))) return false;
    for (char c : tenant.substr(1))
        if (!is_key_char(c)) return false;
    if (system.empty() || system.size() > 14 || !is_lcalpha(system[0])) return false;
    for (char c : system.substr(1))
        if (!is_key_char(c)) return false;
    return true;
}

bool valid_value(std::string_view v) noexcept {
    if (v.empty() || v.size() > 256) return false;
    for (char c : v) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7E || c == ',' || c == '=') return false;
    }
    return v.back() != ' ';
}

} // namespace

std::optional<span_context> parse_traceparent(std::string_view header, std::string* error) {
    const std::string_view h = trim_ows(header);
    if (h.empty()) return fail(error, "traceparent: empty header"), std::nullopt;
    if (h.size() < 55)
        return fail(error, "traceparent: too short (" + std::to_string(h.size()) + " characters, need 55)"),
               std::nullopt;
    const std::string_view version = h.substr(0, 2);
    if (!all_lower_hex(version))
        return fail(error, "traceparent: version is not 2 lowercase hex digits"), std::nullopt;
    if (version == "ff") return fail(error, "traceparent: version ff is forbidden"), std::nullopt;
    if (h[2] != '-' || h[35] != '-' || h[52] != '-')
        return fail(error, "traceparent: fields must be separated by '-' at offsets 2, 35 and 52"), std::nullopt;
    if (version == "00" && h.size() != 55)
        return fail(error, "traceparent: version 00 must be exactly 55 characters, got " + std::to_string(h.size())),
               std::nullopt;
    if (version != "00" && h.size() > 55 && h[55] != '-')
        return fail(error, "traceparent: data after the flags of a future version must start with '-'"),
               std::nullopt;
    const std::string_view tid = h.substr(3, 32), pid = h.substr(36, 16), flags = h.substr(53, 2);
    if (!all_lower_hex(tid)) return fail(error, "traceparent: trace-id is not 32 lowercase hex digits"), std::nullopt;
    if (!all_lower_hex(pid)) return fail(error, "traceparent: parent-id is not 16 lowercase hex digits"), std::nullopt;
    if (!all_lower_hex(flags))
        return fail(error, "traceparent: trace-flags is not 2 lowercase hex digits"), std::nullopt;
    span_context ctx;
    ctx.trace = *trace_id::from_hex(tid);
    ctx.span = *span_id::from_hex(pid);
    if (!ctx.trace.valid()) return fail(error, "traceparent: trace-id is all zeros"), std::nullopt;
    if (!ctx.span.valid()) return fail(error, "traceparent: parent-id is all zeros"), std::nullopt;
    const int hi = is_digit(flags[0]) ? flags[0] - '0' : flags[0] - 'a' + 10;
    const int lo = is_digit(flags[1]) ? flags[1] - '0' : flags[1] - 'a' + 10;
    ctx.flags = static_cast<std::uint8_t>(hi * 16 + lo);
    if (version == "00") ctx.flags &= 0x01;   // only "sampled" is defined for version 00
    ctx.remote = true;
    return ctx;
}

std::optional<std::string> parse_tracestate(std::string_view header, std::string* error) {
    std::string out;
    std::set<std::string_view> keys;
    std::size_t members = 0;
    std::string_view rest = header;
    while (true) {
        const auto comma = rest.find(',');
        const std::string_view member = trim_ows(rest.substr(0, comma));
        if (!member.empty()) {
            const auto eq = member.find('=');
            if (eq == std::string_view::npos)
                return fail(error, "tracestate: list member without '=': " + config_error::quote(member)), std::nullopt;
            const std::string_view key = member.substr(0, eq), value = member.substr(eq + 1);
            if (!valid_key(key)) return fail(error, "tracestate: invalid key " + config_error::quote(key)), std::nullopt;
            if (!valid_value(value))
                return fail(error, "tracestate: invalid value for key " + config_error::quote(key)), std::nullopt;
            if (!keys.insert(key).second)
                return fail(error, "tracestate: duplicate key " + config_error::quote(key)), std::nullopt;
            if (++members > 32) return fail(error, "tracestate: more than 32 list members"), std::nullopt;
            if (!out.empty()) out += ',';
            out.append(member);
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

std::optional<propagation_context> extract(std::string_view traceparent, std::string_view tracestate,
                                           std::string* error) {
    auto parent = parse_traceparent(traceparent, error);
    if (!parent) return std::nullopt;
    propagation_context pc;
    pc.parent = *parent;
    if (!trim_ows(tracestate).empty()) {
        if (auto ts = parse_tracestate(tracestate, error)) pc.tracestate = std::move(*ts);
    }
    return pc;
}

std::string format_traceparent(const span_context& ctx) {
    std::string s(55, '-');
    s[0] = '0';
    s[1] = '0';
    ctx.trace.write_hex(s.data() + 3);
    ctx.span.write_hex(s.data() + 36);
    constexpr char hex[] = "0123456789abcdef";
    s[53] = hex[(ctx.flags >> 4) & 0xF];
    s[54] = hex[ctx.flags & 0xF];
    return s;
}

std::string current_traceparent() {
    const detail::task_context* c = detail::current_context();
    if (!c || !c->cur.ctx.valid()) return {};
    return format_traceparent(c->cur.ctx);
}

std::string current_tracestate() {
    const detail::task_context* c = detail::current_context();
    if (!c || !c->cur.trace) return {};
    return c->cur.trace->tracestate;
}

} // namespace tracecraft
