// TraceCraft C++ — counted reference to a finished trace (internal).
#pragma once

#include <utility>

namespace tracecraft::detail {

struct trace_buffer;

/// Counted reference to a finished trace; the last reference frees its memory.
class trace_ref {
public:
    trace_ref() noexcept = default;
    explicit trace_ref(trace_buffer* t) noexcept : t_(t) {}   // adopts one reference
    trace_ref(const trace_ref& o) noexcept;
    trace_ref(trace_ref&& o) noexcept : t_(o.t_) { o.t_ = nullptr; }
    trace_ref& operator=(trace_ref o) noexcept { std::swap(t_, o.t_); return *this; }
    ~trace_ref();
    [[nodiscard]] trace_buffer* get() const noexcept { return t_; }

private:
    trace_buffer* t_ = nullptr;
};

} // namespace tracecraft::detail
