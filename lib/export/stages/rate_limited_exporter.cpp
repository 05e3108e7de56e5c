// rate_limited_exporter: a token bucket of traces per second; waits on a timer (blocking mode)
// or drops and counts (non-blocking mode) what exceeds it.
#include <algorithm>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "export/stages/stage_core.hpp"
#include "record/batch_access.hpp"

namespace tracecraft {

namespace asio = boost::asio;

namespace detail {
struct rate_limit_state : stage_core {
    double rate = 100.0, burst = 10.0, tokens = 10.0;
    bool blocking = true;
    std::chrono::steady_clock::time_point last_refill = std::chrono::steady_clock::now();

    void refill() {
        const auto now = std::chrono::steady_clock::now();
        tokens = std::min(burst, tokens + std::chrono::duration<double>(now - last_refill).count() * rate);
        last_refill = now;
    }
};
} // namespace detail

rate_limited_exporter::rate_limited_exporter(exporter_ptr inner, double rate, double burst, bool blocking)
    : export_stage(std::move(inner), "rate_limited_exporter"), st_(detail::make_stage_state<detail::rate_limit_state>(this->inner())) {
    if (!(rate > 0.0)) throw config_error("rate_limited_exporter.rate", "must be > 0");
    if (!(burst >= 1.0)) throw config_error("rate_limited_exporter.burst", "must be >= 1");
    st_->rate = rate;
    st_->burst = burst;
    st_->tokens = burst;
    st_->blocking = blocking;
    core_ = st_;
}
rate_limited_exporter::~rate_limited_exporter() = default;

boost::asio::awaitable<export_result> rate_limited_exporter::export_batch(span_batch batch) {
    auto st = st_;   // the state outlives this call even if the stage is destroyed meanwhile
    std::vector<detail::trace_ref> allowed;
    for (const auto& t : detail::batch_access::traces(batch)) {
        st->refill();
        if (st->tokens < 1.0 && st->blocking && st->ex) {
            // a timer of our own: concurrent callers (e.g. async_exporter workers) never cancel
            // each other's waits
            const double wait_s = (1.0 - st->tokens) / st->rate;
            asio::steady_timer wait(st->ex, std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                std::chrono::duration<double>(wait_s)));
            boost::system::error_code ec;
            co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            st->refill();
        }
        if (st->tokens >= 1.0) {
            st->tokens -= 1.0;
            allowed.push_back(t);
        } else {
            st->dropped.fetch_add(1, std::memory_order_relaxed);
        }
    }
    if (allowed.empty()) co_return export_result::ok();
    auto op = st->export_counted(detail::batch_access::make(std::move(allowed)));   // named local: GCC 12
    co_return co_await std::move(op);
}

std::uint64_t rate_limited_exporter::dropped_count() const noexcept { return st_->dropped.load(); }

} // namespace tracecraft
