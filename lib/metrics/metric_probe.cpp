#include "metrics/metric_probe.hpp"

#include <cstring>
#include <new>

#include "pipeline/runtime_core.hpp"
#include "tracecraft/detail/clock.hpp"
#include "tracecraft/span.hpp"

namespace tracecraft::detail {

namespace {

// Each thread keeps the probes its spans gave back (a span may end on another thread than the
// one it started on: the probe then joins that thread's list). Past max_free they are freed.
constexpr std::uint32_t max_free = 256;
thread_local metric_probe* t_free = nullptr;
thread_local std::uint32_t t_free_count = 0;

/// Frees the thread's list when the thread exits (constructed on the first allocation only).
struct free_list_owner {
    free_list_owner() noexcept = default;
    ~free_list_owner() {
        while (metric_probe* p = t_free) {
            t_free = p->next_free;
            delete p;
        }
        t_free_count = 0;
    }
};
thread_local free_list_owner t_owner;

metric_probe* take() noexcept {
    if (metric_probe* p = t_free) [[likely]] {
        t_free = p->next_free;
        --t_free_count;
        return p;
    }
    (void)&t_owner;   // registers the thread-exit cleanup
    return new (std::nothrow) metric_probe;
}

void give_back(metric_probe* p) noexcept {
    if (t_free_count >= max_free) {
        delete p;
        return;
    }
    p->next_free = t_free;
    t_free = p;
    ++t_free_count;
}

} // namespace

std::string_view metric_probe::copy(std::string_view s) noexcept {
    if (s.size() > arena_size - used) {
        lost = true;
        return {};
    }
    char* at = arena + used;
    std::memcpy(at, s.data(), s.size());
    used = static_cast<std::uint16_t>(used + s.size());
    return {at, s.size()};
}

metric_probe* probe_start(runtime_core* rt, bool hold, span_kind kind, std::string_view name) noexcept {
    metric_probe* p = take();
    if (!p) return nullptr;
    p->metrics = rt->metrics.get();
    p->held = nullptr;
    if (hold) {
        core_add_ref(rt);
        p->held = rt;
    }
    p->facts = span_facts{};
    p->kind = kind;
    p->error = false;
    p->lost = false;
    p->used = 0;
    p->name = kind == span_kind::llm ? std::string_view() : p->copy(name);   // LLM series are not by name
    p->start_ticks = now_ticks();
    return p;
}

void probe_end(metric_probe* p, bool unwinding) noexcept {
    const std::int64_t ns = tick_delta_to_ns(static_cast<std::int64_t>(now_ticks() - p->start_ticks));
    p->metrics->measure(p->kind, p->facts, p->name, p->error || unwinding, static_cast<double>(ns) / 1e9, p->lost);
    if (p->held) core_release(p->held);
    give_back(p);
}

void probe_error(metric_probe* p, std::string_view error_type) noexcept {
    p->error = true;
    if (!error_type.empty()) p->facts.error_type = p->copy(error_type);
}

void probe_string(metric_probe* p, std::string_view key, std::string_view value) noexcept {
    if (std::string_view* slot = string_fact(p->facts, key)) *slot = p->copy(value);
}

void probe_int(metric_probe* p, std::string_view key, std::int64_t value) noexcept {
    if (std::int64_t* slot = int_fact(p->facts, key)) *slot = value;
}

void probe_double(metric_probe* p, std::string_view key, double value) noexcept {
    if (double* slot = double_fact(p->facts, key)) *slot = value;
}

} // namespace tracecraft::detail
