// Lossless export: the real OTLP/HTTP exporter and pipeline against a fault-injecting receiver
// (fault_receiver.hpp). Every scenario checks the account: spans produced = spans the receiver
// accepted (unique) + every counted loss, and no loss at all while the pipeline never filled.
// The scenarios run side by side on one io_context, so the matrix takes as long as its longest
// outage (30 s), not their sum.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio.hpp>

#include "export/delivery/retry.hpp"
#include "fault_receiver.hpp"
#include "test_util.hpp"
#include "tracecraft/exporters/otlp_http.hpp"
#include "tracecraft/exporters/stages.hpp"

namespace asio = boost::asio;
using namespace tracecraft;
using namespace std::chrono_literals;

namespace {

/// These tests count and plan trace requests: the metric export (its own requests) is off.
otlp_http_options traces_only(otlp_http_options o) {
    o.metrics.enabled = false;
    return o;
}

struct scenario;
std::uint64_t find_max_queue(const std::vector<std::unique_ptr<scenario>>& all, const std::string& name);

struct scenario {
    std::string name;
    std::chrono::milliseconds down_at{-1};   ///< receiver goes down at this time (from start; -1: never)
    std::chrono::milliseconds down_for{0};   ///< ... for this long (down_at 0: down at start)
    std::function<tc_test::fault(int)> plan;
    std::chrono::milliseconds produce_for{1500};
    std::size_t max_queue_spans = 65536;
    bool expect_no_loss = true;
    std::chrono::milliseconds timeout{2000};
    bool spool = false;   ///< with a disk spool (in a fresh directory)

    // filled by the run
    std::unique_ptr<tc_test::fault_receiver> rx;
    std::shared_ptr<otlp_http_exporter> exp;
    std::shared_ptr<runtime> rt;
    std::uint64_t produced_spans = 0;
    std::uint64_t max_queue_spans_seen = 0;
    bool done = false;
};

std::uint64_t find_max_queue(const std::vector<std::unique_ptr<scenario>>& all, const std::string& name) {
    for (const auto& sc : all)
        if (sc->name == name) return sc->max_queue_spans_seen;
    return ~0ull;
}

asio::awaitable<void> produce(scenario* sc) {
    const auto end = std::chrono::steady_clock::now() + sc->produce_for;
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (int i = 0; std::chrono::steady_clock::now() < end; ++i) {
        {
            run_scope r("agent_" + std::to_string(i));
            span_scope llm("llm", span_kind::llm);
            llm.set_model("gpt-4o").set_tokens(10, 2);
            span_scope tool("tool", span_kind::tool);
        }
        sc->produced_spans += 3;
        sc->max_queue_spans_seen = std::max<std::uint64_t>(sc->max_queue_spans_seen, sc->rt->stats().queue_spans);
        t.expires_after(10ms);
        co_await t.async_wait(asio::use_awaitable);
    }
    co_await sc->rt->async_shutdown();
    sc->done = true;
}

asio::awaitable<void> outage(scenario* sc) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    if (sc->down_at.count() > 0) {
        t.expires_after(sc->down_at);
        co_await t.async_wait(asio::use_awaitable);
        sc->rx->down();
    }
    t.expires_after(sc->down_for);
    co_await t.async_wait(asio::use_awaitable);
    sc->rx->up();
}

void start(asio::io_context& ioc, scenario& sc) {
    sc.rx = std::make_unique<tc_test::fault_receiver>(ioc);
    sc.rx->plan = sc.plan;
    if (sc.down_at.count() < 0) sc.rx->up();
    else if (sc.down_at.count() > 0) sc.rx->up();   // up first, down later
    otlp_http_options o;
    o.endpoint = sc.rx->endpoint();
    o.protocol = otlp_protocol::http_json;
    o.timeout = sc.timeout;
    o.retry.initial_interval = 50ms;
    o.retry.max_interval = 1000ms;
    if (sc.spool) {
        o.spool_dir = (std::filesystem::temp_directory_path() / ("tracecraft-matrix-" + std::to_string(::getpid()) + "-" + sc.name)).string();
        std::filesystem::remove_all(o.spool_dir);
    }
    sc.exp = std::make_shared<otlp_http_exporter>(traces_only(o));
    trace_config cfg;
    cfg.service_name = "lossless-" + sc.name;
    cfg.exporters = {sc.exp};
    cfg.batch_size = 60;
    cfg.flush_interval = 50ms;
    cfg.max_queue_spans = sc.max_queue_spans;
    cfg.shutdown_timeout = 60s;
    sc.rt = std::make_shared<runtime>(ioc, cfg);
    asio::co_spawn(make_executor(ioc, sc.rt.get()), produce(&sc), asio::detached);
    if (sc.down_at.count() >= 0) asio::co_spawn(ioc, outage(&sc), asio::detached);
}

