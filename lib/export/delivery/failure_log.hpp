// Export failures said at warn on the `tracecraft` logger (private to the library): the first
// failure of each kind at once, then at most one summary line per period (10 s) with what
// happened since the last line, each naming the exporter's endpoint and the last status seen.
// The exact totals live in the counters (runtime_stats, the exporters' stats).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace tracecraft::detail {

class failure_log {
public:
    enum kind : unsigned {
        retrying,        ///< a retryable failure; the batch is retried
        given_up,        ///< retries ran out (max_elapsed / max_attempts)
        permanent,       ///< refused by the receiver (4xx) or not sendable
        rejected,        ///< accepted with partial success: spans rejected
        dropped,         ///< given up for queue room or at the shutdown deadline
        spool_dropped,   ///< the spool's byte limit dropped its oldest records
        spool_corrupt,   ///< a damaged spool record was skipped
        kinds
    };

    explicit failure_log(std::string subject, std::chrono::nanoseconds period = std::chrono::seconds(10));

    /// One event of `k` concerning `spans` spans; `status` is what the receiver or the
    /// transport said ("HTTP 503", "connection refused").
    void record(kind k, std::uint64_t spans, std::string_view status);
    /// Says what was recorded since the last line (at shutdown).
    void flush();

private:
    void say_summary_locked(std::chrono::steady_clock::time_point now);

    std::string subject_;
    std::chrono::nanoseconds period_;
    std::mutex m_;
    std::array<bool, kinds> said_{};
    std::array<std::uint64_t, kinds> events_{}, spans_{};
    std::array<std::string, kinds> last_status_{};
    std::chrono::steady_clock::time_point last_line_{};
    bool unsaid_ = false;
};

} // namespace tracecraft::detail
