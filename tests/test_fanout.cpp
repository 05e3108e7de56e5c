// Fork semantics of when_all / when_any / spawn / spawn_linked / bind_context / traced.
#include <boost/asio.hpp>

#include "test_util.hpp"

namespace asio = boost::asio;
using namespace tracecraft;
using tc_test::get_span;

namespace {

asio::awaitable<int> child(std::string name, int value, int delay_ms) {
    span_scope s(name, span_kind::llm);
    const span_context mine = s.context();
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(std::chrono::milliseconds(delay_ms));
    co_await t.async_wait(asio::use_awaitable);
    // siblings never see each other: after resuming, the current span is still ours
    if (!(current_span_context() == mine)) throw std::logic_error("context leaked into " + name);
    co_return value;
}

asio::awaitable<void> void_child(std::string name) {
    span_scope s(name, span_kind::tool);
    co_await asio::post(asio::use_awaitable);
}

asio::awaitable<int> failing_child(std::string name) {
    span_scope s(name, span_kind::tool);
    co_await asio::post(asio::use_awaitable);
    throw std::runtime_error("tool exploded");
}

template <class F>
void run_coro(tc_test::traced_env& env, F make) {
    std::exception_ptr failure;
    spawn(env.ioc, make(), [&failure](std::exception_ptr e) { failure = e; });
    env.ioc.run();
    if (failure) std::rethrow_exception(failure);
}

} // namespace

BOOST_AUTO_TEST_SUITE(fanout)

BOOST_AUTO_TEST_CASE(when_all_forks_children_under_the_current_span) {
    tc_test::traced_env env;
    run_coro(env, []() -> asio::awaitable<void> {
        run_scope run("agent");
        const span_context before = current_span_context();
        auto r = co_await when_all(child("llm", 1, 5), child("tool", 2, 1), void_child("retrieval"));
        BOOST_TEST(std::get<0>(r) == 1);
        BOOST_TEST(std::get<1>(r) == 2);
        BOOST_TEST((current_span_context() == before));   // caller's span unchanged
        span_scope after("after_group");
    });
    const auto spans = env.finish();
    BOOST_TEST_REQUIRE(spans.size() == 5u);
    const auto& agent = get_span(spans, "agent");
    for (const char* n : {"llm", "tool", "retrieval", "after_group"}) {
        const auto& s = get_span(spans, n);
        BOOST_TEST((s.parent_id == agent.id), n);
        BOOST_TEST((s.trace == agent.trace), n);
    }
}

BOOST_AUTO_TEST_CASE(when_all_rethrows_the_first_failure_after_all_finish) {
    tc_test::traced_env env;
    run_coro(env, []() -> asio::awaitable<void> {
        span_scope root("root");
        bool caught = false;
        try {
            co_await when_all(child("ok", 1, 5), failing_child("bad"));
        } catch (const std::runtime_error& e) {
            caught = std::string(e.what()) == "tool exploded";
        }
        BOOST_TEST(caught);
    });
    const auto spans = env.finish();
    const auto& bad = get_span(spans, "bad");
    BOOST_TEST((bad.status == status_code::error));
    BOOST_TEST_REQUIRE(bad.events.size() == 1u);
    BOOST_TEST(bad.events[0].name == "exception");
    BOOST_TEST((get_span(spans, "ok").status == status_code::unset));   // sibling finished normally
}

