// TraceCraft C++ — the retry policy of every exporter that retries (one definition, one
// implementation): exponential backoff with jitter until the batch is delivered, a permanent
// error occurs, or max_elapsed has passed since its first attempt.
//
// Defaults follow the OpenTelemetry Collector's exporterhelper (retry_on_failure), except a
// shorter first wait so that a short collector restart costs ~1 s, not 5:
//   initial 1 s, multiplier 1.5, randomization ±50 %, max interval 30 s, max elapsed 300 s.
// A server's Retry-After (seconds or an HTTP date) replaces the computed wait when longer.
// Retries never lose data by themselves: while a batch waits, it stays in the runtime's bounded
// pipeline; only when that pipeline needs the room for newer traces is the oldest batch given
// up (trace_config::overflow, counted in runtime_stats::spans_queue_dropped).
#pragma once

#include <chrono>
#include <cstdint>

namespace tracecraft {

struct retry_policy {
    bool enabled = true;
    std::chrono::milliseconds initial_interval{1000};
    std::chrono::milliseconds max_interval{30000};
    double multiplier = 1.5;             ///< >= 1
    double randomization_factor = 0.5;   ///< 0..1: wait x uniform(1 - f, 1 + f)
    /// Give a batch up when this much time has passed since its first attempt (0 = never).
    std::chrono::milliseconds max_elapsed{300000};
    /// Give up after this many attempts in all (0 = no limit: max_elapsed alone decides).
    std::uint32_t max_attempts = 0;

    /// Throws config_error naming `where` and the field.
    void validate(const char* where) const;

    /// The policy of a caller that must not retry (one attempt).
    static retry_policy none() noexcept {
        retry_policy p;
        p.enabled = false;
        return p;
    }
};

} // namespace tracecraft
