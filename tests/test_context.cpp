// The coroutine context slot under interleaving: >= 200 concurrent traced tasks mixing timers,
// post, channels, nested awaitables and parallel groups, on 1 and 4 threads and on strands.
#include <map>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>

#include "test_util.hpp"

namespace asio = boost::asio;
using namespace tracecraft;
// concurrent_channel: task and partner may run on different threads at once
using channel_t = asio::experimental::concurrent_channel<void(boost::system::error_code, int)>;

namespace {

std::atomic<int> g_mismatch{0};
std::atomic<int> g_checks{0};

void check_current(span_id expected) {
    g_checks.fetch_add(1, std::memory_order_relaxed);
    if (!(current_span_context().span == expected)) g_mismatch.fetch_add(1, std::memory_order_relaxed);
}

// Synchronous code called from a coroutine sees the coroutine's current span.
void sync_helper(int task) { current_span().set_attribute("sync_task", task); }

asio::awaitable<int> leaf(int task, int step) {
    span_scope s("leaf", span_kind::tool);
    s.set_attribute("task", task).set_attribute("step", step);
    const span_id me = s.context().span;
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(std::chrono::microseconds(50 * (step % 3)));
    co_await t.async_wait(asio::use_awaitable);
    check_current(me);
    co_await asio::post(asio::use_awaitable);
    check_current(me);
    co_return task;
}

asio::awaitable<void> channel_partner(std::shared_ptr<channel_t> ch, int task, int n) {
    span_scope s("partner", span_kind::memory);
    s.set_attribute("task", task);
    const span_id me = s.context().span;
    const boost::system::error_code no_error;
    for (int i = 0; i < n; ++i) {
        co_await ch->async_send(no_error, i, asio::use_awaitable);
        check_current(me);
    }
}

asio::awaitable<void> task(int id, int steps) {
    span_scope root("task", span_kind::agent);
    root.set_attribute("task", id);
    const span_id root_id = root.context().span;
    const auto ex = co_await asio::this_coro::executor;
    for (int step = 0; step < steps; ++step) {
        span_scope st("step", span_kind::workflow);
        st.set_attribute("task", id).set_attribute("step", step);
        const span_id sid = st.context().span;
        switch ((id + step) % 4) {
            case 0: {
                asio::steady_timer t(ex);
                t.expires_after(std::chrono::microseconds(100));
                co_await t.async_wait(asio::use_awaitable);
                check_current(sid);
                sync_helper(id);
                break;
            }
            case 1: {
                const int v = co_await leaf(id, step);
                if (v != id) g_mismatch.fetch_add(1);
                check_current(sid);
                break;
            }
            case 2: {
                auto r = co_await when_all(leaf(id, step), leaf(id, step));
                if (std::get<0>(r) != id || std::get<1>(r) != id) g_mismatch.fetch_add(1);
                check_current(sid);
                break;
            }
            default: {
                auto ch = std::make_shared<channel_t>(ex, 1);
                spawn(ex, channel_partner(ch, id, 3), asio::detached);
                for (int i = 0; i < 3; ++i) {
                    const int got = co_await ch->async_receive(asio::use_awaitable);
                    if (got != i) g_mismatch.fetch_add(1);
                    check_current(sid);
                }
                break;
            }
        }
        check_current(sid);
    }
    check_current(root_id);
}

std::int64_t int_attr(const span_data& s, const char* key) {
    const auto* v = std::get_if<std::int64_t>(&s.attribute(key));
    return v ? *v : -1;
}

void verify_tree(const std::vector<span_data>& spans, int tasks, int steps) {
    std::map<std::uint64_t, const span_data*> by_id;
    for (const auto& s : spans) by_id[s.id.value] = &s;
    BOOST_TEST(tc_test::count_named(spans, "task") == static_cast<std::size_t>(tasks));
    BOOST_TEST(tc_test::count_named(spans, "step") == static_cast<std::size_t>(tasks * steps));
    int bad = 0;
    for (const auto& s : spans) {
        if (s.name == "task") {
            if (s.parent_id.valid()) ++bad;
            continue;
        }
        auto it = by_id.find(s.parent_id.value);
        if (it == by_id.end()) {
            ++bad;
            continue;
        }
        const span_data& p = *it->second;
        if (!(p.trace == s.trace)) ++bad;
        if (s.name == "step") {
            if (p.name != "task" || int_attr(p, "task") != int_attr(s, "task")) ++bad;
            if (const auto* v = std::get_if<std::int64_t>(&s.attribute("sync_task")); v && *v != int_attr(s, "task")) ++bad;
        } else if (s.name == "leaf") {
            if (p.name != "step" || int_attr(p, "task") != int_attr(s, "task") || int_attr(p, "step") != int_attr(s, "step"))
                ++bad;
        } else if (s.name == "partner") {
            if (p.name != "step" || int_attr(p, "task") != int_attr(s, "task")) ++bad;
        } else {
            ++bad;
        }
    }
    BOOST_TEST(bad == 0);
}

enum class placement { io_context, strands };

void run_interleaving(int threads, placement where) {
    constexpr int tasks = 200, steps = 8;
    g_mismatch = 0;
    g_checks = 0;
    trace_config cfg;
    cfg.max_queue_spans = 1 << 20;
    tc_test::traced_env env(cfg);
    for (int i = 0; i < tasks; ++i) {
        if (where == placement::strands)
            spawn(asio::make_strand(env.ioc), task(i, steps), asio::detached);
        else
            spawn(env.ioc, task(i, steps), asio::detached);
    }
    std::atomic<int> leaked{0};
    if (threads == 1) {
        // invariant 1: outside any handler the thread_local slot is null
        while (env.ioc.run_one())
            if (detail::tls_slot() != nullptr) ++leaked;
    } else {
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&] {
                env.ioc.run();
                if (detail::tls_slot() != nullptr) ++leaked;
            });
        for (auto& t : pool) t.join();
    }
    BOOST_TEST(leaked == 0);
    BOOST_TEST(detail::tls_slot() == nullptr);
    BOOST_TEST(g_mismatch == 0);
    BOOST_TEST(g_checks > tasks * steps * 2);
    const auto spans = env.finish();
    verify_tree(spans, tasks, steps);
    const auto st = env.rt->stats();
    BOOST_TEST(st.spans_queue_dropped == 0u);
    BOOST_TEST(st.spans_exported == spans.size());
}

} // namespace

