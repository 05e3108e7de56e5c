// Each way of using plain Asio in traced code that used to corrupt the context, with the
// behaviour it has now (made safe, or detected and counted); cancellation by any cause;
// waiting for detached work; init/shutdown cost; what untraced code sees.
#include <algorithm>
#include <atomic>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>

#include "test_util.hpp"

namespace asio = boost::asio;
using namespace tracecraft;
using tc_test::find_span;
using tc_test::find_by_id;
using tc_test::get_span;

namespace {

std::atomic<int> g_wrong{0};

void expect_current(span_id id) {
    if (!(current_span_context().span == id)) g_wrong.fetch_add(1);
}

asio::awaitable<void> sleep_ms(int ms) {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
    co_await t.async_wait(asio::use_awaitable);
}

template <class F>
void run_on_threads(asio::io_context& ioc, int threads, F&& start) {
    start();
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
    for (auto& t : pool) t.join();
}

bool cancelled_attr(const span_data& s) {
    const auto* b = std::get_if<bool>(&s.attribute("tracecraft.cancelled"));
    return b && *b;
}

/// Recorded as a cancellation: the attribute, no ERROR status, no error.type.
void expect_cancelled(const span_data& s) {
    BOOST_TEST(cancelled_attr(s), s.name << " has tracecraft.cancelled");
    BOOST_TEST((s.status != status_code::error), s.name << " is not ERROR");
    BOOST_TEST(std::holds_alternative<std::monostate>(s.attribute("error.type")), s.name << " has no error.type");
}

/// Spawns `aw` traced on the env's io_context, runs it to the end, returns the exported spans.
std::vector<span_data> run_traced(tc_test::traced_env& env, asio::awaitable<void> aw) {
    spawn(env.ioc, std::move(aw), asio::detached);
    env.ioc.run();
    return env.finish();
}

// (a) plain completion handler on an I/O object created from the coroutine's executor.
asio::awaitable<void> coroutine_with_plain_handler(std::atomic<bool>* handler_done) {
    span_scope co("co", span_kind::agent);
    const span_id me = co.context().span;
    const auto ex = co_await asio::this_coro::executor;
    auto timer = std::make_shared<asio::steady_timer>(ex, std::chrono::milliseconds(5));
    auto handler = [timer, handler_done](boost::system::error_code) {
        span_scope s("plain_handler", span_kind::tool);   // runs in the coroutine's context
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        handler_done->store(true);
    };
    timer->async_wait(handler);   // no bind_context: the pattern users write
    // resume in a tight loop until the handler has run (it must get its turn), at most 5 s
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!handler_done->load() && std::chrono::steady_clock::now() < until) {
        co_await asio::post(ex, asio::use_awaitable);   // resumptions arrive on any of 4 threads
        expect_current(me);
        span_scope inner("inner", span_kind::workflow);
        co_await asio::post(ex, asio::use_awaitable);
        expect_current(inner.context().span);
    }
}

// (b) asio::co_spawn on a plain executor from traced code.
asio::awaitable<void> plain_child() {
    span_scope s("plain_child", span_kind::tool);
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(2));
    co_await t.async_wait(asio::use_awaitable);
}

asio::awaitable<void> parent_spawning_plainly(asio::io_context* ioc) {
    span_scope root("root", span_kind::agent);
    asio::co_spawn(ioc->get_executor(), plain_child(), asio::detached);   // the mistake
    co_await sleep_ms(20);   // the child ends meanwhile, on the plain executor
    span_scope after("after", span_kind::tool);
}

// (c) awaitable operators.
asio::awaitable<void> op_long() {
    span_scope s("long", span_kind::tool);
    co_await sleep_ms(10);
}
asio::awaitable<void> op_short() {
    span_scope s("short", span_kind::tool);
    co_await sleep_ms(30);
}

asio::awaitable<void> with_asio_operators() {
    using namespace boost::asio::experimental::awaitable_operators;
    span_scope root("root", span_kind::agent);
    co_await (op_long() && op_short());
}

asio::awaitable<void> with_tracecraft_operators() {
    using namespace tracecraft::awaitable_operators;
    span_scope root("root", span_kind::agent);
    auto both = co_await (op_long() && op_short());
    (void)both;
    auto first = co_await (op_long() || op_short());
    BOOST_TEST(first.index() == 0u);
}

