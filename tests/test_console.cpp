// Console exporter: golden tree (durations masked, everything else exact), verbose mode,
// colour codes only when asked, and lines delivered through the given spdlog logger.
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "test_util.hpp"
#include "tracecraft/exporters/console.hpp"

using namespace tracecraft;

namespace {

struct render_exporter final : exporter {
    bool verbose = false, color = false;
    std::vector<std::string> texts;
    std::string_view name() const noexcept override { return "render"; }
    boost::asio::awaitable<export_result> export_batch(span_batch b) override {
        b.for_each_trace([&](const trace_view& t) { texts.push_back(console_exporter::render(t, verbose, color)); });
        co_return export_result::ok();
    }
};

void produce_agent_run() {
    run_scope run("support_agent");
    run.set_input("question", "where is my order?");
    {
        span_scope r("search_docs", span_kind::retrieval);
        r.set_output("hits", 3);
    }
    {
        span_scope llm("chat", span_kind::llm);
        llm.set_model("gpt-4o").set_tokens(1000, 260).set_attribute("tracecraft.cost_usd", 0.0042);
        llm.set_input("prompt", "be brief");
        {
            span_scope g("policy_check", span_kind::guardrail);
            g.set_status(status_code::error, "blocked: PII in prompt");
        }
    }
    span_scope tool("lookup_order", span_kind::tool);
}

/// Durations depend on the clock; everything else must match exactly. ") 12.3 ms" -> ") <d> ms"
std::string mask_durations(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        if (s.compare(i, 2, ") ") == 0) {
            std::size_t j = i + 2;
            while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
            if (j > i + 2 && s.compare(j, 3, " ms") == 0) {
                out += ") <d> ms";
                i = j + 3;
                continue;
            }
        }
        out += s[i++];
    }
    return out;
}

std::vector<std::string> render_with(bool verbose, bool color, void (*produce)() = produce_agent_run) {
    auto rx = std::make_shared<render_exporter>();
    rx->verbose = verbose;
    rx->color = color;
    trace_config cfg;
    cfg.exporters = {rx};
    cfg.redaction.enabled = false;
    boost::asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    produce();
    rt->shutdown();
    reset_default_runtime();
    return rx->texts;
}

} // namespace

BOOST_AUTO_TEST_SUITE(console)

BOOST_AUTO_TEST_CASE(golden_tree) {
    const auto texts = render_with(false, false);
    BOOST_TEST_REQUIRE(texts.size() == 1u);
    const std::string golden =
        "support_agent (AGENT) <d> ms [1,260 tokens] [$0.004200]\n"
        "├── search_docs (RETRIEVAL) <d> ms\n"
        "├── chat (LLM gpt-4o) <d> ms [1,000/260 tokens] [$0.004200]\n"
        "│   └── policy_check (GUARDRAIL) <d> ms ERROR: blocked: PII in prompt\n"
        "└── lookup_order (TOOL) <d> ms\n";
    BOOST_TEST(mask_durations(texts[0]) == golden);
}

BOOST_AUTO_TEST_CASE(golden_verbose_tree) {
    const auto texts = render_with(true, false);
    BOOST_TEST_REQUIRE(texts.size() == 1u);
    const std::string golden =
        "support_agent (AGENT) <d> ms [1,260 tokens] [$0.004200]\n"
        "│   inputs: {question: where is my order?}\n"
        "├── search_docs (RETRIEVAL) <d> ms\n"
        "│       outputs: {hits: 3}\n"
        "├── chat (LLM gpt-4o) <d> ms [1,000/260 tokens] [$0.004200]\n"
        "│   │   inputs: {prompt: be brief}\n"
        "│   └── policy_check (GUARDRAIL) <d> ms ERROR: blocked: PII in prompt\n"
        "└── lookup_order (TOOL) <d> ms\n";
    BOOST_TEST(mask_durations(texts[0]) == golden);
}

BOOST_AUTO_TEST_CASE(colour_only_when_asked) {
    const auto plain = render_with(false, false);
    const auto coloured = render_with(false, true);
    BOOST_TEST_REQUIRE((plain.size() == 1u && coloured.size() == 1u));
    BOOST_TEST(plain[0].find('\x1b') == std::string::npos);
    BOOST_TEST(coloured[0].find("\x1b[1;32mchat\x1b[0m") != std::string::npos);     // LLM in green
    BOOST_TEST(coloured[0].find("\x1b[1;31mERROR: blocked") != std::string::npos);  // errors in red
}

BOOST_AUTO_TEST_CASE(lines_go_through_the_given_logger) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    auto logger = std::make_shared<spdlog::logger>("console-test", sink);
    logger->set_pattern("%v");
    console_options o;
    o.sink = logger;
    o.color = true;   // not a terminal: no colour
    trace_config cfg;
    cfg.exporters = {std::make_shared<console_exporter>(o)};
    boost::asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    produce_agent_run();
    rt->shutdown();
    reset_default_runtime();
    const std::string text = mask_durations(out.str());
    BOOST_TEST(text.find("support_agent (AGENT) <d> ms [1,260 tokens] [$0.004200]\n├── search_docs") == 0u, text);
    BOOST_TEST(text.find('\x1b') == std::string::npos);
}

// A model name, span name or status carrying ESC sequences (from a client) must not drive the
// terminal: shown escaped.
BOOST_AUTO_TEST_CASE(control_bytes_from_users_are_shown_escaped) {
    const auto texts = render_with(true, false, [] {
        run_scope run("agent\x1b]0;pwned\x07");
        run.set_input("q\x1b[2J", "line\x1b[31mred");
        span_scope llm("chat", span_kind::llm);
        llm.set_model("gpt\x1b[2J-4o\xff").set_status(status_code::error, "bad\rreset");
    });
    BOOST_TEST_REQUIRE(texts.size() == 1u);
    const std::string& t = texts[0];
    BOOST_TEST(t.find('\x1b') == std::string::npos, t);
    BOOST_TEST(t.find('\r') == std::string::npos);
    BOOST_TEST(t.find("gpt\\x1b[2J-4o\xef\xbf\xbd") != std::string::npos, t);
    BOOST_TEST(t.find("agent\\x1b]0;pwned\\x07") != std::string::npos, t);
}

BOOST_AUTO_TEST_SUITE_END()
