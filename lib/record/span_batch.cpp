// Batches of finished traces (shared, immutable) and the counted trace reference they hold.
#include "record/view_access.hpp"
#include "tracecraft/span_batch.hpp"

#include "record/batch_access.hpp"
#include "tracecraft/detail/trace_buffer.hpp"

namespace tracecraft {

namespace detail {
trace_ref::trace_ref(const trace_ref& o) noexcept : t_(o.t_) {
    if (t_) trace_add_ref(t_);
}
trace_ref::~trace_ref() {
    if (t_) trace_release(t_);
}
} // namespace detail

using detail::batch_access;

span_batch span_batch::merge(const std::vector<span_batch>& parts) {
    std::vector<detail::trace_ref> all;
    std::size_t n = 0;
    for (const auto& p : parts) n += p.trace_count();
    all.reserve(n);
    for (const auto& p : parts)
        for (const auto& t : batch_access::traces(p)) all.push_back(t);
    return batch_access::make(std::move(all));
}

std::vector<span_batch> span_batch::split(std::size_t max_spans) const {
    std::vector<span_batch> out;
    if (max_spans == 0 || spans_ <= max_spans) {
        if (!empty()) out.push_back(*this);
        return out;
    }
    std::vector<detail::trace_ref> cur;
    std::size_t cur_spans = 0;
    for (const auto& t : batch_access::traces(*this)) {
        const std::size_t n = t.get()->span_count;
        if (!cur.empty() && cur_spans + n > max_spans) {
            out.push_back(batch_access::make(std::move(cur)));
            cur = {};
            cur_spans = 0;
        }
        cur.push_back(t);
        cur_spans += n;
    }
    if (!cur.empty()) out.push_back(batch_access::make(std::move(cur)));
    return out;
}

span_batch span_batch::slice(std::size_t first, std::size_t count) const {
    const auto& all = batch_access::traces(*this);
    first = std::min(first, all.size());
    count = std::min(count, all.size() - first);
    if (first == 0 && count == all.size()) return *this;
    const auto b = all.begin() + static_cast<std::ptrdiff_t>(first);
    return batch_access::make(std::vector<detail::trace_ref>(b, b + static_cast<std::ptrdiff_t>(count)));
}

span_batch span_batch::filter(const std::function<bool(const trace_view&)>& keep) const {
    std::vector<detail::trace_ref> kept;
    for (const auto& t : batch_access::traces(*this))
        if (keep(detail::view_access::trace(t.get()))) kept.push_back(t);
    if (kept.size() == trace_count()) return *this;
    return batch_access::make(std::move(kept));
}

} // namespace tracecraft