using channel_t = asio::experimental::channel<void(boost::system::error_code, int)>;

asio::awaitable<void> channel_waiter(std::shared_ptr<channel_t> ch) {
    span_scope s("channel_waiter", span_kind::memory);
    co_await ch->async_receive(asio::use_awaitable);
}

asio::awaitable<void> quick_winner() {
    span_scope s("winner", span_kind::tool);
    co_await sleep_ms(1);
}

asio::awaitable<void> run_with_channel_loser() {
    run_scope run("run");
    auto ch = std::make_shared<channel_t>(co_await asio::this_coro::executor, 0);
    co_await when_any(channel_waiter(ch), quick_winner());
}

/// Detached work that waits for `gate` (cancelled by the test) or 30 ms when there is none.
asio::awaitable<void> late_worker(std::shared_ptr<asio::steady_timer> gate) {
    if (gate) {
        boost::system::error_code ec;
        co_await gate->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    } else {
        co_await sleep_ms(30);
    }
    span_scope s("late_work", span_kind::tool);
}

asio::awaitable<void> spawns_detached_work(std::shared_ptr<asio::steady_timer> gate) {
    span_scope root("request", span_kind::agent);
    spawn(co_await asio::this_coro::executor, late_worker(std::move(gate)), asio::detached);
}

asio::awaitable<void> stuck_worker() {
    span_scope s("stuck", span_kind::tool);
    co_await sleep_ms(3'600'000);
}

} // namespace

BOOST_AUTO_TEST_SUITE(context_misuse)

BOOST_AUTO_TEST_CASE(plain_handler_on_the_coroutines_executor_waits_for_its_turn) {
    tc_test::traced_env env;
    g_wrong = 0;
    std::atomic<bool> handler_done{false};
    run_on_threads(env.ioc, 4, [&] { spawn(env.ioc, coroutine_with_plain_handler(&handler_done), asio::detached); });
    BOOST_TEST(handler_done.load());
    const auto st = env.rt->stats();
    const auto spans = env.finish();
    BOOST_TEST(g_wrong.load() == 0);   // the coroutine never saw the handler's span
    const auto& co = get_span(spans, "co");
    const auto& h = get_span(spans, "plain_handler");
    // it ran between two resumptions: a child of the coroutine's span at that moment
    const bool parent_ok = h.parent_id == co.id || (find_by_id(spans, h.parent_id) && find_by_id(spans, h.parent_id)->name == "inner");
    BOOST_TEST(parent_ok);
    BOOST_TEST((h.trace == co.trace));
    BOOST_TEST(st.context_waits > 0u);   // the coroutine's resumptions waited while the handler slept
    BOOST_TEST(st.spans_out_of_order == 0u);
    BOOST_TEST(st.spans_abandoned == 0u);
    for (const auto& s : spans) BOOST_TEST(!s.abandoned);
}

BOOST_AUTO_TEST_CASE(plain_co_spawn_from_traced_code_is_detected_and_the_parent_heals) {
    tc_test::traced_env env;
    const auto spans = run_traced(env, parent_spawning_plainly(&env.ioc));
    const auto st = env.rt->stats();
    const auto& child = get_span(spans, "plain_child");
    const auto& root = get_span(spans, "root");
    BOOST_TEST(child.abandoned);                   // ended outside the agent that started it
    BOOST_TEST(st.spans_abandoned == 1u);          // counted
    BOOST_TEST((get_span(spans, "after").parent_id == root.id));   // the parent's context was put back
    BOOST_TEST(st.spans_out_of_order == 0u);
}

