// TraceCraft C++ — per-trace span buffer (internal).
//
// One trace_buffer per *local* trace (a local root span and everything started under it in
// this process). Spans push themselves on `ended` when they finish; `open` counts spans still
// running plus forked task contexts that may still start children. When `open` drops to zero
// the trace is complete: the processors that may run on the completing thread (enrichment,
// tail sampling) see it there, a dropped trace is freed on the spot (it never reaches a queue),
// a kept one is handed to the runtime's pipeline queue (lib/pipeline/handoff.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "tracecraft/detail/span_record.hpp"
#include "tracecraft/ids.hpp"

namespace tracecraft::detail {

/// Why a trace was kept or dropped (formatted lazily, see trace_view::sample_reason).
enum class sample_reason_code : std::uint8_t {
    rate_all,       ///< rate 1.0, no tail rules
    head_rate,      ///< rate decision at the root's start
    error,          ///< always_keep_errors
    slow,           ///< always_keep_slow
    rule_keep,
    rule_drop,
    default_keep,
    default_drop,
};

enum class head_decision : std::uint8_t {
    keep,        ///< recorded and kept unless a later stage drops it
    tail,        ///< recorded; the tail sampler decides when the trace completes
};

struct trace_buffer {
    std::atomic<std::int32_t> open{0};
    std::atomic<span_record*> ended{nullptr};
    std::atomic<std::uint32_t> refs{1};   ///< owners once complete (batches)
    std::uint32_t span_count = 0;         ///< set when the trace completes
    std::atomic<bool> has_error{false};
    /// Set (by the owning agent, before the fork exists) when a forked context joins the trace.
    /// Until then only one agent touches `ended` and `open`, so they are updated without atomic
    /// read-modify-writes; afterwards every agent uses them atomically. Atomic itself because a
    /// later fork sets it again while spans of an earlier fork read it on other threads.
    std::atomic<bool> forked{false};
    trace_id id;
    span_record* root = nullptr;          ///< local root (owned through `ended` once finished)
    runtime_core* rt = nullptr;           ///< holds a reference
    head_decision head = head_decision::keep;
    std::uint8_t reason = 0;              ///< sample_reason_code, set by the sampler
    std::uint16_t rule = 0;               ///< index of the deciding rule
    std::uint8_t span_flags = 0;          ///< union of the spans' flags, set when the trace completes
    std::uint8_t next_processor = 0;      ///< first processor not yet run (see lib/pipeline/processing.cpp)
    bool capture_content = true;          ///< trace_config::capture_message_content
    std::string tracestate;               ///< W3C tracestate carried with the trace

    /// Walks finished spans (in reverse end order).
    template <class F>
    void for_each_span(F&& f) const {
        for (span_record* s = ended.load(std::memory_order_acquire); s; s = s->next_ended) f(*s);
    }
};

/// Creates a buffer for a new local trace inside the root's record block (no allocation of its
/// own; the block is freed after the buffer, see trace_destroy); takes a reference on `rt`.
trace_buffer* trace_create(runtime_core* rt, const trace_id& id, span_record* root);
/// True once a forked context may touch the trace from another agent.
inline bool trace_forked(const trace_buffer* t) noexcept { return t->forked.load(std::memory_order_relaxed); }
/// One more open span / fork on this trace.
inline void trace_open(trace_buffer* t) noexcept { t->open.fetch_add(1, std::memory_order_relaxed); }
/// One less; completes the trace when it was the last.
void trace_close(trace_buffer* t) noexcept;
/// Frees every record and the buffer itself; releases the runtime reference.
void trace_destroy(trace_buffer* t) noexcept;
inline void trace_add_ref(trace_buffer* t) noexcept { t->refs.fetch_add(1, std::memory_order_relaxed); }
inline void trace_release(trace_buffer* t) noexcept {
    if (t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) trace_destroy(t);
}

} // namespace tracecraft::detail
