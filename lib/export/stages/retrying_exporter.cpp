// retrying_exporter: exponential backoff with jitter on a timer for retryable failures.
#include <cmath>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "export/stages/stage_core.hpp"
#include "tracecraft/detail/trace_buffer.hpp"

namespace tracecraft {

namespace asio = boost::asio;

namespace detail {
struct retry_state : stage_core {
    retrying_exporter::options retry;
};
} // namespace detail

retrying_exporter::retrying_exporter(exporter_ptr inner, options o)
    : export_stage(std::move(inner), "retrying_exporter"), st_(detail::make_stage_state<detail::retry_state>(this->inner())) {
    if (o.base_delay.count() < 0) throw config_error("retrying_exporter.base_delay", "must be >= 0");
    if (o.max_delay < o.base_delay) throw config_error("retrying_exporter.max_delay", "must be >= base_delay");
    st_->retry = o;
    core_ = st_;
}
retrying_exporter::~retrying_exporter() = default;

boost::asio::awaitable<export_result> retrying_exporter::export_batch(span_batch batch) {
    auto st = st_;
    for (std::uint32_t attempt = 0;; ++attempt) {
        export_result r;
        try {
            r = co_await st->inner->export_batch(batch);
        } catch (const boost::system::system_error& e) {
            r = export_result::failure(std::string("exporter threw: ") + e.what(), true);   // I/O: retry
        } catch (const std::exception& e) {
            r = export_result::failure(std::string("exporter threw: ") + e.what(), false);
        }
        if (r.success || !r.retryable || attempt >= st->retry.max_retries || st->stopping || !st->ex) {
            st->count(batch, r);
            co_return r;
        }
        st->retries.fetch_add(1, std::memory_order_relaxed);
        const double base = static_cast<double>(st->retry.base_delay.count()) * std::ldexp(1.0, static_cast<int>(attempt));
        const double capped = std::min(base, static_cast<double>(st->retry.max_delay.count()));
        const double jitter = 0.5 + 0.5 * static_cast<double>(detail::random_u64() >> 11) / 9007199254740992.0;
        asio::steady_timer backoff(st->ex, std::chrono::microseconds(static_cast<std::int64_t>(capped * jitter * 1000.0)));
        boost::system::error_code ec;
        co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

} // namespace tracecraft
