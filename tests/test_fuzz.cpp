// Fuzz-style tests (seeded, deterministic): every public parser fed mutated and random input,
// and the encoders fed spans with odd strings and doubles. A parser may refuse input only the
// documented way (nullopt, config_error); anything else -- another exception, a crash, and under
// ASan+UBSan any memory error or undefined behaviour -- fails. TRACECRAFT_FUZZ_SCALE=N runs N
// times as many inputs.
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include <boost/json.hpp>

#include "test_util.hpp"
#include "tracecraft/config_loader.hpp"
#include "tracecraft/exporters/jsonl.hpp"
#include "tracecraft/exporters/otlp_http.hpp"
#include "tracecraft/otlp/json.hpp"
#include "tracecraft/otlp/protobuf.hpp"
#include "tracecraft/pricing.hpp"
#include "tracecraft/redaction.hpp"

using namespace tracecraft;
namespace json = boost::json;

namespace {

/// Mutations of a valid seed as real corruption looks: flipped bits, dropped, repeated and
/// inserted bytes (NUL, ESC, quotes, high bytes, digits), truncation, and pure noise.
class mutator {
public:
    explicit mutator(std::uint64_t seed) : rng_(seed) {}

    std::string operator()(std::string_view seed) {
        std::string s(seed);
        const int edits = 1 + static_cast<int>(rng_() % 4);
        for (int k = 0; k < edits; ++k) {
            const std::size_t at = s.empty() ? 0 : rng_() % (s.size() + 1);
            switch (rng_() % 8) {
                case 0:
                    if (!s.empty() && at < s.size()) s[at] = static_cast<char>(s[at] ^ (1 << (rng_() % 8)));
                    break;
                case 1:
                    if (at < s.size()) s.erase(at, 1 + rng_() % 4);
                    break;
                case 2: s.insert(at, 1, special()); break;
                case 3:
                    if (at < s.size()) s.insert(at, s.substr(at, 1 + rng_() % 8));
                    break;
                case 4: s.resize(at); break;
                case 5: s.insert(at, std::string(1 + rng_() % 300, special())); break;
                case 6: s.insert(at, std::to_string(rng_())); break;
                default:
                    for (int i = 0; i < 8; ++i) s.insert(at, 1, static_cast<char>(rng_() & 0xFF));
                    break;
            }
        }
        return s;
    }

private:
    char special() {
        static constexpr char pool[] = {'\0', '\x1b', '"', '\'', '\\', '\xff', '\xc3', '\xed', '9', '-', ',', '=', '%', ' ',
                                        '\n', '{', '}', '[', ']', ':', '.', 'e'};
        return pool[rng_() % sizeof pool];
    }
    std::mt19937_64 rng_;
};

/// Runs `f`; a config_error is a documented refusal, anything else escapes to Boost.Test.
template <class F>
void refuses_only_documented(F&& f) {
    try {
        f();
    } catch (const config_error& e) {
        BOOST_TEST_REQUIRE(std::string(e.what()).size() < 4096u, "unbounded message: " << std::string(e.what()).size());
    }
}

env_lookup env_of(std::string name, std::string value) {
    return [name = std::move(name), value = std::move(value)](const char* n) -> const char* {
        return name == n ? value.c_str() : nullptr;
    };
}

} // namespace

BOOST_AUTO_TEST_SUITE(fuzz)

