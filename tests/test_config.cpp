// Configuration from JSON and TRACECRAFT_* variables: every documented key works, bad input
// names the key.
#include <cstdio>
#include <fstream>
#include <map>

#include "test_util.hpp"

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
        "max_attribute_value_length": 1024})");
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