void check_account(const scenario& sc) {
    BOOST_TEST_CONTEXT("scenario " << sc.name) {
        const runtime_stats s = sc.rt->stats();
        const std::uint64_t delivered = sc.rx->span_ids.size();
        const std::uint64_t losses = s.spans_rejected + s.spans_export_failed + s.spans_queue_dropped +
                                     s.spans_shutdown_dropped + s.spans_spool_dropped;
        BOOST_TEST(s.spans_spooled == 0u);   // the spool scenarios were replayed first
        BOOST_TEST(sc.produced_spans > 0u);
        BOOST_TEST(s.queue_spans == 0u);
        BOOST_TEST(sc.produced_spans == delivered + losses);
        // what the pipeline says it delivered is what the receiver holds
        BOOST_TEST(s.spans_exported == delivered);
        BOOST_TEST(s.spans_rejected == sc.rx->rejected_spans);
        if (sc.expect_no_loss) {
            BOOST_TEST(losses == 0u);
            BOOST_TEST(delivered == sc.produced_spans);
        }
    }
}

asio::awaitable<void> one_agent_run() {
    run_scope r("agent");
    co_return;
}

/// A runtime exporting to `exp` records one run and shuts down.
std::shared_ptr<runtime> one_run_then_shutdown(asio::io_context& ioc, exporter_ptr exp) {
    trace_config cfg;
    cfg.exporters = {std::move(exp)};
    auto rt = std::make_shared<runtime>(ioc, cfg);
    asio::co_spawn(make_executor(ioc, rt.get()), one_agent_run(), asio::detached);
    rt->shutdown();
    return rt;
}

} // namespace

BOOST_AUTO_TEST_SUITE(lossless_export)