BOOST_AUTO_TEST_SUITE(context_slot)

BOOST_AUTO_TEST_CASE(interleaving_one_thread) { run_interleaving(1, placement::io_context); }
BOOST_AUTO_TEST_CASE(interleaving_four_threads) { run_interleaving(4, placement::io_context); }
BOOST_AUTO_TEST_CASE(interleaving_strands_four_threads) { run_interleaving(4, placement::strands); }
BOOST_AUTO_TEST_CASE(interleaving_strands_one_thread) { run_interleaving(1, placement::strands); }

// The pipeline on an io_context of its own, run by its own thread, while two threads run the
// traced tasks: traces cross threads on the way out (and span blocks on the way back).
BOOST_AUTO_TEST_CASE(pipeline_on_its_own_io_context_and_thread) {
    constexpr int tasks = 200, steps = 8;
    g_mismatch = 0;
    g_checks = 0;
    asio::io_context app, pipeline;
    auto mem = std::make_shared<memory_exporter>();
    trace_config cfg;
    cfg.max_queue_spans = 1 << 20;
    cfg.flush_interval = std::chrono::milliseconds(10);
    cfg.exporters.push_back(mem);
    auto rt = init(pipeline, cfg);
    auto work = asio::make_work_guard(pipeline);
    std::thread pipeline_thread([&pipeline] { pipeline.run(); });
    for (int i = 0; i < tasks; ++i) spawn(app, task(i, steps), asio::detached);
    std::vector<std::thread> pool;
    for (int t = 0; t < 2; ++t) pool.emplace_back([&app] { app.run(); });
    for (auto& t : pool) t.join();
    rt->shutdown();
    work.reset();
    pipeline_thread.join();
    BOOST_TEST(g_mismatch == 0);
    const auto spans = mem->take();
    verify_tree(spans, tasks, steps);
    BOOST_TEST(rt->stats().spans_queue_dropped == 0u);
    BOOST_TEST(rt->stats().spans_exported == spans.size());
    reset_default_runtime();
}

BOOST_AUTO_TEST_SUITE_END()
