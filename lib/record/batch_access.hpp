// Library access to a span_batch's traces (the public class shows views only).
#pragma once

#include <vector>

#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/span_batch.hpp"

namespace tracecraft::detail {

struct batch_access {
    static span_batch make(std::vector<trace_ref> traces) {
        span_batch b;
        for (const auto& t : traces) b.spans_ += t.get()->span_count;
        b.traces_ = std::make_shared<const std::vector<trace_ref>>(std::move(traces));
        return b;
    }
    static const std::vector<trace_ref>& traces(const span_batch& b) noexcept {
        static const std::vector<trace_ref> none;
        return b.traces_ ? *b.traces_ : none;
    }
};

} // namespace tracecraft::detail
