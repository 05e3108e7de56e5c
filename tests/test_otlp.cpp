// OTLP protobuf encoding, decoded by an independent decoder: protoc --decode_raw
// (Debian's protobuf-compiler), checked field by field against opentelemetry-proto numbers.
#include <cstdio>
#include <fstream>
#include <map>

#include "test_util.hpp"
#include <boost/json.hpp>

#include "tracecraft/otlp/json.hpp"
#include "export/otlp/protobuf_encoder.hpp"   // library-internal: sliced and reused-buffer encoding
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

// The exporter encodes a batch in slices (yielding between them): the concatenated parts must
// decode as one request holding every span, one ResourceSpans per part.
BOOST_AUTO_TEST_CASE(a_batch_encoded_in_parts_is_one_request) {
    struct parts_exporter final : exporter {
        std::string body;
        std::size_t parts = 0;
        std::string_view name() const noexcept override { return "parts"; }
        boost::asio::awaitable<export_result> export_batch(span_batch b) override {
            otlp::resource_info res;
            res.attributes = {{"service.name", std::string("otlp-parts")}};
            std::string buf(7, 'x');   // something before the request: parts start at `end`
            std::size_t end = 7;
            for (std::size_t next = 0; next < b.trace_count(); ++parts) next = otlp::encode_request_part(b, next, 4, res, buf, end);
            BOOST_TEST(buf.compare(0, 7, "xxxxxxx") == 0);
            body.assign(buf, 7, end - 7);
            co_return export_result::ok();
        }
    };
    auto enc = std::make_shared<parts_exporter>();
    trace_config cfg;
    cfg.exporters = {enc};
    boost::asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    for (int t = 0; t < 5; ++t) {
        span_scope agent("agent_" + std::to_string(t), span_kind::agent);
        { span_scope a("tool_a_" + std::to_string(t), span_kind::tool); }
        { span_scope b("tool_b_" + std::to_string(t), span_kind::tool); }
    }
    rt->shutdown();
    tracecraft::reset_default_runtime();
    BOOST_TEST(enc->parts == 5u);   // 3 spans a trace, at most 4 a part: a trace a part
    const std::string d = decode_raw(enc->body);
    BOOST_TEST_REQUIRE(!has(d, "Failed"), d);
    std::size_t resources = 0;
    for (std::size_t p = d.find("\"otlp-parts\""); p != std::string::npos; p = d.find("\"otlp-parts\"", p + 1)) ++resources;
    BOOST_TEST(resources == 5u);
    for (int t = 0; t < 5; ++t)
        for (const char* n : {"agent_", "tool_a_", "tool_b_"})
            BOOST_TEST(has(d, "5: \"" + std::string(n) + std::to_string(t) + "\""), n << t);
}

BOOST_AUTO_TEST_CASE(ids_are_big_endian_bytes_and_remote_parent_flags) {
    auto enc = std::make_shared<encoding_exporter>();
    trace_config cfg;
    cfg.exporters = {enc};
    boost::asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    {
        span_options o;
        o.parent = parse_traceparent("00-4142434445464748494a4b4c4d4e4f50-5152535455565758-01");
        o.tracestate = "rojo=00f067aa0ba902b7";
        span_scope s("remote_child", o);
    }
    rt->shutdown();
    tracecraft::reset_default_runtime();
    const std::string d = decode_raw(enc->body);
    BOOST_TEST(has(d, "1: \"ABCDEFGHIJKLMNOP\""), d);   // trace_id: bytes 0x41..0x50, in order
    BOOST_TEST(has(d, "4: \"QRSTUVWX\""));              // parent_span_id: bytes 0x51..0x58
    BOOST_TEST(has(d, "3: \"rojo=00f067aa0ba902b7\""));  // trace_state
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
            // the same pass with constant attributes taken by id, as the protobuf encoder does
            auto& m2 = by_span_with_ids[std::string(s.name())];
            auto put = [&](std::string_view k, const value_view& v) { m2[std::string(k)] = to_display_string(v.to_value()); };
            auto by_id = [&](std::size_t id) {
                ++constants;
                const otlp::constant_attribute& c = otlp::constant_attributes()[id];
                m2[std::string(c.key)] = std::string(c.value);
            };
            otlp::for_each_export_attribute(s, d, otlp::attribute_visitor(put, by_id));
        });
        co_return export_result::ok();
    }
    std::map<std::string, attr_map> by_span_with_ids;
    std::size_t constants = 0;
};

std::shared_ptr<semconv_exporter> export_spans(otlp::dialect d);
std::map<std::string, attr_map> export_with(otlp::dialect d) { return export_spans(d)->by_span; }

std::shared_ptr<semconv_exporter> export_spans(otlp::dialect d) {
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
    return exp;
}
} // namespace

BOOST_AUTO_TEST_CASE(constant_attributes_by_id_equal_the_plain_visit) {
    for (const auto d : {otlp::dialect::both, otlp::dialect::otel_genai, otlp::dialect::openinference}) {
        const auto e = export_spans(d);
        BOOST_TEST(e->by_span.size() == 4u);
        BOOST_TEST((e->by_span_with_ids == e->by_span));
        BOOST_TEST(e->constants > 0u);
    }
    // one entry per kind for the step type and the OpenInference kind, then the fixed ones
    const auto t = otlp::constant_attributes();
    BOOST_TEST(t[0].key == "tracecraft.step.type");
    BOOST_TEST(t[0].value == to_string(span_kind::agent));
    BOOST_TEST(t[static_cast<std::size_t>(span_kind::error)].value == to_string(span_kind::error));
}

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

