// Configuration from JSON and TRACECRAFT_* variables: every documented key works, bad input
// names the key.
#include <cstdio>
#include <fstream>
#include <map>

#include <sys/stat.h>
#include <unistd.h>

#include "test_util.hpp"
#include "tracecraft/exporters/otlp_http.hpp"

using namespace tracecraft;

namespace {
env_lookup fake_env(std::map<std::string, std::string> vars) {
    auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
    return [shared](const char* name) -> const char* {
        auto it = shared->find(name);
        return it == shared->end() ? nullptr : it->second.c_str();
    };
}

std::string expect_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const config_error& e) {
        return e.field();
    }
    return "<no error>";
}
} // namespace

namespace {
/// The configured processor list by name, comma-separated.
std::string processor_names(const tracecraft::trace_config& c) {
    std::string out;
    for (const auto& p : c.processors) out += (out.empty() ? "" : ",") + std::string(p->name());
    return out;
}
} // namespace

BOOST_AUTO_TEST_SUITE(configuration)

BOOST_AUTO_TEST_CASE(every_json_key_is_applied) {
    trace_config c;
    apply_json(c, R"({
        "service_name": "checkout", "environment": "production",
        "sampling": {"rate": 0.25, "always_keep_errors": false, "always_keep_slow": true,
                     "slow_threshold_ms": 3000,
                     "rules": [{"name": "pay", "rate": 1, "match_error": true, "match_names": ["p"],
                                "match_tags": ["vip"], "min_duration_ms": 10.5}]},
        "processor_order": "efficiency", "max_step_depth": 20, "max_queue_spans": 4096,
        "batch_size": 256, "flush_interval_ms": 250, "max_attributes_per_span": 64,
        "max_attribute_value_length": 1024, "capture_message_content": false,
        "metrics": {"enabled": false, "max_series": 50, "export_interval_ms": 15000, "temporality": "Delta"}})");
    BOOST_TEST(c.service_name == "checkout");
    BOOST_TEST(c.environment == "production");
    BOOST_TEST(c.sampling.rate == 0.25);
    BOOST_TEST(!c.sampling.always_keep_errors);
    BOOST_TEST(c.sampling.always_keep_slow);
    BOOST_TEST(c.sampling.slow_threshold_ms == 3000.0);
    BOOST_TEST_REQUIRE(c.sampling.rules.size() == 1u);
    BOOST_TEST(c.sampling.rules[0].name == "pay");
    BOOST_TEST(c.sampling.rules[0].match_error);
    BOOST_TEST(c.sampling.rules[0].match_names.at(0) == "p");
    BOOST_TEST(c.sampling.rules[0].match_tags.at(0) == "vip");
    BOOST_TEST(*c.sampling.rules[0].min_duration_ms == 10.5);
    BOOST_TEST(processor_names(c) == "tail_sampling,enrichment,redaction");
    BOOST_TEST(c.max_step_depth == 20u);
    BOOST_TEST(c.max_queue_spans == 4096u);
    BOOST_TEST(c.batch_size == 256u);
    BOOST_TEST(c.flush_interval.count() == 250);
    BOOST_TEST(c.max_attributes_per_span == 64u);
    BOOST_TEST(c.max_attribute_value_length == 1024u);
    BOOST_TEST(!c.capture_message_content);
    BOOST_TEST(!c.metrics.enabled);
    BOOST_TEST(c.metrics.max_series == 50u);
    BOOST_TEST(c.metrics.export_interval.count() == 15000);
    BOOST_TEST((c.metrics.temporality == metric_temporality::delta));
    c.validate();
}

