// Trace buffers: creation with the local root, completion when the last span ends, release.
#include "pipeline/runtime_core.hpp"
#include "tracecraft/detail/span_record.hpp"
#include "tracecraft/detail/trace_buffer.hpp"

namespace tracecraft::detail {
trace_buffer* trace_create(runtime_core* rt, const trace_id& id, span_record* root) {
    auto* t = new (root->alloc(sizeof(trace_buffer), alignof(trace_buffer))) trace_buffer();
    t->id = id;
    t->rt = rt;
    t->root = root;
    t->capture_content = rt->cfg.capture_message_content;
    core_add_ref(rt);
    return t;
}

void trace_close(trace_buffer* t) noexcept {
    if (t->open.fetch_sub(1, std::memory_order_acq_rel) == 1) t->rt->on_trace_complete(t);
}

void trace_destroy(trace_buffer* t) noexcept {
    span_record* const holder = t->root;   // the buffer lives in the root's arena: free it last
    span_record* s = t->ended.load(std::memory_order_acquire);
    while (s) {
        span_record* next = s->next_ended;
        if (s != holder) span_record::destroy(s);
        s = next;
    }
    runtime_core* rt = t->rt;
    t->~trace_buffer();
    span_record::destroy(holder);
    core_release(rt);
}
} // namespace tracecraft::detail