BOOST_AUTO_TEST_CASE(outage_and_fault_matrix) {
    asio::io_context ioc;
    std::vector<std::unique_ptr<scenario>> all;
    auto add = [&](std::string name) -> scenario& {
        all.push_back(std::make_unique<scenario>());
        all.back()->name = std::move(name);
        return *all.back();
    };
    add("healthy");
    for (auto d : {2s, 10s, 30s}) {
        auto& a = add("down_at_start_" + std::to_string(d.count()) + "s");
        a.down_at = 0ms;
        a.down_for = d;
        a.produce_for = d + 1500ms;   // spans made during the outage and after
        auto& b = add("down_mid_run_" + std::to_string(d.count()) + "s");
        b.down_at = 500ms;
        b.down_for = d;
        b.produce_for = d + 1500ms;
    }
    {
        auto& s = add("down_mid_run_10s_spool");
        s.down_at = 500ms;
        s.down_for = 10s;
        s.produce_for = 11500ms;
        s.spool = true;
    }
    {
        auto& s = add("503_storm_spool");
        s.spool = true;
        s.plan = [](int n) { return tc_test::fault::status_only(n < 25 ? 503u : 200u); };
    }
    add("503_storm").plan = [](int n) { return tc_test::fault::status_only(n < 25 ? 503u : 200u); };
    add("502_504").plan = [](int n) { return tc_test::fault::status_only(n % 2 == 0 && n < 10 ? (n % 4 == 0 ? 502u : 504u) : 200u); };
    add("429_retry_after").plan = [](int n) {
        tc_test::fault f;
        if (n < 2) f.status = 429, f.retry_after = "1";
        return f;
    };
    {
        auto& s = add("slow_past_timeout");
        s.timeout = 300ms;
        s.plan = [](int n) {
            tc_test::fault f;
            if (n < 3) f.delay = 700ms;   // answered after the client gave up: taken, then sent again
            return f;
        };
    }
    add("reset_mid_body").plan = [](int n) {
        tc_test::fault f;
        f.reset = n < 6;
        return f;
    };
    {
        auto& s = add("partial_success");
        s.expect_no_loss = false;
        s.plan = [](int n) {
            tc_test::fault f;
            if (n % 3 == 1) f.reject = 2;
            return f;
        };
    }
    {
        auto& s = add("400_for_one_batch");
        s.expect_no_loss = false;
        s.plan = [](int n) { return tc_test::fault::status_only(n == 2 ? 400u : 200u); };
    }
    {
        // the pipeline fills during a 6 s outage: the oldest batches are given up, counted
        auto& s = add("queue_fills");
        s.down_at = 0ms;
        s.down_for = 6s;
        s.produce_for = 7s;
        s.max_queue_spans = 300;
        s.expect_no_loss = false;
    }

    auto busy = asio::make_work_guard(ioc);   // like a server: the pipeline's own waits are not work
    for (auto& sc : all) start(ioc, *sc);
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    auto all_done = [&] {
        for (auto& sc : all)
            if (!sc->done) return false;
        return true;
    };
    while (!all_done() && std::chrono::steady_clock::now() < deadline) ioc.run_one_for(100ms);
    BOOST_TEST_REQUIRE(all_done());

    // A spool keeps what a failing receiver had not taken at shutdown (a 503 storm still
    // going): the next start on the same directory delivers it.
    for (auto& sc : all) {
        if (!sc->spool) continue;
        const std::string dir =
            (std::filesystem::temp_directory_path() / ("tracecraft-matrix-" + std::to_string(::getpid()) + "-" + sc->name)).string();
        const runtime_stats first = sc->rt->stats();
        BOOST_TEST_MESSAGE(sc->name << ": " << first.spans_spooled << " spans left in the spool at shutdown");
        sc->rt.reset();
        sc->exp.reset();   // releases the directory lock
        otlp_http_options o;
        o.endpoint = sc->rx->endpoint();
        o.protocol = otlp_protocol::http_json;
        o.spool_dir = dir;
        o.retry.initial_interval = 50ms;
        o.retry.max_interval = 1000ms;
        auto exp = std::make_shared<otlp_http_exporter>(traces_only(o));
        trace_config cfg;
        cfg.exporters = {exp};
        auto rt = std::make_shared<runtime>(ioc, cfg);
        for (int i = 0; i < 300 && rt->stats().spans_exported < first.spans_spooled; ++i) ioc.run_for(50ms);
        rt->shutdown();
        const runtime_stats second = rt->stats();
        BOOST_TEST(second.spans_spool_replayed == first.spans_spooled);
        BOOST_TEST(second.spans_spooled == 0u);
        BOOST_TEST(exp->get_stats().spool_bytes == 0u);   // delivered segments removed
        BOOST_TEST(first.spans_exported + second.spans_exported == sc->rx->span_ids.size());
        BOOST_TEST(sc->rx->span_ids.size() == sc->produced_spans, sc->name);
        BOOST_TEST(first.spans_spool_dropped + second.spans_spool_dropped == 0u);
        std::filesystem::remove_all(dir);
    }
    for (auto& sc : all)
        if (!sc->spool) check_account(*sc);
    // with a spool the pipeline's memory is not held through the outage: nothing waited there
    BOOST_TEST(find_max_queue(all, "down_mid_run_10s_spool") < 200u);

    auto find = [&](const std::string& name) -> scenario& {
        for (auto& sc : all)
            if (sc->name == name) return *sc;
        throw std::logic_error(name);
    };
    // retries happened where faults were injected, and were counted
    BOOST_TEST(find("healthy").rt->stats().export_retries == 0u);
    for (const char* n : {"down_at_start_30s", "down_mid_run_10s", "503_storm", "reset_mid_body", "slow_past_timeout"})
        BOOST_TEST(find(n).rt->stats().export_retries > 0u, n);
    BOOST_TEST(find("503_storm").exp->get_stats().retries >= 25u);
    // Retry-After: 1 s was waited (twice) before the batch was sent again
    {
        const auto& t = find("429_retry_after").rx->request_times;
        BOOST_TEST_REQUIRE(t.size() >= 3u);
        BOOST_TEST((t[1] - t[0]) >= 950ms);
        BOOST_TEST((t[2] - t[1]) >= 950ms);
    }
    // partial success: the rejected spans are counted apart, the rest delivered
    BOOST_TEST(find("partial_success").rt->stats().spans_rejected > 0u);
    BOOST_TEST(find("partial_success").rt->stats().spans_export_failed == 0u);
    // a 400 is permanent: that batch alone is lost, counted, never retried
    {
        auto& s = find("400_for_one_batch");
        BOOST_TEST(s.rt->stats().spans_failed_permanent > 0u);
        BOOST_TEST(s.rt->stats().spans_failed_permanent == s.rt->stats().spans_export_failed);
        BOOST_TEST(s.exp->get_stats().permanent_failed_spans == s.rt->stats().spans_failed_permanent);
        BOOST_TEST(s.rt->stats().export_retries == 0u);
    }
    // a slow receiver that took the batch before the client timed out receives it twice: at
    // least once, duplicates counted by the receiver (OTLP has no idempotency key)
    BOOST_TEST(find("slow_past_timeout").rx->duplicate_spans > 0u);
    // the full pipeline gave its oldest batches up, and the newest traces were delivered
    {
        auto& s = find("queue_fills");
        const runtime_stats st = s.rt->stats();
        BOOST_TEST(st.spans_queue_dropped > 0u);
        BOOST_TEST(st.batches_queue_dropped > 0u);
        BOOST_TEST(st.spans_exported > 0u);
        BOOST_TEST(s.exp->get_stats().cancelled_spans > 0u);   // the batch being retried was cancelled
    }
}

