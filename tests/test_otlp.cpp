// OTLP protobuf encoding, decoded by an independent decoder: protoc --decode_raw
// (Debian's protobuf-compiler), checked field by field against opentelemetry-proto numbers.
#include <cstdio>
#include <fstream>

#include "test_util.hpp"
#include "tracecraft/otlp/protobuf.hpp"

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
