// The context slot under stress, through the public API only, the way users combine it: four
// threads on one io_context plus a second io_context on its own thread, strands, channels,
// nested when_all, when_any cancelling timer / channel / socket waiters, exceptions, spawn,
// bind_context. After every resumption the current span is checked, and every exported span's
// parent is checked against the parent the test expected when it opened the span.
//
// Scale: TRACECRAFT_STRESS_RESUMPTIONS (default 1,000,000 checked resumptions; 40,000 under
// TSan and 150,000 under ASan, which are 10-20x slower).
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>

#include "test_util.hpp"

namespace asio = boost::asio;
using namespace tracecraft;
using channel_t = asio::experimental::concurrent_channel<void(boost::system::error_code, int)>;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr std::uint64_t default_resumptions = 40'000;
#elif defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t default_resumptions = 150'000;
#else
constexpr std::uint64_t default_resumptions = 1'000'000;
#endif

std::uint64_t target_resumptions() {
    if (const char* v = std::getenv("TRACECRAFT_STRESS_RESUMPTIONS")) {
        char* end = nullptr;
        const unsigned long long n = std::strtoull(v, &end, 10);
        if (end != v && *end == '\0' && n > 0) return n;
    }
    return default_resumptions;
}

std::atomic<std::uint64_t> g_checks{0};
std::atomic<std::uint64_t> g_wrong{0};
std::atomic<bool> g_stop{false};

/// One checked resumption: the current span must be the one this code opened last.
void check(span_id expected) {
    g_checks.fetch_add(1, std::memory_order_relaxed);
    if (!(current_span_context().span == expected)) g_wrong.fetch_add(1, std::memory_order_relaxed);
}

/// A span that records the parent the test expects (the enclosing span, read before opening).
struct checked_span {
    explicit checked_span(std::string_view name, span_kind kind = span_kind::workflow)
        : expected_parent(current_span_context().span), scope(name, kind) {
        scope.set_attribute("exp_parent", static_cast<std::int64_t>(expected_parent.value));
    }
    span_id id() const { return scope.context().span; }
    span_id expected_parent;
    span_scope scope;
};

/// Exporter checking every span's parent against its exp_parent attribute, without copying.
class parent_checker final : public exporter {
public:
    std::string_view name() const noexcept override { return "parent_checker"; }
    asio::awaitable<export_result> export_batch(span_batch batch) override {
        batch.for_each_span([this](const span_view& s) {
            spans.fetch_add(1, std::memory_order_relaxed);
            if (s.name().starts_with("loser_")) {
                losers.fetch_add(1, std::memory_order_relaxed);
                const value_view c = s.attributes().find("tracecraft.cancelled");
                if (s.status() == status_code::error || c.type() != value_type::boolean || !c.as_bool())
                    losers_not_cancelled.fetch_add(1, std::memory_order_relaxed);
            }
            const value_view v = s.attributes().find("exp_parent");
            if (v.type() != value_type::int64) return;
            checked.fetch_add(1, std::memory_order_relaxed);
            if (static_cast<std::uint64_t>(v.as_int()) != s.parent_id().value) wrong.fetch_add(1, std::memory_order_relaxed);
        });
        co_return export_result::ok();
    }
    std::atomic<std::uint64_t> spans{0}, checked{0}, wrong{0}, losers{0}, losers_not_cancelled{0};
};

// ------------------------------------------------------------------ the pieces of one step

asio::awaitable<void> timer_hop(int us) {
    checked_span s("timer", span_kind::tool);
    const auto ex = co_await asio::this_coro::executor;
    asio::steady_timer t(ex, std::chrono::microseconds(us));
    co_await t.async_wait(asio::use_awaitable);
    check(s.id());
    co_await asio::post(ex, asio::use_awaitable);
    check(s.id());
}

asio::awaitable<int> failing(int i) {
    checked_span s("failing", span_kind::tool);
    const auto ex = co_await asio::this_coro::executor;
    co_await asio::post(ex, asio::use_awaitable);
    check(s.id());
    if (i >= 0) throw std::runtime_error("planned failure");
    co_return i;
}

asio::awaitable<void> waits_on_timer() {
    checked_span s("loser_timer", span_kind::tool);
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
    co_await t.async_wait(asio::use_awaitable);
}

asio::awaitable<void> waits_on_channel(std::shared_ptr<channel_t> ch) {
    checked_span s("loser_channel", span_kind::memory);
    co_await ch->async_receive(asio::use_awaitable);
}

asio::awaitable<void> waits_on_socket() {
    checked_span s("loser_socket", span_kind::tool);
    const auto ex = co_await asio::this_coro::executor;
    asio::ip::tcp::acceptor acc(ex, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    asio::ip::tcp::socket sock(ex);
    co_await acc.async_accept(sock, asio::use_awaitable);
}

asio::awaitable<void> quick() {
    checked_span s("winner", span_kind::tool);
    const auto ex = co_await asio::this_coro::executor;
    co_await asio::post(ex, asio::use_awaitable);
    check(s.id());
}

asio::awaitable<void> partner(std::shared_ptr<channel_t> ch, int n) {
    checked_span s("partner", span_kind::memory);
    const boost::system::error_code no_error;   // a named local: no temporaries inside co_await (GCC 12)
    for (int i = 0; i < n; ++i) {
        co_await ch->async_send(no_error, i, asio::use_awaitable);
        check(s.id());
    }
}

/// Runs on the second io_context's thread: a child of the span current at spawn.
asio::awaitable<void> on_other_context() {
    checked_span s("other_ctx", span_kind::retrieval);
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds(20));
    co_await t.async_wait(asio::use_awaitable);
    check(s.id());
}

