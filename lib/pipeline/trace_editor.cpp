// What a processor may do to a finished trace: read it, add attributes, replace strings.
#include <string>

#include "record/view_access.hpp"
#include "record/string_slots.hpp"
#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/processor.hpp"

namespace tracecraft {

using namespace detail;

span_view span_editor::view() const noexcept { return view_access::span(r_, t_); }

span_editor& span_editor::set_attribute(std::string_view key, const attribute_arg& value) {
    append_attribute(r_, key, value.view());
    return *this;
}

std::size_t span_editor::rewrite_strings(const string_rewriter& f) {
    std::vector<string_slot> slots;
    collect_strings(r_, slots);
    std::size_t changed = 0;
    std::string out;
    for (const string_slot& s : slots) {
        out.clear();
        if (!f(s.section, s.key(), s.get(), out)) continue;
        s.set(r_->copy(out));
        ++changed;
    }
    return changed;
}

trace_view trace_editor::view() const noexcept { return view_access::trace(t_); }
trace_id trace_editor::id() const noexcept { return t_->id; }
std::size_t trace_editor::span_count() const noexcept { return t_->span_count; }
bool trace_editor::has_error() const noexcept { return t_->has_error.load(std::memory_order_relaxed); }
bool trace_editor::has_root() const noexcept { return t_->root != nullptr; }
span_editor trace_editor::root() noexcept { return span_editor(t_->root, t_); }

void trace_editor::for_each_span(const std::function<void(span_editor&)>& f) {
    for (span_record* s = t_->ended.load(std::memory_order_acquire); s; s = s->next_ended) {
        span_editor e(s, t_);
        f(e);
    }
}

} // namespace tracecraft
