#include "tracecraft/detail/clock.hpp"

#include <atomic>
#include <mutex>

#if TRACECRAFT_HAS_RDTSC
#include <cpuid.h>
#endif

namespace tracecraft::detail {
namespace {

struct calibration {
    std::uint64_t tsc0 = 0;       // ticks at anchor
    std::uint64_t mono0 = 0;      // CLOCK_MONOTONIC at anchor
    std::int64_t real0 = 0;       // CLOCK_REALTIME at anchor
    std::atomic<double> ns_per_tick{1.0};
    std::atomic<std::uint64_t> baseline_ns{0};   // length of the baseline the rate comes from
    std::atomic<std::uint64_t> last_refine_mono{0};
    std::mutex refine_mutex;                     // taken only off the hot path
};

calibration& cal() {
    static calibration c;
    return c;
}

bool detect_invariant_tsc() noexcept {
#if TRACECRAFT_HAS_RDTSC
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0x80000000u, nullptr) < 0x80000007u) return false;
    __cpuid(0x80000007u, a, b, c, d);
    return (d & (1u << 8)) != 0;   // invariant TSC
#else
    return false;
#endif
}

std::int64_t realtime_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000ll + ts.tv_nsec;
}

std::uint64_t raw_tsc() noexcept {
#if TRACECRAFT_HAS_RDTSC
    return __rdtsc();
#else
    return 0;
#endif
}

/// CLOCK_MONOTONIC and the TSC read at (nearly) one instant: the TSC read just before and just
/// after the clock, the pair with the narrowest bracket of a few tries, the TSC at its middle.
/// A thread preempted between two plain reads would pair a clock value with a TSC value
/// milliseconds later, and every timestamp converted with that rate would be off by as much.
/// With `real`, CLOCK_REALTIME is read inside the same bracket.
void sample_pair(std::uint64_t& mono, std::uint64_t& tsc, std::int64_t* real = nullptr) noexcept {
    std::uint64_t best = ~0ull;
    for (int i = 0; i < 8; ++i) {
        const std::uint64_t t0 = raw_tsc();
        const std::int64_t r = real ? realtime_ns() : 0;
        const std::uint64_t m = monotonic_ns();
        const std::uint64_t t1 = raw_tsc();
        if (t1 < t0 || t1 - t0 >= best) continue;
        best = t1 - t0;
        mono = m;
        tsc = t0 + (t1 - t0) / 2;
        if (real) *real = r;
        if (best < 2000) break;   // at most 2 µs at a TSC rate of 1 GHz or more: no preemption inside
    }
}

clock_state make_state() noexcept {
    clock_state s;
    s.use_tsc = detect_invariant_tsc();
    calibration& c = cal();
    c.real0 = realtime_ns();
    c.mono0 = monotonic_ns();
    if (!s.use_tsc) {
        c.tsc0 = c.mono0;
        c.ns_per_tick.store(1.0);
        return s;
    }
    sample_pair(c.mono0, c.tsc0, &c.real0);
    // Initial 1 ms calibration; refine_clock() improves it as uptime grows.
    std::uint64_t m = c.mono0, t = c.tsc0;
    while (m - c.mono0 < 1'000'000) m = monotonic_ns();
    sample_pair(m, t);
    if (t <= c.tsc0) {   // TSC not advancing (broken virtualisation): fall back
        s.use_tsc = false;
        c.tsc0 = c.mono0;
        c.ns_per_tick.store(1.0);
        return s;
    }
    c.ns_per_tick.store(static_cast<double>(m - c.mono0) / static_cast<double>(t - c.tsc0));
    c.baseline_ns.store(m - c.mono0);
    c.last_refine_mono.store(m);
    return s;
}

} // namespace

const clock_state& clock_init() noexcept {
    static const clock_state s = make_state();
    return s;
}

void refine_clock() noexcept {
    if (!clock_init().use_tsc) return;
    calibration& c = cal();
    const std::uint64_t m = monotonic_ns();
    // Refine when the baseline could at least double, and not more than every 50 ms.
    if (m - c.last_refine_mono.load(std::memory_order_relaxed) < 50'000'000) return;
    if (m - c.mono0 < 2 * c.baseline_ns.load(std::memory_order_relaxed)) return;
    std::unique_lock lk(c.refine_mutex, std::try_to_lock);
    if (!lk.owns_lock()) return;
    std::uint64_t m1 = 0, t1 = 0;
    sample_pair(m1, t1);
    if (t1 <= c.tsc0 || m1 <= c.mono0) return;
    c.ns_per_tick.store(static_cast<double>(m1 - c.mono0) / static_cast<double>(t1 - c.tsc0),
                        std::memory_order_relaxed);
    c.baseline_ns.store(m1 - c.mono0, std::memory_order_relaxed);
    c.last_refine_mono.store(m1, std::memory_order_relaxed);
}

std::int64_t tick_delta_to_ns(std::int64_t delta) noexcept {
    clock_init();
    return static_cast<std::int64_t>(static_cast<double>(delta) *
                                     cal().ns_per_tick.load(std::memory_order_relaxed));
}

std::int64_t ticks_to_unix_ns(std::uint64_t ticks) noexcept {
    clock_init();
    const calibration& c = cal();
    const auto delta = static_cast<std::int64_t>(ticks - c.tsc0);
    return c.real0 + tick_delta_to_ns(delta);
}

std::int64_t unix_now_ns() noexcept { return realtime_ns(); }

} // namespace tracecraft::detail
