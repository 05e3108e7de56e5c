// TraceCraft C++ — a batch of finished traces, as exporters receive it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "tracecraft/detail/trace_ref.hpp"
#include "tracecraft/span_data.hpp"

namespace tracecraft {

namespace detail {
struct batch_access;
}

/// A shareable, immutable batch of finished traces. Copies share the data; span memory is
/// released when the last batch referring to a trace is destroyed.
class span_batch {
public:
    span_batch() = default;

    [[nodiscard]] std::size_t trace_count() const noexcept { return traces_ ? traces_->size() : 0; }
    [[nodiscard]] std::size_t span_count() const noexcept { return spans_; }
    [[nodiscard]] bool empty() const noexcept { return trace_count() == 0; }
    [[nodiscard]] trace_view trace(std::size_t i) const noexcept { return trace_view((*traces_)[i].get()); }

    template <class F>
    void for_each_trace(F&& f) const {
        for (std::size_t i = 0; i < trace_count(); ++i) f(trace(i));
    }
    template <class F>
    void for_each_span(F&& f) const {
        for_each_trace([&](const trace_view& t) { t.for_each_span(f); });
    }

    /// Concatenation of several batches (shares the traces).
    [[nodiscard]] static span_batch merge(const std::vector<span_batch>& parts);
    /// Splits into batches of at most `max_spans` spans (whole traces; a trace larger than
    /// max_spans forms a batch of its own).
    [[nodiscard]] std::vector<span_batch> split(std::size_t max_spans) const;
    /// Traces [first, first + count) (clamped to the batch), sharing them.
    [[nodiscard]] span_batch slice(std::size_t first, std::size_t count) const;
    /// The traces for which `keep` returns true, sharing them.
    [[nodiscard]] span_batch filter(const std::function<bool(const trace_view&)>& keep) const;

private:
    friend struct detail::batch_access;
    std::shared_ptr<const std::vector<detail::trace_ref>> traces_;
    std::size_t spans_ = 0;
};

} // namespace tracecraft
