// OTLP protobuf encoding, decoded by an independent decoder: protoc --decode_raw
// (Debian's protobuf-compiler), checked field by field against opentelemetry-proto numbers.
#include <cstdio>
#include <fstream>
#include <map>

#include "test_util.hpp"
#include "tracecraft/otlp/protobuf.hpp"
#include "tracecraft/otlp/semconv.hpp"

using namespace tracecraft;

namespace {

struct encoding_exporter final : exporter {
    std::string body;
    std::string_view name() const noexcept override { return "encode"; }
    boost::asio::awaitable<export_result> export_batch(span_batch b) override {
        otlp::resource_info res;
        res.attributes = {{"service.name", std::string("otlp-test")}, {"telemetry.sdk.language", std::string("cpp")}};
        otlp::encode_request(b, res, body);
        co_return export_result::ok();
    }
};

std::string decode_raw(const std::string& body) {
    const std::string path = "/tmp/tracecraft_otlp_" + std::to_string(::getpid()) + ".bin";
    std::ofstream(path, std::ios::binary) << body;
    const std::string cmd = "protoc --decode_raw < " + path + " 2>&1";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        ::pclose(p);
    }
    std::remove(path.c_str());
    return out;
}

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

} // namespace

BOOST_AUTO_TEST_SUITE(otlp_protobuf)

BOOST_AUTO_TEST_CASE(encoded_request_decodes_field_by_field) {
    auto enc = std::make_shared<encoding_exporter>();
    trace_config cfg;
    cfg.exporters = {enc};
    cfg.redaction.enabled = false;
    boost::asio::io_context ioc;
    auto rt = std::make_shared<runtime>(ioc, cfg);
    auto ex = make_executor(ioc, rt.get());
    boost::asio::co_spawn(ex, []() -> boost::asio::awaitable<void> {
        span_scope agent("agent", span_kind::agent);
        {
            span_scope llm("llm_call", span_kind::llm);
            const std::vector<std::int64_t> ints{7, 8};
            llm.set_attribute("s", "text").set_attribute("i", 42).set_attribute("d", 2.5).set_attribute("b", true);
            llm.set_attribute("arr", {"x", "y"}).set_attribute("ints", std::span<const std::int64_t>(ints));
            llm.add_event("first_token", {{"n", 1}});
            llm.set_status(status_code::error, "rate limited");
        }
        co_return;
    }, boost::asio::detached);
    ioc.run();
    rt->shutdown();
    BOOST_TEST_REQUIRE(!enc->body.empty());
    const std::string d = decode_raw(enc->body);
    BOOST_TEST_REQUIRE(!has(d, "Failed"), d);
    BOOST_TEST_REQUIRE(has(d, "1 {"), "protoc --decode_raw produced: " << d);
    // resource attributes and scope
    BOOST_TEST(has(d, "1: \"service.name\""));
    BOOST_TEST(has(d, "1: \"otlp-test\""));
    BOOST_TEST(has(d, "1: \"tracecraft\""));
    // span names (field 5), kinds (field 6: CLIENT=3 for LLM, INTERNAL=1)
    BOOST_TEST(has(d, "5: \"llm_call\""));
    BOOST_TEST(has(d, "5: \"agent\""));
    BOOST_TEST(has(d, "6: 3"));
    BOOST_TEST(has(d, "6: 1"));
    // attributes (field 9): string, int, double (fixed64 bits of 2.5), bool, arrays
    BOOST_TEST(has(d, "1: \"text\""));
    BOOST_TEST(has(d, "3: 42"));
    BOOST_TEST(has(d, "4: 0x4004000000000000"));
    BOOST_TEST(has(d, "2: 1"));
    BOOST_TEST(has(d, "1: \"x\""));
    BOOST_TEST(has(d, "3: 7"));
    // event (field 11) and status (field 15: message 2, code 3 = ERROR)
    BOOST_TEST(has(d, "2: \"first_token\""));
    BOOST_TEST(has(d, "2: \"rate limited\""));
    BOOST_TEST(has(d, "3: 2"));
}

