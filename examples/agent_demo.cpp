// The main demo: an agent that fans out to parallel retrieval, tool and LLM steps, traced with
// TraceCraft, printed as a span tree. Run: ./build/examples/agent_demo
//
// Everything runs on one io_context; the tracing pipeline uses a strand of it and never starts
// a thread. Each request is an agent run; when_all forks the trace context into its children,
// so every child span is parented to the step that launched it.
#include <iostream>
#include <string>

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include "example_cli.hpp"
#include "tracecraft/exporters/console.hpp"
#include "tracecraft/tracecraft.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using tracecraft::span_kind;
using tracecraft::span_scope;

namespace {

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

asio::awaitable<std::string> retrieve_documents(std::string query) {
    span_scope s("vector_search", span_kind::retrieval);
    s.set_input("query", query).set_attribute("db.collection.name", "kb_articles");
    co_await sleep_for(12ms);
    s.set_output("documents", 3);
    co_return "3 articles about " + query;
}

asio::awaitable<std::string> call_tool(std::string city) {
    span_scope s("weather_api", span_kind::tool);
    s.set_input("city", city);
    co_await sleep_for(8ms);
    if (city == "Atlantis") throw std::runtime_error("weather_api: unknown city 'Atlantis'");
    s.set_output("forecast", "sunny, 21C");
    co_return "sunny, 21C";
}

asio::awaitable<std::string> call_llm(std::string prompt) {
    span_scope s("chat_completion", span_kind::llm);
    s.set_model("gpt-4o-mini", "openai").set_input("prompt", prompt);
    co_await sleep_for(25ms);
    s.set_tokens(static_cast<std::int64_t>(prompt.size() / 4), 42).set_cost(0.000051);
    s.set_output("completion", "Take an umbrella just in case.");
    co_return "Take an umbrella just in case.";
}

asio::awaitable<void> memory_lookup(std::string user) {
    span_scope s("conversation_history", span_kind::memory);
    s.set_input("user", user);
    co_await sleep_for(3ms);
}

// One agent run: plan -> (retrieval || tool || memory) -> LLM -> answer.
asio::awaitable<void> handle_request(std::string user, std::string question, std::string city) {
    tracecraft::run_options o;
    o.user_id = user;
    o.session_id = "session-" + user;
    o.tags = {"demo"};
    o.input = question;
    tracecraft::run_scope run("travel_agent", o);
    {
        span_scope plan("plan", span_kind::workflow);
        co_await sleep_for(2ms);
    }
    try {
        auto [docs, weather, ignored] =
            co_await tracecraft::when_all(retrieve_documents(question), call_tool(city), memory_lookup(user));
        (void)ignored;
        const std::string answer = co_await call_llm(question + " | " + docs + " | " + weather);
        run.set_run_output(answer);
    } catch (const std::exception& e) {
        // the failing child span already carries the error; the run records it too
        run.record_exception(e);
    }
}

asio::awaitable<void> main_coro(std::shared_ptr<tracecraft::runtime> rt) {
    auto ex = co_await asio::this_coro::executor;
    // three concurrent requests; the third hits a failing tool
    tracecraft::spawn(ex, handle_request("alice", "Do I need an umbrella in Lisbon?", "Lisbon"), asio::detached);
    tracecraft::spawn(ex, handle_request("bob", "Weekend plans in Porto?", "Porto"), asio::detached);
    tracecraft::spawn(ex, handle_request("carol", "Beach day in Atlantis?", "Atlantis"), asio::detached);
    co_await sleep_for(200ms);
    co_await rt->async_shutdown();   // export everything now; nothing is lost
}

} // namespace

int main(int argc, char** argv) {
    return examples::run(
        argc, argv, "agent_demo: three agent runs (parallel retrieval, tools, LLM calls, one failing tool), traced",
        nullptr, [](examples::cli& cli) {
            asio::io_context ioc;
            tracecraft::trace_config cfg;
            cfg.service_name = "agent-demo";
            cli.add_exporters(cfg);
            auto rt = tracecraft::init(ioc, cfg);

            asio::co_spawn(ioc, main_coro(rt), asio::detached);
            ioc.run();

            std::cout << "\n";
            examples::print_summary(std::cout, *rt);
            const auto st = rt->stats();
            return st.spans_exported + st.spans_spooled == 0 ? 1 : 0;
        });
}