BOOST_AUTO_TEST_CASE(bad_json_names_the_key) {
    trace_config c;
    BOOST_TEST(expect_error([&] { apply_json(c, R"({"sampling_rate": 0.5})"); }) == "sampling_rate");
    BOOST_TEST(expect_error([&] { apply_json(c, R"({"sampling": {"rate": "high"}})"); }) == "sampling.rate");
    BOOST_TEST(expect_error([&] { apply_json(c, R"({"sampling": {"rules": [{"name": "x", "bogus": 1}]}})"); }) ==
               "sampling.rules[0].bogus");
    BOOST_TEST(expect_error([&] { apply_json(c, R"({"max_step_depth": -3})"); }) == "max_step_depth");
    BOOST_TEST(expect_error([&] { apply_json(c, R"({"processor_order": "fast"})"); }) == "processor_order");
    BOOST_TEST(expect_error([&] { apply_json(c, R"({"service_name": 7})"); }) == "service_name");
    BOOST_TEST(expect_error([&] { apply_json(c, "{not json"); }) == "json");
    BOOST_TEST(expect_error([&] { apply_json(c, R"({"metrics": {"interval": 5}})"); }) == "metrics.interval");
    BOOST_TEST(expect_error([&] { apply_json(c, R"({"metrics": {"export_interval_ms": 5}})"); }) ==
               "metrics.export_interval_ms");
    BOOST_TEST(expect_error([&] { apply_json(c, R"({"metrics": {"temporality": "sometimes"}})"); }) == "metrics.temporality");
    BOOST_TEST(expect_error([&] { apply_json(c, R"({"capture_message_content": "yes"})"); }) == "capture_message_content");
    BOOST_TEST(expect_error([&] { apply_json_file(c, "/nonexistent/tracecraft.json"); }) == "file");
    // out-of-range values parse but fail validation with the field named
    trace_config r;
    apply_json(r, R"({"sampling": {"rate": 1.5}})");
    BOOST_TEST(expect_error([&] { r.validate(); }) == "sampling.rate");
}

BOOST_AUTO_TEST_CASE(every_environment_variable_works) {
    trace_config c;
    apply_env(c, fake_env({{"TRACECRAFT_SERVICE_NAME", "svc"},
                           {"TRACECRAFT_ENVIRONMENT", "staging"},
                           {"TRACECRAFT_SAMPLING_RATE", "0.05"},
                           {"TRACECRAFT_SAMPLING_KEEP_ERRORS", "false"},
                           {"TRACECRAFT_SAMPLING_KEEP_SLOW", "yes"},
                           {"TRACECRAFT_SAMPLING_SLOW_THRESHOLD_MS", "1500"},
                           {"TRACECRAFT_PROCESSOR_ORDER", "efficiency"},
                           {"TRACECRAFT_MAX_STEP_DEPTH", "7"},
                           {"TRACECRAFT_MAX_QUEUE_SPANS", "9000"},
                           {"TRACECRAFT_BATCH_SIZE", "128"},
                           {"TRACECRAFT_FLUSH_INTERVAL_MS", "42"},
                           {"TRACECRAFT_MAX_ATTRIBUTES", "16"},
                           {"TRACECRAFT_MAX_ATTRIBUTE_LENGTH", "4096"}}));
    BOOST_TEST(c.service_name == "svc");
    BOOST_TEST(c.environment == "staging");
    BOOST_TEST(c.sampling.rate == 0.05);
    BOOST_TEST(!c.sampling.always_keep_errors);
    BOOST_TEST(c.sampling.always_keep_slow);
    BOOST_TEST(c.sampling.slow_threshold_ms == 1500.0);
    BOOST_TEST(processor_names(c) == "tail_sampling,enrichment,redaction");
    BOOST_TEST(c.max_step_depth == 7u);
    BOOST_TEST(c.max_queue_spans == 9000u);
    BOOST_TEST(c.batch_size == 128u);
    BOOST_TEST(c.flush_interval.count() == 42);
    BOOST_TEST(c.max_attributes_per_span == 16u);
    BOOST_TEST(c.max_attribute_value_length == 4096u);
}

BOOST_AUTO_TEST_CASE(invalid_environment_values_name_the_variable) {
    trace_config c;
    BOOST_TEST(expect_error([&] { apply_env(c, fake_env({{"TRACECRAFT_SAMPLING_RATE", "half"}})); }) ==
               "TRACECRAFT_SAMPLING_RATE");
    BOOST_TEST(expect_error([&] { apply_env(c, fake_env({{"TRACECRAFT_SAMPLING_KEEP_ERRORS", "maybe"}})); }) ==
               "TRACECRAFT_SAMPLING_KEEP_ERRORS");
    BOOST_TEST(expect_error([&] { apply_env(c, fake_env({{"TRACECRAFT_BATCH_SIZE", "-1"}})); }) == "TRACECRAFT_BATCH_SIZE");
    BOOST_TEST(expect_error([&] { apply_env(c, fake_env({{"TRACECRAFT_PROCESSOR_ORDER", "x"}})); }) ==
               "TRACECRAFT_PROCESSOR_ORDER");
}

namespace {
/// The whole message of the config_error `f` throws.
std::string error_message(const std::function<void()>& f) {
    try {
        f();
    } catch (const config_error& e) {
        return e.what();
    }
    return "<no error>";
}
} // namespace

