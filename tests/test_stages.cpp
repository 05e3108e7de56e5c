// Export stages: real batches, bounded queues with exact drop counts, concurrent workers,
// token bucket, retries with backoff, lossless flush through the stages.
#include <deque>

#include <boost/asio.hpp>

#include "test_util.hpp"
#include "tracecraft/exporters/stages.hpp"

namespace asio = boost::asio;
using namespace tracecraft;

namespace {

/// Inner exporter for the tests: records batch sizes, optional delay, scripted results.
class recording_exporter final : public exporter {
public:
    std::string_view name() const noexcept override { return "recording"; }
    void start(const exporter_environment& env) override { ex_ = env.executor; ++starts; }
    asio::awaitable<export_result> export_batch(span_batch b) override {
        ++in_flight;
        max_in_flight = std::max(max_in_flight, in_flight);
        ++calls;
        if (delay.count() > 0) {
            asio::steady_timer t(ex_, delay);
            co_await t.async_wait(asio::use_awaitable);
        }
        --in_flight;
        export_result r = export_result::ok();
        if (!script.empty()) {
            r = script.front();
            script.pop_front();
        }
        if (r.success) {
            batch_sizes.push_back(b.trace_count());
            traces += b.trace_count();
        }
        co_return r;
    }
    asio::awaitable<void> shutdown() override {
        ++shutdowns;
        ex_ = asio::any_io_executor();
        co_return;
    }

    std::chrono::milliseconds delay{0};
    std::deque<export_result> script;
    std::vector<std::size_t> batch_sizes;
    std::size_t traces = 0, calls = 0, in_flight = 0, max_in_flight = 0, starts = 0, shutdowns = 0;

private:
    asio::any_io_executor ex_;
};

asio::awaitable<void> produce_traces(int n, bool* done = nullptr) {
    for (int i = 0; i < n; ++i) {
        { run_scope r("run"); }
        co_await asio::post(asio::use_awaitable);
    }
    if (done) *done = true;
}

/// Runs `n` single-span traces through a runtime whose only exporter is `stage`.
runtime_stats run_through(const exporter_ptr& stage, int n, std::size_t runtime_batch = 1) {
    asio::io_context ioc;
    trace_config cfg;
    cfg.exporters = {stage};
    cfg.batch_size = runtime_batch;
    cfg.max_queue_spans = 1 << 16;
    cfg.flush_interval = std::chrono::milliseconds(5);
    auto rt = std::make_shared<runtime>(ioc, cfg);
    bool done = false;
    asio::co_spawn(make_executor(ioc, rt.get()), produce_traces(n, &done), asio::detached);
    // run until the producer is done (a stage may hold a long flush timer), then drain
    while (!done) ioc.run_one();
    rt->shutdown();
    return rt->stats();
}

} // namespace

BOOST_AUTO_TEST_SUITE(stages)

BOOST_AUTO_TEST_CASE(batch_stage_hands_real_batches_and_flushes_the_rest) {
    auto inner = std::make_shared<recording_exporter>();
    async_batch_exporter::options o;
    o.batch_size = 10;
    o.flush_interval = std::chrono::hours(1);   // only size and the final flush trigger
    auto stage = std::make_shared<async_batch_exporter>(inner, o);
    run_through(stage, 35);
    BOOST_TEST((inner->batch_sizes == std::vector<std::size_t>{10, 10, 10, 5}));
    const auto st = stage->get_stats();
    BOOST_TEST(st.batches == 4u);
    BOOST_TEST(st.exported_traces == 35u);
    BOOST_TEST(st.dropped_traces == 0u);
    BOOST_TEST(stage->pending_count() == 0u);
    BOOST_TEST(inner->shutdowns == 1u);   // shutdown reaches the inner exporter
}

BOOST_AUTO_TEST_CASE(batch_stage_flush_interval_sends_partial_batches) {
    auto inner = std::make_shared<recording_exporter>();
    async_batch_exporter::options o;
    o.batch_size = 1000;
    o.flush_interval = std::chrono::milliseconds(20);
    auto stage = std::make_shared<async_batch_exporter>(inner, o);
    asio::io_context ioc;
    trace_config cfg;
    cfg.exporters = {stage};
    cfg.batch_size = 1;
    cfg.flush_interval = std::chrono::milliseconds(1);
    auto rt = std::make_shared<runtime>(ioc, cfg);
    asio::co_spawn(make_executor(ioc, rt.get()), produce_traces(3), asio::detached);
    ioc.run();   // returns only after the stage's timer fired and the batch went out
    BOOST_TEST(inner->traces == 3u);
    rt->shutdown();
}

