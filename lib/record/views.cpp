// Read views of finished spans and traces, and owning snapshots (span_data).
#include "tracecraft/detail/clock.hpp"
#include "tracecraft/detail/span_record.hpp"
#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/span_data.hpp"

namespace tracecraft {

std::size_t attribute_range::raw_count() const noexcept { return list_ ? list_->count : 0; }
value_view attribute_range::find(std::string_view key) const noexcept {
    if (!list_) return {};
    const detail::attr_entry* e = list_->find(key);
    return e ? e->value : value_view{};
}

std::string_view event_view::name() const noexcept { return e_->name.view(); }
std::int64_t event_view::time_unix_ns() const noexcept { return detail::ticks_to_unix_ns(e_->ticks); }
attribute_range event_view::attributes() const noexcept { return attribute_range(&e_->attrs); }
const span_context& link_view::context() const noexcept { return l_->ctx; }
attribute_range link_view::attributes() const noexcept { return attribute_range(&l_->attrs); }

trace_id span_view::trace() const noexcept { return t_->id; }
span_id span_view::id() const noexcept { return r_->id; }
span_id span_view::parent_id() const noexcept { return r_->parent; }
bool span_view::has_remote_parent() const noexcept { return (r_->flags & detail::span_flag_remote_parent) != 0; }
bool span_view::is_local_root() const noexcept { return (r_->flags & detail::span_flag_local_root) != 0; }
bool span_view::is_abandoned() const noexcept { return (r_->flags & detail::span_flag_abandoned) != 0; }
std::string_view span_view::name() const noexcept { return r_->name.view(); }
span_kind span_view::kind() const noexcept { return r_->kind; }
int span_view::otlp_kind() const noexcept { return otlp_span_kind_of(r_->otel_kind, r_->kind); }
status_code span_view::status() const noexcept { return r_->status; }
std::string_view span_view::status_message() const noexcept { return r_->status_message.view(); }
std::int64_t span_view::start_unix_ns() const noexcept { return detail::ticks_to_unix_ns(r_->start_ticks); }
std::int64_t span_view::end_unix_ns() const noexcept { return start_unix_ns() + duration_ns(); }
std::int64_t span_view::duration_ns() const noexcept {
    return detail::tick_delta_to_ns(static_cast<std::int64_t>(r_->end_ticks - r_->start_ticks));
}
std::uint32_t span_view::depth() const noexcept { return r_->depth; }
std::uint32_t span_view::dropped_attributes() const noexcept { return r_->dropped_attributes; }
attribute_range span_view::attributes() const noexcept { return attribute_range(&r_->attrs); }
attribute_range span_view::inputs() const noexcept { return attribute_range(&r_->inputs); }
attribute_range span_view::outputs() const noexcept { return attribute_range(&r_->outputs); }
std::uint32_t span_view::event_count() const noexcept { return r_->n_events; }
std::uint32_t span_view::link_count() const noexcept { return r_->n_links; }

trace_id trace_view::id() const noexcept { return t_->id; }
std::string_view trace_view::tracestate() const noexcept { return t_->tracestate; }
bool trace_view::has_root() const noexcept { return t_->root != nullptr; }
span_view trace_view::root() const noexcept { return span_view(t_->root, t_); }
std::size_t trace_view::span_count() const noexcept { return t_->span_count; }

namespace {
std::vector<std::pair<std::string, attribute_value>> copy_attrs(const attribute_range& r) {
    std::vector<std::pair<std::string, attribute_value>> out;
    r.for_each([&](std::string_view k, const value_view& v) { out.emplace_back(std::string(k), v.to_value()); });
    return out;
}
const attribute_value& find_in(const std::vector<std::pair<std::string, attribute_value>>& v, std::string_view k) {
    static const attribute_value none;
    for (const auto& [key, val] : v)
        if (key == k) return val;
    return none;
}
} // namespace

const attribute_value& span_data::attribute(std::string_view key) const { return find_in(attributes, key); }
const attribute_value& span_data::input(std::string_view key) const { return find_in(inputs, key); }
const attribute_value& span_data::output(std::string_view key) const { return find_in(outputs, key); }

span_data to_span_data(const span_view& v) {
    span_data d;
    d.trace = v.trace();
    d.id = v.id();
    d.parent_id = v.parent_id();
    d.remote_parent = v.has_remote_parent();
    d.local_root = v.is_local_root();
    d.abandoned = v.is_abandoned();
    d.name = std::string(v.name());
    d.kind = v.kind();
    d.otlp_kind = v.otlp_kind();
    d.status = v.status();
    d.status_message = std::string(v.status_message());
    d.start_unix_ns = v.start_unix_ns();
    d.duration_ns = v.duration_ns();
    d.end_unix_ns = v.end_unix_ns();
    d.depth = v.depth();
    d.attributes = copy_attrs(v.attributes());
    d.inputs = copy_attrs(v.inputs());
    d.outputs = copy_attrs(v.outputs());
    v.for_each_event([&](const event_view& e) {
        d.events.push_back(event_data{std::string(e.name()), e.time_unix_ns(), copy_attrs(e.attributes())});
    });
    v.for_each_link([&](const link_view& l) { d.links.push_back(link_data{l.context(), copy_attrs(l.attributes())}); });
    return d;
}

} // namespace tracecraft