// Values that were accepted and then hung (the queue's capacity doubling overflowed to 0),
// crashed (bare bad_alloc) or overflowed chrono in init(): each is refused with its source named.
BOOST_AUTO_TEST_CASE(limits_that_hung_or_crashed_are_refused_with_their_source) {
    const std::pair<const char*, const char*> env_cases[] = {
        {"TRACECRAFT_MAX_QUEUE_SPANS", "18446744073709551615"}, {"TRACECRAFT_MAX_QUEUE_SPANS", " -1"},
        {"TRACECRAFT_MAX_QUEUE_SPANS", "99999999999999999999999"}, {"TRACECRAFT_MAX_QUEUE_SPANS", "1099511627776"},
        {"TRACECRAFT_MAX_QUEUE_SPANS", "+5"}, {"TRACECRAFT_MAX_QUEUE_SPANS", "0x10"},
        {"TRACECRAFT_BATCH_SIZE", "12abc"}, {"TRACECRAFT_BATCH_SIZE", "12 "}, {"TRACECRAFT_BATCH_SIZE", "1e3"},
        {"TRACECRAFT_FLUSH_INTERVAL_MS", "9223372036854775807"}, {"TRACECRAFT_FLUSH_INTERVAL_MS", "3155760000000"},
        {"TRACECRAFT_FLUSH_INTERVAL_MS", "0"}, {"TRACECRAFT_MAX_ATTRIBUTES", "16x"}, {"TRACECRAFT_MAX_ATTRIBUTES", "0"},
        {"TRACECRAFT_MAX_ATTRIBUTE_LENGTH", "4096;"}, {"TRACECRAFT_MAX_ATTRIBUTE_LENGTH", "4294967296"},
        {"TRACECRAFT_MAX_STEP_DEPTH", "70000"}, {"TRACECRAFT_SAMPLING_RATE", " 0.5"},
        {"TRACECRAFT_SAMPLING_RATE", "0.5x"}, {"TRACECRAFT_SAMPLING_SLOW_THRESHOLD_MS", "inf"}};
    for (const auto& [var, value] : env_cases) {
        trace_config c;
        BOOST_TEST(expect_error([&] { apply_env(c, fake_env({{var, value}})); }) == var, var << "=" << value);
    }
    const std::pair<const char*, const char*> json_cases[] = {
        {R"({"max_queue_spans": 1099511627776})", "max_queue_spans"},
        {R"({"max_queue_spans": 18446744073709551615})", "max_queue_spans"},
        {R"({"flush_interval_ms": 9223372036854775807})", "flush_interval_ms"},
        {R"({"batch_size": 0})", "batch_size"},
        {R"({"max_attributes_per_span": 100000})", "max_attributes_per_span"},
        {R"({"max_step_depth": 1.5})", "max_step_depth"}};
    for (const auto& [doc, field] : json_cases) {
        trace_config c;
        BOOST_TEST(expect_error([&] { apply_json(c, doc); }) == field, doc);
    }
    // what code sets directly is checked by validate(), which init() calls
    trace_config big;
    big.max_queue_spans = std::size_t{1} << 40;
    BOOST_TEST(expect_error([&] { big.validate(); }) == "max_queue_spans");
    trace_config slow;
    slow.flush_interval = std::chrono::milliseconds::max();
    BOOST_TEST(expect_error([&] { slow.validate(); }) == "flush_interval");
    boost::asio::io_context ioc;
    BOOST_CHECK_THROW(runtime(ioc, big), config_error);
}

BOOST_AUTO_TEST_CASE(names_must_be_printable_utf8) {
    for (const std::string& bad : {std::string("svc\0x", 5), std::string("svc\x1b[31m"), std::string("caf\xc3"),
                                  std::string("\xff\xfe"), std::string(300, 'a')}) {
        trace_config c;
        c.service_name = bad;
        BOOST_TEST(expect_error([&] { c.validate(); }) == "service_name");
        trace_config e;
        e.environment = bad;
        BOOST_TEST(expect_error([&] { e.validate(); }) == "environment");
    }
    trace_config ok;
    ok.service_name = "caf\xc3\xa9-agent";   // UTF-8 is fine
    ok.validate();
}