BOOST_AUTO_TEST_CASE(public_parsers_refuse_only_the_documented_way) {
    const int n = 2000 * tc_test::fuzz_scale();
    mutator mutate(20261201);
    const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const std::string tracestate = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
    const std::string usage = R"({"id":"x","usage":{"prompt_tokens":12,"completion_tokens":34},"message":{"usage":{"input_tokens":1}}})";
    const std::string config = R"({"service_name":"svc","sampling":{"rate":0.5,"rules":[{"name":"r","rate":1,"match_names":["a"]}]},"batch_size":10,"max_queue_spans":100,"flush_interval_ms":5})";
    const std::string prices = R"({"models":{"m":{"input_per_million":1.5,"output_per_million":2}},"aliases":{"a":"m"}})";
    const char* vars[] = {"TRACECRAFT_SAMPLING_RATE", "TRACECRAFT_MAX_QUEUE_SPANS", "TRACECRAFT_BATCH_SIZE",
                          "TRACECRAFT_FLUSH_INTERVAL_MS", "TRACECRAFT_SERVICE_NAME", "TRACECRAFT_SAMPLING_KEEP_ERRORS",
                          "OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT",
                          "OTEL_EXPORTER_OTLP_ENDPOINT"};
    const std::string var_seeds[] = {"0.25", "2048", "512", "1000", "svc", "true", "a=b,c=d%20e", "k=v", "5000",
                                     "http://localhost:4318"};
    std::size_t accepted = 0;
    for (int i = 0; i < n; ++i) {
        std::string err;
        if (parse_traceparent(mutate(traceparent), &err)) ++accepted;
        BOOST_TEST_REQUIRE(err.size() < 4096u);
        if (parse_tracestate(mutate(tracestate), &err)) ++accepted;
        BOOST_TEST_REQUIRE(err.size() < 4096u);
        (void)extract(mutate(traceparent), mutate(tracestate), &err);
        if (const auto u = parse_usage(mutate(usage))) {
            BOOST_TEST_REQUIRE(u->input_tokens >= 0);
            BOOST_TEST_REQUIRE(u->output_tokens >= 0);
            BOOST_TEST_REQUIRE(u->total() >= 0);
        }
        refuses_only_documented([&] {
            trace_config c;
            apply_json(c, mutate(config));
            c.validate();
        });
        refuses_only_documented([&] { (void)price_table::from_json(mutate(prices)); });
        const std::size_t v = static_cast<std::size_t>(i) % std::size(vars);
        const std::string value = mutate(var_seeds[v]);
        refuses_only_documented([&] {
            trace_config c;
            apply_env(c, env_of(vars[v], value));
            c.validate();
        });
        refuses_only_documented([&] { (void)otlp_http_options::from_env(env_of(vars[v], value)); });
    }
    BOOST_TEST(accepted > 0u);   // the mutations leave some inputs valid: both paths ran
}

// Random custom rule sets compile or are refused with config_error, and redact any text.
BOOST_AUTO_TEST_CASE(random_redaction_rules_and_texts) {
    const int n = 60 * tc_test::fuzz_scale();
    mutator mutate(7);
    const std::string seeds[] = {"secret=\\S+", "[a-z]+@[a-z]+\\.com", "(ab|cd){2,5}", "x[^y]*y", "\\d{3}-\\d{4}",
                                 "Authorization: .*"};
    for (int i = 0; i < n; ++i) {
        redaction_config cfg;
        cfg.include_defaults = i % 2 == 0;
        cfg.rules.push_back(redaction_rule{"r", mutate(seeds[static_cast<std::size_t>(i) % std::size(seeds)]), {}, std::nullopt});
        if (i % 5 == 0) cfg.allowlist_patterns = {mutate("keep@example\\.com")};
        try {
            const redactor red(cfg);
            for (int k = 0; k < 5; ++k) {
                const std::string text = mutate("mail a@b.com secret=hunter2 call 555-1234 Authorization: x");
                const std::string out = red.redact(text);
                BOOST_TEST_REQUIRE(out.size() < text.size() * 16 + 64);
            }
        } catch (const config_error&) {
        }
    }
}

namespace {
struct encode_capture final : exporter {
    std::string pb, js;
    std::size_t batches = 0;
    std::string_view name() const noexcept override { return "capture"; }
    boost::asio::awaitable<export_result> export_batch(span_batch b) override {
        otlp::resource_info res;
        res.attributes = {{"service.name", std::string("fuzz")}};
        std::string p, j;
        otlp::encode_request(b, res, p);
        otlp::encode_request_json(b, res, j);
        pb += p;
        js += j;
        js += '\n';
        ++batches;
        co_return export_result::ok();
    }
};
} // namespace

