// Shutdown, cancellation, io_context destruction, threads, lossless draining.
#include <boost/asio.hpp>

#include <unistd.h>

#include <filesystem>

#include "test_util.hpp"
#include "tracecraft/exporters/otlp_http.hpp"
#include "tracecraft/exporters/stages.hpp"

namespace asio = boost::asio;
using namespace tracecraft;
using tc_test::get_span;

namespace {

asio::awaitable<void> waits_forever(std::shared_ptr<int> token) {
    span_scope s("suspended", span_kind::tool);
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(std::chrono::hours(1));
    co_await t.async_wait(asio::use_awaitable);
    (void)token;
}

asio::awaitable<void> produce(int runs) {
    for (int i = 0; i < runs; ++i) {
        run_scope run("agent");
        { span_scope a("llm", span_kind::llm); }
        { span_scope b("tool", span_kind::tool); }
        { span_scope c("retrieval", span_kind::retrieval); }
        co_await asio::post(asio::use_awaitable);
    }
}

/// An exporter that takes 2 ms per batch (a slow backend), never blocking the thread. A stubborn
/// one finishes every export it starts, whatever cancellation says: `yields` round trips through
/// the io_context (each completion already queued when a give-up may run), or with none a 2 ms
/// wait that ignores cancellation.
class slow_exporter final : public exporter {
public:
    slow_exporter() = default;
    static std::shared_ptr<slow_exporter> stubborn(int yields) {
        auto e = std::make_shared<slow_exporter>();
        e->stubborn_ = true;
        e->yields_ = yields;
        return e;
    }
    std::string_view name() const noexcept override { return stubborn_ ? "stubborn" : "slow"; }
    void start(const exporter_environment& env) override { ex_ = env.executor; }
    asio::awaitable<export_result> export_batch(span_batch b) override {
        if (yields_ == 0) {
            asio::steady_timer t(ex_);
            t.expires_after(std::chrono::milliseconds(2));
            if (stubborn_)
                co_await t.async_wait(asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
            else
                co_await t.async_wait(asio::use_awaitable);
        }
        for (int i = 0; i < yields_; ++i) co_await asio::post(ex_, asio::use_awaitable);
        spans += b.span_count();
        co_return export_result::ok();
    }
    // exporters must not keep executors or I/O objects of the io_context past shutdown()
    asio::awaitable<void> shutdown() override {
        ex_ = asio::any_io_executor();
        co_return;
    }
    std::size_t spans = 0;

private:
    bool stubborn_ = false;
    int yields_ = 0;
    asio::any_io_executor ex_;
};

} // namespace

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(io_context_destroyed_with_suspended_traced_coroutines) {
    auto mem = std::make_shared<memory_exporter>();
    auto token = std::make_shared<int>(0);
    std::shared_ptr<runtime> rt;
    {
        asio::io_context ioc;
        trace_config cfg;
        cfg.exporters = {mem};
        rt = std::make_shared<runtime>(ioc, cfg);
        for (int i = 0; i < 10; ++i) asio::co_spawn(make_executor(ioc, rt.get()), waits_forever(token), asio::detached);
        ioc.run_for(std::chrono::milliseconds(20));
        BOOST_TEST(token.use_count() == 11);
    }   // frames destroyed here, outside any handler
    BOOST_TEST(token.use_count() == 1);   // every frame was freed
    BOOST_TEST(detail::tls_slot() == nullptr);
    BOOST_TEST(rt->stats().traces_after_shutdown == 10u);   // reported, not silently lost
    rt.reset();   // runtime outliving its io_context is safe
}

BOOST_AUTO_TEST_CASE(cancellation_is_recorded_and_propagates) {
    tc_test::traced_env env;
    asio::cancellation_signal sig;
    bool cancelled = false;
    asio::co_spawn(make_executor(env.ioc), traced("waiting", span_kind::tool, waits_forever(nullptr)),
                   asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e) {
                       try {
                           if (e) std::rethrow_exception(e);
                       } catch (const boost::system::system_error& se) {
                           cancelled = se.code() == asio::error::operation_aborted;
                       }
                   }));
    env.ioc.run_for(std::chrono::milliseconds(10));
    sig.emit(asio::cancellation_type::terminal);
    env.ioc.run();
    BOOST_TEST(cancelled);
    const auto spans = env.finish();
    const auto& w = get_span(spans, "waiting");
    BOOST_TEST(std::get<bool>(w.attribute("tracecraft.cancelled")));
    BOOST_TEST((w.status == status_code::unset));
    BOOST_TEST((get_span(spans, "suspended").parent_id == w.id));
}

