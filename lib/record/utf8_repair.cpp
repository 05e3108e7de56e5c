// repair_utf8: every string of a finished trace made valid UTF-8 before export.
#include "record/utf8_repair.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "support/utf8.hpp"
#include "tracecraft/detail/span_record.hpp"
#include "tracecraft/detail/trace_buffer.hpp"

namespace tracecraft::detail {

namespace {

/// ORs the bytes of `s` into `any` (only the high bit of each byte matters): whole words, the
/// short ends as overlapping words, so a 40-byte value is three loads; inlined into one walk
/// per span with one accumulator. (GCC 12 at -O2 does not vectorise a byte loop.)
[[gnu::always_inline]] inline void or_bytes(std::string_view s, std::uint64_t& any) noexcept {
    const char* p = s.data();
    const std::size_t n = s.size();
    std::uint64_t a = 0, b = 0;
    if (n >= 16) {
        std::size_t i = 0;
        for (; i + 16 < n; i += 16) {
            std::uint64_t x, y;
            std::memcpy(&x, p + i, 8);
            std::memcpy(&y, p + i + 8, 8);
            a |= x;
            b |= y;
        }
        std::uint64_t x, y;   // the last 16 bytes (overlapping what the loop read)
        std::memcpy(&x, p + n - 16, 8);
        std::memcpy(&y, p + n - 8, 8);
        a |= x | y;
    } else if (n >= 8) {
        std::memcpy(&a, p, 8);
        std::memcpy(&b, p + n - 8, 8);
    } else if (n >= 4) {
        std::uint32_t x, y;
        std::memcpy(&x, p, 4);
        std::memcpy(&y, p + n - 4, 4);
        a = x | y;
    } else {
        for (std::size_t i = 0; i < n; ++i) a |= static_cast<unsigned char>(p[i]);
    }
    any |= a | b;
}

constexpr std::uint64_t high_bits = 0x8080808080808080ull;

bool ascii(std::string_view s) noexcept {
    std::uint64_t any = 0;
    or_bytes(s, any);
    return (any & high_bits) == 0;
}

/// True if some string of the span has a byte >= 0x80 (then, and only then, each is checked).
bool has_high_bytes(const span_record* r) noexcept {
    std::uint64_t any = 0;
    const auto list = [&any](const attr_list& l) {
        for (const attr_chunk* c = l.head; c; c = c->next)
            for (std::uint32_t i = 0; i < c->n; ++i) {
                const attr_entry& e = c->e[i];
                or_bytes(e.key.view(), any);
                if (e.value.type() == value_type::string) {
                    or_bytes(e.value.as_string(), any);
                } else if (e.value.type() == value_type::string_array) {
                    for (const std::string_view v : e.value.as_string_array()) or_bytes(v, any);
                }
            }
    };
    or_bytes(r->name.view(), any);
    or_bytes(r->status_message.view(), any);
    list(r->attrs);
    list(r->inputs);
    list(r->outputs);
    for (const event_record* e = r->events_head; e; e = e->next) {
        or_bytes(e->name.view(), any);
        list(e->attrs);
    }
    for (const link_record* l = r->links_head; l; l = l->next) list(l->attrs);
    return (any & high_bits) != 0;
}

struct repairer {
    span_record* r;
    std::size_t repaired = 0;
    std::string tmp;

    bool needs(std::string_view s) const noexcept { return !ascii(s) && !is_valid_utf8(s); }
    str_ref fixed(std::string_view s) {
        tmp.clear();
        append_valid_utf8(tmp, s);
        ++repaired;
        return r->copy(tmp);
    }
    void str(str_ref& s) {
        if (needs(s.view())) s = fixed(s.view());
    }
    void list(attr_list& l) {
        for (attr_chunk* c = l.head; c; c = c->next)
            for (std::uint32_t i = 0; i < c->n; ++i) {
                attr_entry& e = c->e[i];
                str(e.key);
                if (e.value.type() == value_type::string) {
                    if (needs(e.value.as_string())) {
                        const str_ref f = fixed(e.value.as_string());
                        e.value.set_string(f.p, f.n);
                    }
                } else if (e.value.type() == value_type::string_array) {
                    const auto arr = e.value.as_string_array();
                    for (std::size_t k = 0; k < arr.size(); ++k)
                        if (needs(arr[k])) const_cast<std::string_view*>(arr.data())[k] = fixed(arr[k]).view();
                }
            }
    }
};

} // namespace

std::size_t repair_utf8(trace_buffer* t) {
    std::size_t repaired = 0;
    for (span_record* r = t->ended.load(std::memory_order_acquire); r; r = r->next_ended) {
        if (!has_high_bytes(r)) [[likely]] continue;   // all ASCII: nothing can be invalid
        repairer fix{r, 0, {}};
        fix.str(r->name);
        fix.str(r->status_message);
        fix.list(r->attrs);
        fix.list(r->inputs);
        fix.list(r->outputs);
        for (event_record* e = r->events_head; e; e = e->next) {
            fix.str(e->name);
            fix.list(e->attrs);
        }
        for (link_record* l = r->links_head; l; l = l->next) fix.list(l->attrs);
        repaired += fix.repaired;
    }
    return repaired;
}

} // namespace tracecraft::detail
