// Recording into a span: attributes (with the span's limits), inputs and outputs, events,
// links, status, usage — the span handle's setters.
#include "tracecraft/span.hpp"

#include <algorithm>
#include <cstring>

#include "tracecraft/detail/clock.hpp"
#include "tracecraft/detail/span_record.hpp"
#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/detail/task_context.hpp"
#include "llm/token_counts.hpp"
#include "metrics/metric_probe.hpp"

namespace tracecraft {

using namespace detail;

namespace {

std::uint32_t utf8_truncate_len(std::string_view s, std::uint32_t max) noexcept {
    if (s.size() <= max) return static_cast<std::uint32_t>(s.size());
    std::uint32_t n = max;
    // step back over UTF-8 continuation bytes so we never cut a code point in half
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return n;
}

/// A string value cut to the span's max_attribute_value_length (never inside a UTF-8 sequence).
inline std::string_view limit_value(const span_record* r, std::string_view s) noexcept {
    if (r->max_value_length != 0 && s.size() > r->max_value_length) [[unlikely]]
        s = s.substr(0, utf8_truncate_len(s, r->max_value_length));
    return s;
}

/// A new attribute entry with its key, and `value_bytes` copied right after the key in the same
/// bump allocation (at e->key.p + e->key.n); nullptr when a limited list is full (counted).
inline attr_entry* new_attr(span_record* r, attr_list& list, std::string_view key, bool limited,
                            std::string_view value_bytes) {
    if (limited && r->attrs.count >= r->max_attributes) [[unlikely]] {
        ++r->dropped_attributes;
        return nullptr;
    }
    attr_entry* e = r->append(list);
    auto* p = static_cast<char*>(r->alloc(key.size() + value_bytes.size(), 1));
    copy_short(p, key.data(), key.size());
    copy_short(p + key.size(), value_bytes.data(), value_bytes.size());
    e->key.p = p;
    e->key.n = static_cast<std::uint32_t>(key.size());
    return e;
}

void append_attr(span_record* r, attr_list& list, std::string_view key, const value_view& v, bool limited) {
    if (v.type() == value_type::string) {
        const std::string_view s = limit_value(r, v.as_string());
        if (attr_entry* e = new_attr(r, list, key, limited, s))
            e->value.set_string(e->key.p + e->key.n, static_cast<std::uint32_t>(s.size()));
        return;
    }
    attr_entry* e = new_attr(r, list, key, limited, {});
    if (!e) return;
    switch (v.type()) {
        case value_type::int64: e->value.set_int(v.as_int()); break;
        case value_type::float64: e->value.set_double(v.as_double()); break;
        case value_type::boolean: e->value.set_bool(v.as_bool()); break;
        default: e->value.set_array(v.type(), v.array_data(), v.array_size()); break;
    }
}

} // namespace

void detail::append_attribute(span_record* r, std::string_view key, const value_view& v) { append_attr(r, r->attrs, key, v, false); }

namespace {
/// Appends `node` to an intrusive singly linked list kept as head and tail.
template <class T>
void link_last(T*& head, T*& tail, T* node) noexcept {
    if (tail)
        tail->next = node;
    else
        head = node;
    tail = node;
}
} // namespace

link_record* detail::append_link(span_record* r, const span_context& ctx) {
    auto* l = static_cast<link_record*>(r->alloc(sizeof(link_record), alignof(link_record)));
    new (l) link_record();
    l->ctx = ctx;
    link_last(r->links_head, r->links_tail, l);
    ++r->n_links;
    return l;
}

namespace {
template <class T>
value_view copy_array(span_record* r, value_type t, std::span<const T> values) {
    auto* p = static_cast<T*>(r->alloc(sizeof(T) * std::max<std::size_t>(values.size(), 1), alignof(T)));
    for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i];
    return value_view::of_array(t, p, static_cast<std::uint32_t>(values.size()));
}

template <class S>
value_view copy_string_array(span_record* r, std::span<const S> values) {
    auto* p = static_cast<std::string_view*>(
        r->alloc(sizeof(std::string_view) * std::max<std::size_t>(values.size(), 1), alignof(std::string_view)));
    for (std::size_t i = 0; i < values.size(); ++i) {
        const str_ref c = r->copy(std::string_view(values[i]));
        p[i] = c.view();
    }
    return value_view::of_array(value_type::string_array, p, static_cast<std::uint32_t>(values.size()));
}
} // namespace

// ---------------------------------------------------------------- span handle

span current_span() noexcept {
    const task_context* c = current_context();
    if (c->cur.mode == span_mode::recording && c->cur.rec) return span(c->cur.rec, c->cur.ctx);
    if (c->cur.mode == span_mode::non_recording && c->cur.probe) return span(c->cur.probe, c->cur.ctx);
    return span(static_cast<detail::span_record*>(nullptr), c->cur.ctx);
}

span_context current_span_context() noexcept { return current_context()->cur.ctx; }

