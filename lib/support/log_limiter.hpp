// Rate-limited diagnostics (private to the library).
//
// A condition that can repeat per span or per handler is said at warn the first time it happens
// and then at most once per period (10 s by default), each line carrying the running count; the
// exact counts live in runtime_stats. The hot path never logs per span.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tracecraft::detail {

class log_limiter {
public:
    explicit constexpr log_limiter(std::chrono::nanoseconds period = std::chrono::seconds(10)) noexcept
        : period_(period.count()) {}

    /// True when a line may be written now: the first call, then at most once per period.
    bool allow() noexcept {
        const std::int64_t now =
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
                .count() | 1;   // never 0 (0 means "never said")
        std::int64_t last = last_.load(std::memory_order_relaxed);
        if (last != 0 && now - last < period_) return false;
        return last_.compare_exchange_strong(last, now, std::memory_order_relaxed);
    }

private:
    std::int64_t period_;
    std::atomic<std::int64_t> last_{0};
};

} // namespace tracecraft::detail
