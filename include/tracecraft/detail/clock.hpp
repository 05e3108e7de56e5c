// TraceCraft C++ — the span clock (internal).
//
// Spans store raw "ticks" taken on the hot path; conversion to Unix nanoseconds happens at
// export time, off the user's handlers. On x86-64 with an invariant TSC (constant_tsc and
// nonstop_tsc), a tick is one `rdtsc` (~11 ns here, against ~26 ns for clock_gettime);
// elsewhere a tick is a CLOCK_MONOTONIC nanosecond. The TSC rate is calibrated against
// CLOCK_MONOTONIC at first use (1 ms) and refined from a growing baseline every time the
// exporter converts timestamps, so its error shrinks with uptime.
#pragma once

#include <cstdint>
#include <ctime>

#if defined(__x86_64__) || defined(_M_X64)
#include <x86intrin.h>
#define TRACECRAFT_HAS_RDTSC 1
#else
#define TRACECRAFT_HAS_RDTSC 0
#endif

namespace tracecraft::detail {

struct clock_state {
    bool use_tsc = false;
};

/// Detected once (CPUID invariant-TSC bit); the first call also calibrates.
const clock_state& clock_init() noexcept;

inline std::uint64_t monotonic_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

inline std::uint64_t now_ticks() noexcept {
    static const bool tsc = clock_init().use_tsc;
#if TRACECRAFT_HAS_RDTSC
    if (tsc) return __rdtsc();
#endif
    return monotonic_ns();
}

/// Converts ticks to Unix-epoch nanoseconds (wall clock anchored at calibration).
std::int64_t ticks_to_unix_ns(std::uint64_t ticks) noexcept;
/// Converts a tick difference to nanoseconds.
std::int64_t tick_delta_to_ns(std::int64_t delta) noexcept;
/// Re-measures the tick rate when the baseline has grown enough; cheap to call often.
void refine_clock() noexcept;
/// Current Unix time in nanoseconds (CLOCK_REALTIME).
std::int64_t unix_now_ns() noexcept;

} // namespace tracecraft::detail
