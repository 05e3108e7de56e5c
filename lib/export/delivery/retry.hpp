// The one implementation of retry_policy (private to the library): the OTLP exporter and
// retrying_exporter both run their attempts through run_with_retries.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "tracecraft/exporter.hpp"
#include "tracecraft/retry_policy.hpp"

namespace tracecraft::detail {

/// One attempt's outcome: the result, and the server's Retry-After (negative: none).
struct attempt_result {
    export_result result;
    std::chrono::milliseconds retry_after{-1};
};

/// The waits between the attempts of one batch.
class backoff_schedule {
public:
    using clock = std::chrono::steady_clock;
    backoff_schedule(const retry_policy& p, clock::time_point first_attempt) noexcept;
    /// After failed attempt number `attempts` (1-based) at `now`: the wait before the next
    /// attempt, or nullopt when the policy says give up. `retry_after` (negative: none)
    /// replaces a shorter computed wait; a wait that would end past max_elapsed gives up.
    /// `unit_random` in [0, 1) draws the jitter (tests pass fixed values).
    [[nodiscard]] std::optional<std::chrono::milliseconds> next(std::uint32_t attempts, std::chrono::milliseconds retry_after,
                                                                clock::time_point now, double unit_random) noexcept;

private:
    const retry_policy& p_;
    clock::time_point start_;
    double interval_ms_;
};

/// Observes the retries of run_with_retries (counting, logging); all optional.
struct retry_observer {
    virtual ~retry_observer() = default;
    /// A retryable failure; the next attempt follows after `wait`.
    virtual void on_retry(const export_result& failed, std::chrono::milliseconds wait) { (void)failed, (void)wait; }
};

using attempt_fn = std::function<boost::asio::awaitable<attempt_result>()>;

/// Runs `attempt` until it succeeds, fails permanently, the policy gives up, the executor is
/// gone (shut down), or the calling coroutine is cancelled (checked after each failed attempt
/// and while waiting). Exceptions from an attempt are failures: boost::system::system_error
/// (I/O) retryable, others permanent. The result's `attempts` counts the tries; a transient
/// failure given up by the policy keeps `retryable` set.
/// `ioc` (may be null): the waits between attempts do not count as its outstanding work.
boost::asio::awaitable<export_result> run_with_retries(const retry_policy& policy, boost::asio::any_io_executor ex,
                                                       attempt_fn& attempt, retry_observer* observer,
                                                       boost::asio::io_context* ioc = nullptr);

/// Parses a Retry-After header value: delta-seconds or an IMF-fixdate (RFC 9110 §10.2.3).
/// Returns a negative duration when it is neither.
std::chrono::milliseconds parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

} // namespace tracecraft::detail
