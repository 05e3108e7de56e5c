// Shared helpers for the test executables.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include "tracecraft/exporters/memory.hpp"
#include "tracecraft/tracecraft.hpp"

namespace tc_test {

/// How many times the seeded fuzz-style tests repeat their base count: 1 in CI, more on demand
/// (TRACECRAFT_FUZZ_SCALE=50 for a long run). Invalid values count as 1.
inline int fuzz_scale() {
    const char* v = std::getenv("TRACECRAFT_FUZZ_SCALE");
    if (!v || !*v) return 1;
    int n = 0;
    for (const char* p = v; *p; ++p) {
        if (*p < '0' || *p > '9' || n > 100000) return 1;
        n = n * 10 + (*p - '0');
    }
    return n > 0 ? n : 1;
}

/// An io_context with a default runtime that exports into memory.
struct traced_env {
    explicit traced_env(tracecraft::trace_config cfg = {}) {
        // short flush interval: tests that wait on the io_context see batches exported quickly
        if (cfg.flush_interval == std::chrono::milliseconds(1000)) cfg.flush_interval = std::chrono::milliseconds(10);
        cfg.exporters.push_back(mem);
        rt = tracecraft::init(ioc, std::move(cfg));
    }
    ~traced_env() { tracecraft::reset_default_runtime(); }
    traced_env(const traced_env&) = delete;
    traced_env& operator=(const traced_env&) = delete;

    /// Shuts the runtime down (drains everything) and returns all exported spans.
    std::vector<tracecraft::span_data> finish() {
        rt->shutdown();
        return mem->take();
    }

    boost::asio::io_context ioc;
    std::shared_ptr<tracecraft::memory_exporter> mem = std::make_shared<tracecraft::memory_exporter>();
    std::shared_ptr<tracecraft::runtime> rt;
};

inline const tracecraft::span_data* find_span(const std::vector<tracecraft::span_data>& spans, const std::string& name) {
    for (const auto& s : spans)
        if (s.name == name) return &s;
    return nullptr;
}

inline const tracecraft::span_data& get_span(const std::vector<tracecraft::span_data>& spans, const std::string& name) {
    const auto* s = find_span(spans, name);
    BOOST_TEST_REQUIRE(s != nullptr, "span '" << name << "' not exported");
    return *s;
}

/// For temporaries (e.g. get_span(env.finish(), "x")): returns a copy, so `const auto&` binding
/// to the result extends its lifetime instead of dangling.
inline tracecraft::span_data get_span(std::vector<tracecraft::span_data>&& spans, const std::string& name) {
    return get_span(static_cast<const std::vector<tracecraft::span_data>&>(spans), name);
}

inline const tracecraft::span_data* find_by_id(const std::vector<tracecraft::span_data>& spans, tracecraft::span_id id) {
    for (const auto& s : spans)
        if (s.id == id) return &s;
    return nullptr;
}

inline std::size_t count_named(const std::vector<tracecraft::span_data>& spans, const std::string& name) {
    return static_cast<std::size_t>(
        std::count_if(spans.begin(), spans.end(), [&](const auto& s) { return s.name == name; }));
}

inline std::string str(const tracecraft::attribute_value& v) {
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    return "<not a string>";
}

/// Number of threads of this process (from /proc/self/task).
inline std::size_t thread_count() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
    return n;
}

} // namespace tc_test
