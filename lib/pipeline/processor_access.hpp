// Library access to the processor API's private parts (editors over records, the runtime
// behind a processor_context) — for the pipeline and the shipped processors.
#pragma once

#include "pipeline/runtime_core.hpp"
#include "tracecraft/processor.hpp"

namespace tracecraft::detail {

struct processor_access {
    static trace_editor editor(trace_buffer* t) noexcept { return trace_editor(t); }
    static trace_buffer* buffer(const trace_editor& e) noexcept { return e.t_; }
    static processor_context context(const trace_config& c, boost::asio::any_io_executor ex, runtime_core* core) noexcept {
        return processor_context(c, std::move(ex), core);
    }
    static runtime_core* core(const processor_context& c) noexcept { return c.core_; }
};

} // namespace tracecraft::detail