BOOST_AUTO_TEST_CASE(ids_are_big_endian_bytes_and_remote_parent_flags) {
    auto enc = std::make_shared<encoding_exporter>();
    trace_config cfg;
    cfg.exporters = {enc};
    boost::asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    {
        span_options o;
        o.parent = parse_traceparent("00-41414141414141414141414141414141-4242424242424242-01");
        span_scope s("remote_child", o);
    }
    rt->shutdown();
    tracecraft::reset_default_runtime();
    const std::string d = decode_raw(enc->body);
    BOOST_TEST(has(d, "1: \"AAAAAAAAAAAAAAAA\""), d);   // trace_id: 16 bytes 0x41
    BOOST_TEST(has(d, "4: \"BBBBBBBB\""));              // parent_span_id: 8 bytes 0x42
    BOOST_TEST(has(d, "16: 0x00000301"));                // sampled | HAS_IS_REMOTE | IS_REMOTE
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(semantic_conventions)

namespace {
using attr_map = std::map<std::string, std::string>;

struct semconv_exporter final : exporter {
    otlp::dialect d;
    std::map<std::string, attr_map> by_span;
    explicit semconv_exporter(otlp::dialect dd) : d(dd) {}
    std::string_view name() const noexcept override { return "semconv"; }
    boost::asio::awaitable<export_result> export_batch(span_batch b) override {
        b.for_each_span([&](const span_view& s) {
            auto& m = by_span[std::string(s.name())];
            otlp::for_each_export_attribute(s, d, [&](std::string_view k, const value_view& v) {
                m[std::string(k)] = to_display_string(v.to_value());
            });
        });
        co_return export_result::ok();
    }
};

std::map<std::string, attr_map> export_with(otlp::dialect d) {
    auto exp = std::make_shared<semconv_exporter>(d);
    trace_config cfg;
    cfg.exporters = {exp};
    cfg.redaction.enabled = false;
    boost::asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    {
        run_scope run("planner");
        run.set_input("question", "weather?");
        {
            span_scope llm("chat_call", span_kind::llm);
            llm.set_model("gpt-4o", "openai").set_tokens(100, 20).set_input("prompt", "say \"hi\"\n").set_input("temperature", 0.5);
            llm.set_output("completion", "hi");
        }
        {
            span_scope tool("get_weather", span_kind::tool);
            tool.set_attribute("gen_ai.operation.name", "custom_op");   // user-set wins
        }
        span_scope r("search", span_kind::retrieval);
    }
    rt->shutdown();
    reset_default_runtime();
    return exp->by_span;
}
} // namespace

BOOST_AUTO_TEST_CASE(both_dialects_by_default) {
    const auto s = export_with(otlp::dialect::both);
    const auto& agent = s.at("planner");
    BOOST_TEST(agent.at("tracecraft.step.type") == "agent");
    BOOST_TEST(agent.at("gen_ai.operation.name") == "invoke_agent");
    BOOST_TEST(agent.at("gen_ai.agent.name") == "planner");
    BOOST_TEST(agent.at("openinference.span.kind") == "AGENT");
    BOOST_TEST(agent.at("input.value") == "weather?");
    BOOST_TEST(agent.at("input.mime_type") == "text/plain");
    const auto& llm = s.at("chat_call");
    BOOST_TEST(llm.at("gen_ai.operation.name") == "chat");
    BOOST_TEST(llm.at("gen_ai.request.model") == "gpt-4o");
    BOOST_TEST(llm.at("gen_ai.provider.name") == "openai");
    BOOST_TEST(llm.at("gen_ai.usage.input_tokens") == "100");
    BOOST_TEST(llm.at("llm.model_name") == "gpt-4o");
    BOOST_TEST(llm.at("llm.provider") == "openai");
    BOOST_TEST(llm.at("llm.token_count.prompt") == "100");
    BOOST_TEST(llm.at("llm.token_count.completion") == "20");
    BOOST_TEST(llm.at("llm.token_count.total") == "120");
    BOOST_TEST(llm.at("input.value") == "{\"prompt\":\"say \\\"hi\\\"\\n\",\"temperature\":0.5}");
    BOOST_TEST(llm.at("input.mime_type") == "application/json");
    BOOST_TEST(llm.at("output.value") == "hi");
    const auto& tool = s.at("get_weather");
    BOOST_TEST(tool.at("gen_ai.operation.name") == "custom_op");
    BOOST_TEST(tool.at("gen_ai.tool.name") == "get_weather");
    BOOST_TEST(tool.at("tool.name") == "get_weather");
    BOOST_TEST(tool.at("openinference.span.kind") == "TOOL");
    BOOST_TEST(s.at("search").at("openinference.span.kind") == "RETRIEVER");
}

BOOST_AUTO_TEST_CASE(single_dialects) {
    const auto g = export_with(otlp::dialect::otel_genai);
    BOOST_TEST(g.at("chat_call").count("gen_ai.operation.name") == 1u);
    BOOST_TEST(g.at("chat_call").count("openinference.span.kind") == 0u);
    BOOST_TEST(g.at("chat_call").count("input.value") == 0u);
    const auto o = export_with(otlp::dialect::openinference);
    BOOST_TEST(o.at("chat_call").count("openinference.span.kind") == 1u);
    BOOST_TEST(o.at("chat_call").count("gen_ai.operation.name") == 0u);
    BOOST_TEST(o.at("chat_call").at("gen_ai.request.model") == "gpt-4o");   // recorded attributes stay
}

BOOST_AUTO_TEST_CASE(json_string_escaping) {
    std::string out;
    otlp::append_json_string(out, std::string("a\"b\\c\n\x01", 7));
    BOOST_TEST(out == "\"a\\\"b\\\\c\\n\\u0001\"");
}

BOOST_AUTO_TEST_SUITE_END()