BOOST_AUTO_TEST_CASE(shutdown_drains_everything_with_a_slow_exporter) {
    auto slow = std::make_shared<slow_exporter>();
    asio::io_context ioc;
    trace_config cfg;
    cfg.exporters = {slow};
    cfg.max_queue_spans = 1 << 16;
    cfg.batch_size = 64;
    cfg.flush_interval = std::chrono::milliseconds(10);
    auto rt = std::make_shared<runtime>(ioc, cfg);
    asio::co_spawn(make_executor(ioc, rt.get()), produce(2000), asio::detached);
    ioc.run();   // producer done; many batches still queued behind the slow exporter
    rt->shutdown();
    const auto st = rt->stats();
    BOOST_TEST(st.spans_queue_dropped == 0u);
    BOOST_TEST(slow->spans == 8000u);
    BOOST_TEST(st.spans_exported == 8000u);
    BOOST_TEST(st.queue_spans == 0u);
}

/// 2000 runs of 4 spans through a 256-span pipeline into the slow exporter, then shutdown.
runtime_stats overflow_run(const std::shared_ptr<exporter>& slow, overflow_policy overflow) {
    asio::io_context ioc;
    trace_config cfg;
    cfg.overflow = overflow;
    cfg.exporters = {slow};
    cfg.max_queue_spans = 256;
    cfg.batch_size = 64;
    cfg.flush_interval = std::chrono::milliseconds(10);
    auto rt = std::make_shared<runtime>(ioc, cfg);
    asio::co_spawn(make_executor(ioc, rt.get()), produce(2000), asio::detached);
    ioc.run();
    rt->shutdown();
    return rt->stats();
}

BOOST_AUTO_TEST_CASE(queue_overflow_is_counted_exactly) {
    auto slow = std::make_shared<slow_exporter>();
    const auto st = overflow_run(slow, overflow_policy::drop_newest);
    BOOST_TEST(st.spans_queue_dropped > 0u);
    BOOST_TEST(st.spans_queue_dropped % 4 == 0u);   // whole traces
    BOOST_TEST(st.spans_exported + st.spans_queue_dropped == 8000u);
    BOOST_TEST(slow->spans == st.spans_exported);
    BOOST_TEST(st.traces_queue_dropped * 4 == st.spans_queue_dropped);
}

BOOST_AUTO_TEST_CASE(drop_oldest_gives_old_batches_up_and_keeps_the_newest) {
    auto slow = std::make_shared<slow_exporter>();
    const auto st = overflow_run(slow, overflow_policy::drop_oldest);   // the default policy
    BOOST_TEST(st.spans_queue_dropped > 0u);
    BOOST_TEST(st.batches_queue_dropped > 0u);
    BOOST_TEST(st.spans_queue_dropped % 4 == 0u);   // whole traces
    BOOST_TEST(st.spans_exported + st.spans_queue_dropped == 8000u);
    BOOST_TEST(slow->spans == st.spans_exported);
    BOOST_TEST(st.queue_spans == 0u);
}

