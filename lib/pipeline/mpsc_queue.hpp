// Bounded lock-free queue (Dmitry Vyukov's array queue), used multi-producer / single-consumer:
// producers are user handlers finishing traces on any thread, the consumer is the pipeline
// strand. One CAS per push, no allocation, no lock.
#pragma once

#include <stdexcept>

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>

namespace tracecraft::detail {

template <class T>
class mpsc_queue {
public:
    explicit mpsc_queue(std::size_t min_capacity) {
        // validated configuration stays far below this; the check keeps the doubling from
        // overflowing to 0 (an endless loop) whatever a caller passes
        if (min_capacity > (std::size_t{1} << 32)) throw std::length_error("tracecraft: queue capacity above 2^32");
        std::size_t cap = 2;
        while (cap < min_capacity) cap <<= 1;
        mask_ = cap - 1;
        cells_ = std::make_unique<cell[]>(cap);
        for (std::size_t i = 0; i < cap; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

    bool try_push(T v) noexcept {
        std::size_t pos = enq_.load(std::memory_order_relaxed);
        for (;;) {
            cell& c = cells_[pos & mask_];
            const std::size_t seq = c.seq.load(std::memory_order_acquire);
            const auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos);
            if (diff == 0) {
                if (enq_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                    c.value = v;
                    c.seq.store(pos + 1, std::memory_order_release);
                    return true;
                }
            } else if (diff < 0) {
                return false;   // full
            } else {
                pos = enq_.load(std::memory_order_relaxed);
            }
        }
    }

    bool try_pop(T& out) noexcept {
        std::size_t pos = deq_.load(std::memory_order_relaxed);
        for (;;) {
            cell& c = cells_[pos & mask_];
            const std::size_t seq = c.seq.load(std::memory_order_acquire);
            const auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos + 1);
            if (diff == 0) {
                if (deq_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                    out = c.value;
                    c.seq.store(pos + mask_ + 1, std::memory_order_release);
                    return true;
                }
            } else if (diff < 0) {
                return false;   // empty
            } else {
                pos = deq_.load(std::memory_order_relaxed);
            }
        }
    }

private:
    struct cell {
        std::atomic<std::size_t> seq;
        T value;
    };
    static constexpr std::size_t line = 64;
    std::unique_ptr<cell[]> cells_;
    std::size_t mask_ = 0;
    alignas(line) std::atomic<std::size_t> enq_{0};
    alignas(line) std::atomic<std::size_t> deq_{0};
};

} // namespace tracecraft::detail
