// repair_utf8: every string of a finished trace made valid UTF-8 before export.
#include "record/utf8_repair.hpp"

#include <string>
#include <string_view>

#include "support/utf8.hpp"
#include "tracecraft/detail/span_record.hpp"
#include "tracecraft/detail/trace_buffer.hpp"

namespace tracecraft::detail {

namespace {

bool ascii(std::string_view s) noexcept {
    unsigned char any = 0;   // branch-free: the compiler vectorises it
    for (const char c : s) any |= static_cast<unsigned char>(c);
    return any < 0x80;
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