BOOST_AUTO_TEST_CASE(batch_stage_overflow_is_counted_exactly) {
    auto inner = std::make_shared<recording_exporter>();
    inner->delay = std::chrono::milliseconds(50);
    std::size_t drops_seen = 0;
    async_batch_exporter::options o;
    o.batch_size = 5;
    o.max_queue_size = 5;
    o.flush_interval = std::chrono::hours(1);
    o.on_drop = [&drops_seen](const trace_view&) { ++drops_seen; };
    auto stage = std::make_shared<async_batch_exporter>(inner, o);
    const auto rt_stats = run_through(stage, 100, 100);   // runtime hands 100 traces at once
    const auto st = stage->get_stats();
    BOOST_TEST(st.dropped_traces == drops_seen);
    BOOST_TEST(st.dropped_traces + st.exported_traces == 100u);
    BOOST_TEST(st.dropped_traces > 0u);
    BOOST_TEST(inner->traces == st.exported_traces);
    BOOST_TEST(rt_stats.spans_exported == 100u);   // the runtime handed all of them to the stage
}

BOOST_AUTO_TEST_CASE(async_exporter_runs_concurrent_worker_coroutines) {
    const std::size_t threads_before = tc_test::thread_count();
    auto inner = std::make_shared<recording_exporter>();
    inner->delay = std::chrono::milliseconds(5);
    async_exporter::options o;
    o.num_workers = 3;
    o.queue_size = 1000;
    auto stage = std::make_shared<async_exporter>(inner, o);
    run_through(stage, 30, 30);
    BOOST_TEST(inner->traces == 30u);
    BOOST_TEST(inner->max_in_flight == 3u);   // three exports overlapped
    for (auto s : inner->batch_sizes) BOOST_TEST(s == 1u);   // one trace per export
    BOOST_TEST(stage->get_stats().exported_traces == 30u);
    BOOST_TEST(tc_test::thread_count() == threads_before);   // workers are not threads
}

BOOST_AUTO_TEST_CASE(async_exporter_queue_full_calls_on_drop) {
    auto inner = std::make_shared<recording_exporter>();
    inner->delay = std::chrono::milliseconds(20);
    std::size_t drops = 0;
    async_exporter::options o;
    o.queue_size = 4;
    o.on_drop = [&drops](const trace_view&) { ++drops; };
    auto stage = std::make_shared<async_exporter>(inner, o);
    run_through(stage, 20, 20);
    const auto st = stage->get_stats();
    BOOST_TEST(st.dropped_traces == drops);
    BOOST_TEST(st.dropped_traces == 16u);   // 20 offered at once, 4 fit
    BOOST_TEST(st.exported_traces == 4u);
}

BOOST_AUTO_TEST_CASE(rate_limiter_non_blocking_drops_beyond_the_burst) {
    auto inner = std::make_shared<recording_exporter>();
    auto stage = std::make_shared<rate_limited_exporter>(inner, /*rate*/ 0.001, /*burst*/ 5, /*blocking*/ false);
    run_through(stage, 20, 20);
    BOOST_TEST(inner->traces == 5u);
    BOOST_TEST(stage->dropped_count() == 15u);
}

BOOST_AUTO_TEST_CASE(rate_limiter_blocking_waits_on_a_timer) {
    auto inner = std::make_shared<recording_exporter>();
    auto stage = std::make_shared<rate_limited_exporter>(inner, /*rate*/ 200.0, /*burst*/ 1, /*blocking*/ true);
    const auto t0 = std::chrono::steady_clock::now();
    run_through(stage, 20, 20);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(inner->traces == 20u);
    BOOST_TEST(stage->dropped_count() == 0u);
    BOOST_TEST(elapsed >= std::chrono::milliseconds(90));   // 19 tokens at 200/s
}