BOOST_AUTO_TEST_CASE(asio_awaitable_operators_are_detected_tracecraft_operators_are_right) {
    {
        tc_test::traced_env env;
        const auto spans = run_traced(env, with_asio_operators());
        const auto st = env.rt->stats();
        BOOST_TEST(st.spans_out_of_order >= 1u);   // "long" closed while "short" was current
        // the wrong parent Asio's operators give: short became a child of long
        BOOST_TEST((get_span(spans, "short").parent_id == get_span(spans, "long").id));
        BOOST_TEST(spans.size() == 3u);   // nothing lost, nothing freed early
    }
    {
        tc_test::traced_env env;
        const auto spans = run_traced(env, with_tracecraft_operators());
        const auto st = env.rt->stats();
        BOOST_TEST(st.spans_out_of_order == 0u);
        const auto& root = get_span(spans, "root");
        BOOST_TEST(spans.size() == 5u);
        for (const auto& s : spans)
            if (s.name != "root") BOOST_TEST((s.parent_id == root.id), s.name << " is a child of root");
        // || cancelled the slower operand: recorded as cancelled, not as an error
        std::size_t cancelled = 0;
        for (const auto& s : spans)
            if (s.name == "short" && cancelled_attr(s)) {
                ++cancelled;
                expect_cancelled(s);
            }
        BOOST_TEST(cancelled == 1u);
    }
}

BOOST_AUTO_TEST_CASE(channel_waiter_cancelled_by_when_any_is_not_an_error) {
    tc_test::traced_env env;
    const auto spans = run_traced(env, run_with_channel_loser());
    expect_cancelled(get_span(spans, "channel_waiter"));
    const auto& run = get_span(spans, "run");
    BOOST_TEST((run.status != status_code::error));
    const auto* errors = std::get_if<std::int64_t>(&run.attribute("tracecraft.run.error_count"));
    BOOST_TEST((errors == nullptr || *errors == 0));
}

BOOST_AUTO_TEST_CASE(channel_waiter_cancelled_through_bind_cancellation_slot) {
    tc_test::traced_env env;
    asio::cancellation_signal sig;
    auto ch = std::make_shared<channel_t>(env.ioc, 0);
    std::exception_ptr seen;
    auto done = [&seen](std::exception_ptr e) { seen = e; };
    asio::co_spawn(make_executor(env.ioc), traced("waiting", span_kind::memory, channel_waiter(ch)),
                   asio::bind_cancellation_slot(sig.slot(), done));
    env.ioc.run_for(std::chrono::milliseconds(5));
    sig.emit(asio::cancellation_type::terminal);
    env.ioc.run();
    BOOST_TEST(static_cast<bool>(seen));   // the exception still reaches the caller unchanged
    const auto spans = env.finish();
    for (const char* name : {"waiting", "channel_waiter"}) expect_cancelled(get_span(spans, name));
}

BOOST_AUTO_TEST_CASE(cancellation_state_decides_whatever_the_exception) {
    // a loser that turns its cancellation into a domain exception is still cancelled
    tc_test::traced_env env;
    auto converts = []() -> asio::awaitable<void> {
        span_scope s("converts", span_kind::tool);
        try {
            co_await sleep_ms(1000);
        } catch (const boost::system::system_error&) {
            throw std::runtime_error("request aborted");
        }
    };
    auto body = [&]() -> asio::awaitable<void> {
        span_scope root("root");
        co_await when_any(converts(), quick_winner());
    };
    const auto spans = run_traced(env, body());
    expect_cancelled(get_span(spans, "converts"));
    BOOST_TEST(is_cancellation(std::make_exception_ptr(
        boost::system::system_error(asio::experimental::error::channel_cancelled))));
    BOOST_TEST(!is_cancellation(std::make_exception_ptr(std::runtime_error("x"))));
}