void span::set_attribute_impl(std::string_view key, const attribute_arg& value) {
    append_attr(rec_, rec_->attrs, key, value.view(), true);
}
void span::set_string_attribute_impl(std::string_view key, std::string_view value) {
    value = limit_value(rec_, value);
    if (attr_entry* e = new_attr(rec_, rec_->attrs, key, true, value))
        e->value.set_string(e->key.p + e->key.n, static_cast<std::uint32_t>(value.size()));
}
void span::set_int_attribute_impl(std::string_view key, std::int64_t value) {
    if (attr_entry* e = new_attr(rec_, rec_->attrs, key, true, {})) e->value.set_int(value);
}
span& span::set_attribute(std::string_view key, std::span<const std::string_view> values) {
    if (rec_) append_attr(rec_, rec_->attrs, key, copy_string_array(rec_, values), true);
    return *this;
}
span& span::set_attribute(std::string_view key, std::span<const std::string> values) {
    if (rec_) append_attr(rec_, rec_->attrs, key, copy_string_array(rec_, values), true);
    return *this;
}
span& span::set_attribute(std::string_view key, std::span<const std::int64_t> values) {
    if (rec_) append_attr(rec_, rec_->attrs, key, copy_array(rec_, value_type::int64_array, values), true);
    return *this;
}
span& span::set_attribute(std::string_view key, std::span<const double> values) {
    if (rec_) append_attr(rec_, rec_->attrs, key, copy_array(rec_, value_type::float64_array, values), true);
    return *this;
}

span& span::set_attribute(std::string_view key, std::span<const bool> values) {
    if (rec_) append_attr(rec_, rec_->attrs, key, copy_array(rec_, value_type::bool_array, values), true);
    return *this;
}
span& span::set_attribute(std::string_view key, const std::vector<bool>& values) {
    if (!rec_) return *this;
    auto* p = static_cast<bool*>(rec_->alloc(std::max<std::size_t>(values.size(), 1), alignof(bool)));
    for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i];
    append_attr(rec_, rec_->attrs, key, value_view::of_array(value_type::bool_array, p, static_cast<std::uint32_t>(values.size())),
                true);
    return *this;
}

void span::set_input_impl(std::string_view name, const attribute_arg& value) {
    if (rec_->flags & span_flag_no_inputs) return;
    for (std::uint32_t i = 0; i < rec_->n_excluded; ++i) {
        if (rec_->excluded_inputs[i].view() == name) {
            append_attr(rec_, rec_->inputs, name, attribute_arg("[EXCLUDED]").view(), false);
            return;
        }
    }
    append_attr(rec_, rec_->inputs, name, value.view(), false);
}

void span::set_output_impl(std::string_view name, const attribute_arg& value) {
    if (!rec_->trace->capture_content) return;   // trace_config::capture_message_content = false
    append_attr(rec_, rec_->outputs, name, value.view(), false);
}

span& span::set_model(std::string_view model, std::string_view provider) {
    if (!rec_ && !probe_) return *this;
    set_attribute("gen_ai.request.model", model);
    if (!provider.empty()) set_attribute("gen_ai.provider.name", provider);
    return *this;
}

span& span::set_tokens(std::int64_t input_tokens, std::int64_t output_tokens) {
    if (!rec_ && !probe_) return *this;
    set_attribute("gen_ai.usage.input_tokens", detail::clamp_tokens(input_tokens, "input_tokens"));
    set_attribute("gen_ai.usage.output_tokens", detail::clamp_tokens(output_tokens, "output_tokens"));
    if (rec_) rec_->flags |= span_flag_usage;
    return *this;
}

span& span::set_usage(const token_usage& usage) {
    if (!rec_ && !probe_) return *this;
    set_tokens(usage.input_tokens, usage.output_tokens);
    if (usage.estimated) set_attribute("tracecraft.usage.estimated", true);
    return *this;
}

span& span::set_cost(double usd) { return set_attribute("tracecraft.cost_usd", usd); }

span& span::add_event(std::string_view name, std::initializer_list<key_value> attributes) {
    if (!rec_) return *this;
    auto* e = static_cast<event_record*>(rec_->alloc(sizeof(event_record), alignof(event_record)));
    new (e) event_record();
    e->name = rec_->copy(name);
    e->ticks = now_ticks();
    for (const auto& kv : attributes) append_attr(rec_, e->attrs, kv.key, kv.value.view(), false);
    link_last(rec_->events_head, rec_->events_tail, e);
    ++rec_->n_events;
    return *this;
}

span& span::add_link(const span_context& linked) {
    if (rec_ && linked.valid()) append_link(rec_, linked);
    return *this;
}

span& span::set_status(status_code code, std::string_view message) {
    if (!rec_) {
        if (probe_ && code == status_code::error) detail::probe_error(probe_, {});
        return *this;
    }
    if (code == status_code::unset || rec_->status == status_code::ok) return *this;
    rec_->status = code;
    rec_->status_message = code == status_code::error ? rec_->copy(message) : str_ref{};
    return *this;
}

span& span::set_name(std::string_view name) {
    if (rec_) rec_->name = rec_->copy(name);
    return *this;
}

} // namespace tracecraft