BOOST_AUTO_TEST_CASE(retrying_exporter_backs_off_and_retries_retryable_failures) {
    auto inner = std::make_shared<recording_exporter>();
    inner->script = {export_result::failure("503", true), export_result::failure("503", true), export_result::ok()};
    retry_policy o;
    o.initial_interval = std::chrono::milliseconds(10);
    o.multiplier = 2.0;
    auto stage = std::make_shared<retrying_exporter>(inner, o);
    const auto t0 = std::chrono::steady_clock::now();
    run_through(stage, 1);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(inner->calls == 3u);
    BOOST_TEST(inner->traces == 1u);
    BOOST_TEST(stage->get_stats().retries == 2u);
    BOOST_TEST(elapsed >= std::chrono::milliseconds(15));   // 10*[0.5,1.5] + 20*[0.5,1.5]
}

BOOST_AUTO_TEST_CASE(retrying_exporter_gives_up) {
    auto inner = std::make_shared<recording_exporter>();
    inner->script = {export_result::failure("400 bad request", false)};
    auto stage = std::make_shared<retrying_exporter>(inner, retry_policy{});
    const auto rs = run_through(stage, 1);
    BOOST_TEST(inner->calls == 1u);   // not retryable: no retry
    BOOST_TEST(stage->get_stats().errors == 1u);
    BOOST_TEST(rs.spans_export_failed == 1u);

    auto inner2 = std::make_shared<recording_exporter>();
    for (int i = 0; i < 10; ++i) inner2->script.push_back(export_result::failure("timeout", true));
    retry_policy o;
    o.max_attempts = 3;
    o.initial_interval = std::chrono::milliseconds(1);
    auto stage2 = std::make_shared<retrying_exporter>(inner2, o);
    run_through(stage2, 1);
    BOOST_TEST(inner2->calls == 3u);
    BOOST_TEST(stage2->get_stats().retries == 2u);
    BOOST_TEST(stage2->get_stats().failed_traces == 1u);
}

BOOST_AUTO_TEST_CASE(stacked_stages_lose_nothing_at_shutdown) {
    auto inner = std::make_shared<recording_exporter>();
    inner->delay = std::chrono::milliseconds(2);
    auto retry = std::make_shared<retrying_exporter>(inner, retry_policy{});
    async_batch_exporter::options o;
    o.batch_size = 64;
    o.max_queue_size = 100000;
    o.flush_interval = std::chrono::hours(1);
    auto batch = std::make_shared<async_batch_exporter>(retry, o);
    auto limited = std::make_shared<rate_limited_exporter>(batch, 1e9, 1e6, true);
    run_through(limited, 1000, 50);
    BOOST_TEST(inner->traces == 1000u);
    BOOST_TEST(inner->shutdowns == 1u);
    BOOST_TEST(inner->starts == 1u);
}

BOOST_AUTO_TEST_CASE(invalid_stage_options_name_the_field) {
    auto inner = std::make_shared<recording_exporter>();
    async_batch_exporter::options o;
    o.batch_size = 0;
    BOOST_CHECK_EXCEPTION(async_batch_exporter(inner, o), config_error,
                          [](const config_error& e) { return e.field() == "async_batch_exporter.batch_size"; });
    BOOST_CHECK_THROW(rate_limited_exporter(inner, -1.0), config_error);
    BOOST_CHECK_THROW(async_exporter(nullptr), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(every_stage_shares_the_export_stage_lifecycle) {
    // start, flush, shutdown, counters and health come from export_stage for all four stages
    auto make = [](int i, const exporter_ptr& inner) -> std::shared_ptr<export_stage> {
        switch (i) {
            case 0: return std::make_shared<async_batch_exporter>(inner);
            case 1: return std::make_shared<async_exporter>(inner);
            case 2: return std::make_shared<rate_limited_exporter>(inner, 1e6, 1e6, true);
            default: return std::make_shared<retrying_exporter>(inner);
        }
    };
    for (int i = 0; i < 4; ++i) {
        auto inner = std::make_shared<recording_exporter>();
        std::shared_ptr<export_stage> stage = make(i, inner);
        BOOST_TEST(stage->inner() == inner);
        BOOST_TEST(stage->is_healthy());
        const auto rs = run_through(stage, 12);
        BOOST_TEST(inner->starts == 1u);
        BOOST_TEST(inner->shutdowns == 1u);
        BOOST_TEST(inner->traces == 12u);
        BOOST_TEST(stage->get_stats().exported_traces == 12u);
        BOOST_TEST(stage->queue_size() == 0u);
        BOOST_TEST(stage->pending_count() == 0u);
        BOOST_TEST(!stage->is_healthy());   // shut down
        BOOST_TEST(rs.spans_exported == 12u);
    }
}

BOOST_AUTO_TEST_SUITE_END()