BOOST_AUTO_TEST_SUITE(otlp_json)

namespace {
struct json_exporter final : exporter {
    std::string body;
    std::string_view name() const noexcept override { return "json"; }
    boost::asio::awaitable<export_result> export_batch(span_batch b) override {
        otlp::resource_info res;
        res.attributes = {{"service.name", std::string("json-test")}, {"host.cpus", std::int64_t{2}}};
        otlp::encode_request_json(b, res, body);
        co_return export_result::ok();
    }
};
} // namespace

BOOST_AUTO_TEST_CASE(otlp_json_mapping) {
    namespace json = boost::json;
    auto enc = std::make_shared<json_exporter>();
    trace_config cfg;
    cfg.exporters = {enc};
    cfg.redaction.enabled = false;
    boost::asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    const span_context linked{*trace_id::from_hex("0af7651916cd43dd8448eb211c80319c"), *span_id::from_hex("b7ad6b7169203331"), 1, false};
    {
        span_options o;
        o.parent = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        o.tracestate = "rojo=00f067aa0ba902b7";
        o.kind = span_kind::llm;
        o.links = {linked};
        span_scope s("chat \"quoted\"", o);
        const std::vector<double> ds{0.5, 1.5};
        s.set_attribute("i", std::int64_t{9007199254740993}).set_attribute("d", 2.5).set_attribute("b", false);
        s.set_attribute("tags", {"a", "b"}).set_attribute("ds", std::span<const double>(ds));
        s.add_event("retry", {{"attempt", 2}});
        s.set_status(status_code::error, "upstream 503");
    }
    rt->shutdown();
    reset_default_runtime();
    const json::value doc = json::parse(enc->body);
    const auto& rs = doc.at("resourceSpans").as_array().at(0);
    const auto& rattrs = rs.at("resource").at("attributes").as_array();
    BOOST_TEST(rattrs.at(0).at("key").as_string() == "service.name");
    BOOST_TEST(rattrs.at(0).at("value").at("stringValue").as_string() == "json-test");
    BOOST_TEST(rattrs.at(1).at("value").at("intValue").as_string() == "2");   // int64 as a string
    const auto& ss = rs.at("scopeSpans").as_array().at(0);
    BOOST_TEST(ss.at("scope").at("name").as_string() == "tracecraft");
    const auto& sp = ss.at("spans").as_array().at(0);
    BOOST_TEST(sp.at("traceId").as_string() == "4bf92f3577b34da6a3ce929d0e0e4736");   // hex, not base64
    BOOST_TEST(sp.at("parentSpanId").as_string() == "00f067aa0ba902b7");
    BOOST_TEST(sp.at("spanId").as_string().size() == 16u);
    BOOST_TEST(sp.at("traceState").as_string() == "rojo=00f067aa0ba902b7");
    BOOST_TEST(sp.at("name").as_string() == "chat \"quoted\"");
    BOOST_TEST(sp.at("kind").as_int64() == 3);                                       // enum as integer: CLIENT
    BOOST_TEST(sp.at("flags").as_int64() == 0x301);
    const std::string start(sp.at("startTimeUnixNano").as_string());
    BOOST_TEST(std::stoull(start) > 1'700'000'000'000'000'000ull);
    BOOST_TEST(std::stoull(std::string(sp.at("endTimeUnixNano").as_string())) >= std::stoull(start));
    std::map<std::string, json::value> attrs;
    for (const auto& a : sp.at("attributes").as_array()) attrs[std::string(a.at("key").as_string())] = a.at("value");
    BOOST_TEST(attrs.at("i").at("intValue").as_string() == "9007199254740993");      // exact beyond 2^53
    BOOST_TEST(attrs.at("d").at("doubleValue").as_double() == 2.5);
    BOOST_TEST(attrs.at("b").at("boolValue").as_bool() == false);
    BOOST_TEST(attrs.at("tags").at("arrayValue").at("values").as_array().at(1).at("stringValue").as_string() == "b");
    BOOST_TEST(attrs.at("ds").at("arrayValue").at("values").as_array().at(0).at("doubleValue").as_double() == 0.5);
    BOOST_TEST(attrs.at("openinference.span.kind").at("stringValue").as_string() == "LLM");
    BOOST_TEST(sp.at("events").as_array().at(0).at("name").as_string() == "retry");
    BOOST_TEST(sp.at("events").as_array().at(0).at("attributes").as_array().at(0).at("value").at("intValue").as_string() == "2");
    BOOST_TEST(sp.at("links").as_array().at(0).at("traceId").as_string() == "0af7651916cd43dd8448eb211c80319c");
    BOOST_TEST(sp.at("status").at("code").as_int64() == 2);
    BOOST_TEST(sp.at("status").at("message").as_string() == "upstream 503");
}

BOOST_AUTO_TEST_SUITE_END()
