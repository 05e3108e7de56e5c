// The metric export loop: every metrics.export_interval a snapshot (cumulative, or the delta
// since the last successful export) goes to each exporter that exports metrics. The loop waits in
// the background (it never holds io_context::run()) and ends at shutdown with one final export.
#include "metrics/metrics_export.hpp"

#include <cmath>
#include <limits>
#include <map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tracecraft/log.hpp"

namespace tracecraft::detail {

namespace asio = boost::asio;

metrics_snapshot delta_of(const metrics_snapshot& now, const metrics_snapshot& before) {
    metrics_snapshot d;
    d.temporality = metric_temporality::delta;
    d.start_unix_ns = before.time_unix_ns ? before.time_unix_ns : now.start_unix_ns;
    d.final = now.final;
    d.time_unix_ns = now.time_unix_ns;
    for (const metric_data& m : now.metrics) {
        if (m.type == metric_type::gauge) {
            d.metrics.push_back(m);
            continue;
        }
        const metric_data* old = before.find(m.name);
        metric_data out = m;
        out.points.clear();
        for (const metric_point& p : m.points) {
            const metric_point* q = nullptr;
            if (old)
                for (const metric_point& x : old->points)
                    if (x.attributes == p.attributes) q = &x;
            metric_point r = p;
            if (m.type == metric_type::histogram) {
                if (q) {
                    r.count -= q->count;
                    r.sum -= q->sum;
                    for (std::size_t i = 0; i < r.bucket_counts.size() && i < q->bucket_counts.size(); ++i)
                        r.bucket_counts[i] -= q->bucket_counts[i];
                    r.min = r.max = std::numeric_limits<double>::quiet_NaN();   // not known for the interval
                }
                if (r.count == 0) continue;
            } else {
                if (q) r.value -= q->value;
                if (r.value == 0) continue;
            }
            out.points.push_back(std::move(r));
        }
        if (!out.points.empty()) d.metrics.push_back(std::move(out));
    }
    return d;
}

namespace {

bool any_metric_exporter(const runtime_core& c) {
    for (const auto& d : c.deliveries)
        if (d.exp->exports_metrics()) return true;
    return false;
}

asio::awaitable<void> export_once(core_ref c, bool final) {
    if (c->metrics_exporting) co_return;
    c->metrics_exporting = true;
    const metrics_snapshot now = metrics_of(*c.get());
    const bool delta = c->cfg.metrics.temporality == metric_temporality::delta;
    metrics_snapshot out = delta ? delta_of(now, c->metrics_sent) : now;
    out.final = final;
    bool any_ok = false;
    for (auto& d : c->deliveries) {
        if (!d.exp->exports_metrics()) continue;
        export_result r;
        try {
            auto op = d.exp->export_metrics(out);   // named local: GCC 12 co_await rule
            r = co_await std::move(op);
        } catch (const std::exception& e) {
            r = export_result::failure(e.what());
        }
        if (r.success) {
            any_ok = true;
            c->stats.metric_exports.fetch_add(1, std::memory_order_relaxed);
        } else {
            c->stats.metric_export_failures.fetch_add(1, std::memory_order_relaxed);   // the exporter said why at warn
        }
    }
    if (any_ok) c->metrics_sent = now;   // a failed delta export is carried into the next one
    c->metrics_exporting = false;
}

asio::awaitable<void> metric_loop(core_ref c) {
    while (!c->shut_down && !c->metrics_final_done && c->metrics_timer) {   // (reset when the io_context goes)
        c->metrics_timer->expires_after(c->cfg.metrics.export_interval);
        auto wait = async_background_wait(*c->metrics_timer, &c->ioc, asio::as_tuple(asio::use_awaitable));
        auto [ec] = co_await std::move(wait);
        if (ec || c->shut_down || c->metrics_final_done) co_return;
        co_await export_once(core_ref(c), false);
    }
}

} // namespace

void start_metric_export(runtime_core& c) {
    if (!c.metrics || !any_metric_exporter(c)) return;
    c.metrics_timer = std::make_unique<background_timer>(c.ioc.get_executor());
    asio::co_spawn(asio::any_io_executor(untracked_executor::wrap(c.strand)), metric_loop(core_ref(&c)), asio::detached);
}

asio::awaitable<void> final_metric_export(core_ref c) {
    if (!c->metrics_timer || c->metrics_final_done || c->liveness->gone.load()) co_return;
    c->metrics_final_done = true;
    c->metrics_timer->cancel();
    // a periodic export still under way (retrying within its interval) finishes first
    asio::steady_timer wait(c->strand);
    while (c->metrics_exporting) {
        wait.expires_after(std::chrono::milliseconds(1));
        auto op = wait.async_wait(asio::as_tuple(asio::use_awaitable));
        co_await std::move(op);
    }
    co_await export_once(core_ref(c), true);
}

} // namespace tracecraft::detail
