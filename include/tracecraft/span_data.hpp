// TraceCraft C++ — read access to finished spans, for exporters.
//
// `span_view` / `trace_view` read a finished span straight out of its record (no copy);
// `span_data` is an owning snapshot for code that keeps spans around (tests, the in-memory
// exporter). Attributes are exposed last-write-wins: if a key was set twice, only the last
// value is visited.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tracecraft/attribute.hpp"
#include "tracecraft/ids.hpp"
#include "tracecraft/span_kind.hpp"

namespace tracecraft {

namespace detail {
struct span_record;
struct trace_buffer;
struct attr_list;
struct event_record;
struct link_record;
struct view_access;
} // namespace detail

/// Visits attributes of a list, last write wins, in first-set order.
class attribute_range {
public:
    attribute_range() noexcept = default;   ///< empty
    /// f(std::string_view key, const value_view& value)
    template <class F>
    void for_each(F&& f) const;
    [[nodiscard]] std::size_t raw_count() const noexcept;
    /// The value of `key`, or a value of type none.
    [[nodiscard]] value_view find(std::string_view key) const noexcept;

private:
    friend class span_view;
    friend class event_view;
    friend class link_view;
    friend struct detail::view_access;
    explicit attribute_range(const detail::attr_list* l) noexcept : list_(l) {}
    const detail::attr_list* list_ = nullptr;
};

class event_view {
public:
    [[nodiscard]] std::string_view name() const noexcept;
    [[nodiscard]] std::int64_t time_unix_ns() const noexcept;
    [[nodiscard]] attribute_range attributes() const noexcept;

private:
    friend class span_view;
    explicit event_view(const detail::event_record* e) noexcept : e_(e) {}
    const detail::event_record* e_;
};

class link_view {
public:
    [[nodiscard]] const span_context& context() const noexcept;
    [[nodiscard]] attribute_range attributes() const noexcept;

private:
    friend class span_view;
    explicit link_view(const detail::link_record* l) noexcept : l_(l) {}
    const detail::link_record* l_;
};

class span_view {
public:

    [[nodiscard]] trace_id trace() const noexcept;
    [[nodiscard]] span_id id() const noexcept;
    [[nodiscard]] span_id parent_id() const noexcept;   ///< invalid (0) for a root
    [[nodiscard]] bool has_remote_parent() const noexcept;
    [[nodiscard]] bool is_local_root() const noexcept;
    [[nodiscard]] bool is_abandoned() const noexcept;
    [[nodiscard]] std::string_view name() const noexcept;
    [[nodiscard]] span_kind kind() const noexcept;
    /// The OTLP SpanKind number it is exported with (1 internal, 2 server, 3 client, ...).
    [[nodiscard]] int otlp_kind() const noexcept;
    [[nodiscard]] status_code status() const noexcept;
    [[nodiscard]] std::string_view status_message() const noexcept;
    [[nodiscard]] std::int64_t start_unix_ns() const noexcept;
    [[nodiscard]] std::int64_t end_unix_ns() const noexcept;
    /// Steady-clock duration (not the difference of two wall-clock readings).
    [[nodiscard]] std::int64_t duration_ns() const noexcept;
    [[nodiscard]] std::uint32_t depth() const noexcept;
    [[nodiscard]] std::uint32_t dropped_attributes() const noexcept;

    [[nodiscard]] attribute_range attributes() const noexcept;
    [[nodiscard]] attribute_range inputs() const noexcept;
    [[nodiscard]] attribute_range outputs() const noexcept;
    template <class F>
    void for_each_event(F&& f) const;
    template <class F>
    void for_each_link(F&& f) const;
    [[nodiscard]] std::uint32_t event_count() const noexcept;
    [[nodiscard]] std::uint32_t link_count() const noexcept;

private:
    friend class trace_view;
    friend struct detail::view_access;
    span_view(const detail::span_record* r, const detail::trace_buffer* t) noexcept : r_(r), t_(t) {}
    const detail::span_record* r_;
    const detail::trace_buffer* t_;
};

/// A finished local trace (one local root and its descendants in this process).
class trace_view {
public:
    [[nodiscard]] trace_id id() const noexcept;
    [[nodiscard]] std::string_view tracestate() const noexcept;
    /// Why the sampler kept this trace, e.g. "Kept: error trace (always_keep_errors=true)".
    [[nodiscard]] std::string sample_reason() const;
    /// The local root span, if it was recorded.
    [[nodiscard]] bool has_root() const noexcept;
    [[nodiscard]] span_view root() const noexcept;
    /// Visits every span; order is unspecified (use start times or parent ids to order).
    template <class F>
    void for_each_span(F&& f) const;
    [[nodiscard]] std::size_t span_count() const noexcept;

private:
    friend class span_batch;
    friend struct detail::view_access;
    explicit trace_view(const detail::trace_buffer* t) noexcept : t_(t) {}
    const detail::trace_buffer* t_;
};

struct event_data {
    std::string name;
    std::int64_t time_unix_ns = 0;
    std::vector<std::pair<std::string, attribute_value>> attributes;
};

struct link_data {
    span_context context;
    std::vector<std::pair<std::string, attribute_value>> attributes;
};

/// Owning copy of a finished span.
struct span_data {
    trace_id trace;
    span_id id;
    span_id parent_id;
    bool remote_parent = false;
    bool local_root = false;
    bool abandoned = false;
    std::string name;
    span_kind kind = span_kind::workflow;
    int otlp_kind = 1;   ///< the OTLP SpanKind number it is exported with (1 internal, 2 server, 3 client, ...)
    status_code status = status_code::unset;
    std::string status_message;
    std::int64_t start_unix_ns = 0;
    std::int64_t end_unix_ns = 0;
    std::int64_t duration_ns = 0;
    std::uint32_t depth = 0;
    std::vector<std::pair<std::string, attribute_value>> attributes;
    std::vector<std::pair<std::string, attribute_value>> inputs;
    std::vector<std::pair<std::string, attribute_value>> outputs;
    std::vector<event_data> events;
    std::vector<link_data> links;

    /// The attribute's value, or monostate.
    [[nodiscard]] const attribute_value& attribute(std::string_view key) const;
    [[nodiscard]] const attribute_value& input(std::string_view key) const;
    [[nodiscard]] const attribute_value& output(std::string_view key) const;
};

[[nodiscard]] span_data to_span_data(const span_view& v);

} // namespace tracecraft

#include "tracecraft/detail/span_data_impl.hpp"
