// JSONL exporter: the Python SDK's line schema (every field present) and size rotation.
#include <filesystem>
#include <fstream>

#include <boost/json.hpp>

#include "test_util.hpp"
#include "tracecraft/exporters/jsonl.hpp"

using namespace tracecraft;
namespace json = boost::json;

namespace {
std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
}

std::string temp_dir() {
    const auto d = std::filesystem::temp_directory_path() / ("tracecraft_jsonl_" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    return d.string();
}
} // namespace

BOOST_AUTO_TEST_SUITE(jsonl)

BOOST_AUTO_TEST_CASE(run_with_nested_steps_in_the_python_line_schema) {
    const std::string dir = temp_dir();
    jsonl_options o;
    o.path = dir + "/nested/traces.jsonl";   // parent directories are created
    auto exp = std::make_shared<jsonl_exporter>(o);
    trace_config cfg;
    cfg.exporters = {exp};
    cfg.redaction.enabled = false;
    boost::asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    trace_id tid;
    {
        run_options ro;
        ro.session_id = "s-1";
        ro.user_id = "u-1";
        ro.tags = {"prod"};
        ro.input = "plan my trip";
        run_scope run("travel_agent", ro);
        tid = run.context().trace;
        {
            span_scope llm("chat", span_kind::llm);
            llm.set_model("gpt-4o", "openai").set_tokens(100, 20).set_cost(0.002).set_input("prompt", "hi");
            span_scope tool("lookup", span_kind::tool);   // nested under the LLM step
            tool.set_status(status_code::error, "timeout");
        }
        run.set_run_output("done");
    }
    rt->shutdown();
    reset_default_runtime();
    const auto lines = read_lines(o.path);
    BOOST_TEST_REQUIRE(lines.size() == 1u);
    const json::object run = json::parse(lines[0]).as_object();
    for (const char* key : {"id", "name", "description", "start_time", "end_time", "duration_ms", "session_id", "user_id",
                            "environment", "tags", "agent_name", "agent_id", "agent_description", "cloud_provider",
                            "cloud_trace_id", "input", "output", "steps", "total_tokens", "total_cost_usd",
                            "error_count", "error", "error_type", "attributes", "should_export", "sample_reason"})
        BOOST_TEST(run.contains(key), "run field missing: " << key);
    const std::string hex = tid.to_hex();
    const std::string uuid = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
                             hex.substr(16, 4) + "-" + hex.substr(20);
    BOOST_TEST(run.at("id").as_string() == uuid);
    BOOST_TEST(run.at("name").as_string() == "travel_agent");
    BOOST_TEST(run.at("session_id").as_string() == "s-1");
    BOOST_TEST(run.at("user_id").as_string() == "u-1");
    BOOST_TEST(run.at("tags").as_array().at(0).as_string() == "prod");
    BOOST_TEST(run.at("input").as_string() == "plan my trip");
    BOOST_TEST(run.at("output").as_string() == "done");
    BOOST_TEST(run.at("environment").as_string() == "development");
    BOOST_TEST(run.at("total_tokens").as_int64() == 120);
    BOOST_TEST(run.at("total_cost_usd").as_double() == 0.002);
    BOOST_TEST(run.at("error_count").as_int64() == 1);
    BOOST_TEST(run.at("description").is_null());
    BOOST_TEST(std::string(run.at("start_time").as_string()).back() == 'Z');
    const auto& steps = run.at("steps").as_array();
    BOOST_TEST_REQUIRE(steps.size() == 1u);
    const auto& chat = steps.at(0).as_object();
    for (const char* key : {"id", "parent_id", "trace_id", "type", "name", "start_time", "end_time", "duration_ms",
                            "inputs", "outputs", "attributes", "model_name", "model_provider", "input_tokens",
                            "output_tokens", "cost_usd", "is_streaming", "streaming_chunks", "error", "error_type",
                            "children"})
        BOOST_TEST(chat.contains(key), "step field missing: " << key);
    BOOST_TEST(chat.at("type").as_string() == "llm");
    BOOST_TEST(chat.at("model_name").as_string() == "gpt-4o");
    BOOST_TEST(chat.at("model_provider").as_string() == "openai");
    BOOST_TEST(chat.at("input_tokens").as_int64() == 100);
    BOOST_TEST(chat.at("trace_id").as_string() == uuid);
    BOOST_TEST(chat.at("inputs").at("prompt").as_string() == "hi");
    BOOST_TEST(chat.at("parent_id").is_string());   // the run's root span
    const auto& tool = chat.at("children").as_array().at(0).as_object();
    BOOST_TEST(tool.at("name").as_string() == "lookup");
    BOOST_TEST(tool.at("parent_id").as_string() == chat.at("id").as_string());
    BOOST_TEST(tool.at("error").as_string() == "timeout");
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(files_rotate_by_size) {
    const std::string dir = temp_dir();
    jsonl_options o;
    o.path = dir + "/t.jsonl";
    o.max_bytes = 4096;
    o.max_files = 3;
    auto exp = std::make_shared<jsonl_exporter>(o);
    trace_config cfg;
    cfg.exporters = {exp};
    cfg.batch_size = 1;
    boost::asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    for (int i = 0; i < 200; ++i) {
        run_scope r("run_" + std::to_string(i));
        r.set_attribute("pad", std::string(100, 'x'));
        if (i % 10 == 0) rt->force_flush();
    }
    rt->shutdown();
    reset_default_runtime();
    BOOST_TEST(std::filesystem::exists(o.path));
    BOOST_TEST(std::filesystem::exists(o.path + ".1"));
    BOOST_TEST(std::filesystem::exists(o.path + ".3"));
    BOOST_TEST(!std::filesystem::exists(o.path + ".4"));
    BOOST_TEST(std::filesystem::file_size(o.path + ".1") <= 4096u + 1024u);
    for (const auto& l : read_lines(o.path)) BOOST_TEST(json::parse(l).as_object().contains("steps"));
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