BOOST_AUTO_TEST_CASE(shutdown_deadline_gives_up_and_counts) {
    asio::io_context ioc;
    tc_test::fault_receiver rx(ioc);   // never up
    otlp_http_options o;
    o.endpoint = rx.endpoint();
    o.retry.initial_interval = 20ms;
    o.retry.max_interval = 100ms;
    auto exp = std::make_shared<otlp_http_exporter>(traces_only(o));
    trace_config cfg;
    cfg.exporters = {exp};
    cfg.batch_size = 10;
    cfg.shutdown_timeout = 500ms;
    auto rt = std::make_shared<runtime>(ioc, cfg);
    asio::co_spawn(make_executor(ioc, rt.get()), [](runtime*) -> asio::awaitable<void> {
        for (int i = 0; i < 20; ++i) {
            run_scope r("agent");
            span_scope s("llm", span_kind::llm);
        }
        co_return;
    }(rt.get()), asio::detached);
    ioc.run_for(200ms);
    const auto t0 = std::chrono::steady_clock::now();
    rt->shutdown();
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(took < 3s);
    const runtime_stats s = rt->stats();
    BOOST_TEST(s.spans_shutdown_dropped == 40u);
    BOOST_TEST(s.spans_exported == 0u);
    BOOST_TEST(s.queue_spans == 0u);
}

BOOST_AUTO_TEST_CASE(retry_policy_gives_up_after_max_elapsed) {
    asio::io_context ioc;
    tc_test::fault_receiver rx(ioc);
    rx.plan = [](int) { return tc_test::fault::status_only(503); };
    rx.up();
    otlp_http_options o;
    o.endpoint = rx.endpoint();
    o.retry.initial_interval = 20ms;
    o.retry.max_interval = 50ms;
    o.retry.max_elapsed = 400ms;
    auto exp = std::make_shared<otlp_http_exporter>(traces_only(o));
    auto rt = one_run_then_shutdown(ioc, exp);
    const runtime_stats s = rt->stats();
    BOOST_TEST(s.spans_retry_expired == 1u);
    BOOST_TEST(s.spans_export_failed == 1u);
    BOOST_TEST(exp->get_stats().expired_spans == 1u);
    BOOST_TEST(rx.requests >= 4);
    BOOST_TEST(rx.requests <= 40);
}

