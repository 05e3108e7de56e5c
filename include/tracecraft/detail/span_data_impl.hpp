// TraceCraft C++ — template parts of span_data.hpp (internal).
#pragma once

#include "tracecraft/detail/span_record.hpp"
#include "tracecraft/detail/trace_buffer.hpp"

namespace tracecraft {

template <class F>
void attribute_range::for_each(F&& f) const {
    if (!list_) return;
    list_->for_each_visible([&](const detail::attr_entry& e) { f(e.key.view(), e.value); });
}

template <class F>
void span_view::for_each_event(F&& f) const {
    for (const detail::event_record* e = r_->events_head; e; e = e->next) f(event_view(e));
}

template <class F>
void span_view::for_each_link(F&& f) const {
    for (const detail::link_record* l = r_->links_head; l; l = l->next) f(link_view(l));
}

template <class F>
void trace_view::for_each_span(F&& f) const {
    t_->for_each_span([&](const detail::span_record& r) { f(span_view(&r, t_)); });
}

} // namespace tracecraft