BOOST_AUTO_TEST_CASE(shutdown_grace_waits_for_detached_forks) {
    {   // without grace: the detached worker's trace finishes after shutdown and is counted
        tc_test::traced_env env;
        auto gate = std::make_shared<asio::steady_timer>(env.ioc, std::chrono::hours(1));
        spawn(env.ioc, spawns_detached_work(gate), asio::detached);
        env.ioc.poll();
        env.rt->shutdown();
        gate->cancel();   // the worker goes on only now
        env.ioc.run();
        BOOST_TEST(env.rt->stats().traces_after_shutdown == 1u);
        BOOST_TEST(!find_span(env.mem->take(), "late_work"));
    }
    {   // with grace: shutdown runs the io_context until the fork released the trace
        tc_test::traced_env env;
        spawn(env.ioc, spawns_detached_work(nullptr), asio::detached);
        env.ioc.poll();
        BOOST_TEST(env.rt->stats().traces_open == 1u);
        env.rt->shutdown(std::chrono::seconds(5));
        const auto st = env.rt->stats();
        BOOST_TEST(st.traces_after_shutdown == 0u);
        BOOST_TEST(st.traces_open == 0u);
        const auto spans = env.mem->take();
        BOOST_TEST((get_span(spans, "late_work").parent_id == get_span(spans, "request").id));
    }
    {   // async_wait_idle: false after its timeout while work is stuck, true once it is gone
        tc_test::traced_env env;
        auto stuck = std::make_shared<asio::cancellation_signal>();
        asio::co_spawn(make_executor(env.ioc), stuck_worker(), asio::bind_cancellation_slot(stuck->slot(), asio::detached));
        std::optional<bool> first, second;
        auto check = [&]() -> asio::awaitable<void> {
            first = co_await env.rt->async_wait_idle(std::chrono::milliseconds(20));
            stuck->emit(asio::cancellation_type::terminal);
            second = co_await env.rt->async_wait_idle(std::chrono::seconds(5));
        };
        asio::co_spawn(env.ioc, check(), asio::detached);
        env.ioc.run();
        BOOST_TEST((first && !*first));
        BOOST_TEST((second && *second));
        env.finish();
    }
}

BOOST_AUTO_TEST_CASE(init_run_shutdown_cycles_are_fast) {
    // 200 cycles of init + a short traced run + shutdown, as tests and short-lived tools do
    std::vector<double> ms;
    for (int i = 0; i < 200; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        asio::io_context ioc;
        auto mem = std::make_shared<memory_exporter>();
        trace_config cfg;
        cfg.exporters = {mem};
        auto rt = init(ioc, cfg);
        auto work = []() -> asio::awaitable<void> {
            span_scope s("work", span_kind::tool);
            co_await asio::post(asio::use_awaitable);
        };
        spawn(ioc, work(), asio::detached);
        ioc.run();   // the pipeline's batch timer does not hold run() for flush_interval
        rt->shutdown();
        BOOST_TEST_REQUIRE(mem->take().size() == 1u);   // and nothing was lost
        reset_default_runtime();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    BOOST_TEST_MESSAGE("init+run+shutdown: median " << ms[100] << " ms, max " << ms.back() << " ms");
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    BOOST_TEST(ms[100] < 50.0);
#else
    BOOST_TEST(ms[100] < 10.0);
#endif
}

BOOST_AUTO_TEST_CASE(untraced_code_sees_the_span_of_the_thread_that_runs_it) {
    // Documented behaviour: code outside any tracecraft executor (plain handlers, coroutines on
    // plain executors) uses the running thread's span stack, so a span open around
    // io_context::run() is their parent. Coroutines on make_executor / spawn have their own.
    tc_test::traced_env env;
    auto plain_coro = []() -> asio::awaitable<void> {
        co_await asio::post(asio::use_awaitable);
        span_scope s("plain_coro", span_kind::tool);   // no co_await while it is open
    };
    auto isolated = []() -> asio::awaitable<void> {
        co_await asio::post(asio::use_awaitable);
        span_scope s("isolated", span_kind::tool);
        co_await asio::post(asio::use_awaitable);
    };
    trace_id main_trace;
    span_id main_id;
    {
        span_scope main_span("main", span_kind::agent);
        main_trace = main_span.context().trace;
        main_id = main_span.context().span;
        asio::co_spawn(env.ioc, plain_coro(), asio::detached);
        asio::co_spawn(make_executor(env.ioc), isolated(), asio::detached);
        asio::post(env.ioc, [] { span_scope s("plain_handler", span_kind::tool); });
        env.ioc.run();
    }
    const auto spans = env.finish();
    BOOST_TEST((get_span(spans, "plain_coro").parent_id == main_id));
    BOOST_TEST((get_span(spans, "plain_handler").parent_id == main_id));
    const auto& iso = get_span(spans, "isolated");
    BOOST_TEST(!iso.parent_id.valid());   // a new trace
    BOOST_TEST(!(iso.trace == main_trace));
}

BOOST_AUTO_TEST_SUITE_END()