// 10,000 spans with odd strings (invalid UTF-8, control bytes, quotes, long), NaN and infinite
// doubles and many attributes: every OTLP/JSON body and JSONL line parses as strict JSON (Boost.JSON
// validates UTF-8), and no invalid byte sequence reaches a protobuf body.
BOOST_AUTO_TEST_CASE(encoders_emit_what_receivers_accept) {
    const std::string dir = (std::filesystem::temp_directory_path() / ("tracecraft_fuzz_" + std::to_string(::getpid()))).string();
    std::filesystem::remove_all(dir);
    jsonl_options jo;
    jo.path = dir + "/t.jsonl";
    auto jl = std::make_shared<jsonl_exporter>(jo);
    auto cap = std::make_shared<encode_capture>();
    trace_config cfg;
    cfg.exporters = {cap, jl};
    cfg.redaction.enabled = false;
    const int traces = 1000 * tc_test::fuzz_scale();
    cfg.max_queue_spans = static_cast<std::size_t>(traces) * 10;   // the io_context runs only at shutdown
    cfg.max_attribute_value_length = 4096;
    boost::asio::io_context ioc;
    auto rt = tracecraft::init(ioc, cfg);
    std::mt19937_64 rng(99);
    const std::string marker = "\xff\xfe\xfd\xfc\xfb";   // never valid UTF-8, never in framing by chance
    auto odd = [&](std::size_t max_len) {
        std::string s;
        const std::size_t len = rng() % max_len;
        for (std::size_t i = 0; i < len; ++i) {
            const auto r = rng() % 10;
            if (r < 5) s.push_back(static_cast<char>('a' + rng() % 26));
            else if (r < 7) s.push_back(static_cast<char>(rng() & 0xFF));
            else if (r == 7) s += "\xe2\x9c\x93";   // a valid multi-byte character
            else if (r == 8) s += marker;
            else s.push_back("\"\\\n\x1b\t"[rng() % 5]);
        }
        return s;
    };
    const double specials[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(), -0.0, 1e308, 5e-324};
    for (int t = 0; t < traces; ++t) {
        run_scope run(odd(40));
        for (int k = 0; k < 9; ++k) {
            span_scope s(odd(30), static_cast<span_kind>(rng() % 8));
            const int attrs = static_cast<int>(rng() % 40);
            for (int a = 0; a < attrs; ++a) {
                switch (rng() % 4) {
                    case 0: s.set_attribute(odd(20), odd(rng() % 8 == 0 ? 6000 : 60)); break;
                    case 1: s.set_attribute(odd(20), specials[rng() % std::size(specials)]); break;
                    case 2: s.set_attribute(odd(20), {odd(10), odd(10)}); break;
                    default: s.set_attribute(odd(20), static_cast<std::int64_t>(rng())); break;
                }
            }
            if (rng() % 3 == 0) s.add_event(odd(20), {{"k", odd(20)}, {"d", specials[rng() % std::size(specials)]}});
            if (rng() % 4 == 0) s.set_status(status_code::error, odd(80));
            if (rng() % 5 == 0) s.set_cost(specials[rng() % 3]);
        }
    }
    rt->shutdown();
    BOOST_TEST_REQUIRE(cap->batches > 0u);
    BOOST_TEST(rt->stats().spans_exported == static_cast<std::uint64_t>(traces) * 10u);
    BOOST_TEST(rt->stats().strings_utf8_repaired > 1000u);
    BOOST_TEST(cap->pb.find(marker) == std::string::npos);
    std::size_t bodies = 0;
    for (std::size_t at = 0; at < cap->js.size();) {
        const std::size_t nl = cap->js.find('\n', at);
        boost::system::error_code ec;
        (void)json::parse(std::string_view(cap->js).substr(at, nl - at), ec);
        BOOST_TEST_REQUIRE(!ec, "OTLP/JSON body " << bodies << ": " << ec.message());
        ++bodies;
        at = nl + 1;
    }
    BOOST_TEST(bodies == cap->batches);
    std::ifstream in(jo.path);
    std::size_t lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
        boost::system::error_code ec;
        (void)json::parse(line, ec);
        BOOST_TEST_REQUIRE(!ec, "JSONL line " << lines + 1 << ": " << ec.message());
    }
    BOOST_TEST(lines == static_cast<std::size_t>(traces));
    tracecraft::reset_default_runtime();
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
