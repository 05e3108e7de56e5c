// retry_policy: validation, the backoff schedule and the retry loop shared by every exporter
// that retries.
#include "export/delivery/retry.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "support/background_wait.hpp"
#include "tracecraft/config_error.hpp"
#include "tracecraft/ids.hpp"

namespace tracecraft {

void retry_policy::validate(const char* where) const {
    const std::string w(where);
    if (initial_interval.count() < 0) throw config_error(w + ".initial_interval", "must be >= 0 ms");
    if (max_interval < initial_interval) throw config_error(w + ".max_interval", "must be >= initial_interval");
    if (!(multiplier >= 1.0 && multiplier <= 100.0)) throw config_error(w + ".multiplier", "must be in 1..100");
    if (!(randomization_factor >= 0.0 && randomization_factor <= 1.0))
        throw config_error(w + ".randomization_factor", "must be in 0..1");
    if (max_elapsed.count() < 0) throw config_error(w + ".max_elapsed", "must be >= 0 ms (0 = retry forever)");
}

namespace detail {

namespace asio = boost::asio;

backoff_schedule::backoff_schedule(const retry_policy& p, clock::time_point first_attempt) noexcept
    : p_(p), start_(first_attempt), interval_ms_(static_cast<double>(p.initial_interval.count())) {}

std::optional<std::chrono::milliseconds> backoff_schedule::next(std::uint32_t attempts, std::chrono::milliseconds retry_after,
                                                                clock::time_point now, double unit_random) noexcept {
    if (!p_.enabled) return std::nullopt;
    if (p_.max_attempts != 0 && attempts >= p_.max_attempts) return std::nullopt;
    const double f = p_.randomization_factor;
    double wait = interval_ms_ * (1.0 - f + 2.0 * f * unit_random);
    interval_ms_ = std::min(interval_ms_ * p_.multiplier, static_cast<double>(p_.max_interval.count()));
    if (retry_after.count() >= 0) wait = std::max(wait, static_cast<double>(retry_after.count()));
    const auto w = std::chrono::milliseconds(static_cast<std::int64_t>(wait));
    if (p_.max_elapsed.count() > 0 && now + w - start_ > p_.max_elapsed) return std::nullopt;
    return w;
}

asio::awaitable<export_result> run_with_retries(const retry_policy& policy, asio::any_io_executor ex, attempt_fn& attempt,
                                                retry_observer* observer, asio::io_context* ioc) {
    backoff_schedule schedule(policy, backoff_schedule::clock::now());
    for (std::uint32_t attempts = 1;; ++attempts) {
        attempt_result a;
        try {
            auto op = attempt();   // a named local: GCC 12's co_await rule
            a = co_await std::move(op);
        } catch (const boost::system::system_error& e) {
            a.result = export_result::failure(e.code().message(), true);   // I/O: connection refused, reset, timeout
        } catch (const std::exception& e) {
            a.result = export_result::failure(e.what(), false);
        }
        a.result.attempts = attempts;
        if (a.result.success || !a.result.retryable) co_return a.result;
        const auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none || !ex) {
            a.result.cancelled = cs.cancelled() != asio::cancellation_type::none;
            co_return a.result;
        }
        const double u = static_cast<double>(random_u64() >> 11) / 9007199254740992.0;
        const auto wait = schedule.next(attempts, a.retry_after, backoff_schedule::clock::now(), u);
        if (!wait) {
            a.result.error += policy.enabled ? " (retries gave up: retry_policy max_elapsed/max_attempts)" : "";
            co_return a.result;
        }
        if (observer) observer->on_retry(a.result, *wait);
        boost::system::error_code ec;
        if (ioc) {   // a background wait: it does not hold the user's io_context::run()
            background_timer timer(ioc->get_executor(), *wait);
            co_await async_background_wait(timer, ioc, asio::redirect_error(asio::use_awaitable, ec));
        } else {
            asio::steady_timer timer(ex, *wait);
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
            a.result.cancelled = true;
            co_return a.result;
        }
    }
}

std::chrono::milliseconds parse_retry_after(std::string_view v, std::chrono::system_clock::time_point now) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (v.empty()) return std::chrono::milliseconds(-1);
    if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (v.size() > 9) return std::chrono::hours(24 * 365);   // absurd: treated as "very long"
        std::int64_t s = 0;
        for (char c : v) s = s * 10 + (c - '0');
        return std::chrono::seconds(s);
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    std::tm tm{};
    const std::string text(v);
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::chrono::milliseconds(-1);
    const std::time_t t = timegm(&tm);
    const auto when = std::chrono::system_clock::from_time_t(t);
    if (when <= now) return std::chrono::milliseconds(0);
    return std::chrono::duration_cast<std::chrono::milliseconds>(when - now);
}

} // namespace detail
} // namespace tracecraft
