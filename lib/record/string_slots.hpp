// Every string a finished span carries, as one list of slots that can be read and replaced:
// what redaction scans and span_editor::rewrite_strings visits (private to the library).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tracecraft/detail/span_record.hpp"
#include "tracecraft/processor.hpp"

namespace tracecraft::detail {

/// One string of a span: a scalar attribute value, one element of a string array, or
/// (entry == nullptr) the span's status message.
struct string_slot {
    span_record* span;
    attr_entry* entry;
    std::int32_t index;        ///< -1: scalar
    string_section section;

    [[nodiscard]] std::string_view get() const {
        if (!entry) return span->status_message.view();
        return index < 0 ? entry->value.as_string() : entry->value.as_string_array()[static_cast<std::size_t>(index)];
    }
    [[nodiscard]] std::string_view key() const { return entry ? entry->key.view() : std::string_view(); }
    /// Points the slot at `s` (memory of the span's arena).
    void set(str_ref s) const {
        if (!entry) {
            span->status_message = s;
        } else if (index < 0) {
            entry->value.set_string(s.p, s.n);
        } else {
            auto* arr = const_cast<std::string_view*>(entry->value.as_string_array().data());
            arr[index] = s.view();
        }
    }
};

/// "attributes", "inputs", "outputs", "events", "status" (field paths of redaction rules).
constexpr const char* section_name(string_section s) noexcept {
    constexpr const char* names[] = {"attributes", "inputs", "outputs", "events", "status"};
    return names[static_cast<int>(s)];
}

/// Appends every string of span `r` to `out`: attributes, inputs, outputs, event attributes,
/// status message — grouped by span, in that order.
inline void collect_strings(span_record* r, std::vector<string_slot>& out) {
    auto list = [&](attr_list& l, string_section section) {
        for (attr_chunk* c = l.head; c; c = c->next)
            for (std::uint32_t i = 0; i < c->n; ++i) {
                attr_entry& e = c->e[i];
                if (e.value.type() == value_type::string) out.push_back(string_slot{r, &e, -1, section});
                if (e.value.type() == value_type::string_array)
                    for (std::uint32_t k = 0; k < e.value.array_size(); ++k)
                        out.push_back(string_slot{r, &e, static_cast<std::int32_t>(k), section});
            }
    };
    list(r->attrs, string_section::attributes);
    list(r->inputs, string_section::inputs);
    list(r->outputs, string_section::outputs);
    for (event_record* e = r->events_head; e; e = e->next) list(e->attrs, string_section::events);
    if (r->status_message.n) out.push_back(string_slot{r, nullptr, -1, string_section::status});
}

} // namespace tracecraft::detail