BOOST_AUTO_TEST_CASE(json_errors_give_line_and_column_and_duplicates_are_refused) {
    trace_config c;
    const std::string syntax = error_message([&] { apply_json(c, "{\n  \"batch_size\": 10,\n  \"service_name\" \"x\"\n}"); });
    BOOST_TEST(syntax.find("line 3, column") != std::string::npos, syntax);
    const std::string dup = error_message([&] { apply_json(c, R"({"batch_size": 10, "batch_size": 20})"); });
    BOOST_TEST(dup.find("duplicate key 'batch_size'") != std::string::npos, dup);
    BOOST_TEST(dup.find("line 1, column") != std::string::npos, dup);
    const std::string nested = error_message([&] { apply_json(c, R"({"sampling": {"rate": 0.1, "rate": 1}})"); });
    BOOST_TEST(nested.find("duplicate key 'rate'") != std::string::npos, nested);
    // the same key in sibling objects is no duplicate
    apply_json(c, R"({"sampling": {"rules": [{"name": "a", "rate": 1}, {"name": "b", "rate": 0}]}})");
    BOOST_TEST(c.sampling.rules.size() == 2u);
}

BOOST_AUTO_TEST_CASE(files_are_read_with_a_limit_and_only_if_regular) {
    trace_config c;
    BOOST_TEST(expect_error([&] { apply_json_file(c, "/dev/zero"); }) == "file");
    const std::string fifo = "/tmp/tracecraft_test_fifo_" + std::to_string(::getpid());
    BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    BOOST_TEST(expect_error([&] { apply_json_file(c, fifo); }) == "file");   // refused, not blocked on
    std::remove(fifo.c_str());
    const std::string big = "/tmp/tracecraft_test_big_" + std::to_string(::getpid()) + ".json";
    {
        std::ofstream f(big);
        f << "{\"service_name\": \"" << std::string(max_config_file_bytes, 'a') << "\"}";
    }
    const std::string m = error_message([&] { apply_json_file(c, big); });
    BOOST_TEST(m.find("larger than") != std::string::npos, m);
    std::remove(big.c_str());
    BOOST_TEST(expect_error([&] { (void)load_config("", fake_env({{"TRACECRAFT_CONFIG_FILE", "/dev/zero"}})); }) == "file");
}

BOOST_AUTO_TEST_CASE(messages_quote_input_bounded_and_escaped) {
    trace_config c;
    const std::string huge = "\x1b[2J" + std::string(1 << 20, 'x');
    const std::string m = error_message([&] { apply_env(c, fake_env({{"TRACECRAFT_BATCH_SIZE", huge}})); });
    BOOST_TEST(m.size() < 200u, m.size());
    BOOST_TEST(m.find('\x1b') == std::string::npos);
    BOOST_TEST(m.find("\\x1b[2J") != std::string::npos, m);
    BOOST_TEST(m.find("(1048580 bytes)") != std::string::npos, m);
    BOOST_TEST(config_error::quote("a'b\\c\n\xc3\xa9\xff") == "'a\\'b\\\\c\\n\xc3\xa9\\xff'");
    std::string err;
    BOOST_TEST(!parse_tracestate("k=v," + std::string("\x1b") + std::string(1 << 20, 'z'), &err).has_value());
    BOOST_TEST(err.size() < 200u, err.size());
    BOOST_TEST(err.find('\x1b') == std::string::npos);
    // a bare '%' in OTEL_RESOURCE_ATTRIBUTES threw std::invalid_argument from std::stoi
    const auto o = otlp_http_options::from_env(fake_env({{"OTEL_RESOURCE_ATTRIBUTES", "team=a%zz,pct=100%,sp=a%20b"}}));
    BOOST_TEST(o.resource_attributes.size() == 3u);
}

BOOST_AUTO_TEST_CASE(precedence_file_then_environment) {
    const std::string path = "/tmp/tracecraft_test_config_" + std::to_string(::getpid()) + ".json";
    {
        std::ofstream f(path);
        f << R"({"service_name": "from-file", "sampling": {"rate": 0.5}, "batch_size": 64})";
    }
    const trace_config c =
        load_config({}, fake_env({{"TRACECRAFT_CONFIG_FILE", path}, {"TRACECRAFT_SAMPLING_RATE", "0.1"}}));
    std::remove(path.c_str());
    BOOST_TEST(c.service_name == "from-file");   // file over default
    BOOST_TEST(c.sampling.rate == 0.1);          // environment over file
    BOOST_TEST(c.batch_size == 64u);
}

BOOST_AUTO_TEST_SUITE_END()
