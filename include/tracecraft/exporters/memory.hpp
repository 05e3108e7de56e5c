// TraceCraft C++ — in-memory and null exporters (tests, benchmarks).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "tracecraft/exporter.hpp"

namespace tracecraft {

/// Keeps an owning copy of every exported span. Thread-safe accessors.
class memory_exporter final : public exporter {
public:
    [[nodiscard]] std::string_view name() const noexcept override { return "memory"; }
    boost::asio::awaitable<export_result> export_batch(span_batch batch) override;

    /// Copy of all spans exported so far.
    [[nodiscard]] std::vector<span_data> spans() const;
    /// Removes and returns all spans exported so far.
    std::vector<span_data> take();
    [[nodiscard]] std::size_t span_count() const;
    [[nodiscard]] std::uint64_t batch_count() const noexcept { return batches_.load(); }

private:
    mutable std::mutex m_;
    std::vector<span_data> spans_;
    std::atomic<std::uint64_t> batches_{0};
};

/// Discards everything; counts spans and batches.
class null_exporter final : public exporter {
public:
    [[nodiscard]] std::string_view name() const noexcept override { return "null"; }
    boost::asio::awaitable<export_result> export_batch(span_batch batch) override;
    [[nodiscard]] std::uint64_t spans() const noexcept { return spans_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint64_t batches() const noexcept { return batches_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> spans_{0};
    std::atomic<std::uint64_t> batches_{0};
};

} // namespace tracecraft