BOOST_AUTO_TEST_CASE(backoff_schedule_follows_the_policy) {
    retry_policy p;   // 1 s, x1.5, ±50 %, max 30 s, max elapsed 300 s
    const auto t0 = std::chrono::steady_clock::now();
    detail::backoff_schedule s(p, t0);
    // jitter at its midpoint (u = 0.5): exactly the interval
    BOOST_TEST(s.next(1, -1ms, t0, 0.5)->count() == 1000);
    BOOST_TEST(s.next(2, -1ms, t0, 0.5)->count() == 1500);
    BOOST_TEST(s.next(3, -1ms, t0, 0.0)->count() == 1125);   // 2250 x 0.5
    BOOST_TEST(s.next(4, 20s, t0, 0.5)->count() == 20000);   // Retry-After longer: wins
    for (std::uint32_t i = 5; i < 30; ++i) (void)s.next(i, -1ms, t0, 0.5);
    BOOST_TEST(s.next(30, -1ms, t0, 0.5)->count() == 30000);   // capped at max_interval
    BOOST_TEST(!s.next(31, -1ms, t0 + 299s, 0.5));              // would end past max_elapsed
    retry_policy forever;
    forever.max_elapsed = 0ms;
    detail::backoff_schedule f(forever, t0);
    BOOST_TEST(f.next(1, -1ms, t0 + std::chrono::hours(100), 0.5).has_value());
    retry_policy two;
    two.max_attempts = 2;
    detail::backoff_schedule g(two, t0);
    BOOST_TEST(g.next(1, -1ms, t0, 0.5).has_value());
    BOOST_TEST(!g.next(2, -1ms, t0, 0.5).has_value());
    BOOST_TEST(!detail::backoff_schedule(retry_policy::none(), t0).next(1, -1ms, t0, 0.5));

    const auto now = std::chrono::system_clock::from_time_t(784111777);   // Sun, 06 Nov 1994 08:49:37 GMT
    BOOST_TEST(detail::parse_retry_after("120", now).count() == 120000);
    BOOST_TEST(detail::parse_retry_after(" 3 ", now).count() == 3000);
    BOOST_TEST(detail::parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now).count() == 30000);
    BOOST_TEST(detail::parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now).count() == 0);   // past
    BOOST_TEST(detail::parse_retry_after("soon", now).count() < 0);
    BOOST_TEST(detail::parse_retry_after("-5", now).count() < 0);

    retry_policy bad;
    bad.multiplier = 0.5;
    BOOST_CHECK_THROW(bad.validate("otlp_http.retry"), config_error);
    bad = retry_policy{};
    bad.max_interval = 1ms;
    BOOST_CHECK_THROW(bad.validate("otlp_http.retry"), config_error);
}

BOOST_AUTO_TEST_CASE(retrying_stage_around_otlp_retries_again) {
    // the inner exporter's own policy gives up (one attempt); the stage still retries: the two
    // layers compose instead of the inner one disabling the outer
    asio::io_context ioc;
    tc_test::fault_receiver rx(ioc);
    rx.plan = [](int n) { return tc_test::fault::status_only(n < 3 ? 503u : 200u); };
    rx.up();
    otlp_http_options o;
    o.endpoint = rx.endpoint();
    o.protocol = otlp_protocol::http_json;
    o.retry = retry_policy::none();
    auto exp = std::make_shared<otlp_http_exporter>(traces_only(o));
    retry_policy outer;
    outer.initial_interval = 10ms;
    auto stage = std::make_shared<retrying_exporter>(exp, outer);
    auto rt = one_run_then_shutdown(ioc, stage);
    BOOST_TEST(rx.span_ids.size() == 1u);
    BOOST_TEST(stage->get_stats().retries == 3u);
    BOOST_TEST(rt->stats().spans_exported == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