struct shared_io {
    asio::io_context& second;
};

asio::awaitable<void> step(int agent, int n, const shared_io& io) {
    checked_span st("step");
    st.scope.set_attribute("agent", agent).set_attribute("n", n);
    const span_id me = st.id();
    const auto ex = co_await asio::this_coro::executor;
    switch (n % 6) {
        case 0: {   // nested when_all: timers inside timers
            auto inner = when_all(timer_hop(n % 7), timer_hop(3));
            co_await when_all(timer_hop(5), std::move(inner));
            check(me);
            break;
        }
        case 1: {   // when_any cancelling a timer, a channel and a socket waiter
            auto ch = std::make_shared<channel_t>(ex, 0);
            auto r = co_await when_any(waits_on_timer(), waits_on_channel(ch), waits_on_socket(), quick());
            check(me);
            if (r.index != 3) g_wrong.fetch_add(1);
            break;
        }
        case 2: {   // a channel between this agent and a spawned partner
            auto ch = std::make_shared<channel_t>(ex, 0);
            spawn(ex, partner(ch, 4), asio::detached);
            for (int i = 0; i < 4; ++i) {
                co_await ch->async_receive(asio::use_awaitable);
                check(me);
            }
            break;
        }
        case 3: {   // an exception from one child of when_all
            try {
                co_await when_all(failing(n), timer_hop(2));
            } catch (const std::runtime_error&) {
            }
            check(me);
            break;
        }
        case 4: {   // a hop to the second io_context and back
            co_await spawn(io.second, on_other_context(), asio::use_awaitable);
            check(me);
            break;
        }
        default: {   // bind_context callbacks on the second io_context, and a post
            std::promise<void> done;   // completed by the callback on the other thread
            auto fut = done.get_future();
            auto cb = bind_context([&done] {
                checked_span s("callback", span_kind::tool);
                done.set_value();
            });
            asio::post(io.second, std::move(cb));
            asio::steady_timer t(ex, std::chrono::microseconds(30));
            while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
                co_await t.async_wait(asio::use_awaitable);
                check(me);
                t.expires_after(std::chrono::microseconds(30));
            }
            co_await asio::post(ex, asio::use_awaitable);
            check(me);
            break;
        }
    }
}

asio::awaitable<void> agent(int id, std::uint64_t target, shared_io io) {
    for (int n = 0; !g_stop.load(std::memory_order_relaxed); ++n) {
        checked_span run("agent", span_kind::agent);
        run.scope.set_attribute("agent", id);
        for (int k = 0; k < 4; ++k) {
            co_await step(id, n * 4 + k, io);
            check(run.id());
        }
        if (g_checks.load(std::memory_order_relaxed) >= target) g_stop.store(true);
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(context_stress)

BOOST_AUTO_TEST_CASE(checked_resumptions_on_four_threads_strands_and_a_second_io_context) {
    const std::uint64_t target = target_resumptions();
    g_checks = 0;
    g_wrong = 0;
    g_stop = false;
    asio::io_context ioc(4);
    asio::io_context second(1);
    auto checker = std::make_shared<parent_checker>();
    trace_config cfg;
    cfg.exporters = {checker};
    cfg.max_queue_spans = 1 << 16;
    cfg.flush_interval = std::chrono::milliseconds(20);
    auto rt = init(ioc, cfg);

    auto guard2 = asio::make_work_guard(second);
    std::thread second_thread([&] { second.run(); });
    shared_io io{second};
    constexpr int agents = 24;
    for (int i = 0; i < agents; ++i) {
        if (i % 3 == 0)
            spawn(asio::make_strand(ioc), agent(i, target, io), asio::detached);   // strand users
        else
            spawn(ioc, agent(i, target, io), asio::detached);
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back([&] { ioc.run(); });
    for (auto& t : threads) t.join();
    guard2.reset();
    second_thread.join();
    rt->shutdown();
    const runtime_stats st = rt->stats();
    reset_default_runtime();

    BOOST_TEST_MESSAGE("checked resumptions: " << g_checks.load() << ", spans exported: " << checker->spans.load());
    BOOST_TEST(g_checks.load() >= target);
    BOOST_TEST(g_wrong.load() == 0u);
    BOOST_TEST(checker->wrong.load() == 0u);
    BOOST_TEST(checker->checked.load() > 0u);
    BOOST_TEST(checker->losers.load() > 0u);
    BOOST_TEST(checker->losers_not_cancelled.load() == 0u);   // cancelled by when_any: never ERROR
    BOOST_TEST(checker->checked.load() == checker->spans.load());
    BOOST_TEST(st.spans_exported == checker->spans.load());
    BOOST_TEST(st.traces_open == 0u);
    BOOST_TEST(st.spans_queue_dropped == 0u);
    BOOST_TEST_MESSAGE("context waits: " << st.context_waits);
    BOOST_TEST(st.spans_out_of_order == 0u);
    BOOST_TEST(st.spans_abandoned == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
