// Library access to the read views' constructors (the public classes are made by the library).
#pragma once

#include "tracecraft/span_data.hpp"

namespace tracecraft::detail {

struct view_access {
    static trace_view trace(const trace_buffer* t) noexcept { return trace_view(t); }
    static span_view span(const span_record* r, const trace_buffer* t) noexcept { return span_view(r, t); }
    static const trace_buffer* buffer(const trace_view& v) noexcept { return v.t_; }
};

} // namespace tracecraft::detail