// Giving up the batch an exporter is exporting only asks it to stop: an export that completes
// anyway is delivered and counted so, and the request must not cancel the exporter's next batch
// (it once did: co_spawn delivered the cancellation later, through a post, and the next batch
// failed with "Operation canceled").
BOOST_AUTO_TEST_CASE(a_batch_given_up_while_exporting_but_delivered_counts_as_exported) {
    for (int yields : {0, 1, 2}) {
        auto stubborn = slow_exporter::stubborn(yields);
        const auto st = overflow_run(stubborn, overflow_policy::drop_oldest);
        BOOST_TEST_CONTEXT("yields " << yields) {
            BOOST_TEST(st.spans_export_failed == 0u);
            BOOST_TEST(st.spans_exported + st.spans_queue_dropped == 8000u);
            BOOST_TEST(stubborn->spans == st.spans_exported);
            BOOST_TEST(st.queue_spans == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(the_runtime_creates_no_thread) {
    const std::size_t before = tc_test::thread_count();
    {
        tc_test::traced_env env;
        spawn(env.ioc, produce(500), asio::detached);
        env.ioc.run();
        BOOST_TEST(tc_test::thread_count() == before);
        BOOST_TEST(env.finish().size() == 2000u);
        BOOST_TEST(tc_test::thread_count() == before);
    }
}

BOOST_AUTO_TEST_CASE(force_flush_exports_without_stopping) {
    tc_test::traced_env env;
    spawn(env.ioc, produce(3), asio::detached);
    env.ioc.run();
    env.rt->force_flush();
    BOOST_TEST(env.mem->span_count() == 12u);
    BOOST_TEST(env.rt->is_healthy());
    spawn(env.ioc, produce(1), asio::detached);
    env.ioc.run();
    BOOST_TEST(env.finish().size() == 16u);
    BOOST_TEST(!env.rt->is_healthy());   // shut down
}

BOOST_AUTO_TEST_CASE(blocking_shutdown_inside_a_handler_is_refused) {
    tc_test::traced_env env;
    bool refused = false;
    asio::post(env.ioc, [&] {
        try {
            env.rt->shutdown();
        } catch (const std::logic_error&) {
            refused = true;
        }
    });
    env.ioc.run();
    BOOST_TEST(refused);
}

// An exporter that keeps I/O state (the OTLP exporter: its connection, its executor, a spool
// sender waiting on a timer, the metric export loop; a stage's timer) on an io_context that is
// destroyed before the runtime's shutdown(): everything is released (LeakSanitizer checks in the
// ASan build; the traces the pipeline held referenced the runtime, which held them), the loss is
// counted, and the runtime, its metrics and the exporter stay usable objects afterwards.
enum class wrap { none, stages };
void otlp_runtime_outlives_its_io_context(const std::string& spool_dir, wrap how) {
    std::shared_ptr<runtime> rt;
    std::shared_ptr<otlp_http_exporter> exp;
    {
        asio::io_context ioc;
        otlp_http_options o;
        o.endpoint = "http://127.0.0.1:9/v1/traces";   // nothing listens: exports fail and retry
        o.spool_dir = spool_dir;
        exp = std::make_shared<otlp_http_exporter>(o);
        trace_config cfg;
        if (how == wrap::stages)
            cfg.exporters = {std::make_shared<async_batch_exporter>(std::make_shared<retrying_exporter>(exp))};
        else
            cfg.exporters = {exp};
        cfg.flush_interval = std::chrono::milliseconds(5);
        cfg.metrics.export_interval = std::chrono::milliseconds(100);
        rt = std::make_shared<runtime>(ioc, cfg);
        asio::co_spawn(make_executor(ioc, rt.get()), produce(3), asio::detached);
        ioc.run_for(std::chrono::milliseconds(250));   // a metric export attempt, batch retries
    }   // the io_context goes first, with export attempts, retry waits and timers pending
    BOOST_TEST(rt->metrics().total("gen_ai.client.operation.duration") == 3.0);   // still readable
    const runtime_stats st = rt->stats();
    BOOST_TEST(st.spans_exported == 0u);
    if (spool_dir.empty() && how == wrap::none) BOOST_TEST(st.spans_shutdown_dropped == 12u);   // 3 runs of 4 spans, counted
    rt->shutdown();   // returns at once: there is no io_context to run it on
    rt.reset();
    BOOST_TEST(exp.use_count() == 1);   // nothing of the pipeline holds the exporter any more
    exp.reset();
}

BOOST_AUTO_TEST_CASE(otlp_exporter_io_context_destroyed_before_shutdown) {
    otlp_runtime_outlives_its_io_context("", wrap::none);
}

BOOST_AUTO_TEST_CASE(otlp_exporter_in_stages_io_context_destroyed_before_shutdown) {
    otlp_runtime_outlives_its_io_context("", wrap::stages);
}

BOOST_AUTO_TEST_CASE(otlp_exporter_with_spool_io_context_destroyed_before_shutdown) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("tracecraft-lifecycle-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    otlp_runtime_outlives_its_io_context(dir.string(), wrap::none);
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