BOOST_AUTO_TEST_CASE(when_any_returns_the_winner_and_cancels_the_rest) {
    tc_test::traced_env env;
    run_coro(env, []() -> asio::awaitable<void> {
        span_scope root("root");
        auto r = co_await when_any(child("slow", 1, 2000), child("fast", 2, 1));
        BOOST_TEST(r.index == 1u);
        BOOST_TEST(std::get<1>(r.value) == 2);
    });
    const auto spans = env.finish();
    const auto& root = get_span(spans, "root");
    const auto& slow = get_span(spans, "slow");
    BOOST_TEST((slow.parent_id == root.id));
    BOOST_TEST((slow.status != status_code::error));   // cancellation is not an error
    BOOST_TEST(std::get<bool>(slow.attribute("tracecraft.cancelled")) == true);
    BOOST_TEST(slow.duration_ns < 1'000'000'000);      // really cancelled, not waited out
}

BOOST_AUTO_TEST_CASE(ranged_when_all_and_when_any) {
    tc_test::traced_env env;
    run_coro(env, []() -> asio::awaitable<void> {
        span_scope root("root");
        std::vector<asio::awaitable<int>> work;
        for (int i = 0; i < 10; ++i) work.push_back(child("item" + std::to_string(i), i * i, 10 - i));
        const std::vector<int> squares = co_await when_all(std::move(work));
        BOOST_TEST_REQUIRE(squares.size() == 10u);
        for (int i = 0; i < 10; ++i) BOOST_TEST(squares[static_cast<std::size_t>(i)] == i * i);
        std::vector<asio::awaitable<int>> race;
        race.push_back(child("r0", 0, 1000));
        race.push_back(child("r1", 11, 1));
        const auto winner = co_await when_any(std::move(race));
        BOOST_TEST(winner.first == 1u);
        BOOST_TEST(winner.second == 11);
        std::vector<asio::awaitable<int>> none;
        const std::vector<int> nothing = co_await when_all(std::move(none));
        BOOST_TEST(nothing.empty());
    });
    const auto spans = env.finish();
    const auto& root = get_span(spans, "root");
    for (int i = 0; i < 10; ++i) BOOST_TEST((get_span(spans, "item" + std::to_string(i)).parent_id == root.id));
    BOOST_TEST((get_span(spans, "r1").parent_id == root.id));
}

BOOST_AUTO_TEST_CASE(spawn_is_child_of_current_and_keeps_the_trace_open) {
    tc_test::traced_env env;
    run_coro(env, []() -> asio::awaitable<void> {
        run_scope run("request");
        const auto ex = co_await asio::this_coro::executor;
        spawn(ex, child("background", 0, 20), asio::detached);
        spawn_linked(ex, child("cleanup", 0, 5), asio::detached);
    });
    const auto spans = env.finish();
    const auto& req = get_span(spans, "request");
    const auto& bg = get_span(spans, "background");
    const auto& cleanup = get_span(spans, "cleanup");
    BOOST_TEST((bg.parent_id == req.id));
    BOOST_TEST((bg.trace == req.trace));
    BOOST_TEST(bg.end_unix_ns > req.end_unix_ns);   // outlived its parent, same trace
    BOOST_TEST(!cleanup.parent_id.valid());
    BOOST_TEST(!(cleanup.trace == req.trace));
    BOOST_TEST_REQUIRE(cleanup.links.size() == 1u);
    BOOST_TEST((cleanup.links[0].context.span == req.id));
}

BOOST_AUTO_TEST_CASE(bind_context_for_plain_callbacks) {
    tc_test::traced_env env;
    span_id callback_parent;
    run_coro(env, [&callback_parent]() -> asio::awaitable<void> {
        span_scope s("scheduler");
        callback_parent = s.context().span;
        auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
        timer->expires_after(std::chrono::milliseconds(1));
        timer->async_wait(bind_context([timer](boost::system::error_code) { span_scope cb("callback", span_kind::tool); }));
        // post to a plain executor: context travels only through bind_context
        asio::post(timer->get_executor(), bind_context([] { span_scope p("posted"); }));
    });
    const auto spans = env.finish();
    BOOST_TEST((get_span(spans, "callback").parent_id == callback_parent));
    BOOST_TEST((get_span(spans, "posted").parent_id == callback_parent));
}

BOOST_AUTO_TEST_CASE(traced_wraps_an_awaitable_and_records_errors) {
    tc_test::traced_env env;
    run_coro(env, []() -> asio::awaitable<void> {
        run_scope run("agent");
        const int v = co_await traced("llm.chat", span_kind::llm, child("inner", 7, 1));
        BOOST_TEST(v == 7);
        bool caught = false;
        try {
            co_await traced("tool.call", span_kind::tool, failing_child("inner_bad"));
        } catch (const std::runtime_error&) {
            caught = true;   // propagated unchanged
        }
        BOOST_TEST(caught);
    });
    const auto spans = env.finish();
    const auto& agent = get_span(spans, "agent");
    const auto& chat = get_span(spans, "llm.chat");
    BOOST_TEST((chat.parent_id == agent.id));
    BOOST_TEST((get_span(spans, "inner").parent_id == chat.id));
    const auto& tool = get_span(spans, "tool.call");
    BOOST_TEST((tool.status == status_code::error));
    BOOST_TEST(tool.status_message == "tool exploded");
    BOOST_TEST(tc_test::str(tool.attribute("error.type")) == "std::runtime_error");
}

BOOST_AUTO_TEST_SUITE_END()
