// The in-memory exporter (owning copies, for tests) and the null exporter (counts only).
#include "tracecraft/exporters/memory.hpp"

namespace tracecraft {

boost::asio::awaitable<export_result> memory_exporter::export_batch(span_batch batch) {
    std::vector<span_data> copies;
    copies.reserve(batch.span_count());
    batch.for_each_span([&](const span_view& v) { copies.push_back(to_span_data(v)); });
    {
        std::lock_guard lk(m_);
        for (auto& c : copies) spans_.push_back(std::move(c));
    }
    batches_.fetch_add(1);
    co_return export_result::ok();
}

std::vector<span_data> memory_exporter::spans() const {
    std::lock_guard lk(m_);
    return spans_;
}

std::vector<span_data> memory_exporter::take() {
    std::lock_guard lk(m_);
    return std::exchange(spans_, {});
}

std::size_t memory_exporter::span_count() const {
    std::lock_guard lk(m_);
    return spans_.size();
}

boost::asio::awaitable<export_result> null_exporter::export_batch(span_batch batch) {
    spans_.fetch_add(batch.span_count(), std::memory_order_relaxed);
    batches_.fetch_add(1, std::memory_order_relaxed);
    co_return export_result::ok();
}

} // namespace tracecraft
