#include "metrics/genai_metrics.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <new>

#include "record/view_access.hpp"
#include "support/utf8.hpp"
#include "tracecraft/detail/span_record.hpp"
#include "tracecraft/detail/trace_buffer.hpp"

namespace tracecraft {

const attribute_value* metric_point::attribute(std::string_view key) const noexcept {
    for (const auto& [k, v] : attributes)
        if (k == key) return &v;
    return nullptr;
}

const metric_data* metrics_snapshot::find(std::string_view name) const noexcept {
    for (const metric_data& m : metrics)
        if (m.name == name) return &m;
    return nullptr;
}

double metrics_snapshot::total(std::string_view name,
                               std::initializer_list<std::pair<std::string_view, std::string_view>> where) const {
    const metric_data* m = find(name);
    if (!m) return 0;
    double t = 0;
    for (const metric_point& p : m->points) {
        bool match = true;
        for (const auto& [k, v] : where) {
            const attribute_value* a = p.attribute(k);
            match &= a && std::holds_alternative<std::string>(*a) && std::get<std::string>(*a) == v;
        }
        if (match) t += m->type == metric_type::histogram ? static_cast<double>(p.count) : p.value;
    }
    return t;
}

namespace detail {

namespace {

// Bucket boundaries the GenAI conventions specify.
constexpr double duration_bounds[] = {0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
constexpr double token_bounds[] = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
constexpr std::size_t n_bounds = 14;
static_assert(std::size(duration_bounds) == n_bounds && std::size(token_bounds) == n_bounds);

// Which attributes an instrument carries.
enum attr_bits : unsigned {
    a_operation = 1, a_provider = 2, a_request_model = 4, a_response_model = 8, a_error = 16, a_server = 32,
    a_modality = 64, a_agent_name = 128, a_tool_name = 256, a_workflow_name = 512,
};
constexpr unsigned llm_attrs = a_operation | a_provider | a_request_model | a_response_model | a_server;

struct instrument_info {
    std::string_view name, description, unit;
    metric_type type;
    const double* bounds;
    bool integer;
    unsigned attrs;
};

constexpr instrument_info instruments[] = {
    {"gen_ai.client.operation.duration", "GenAI operation duration.", "s", metric_type::histogram, duration_bounds, false, llm_attrs | a_error},
    {"gen_ai.client.inference.usage.input_tokens", "The number of input (prompt) tokens used, including cached tokens.", "{token}",
     metric_type::counter, nullptr, true, llm_attrs | a_modality},
    {"gen_ai.client.inference.usage.output_tokens", "The number of output (completion) tokens used, including reasoning tokens.",
     "{token}", metric_type::counter, nullptr, true, llm_attrs | a_modality},
    {"gen_ai.client.inference.usage.cache_read.input_tokens", "The number of input tokens read from a provider-managed cache.",
     "{token}", metric_type::counter, nullptr, true, llm_attrs | a_modality},
    {"gen_ai.client.inference.usage.cache_write.input_tokens", "The number of input tokens written to a provider-managed cache.",
     "{token}", metric_type::counter, nullptr, true, llm_attrs | a_modality},
    {"gen_ai.client.inference.usage.reasoning.output_tokens", "The number of output tokens used for reasoning.", "{token}",
     metric_type::counter, nullptr, true, llm_attrs | a_modality},
    {"gen_ai.client.inference.operation.input_tokens", "The number of input (prompt) tokens used per inference operation.",
     "{token}", metric_type::histogram, token_bounds, true, llm_attrs | a_error},
    {"gen_ai.client.inference.operation.output_tokens", "The number of output (completion) tokens used per inference operation.",
     "{token}", metric_type::histogram, token_bounds, true, llm_attrs | a_error},
    {"gen_ai.client.operation.time_to_first_chunk", "Time to receive the first chunk of a streamed response.", "s",
     metric_type::histogram, duration_bounds, false, llm_attrs},
    {"gen_ai.client.operation.time_per_output_chunk", "Time per output chunk after the first (the stream's mean per chunk).", "s",
     metric_type::histogram, duration_bounds, false, llm_attrs},
    {"gen_ai.invoke_agent.duration", "Duration of an agent invocation.", "s", metric_type::histogram, duration_bounds, false,
     a_operation | a_agent_name | a_provider | a_request_model | a_error},
    {"gen_ai.execute_tool.duration", "Duration of a tool execution.", "s", metric_type::histogram, duration_bounds, false,
     a_operation | a_tool_name | a_error},
    {"gen_ai.workflow.duration", "Duration of a workflow run.", "s", metric_type::histogram, duration_bounds, false,
     a_operation | a_workflow_name | a_error},
    {"tracecraft.cost_usd", "Estimated cost of LLM calls in US dollars (no standard GenAI metric exists for cost).", "USD",
     metric_type::counter, nullptr, false, a_operation | a_provider | a_request_model},
};
static_assert(std::size(instruments) == static_cast<std::size_t>(instrument::count_));

const instrument_info& info(instrument i) noexcept { return instruments[static_cast<std::size_t>(i)]; }

template <class Word>
inline Word load_word(const char* p) noexcept {
    Word w;
    std::memcpy(&w, p, sizeof w);
    return w;
}

/// One hash of the attribute set, 8 bytes at a time, inline (attribute values are short: a
/// call into std::hash's out-of-line Murmur cost more than the rest of a lookup), kind mixed in.
std::uint64_t hash_of(operation_kind k, const series_attributes& a) noexcept {
    std::uint64_t x = 0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(k) + 1);
    auto mix = [&](std::uint64_t v) { x = (x ^ v) * 0xff51afd7ed558ccdull + 0x9E3779B97F4A7C15ull; };
    auto mix_string = [&](std::string_view s) {
        const std::size_t n = s.size();
        mix(n ^ 0x5bd1e995ull);   // most are empty
        const char* p = s.data();
        if (n >= 8) {   // whole words, then the last 8 bytes (overlapping)
            for (std::size_t i = 0; i + 8 < n; i += 8) mix(load_word<std::uint64_t>(p + i));
            mix(load_word<std::uint64_t>(p + n - 8));
        } else if (n >= 4) {   // two overlapping half words
            mix(load_word<std::uint32_t>(p) | std::uint64_t{load_word<std::uint32_t>(p + n - 4)} << 32);
        } else if (n > 0) {
            std::uint64_t w = 0;
            for (std::size_t i = 0; i < n; ++i) w = w << 8 | static_cast<unsigned char>(p[i]);
            mix(w);
        }
    };
    mix_string(a.operation);
    mix_string(a.provider);
    mix_string(a.request_model);
    mix_string(a.response_model);
    mix_string(a.error_type);
    mix_string(a.server_address);
    mix_string(a.name);
    mix(static_cast<std::uint64_t>(a.server_port));
    x ^= x >> 31;
    return x ? x : 1;   // 0 marks an empty slot
}

void atomic_add_double(std::atomic<std::uint64_t>& bits, double v) noexcept {
    std::uint64_t cur = bits.load(std::memory_order_relaxed);
    while (!bits.compare_exchange_weak(cur, std::bit_cast<std::uint64_t>(std::bit_cast<double>(cur) + v), std::memory_order_relaxed)) {
    }
}

template <class Better>
void atomic_extreme(std::atomic<std::uint64_t>& bits, double v, Better better) noexcept {
    std::uint64_t cur = bits.load(std::memory_order_relaxed);
    while (better(v, std::bit_cast<double>(cur)) &&
           !bits.compare_exchange_weak(cur, std::bit_cast<std::uint64_t>(v), std::memory_order_relaxed)) {
    }
}

/// An explicit-bucket histogram (the conventions' 14 boundaries, 15 buckets). Its count is the
/// sum of its buckets, added up when collected: one atomic add fewer per measurement.
struct histogram {
    std::atomic<std::uint64_t> sum_bits{0};
    std::atomic<std::uint64_t> min_bits{std::bit_cast<std::uint64_t>(HUGE_VAL)};
    std::atomic<std::uint64_t> max_bits{std::bit_cast<std::uint64_t>(-HUGE_VAL)};
    std::array<std::atomic<std::uint64_t>, n_bounds + 1> buckets{};

    void observe(const double* bounds, double v, std::uint64_t n) noexcept {
        if (!std::isfinite(v) || n == 0) return;
        std::size_t b = 0;   // (bounds[b-1], bounds[b]]: a short linear scan beats a binary search here
        while (b < n_bounds && v > bounds[b]) ++b;
        buckets[b].fetch_add(n, std::memory_order_relaxed);
        atomic_add_double(sum_bits, v * static_cast<double>(n));
        atomic_extreme(min_bits, v, [](double x, double c) { return x < c; });
        atomic_extreme(max_bits, v, [](double x, double c) { return x > c; });
    }
};

/// Byte equality of short strings, 8 bytes at a time, inline: a call into libc's memcmp picks
/// its AVX-512 variant on recent x86, and on some virtual machines the first use of that state
/// after each system call traps (measured: memcmp was a quarter of a traced span's time).
/// The tail is one more (overlapping) word, or two overlapping half words: no byte loop.
template <class Word>
inline bool same_word(const char* a, const char* b) noexcept {
    return load_word<Word>(a) == load_word<Word>(b);
}
inline bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
    if (n >= 8) {
        for (std::size_t i = 0; i + 8 < n; i += 8)
            if (!same_word<std::uint64_t>(a + i, b + i)) return false;
        return same_word<std::uint64_t>(a + n - 8, b + n - 8);
    }
    if (n >= 4) return same_word<std::uint32_t>(a, b) && same_word<std::uint32_t>(a + n - 4, b + n - 4);
    for (std::size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

// the histograms and counters of a series, by operation kind
enum hist_slot : std::size_t { h_duration, h_input_tokens, h_output_tokens, h_first_chunk, h_per_chunk, n_hists };
// (the input and output usage counters are the token histograms' sums: added up when collected)
enum usage_slot : std::size_t { u_cache_read, u_cache_write, u_reasoning, n_usage };

} // namespace

struct genai_metrics::series {
    operation_kind kind;
    bool overflow = false;
    std::string operation, provider, request_model, response_model, error_type, server_address, name;
    std::int64_t server_port = 0;
    std::array<histogram, n_hists> hist;          // agent / tool / workflow use h_duration only
    std::array<std::atomic<std::uint64_t>, n_usage> usage{};
    std::atomic<std::uint64_t> cost_bits{0};
    /// The price of an LLM series' model (response model, else request model), looked up once
    /// when the series is made (the table is immutable); null when unknown or not an LLM series.
    const model_price* price = nullptr;

    series(operation_kind k, const series_attributes& a)
        : kind(k), operation(valid(a.operation)), provider(valid(a.provider)), request_model(valid(a.request_model)),
          response_model(valid(a.response_model)), error_type(valid(a.error_type)), server_address(valid(a.server_address)),
          name(valid(a.name)), server_port(a.server_port) {}

    /// Metric attributes leave as OTLP strings: bytes that are not UTF-8 become U+FFFD (a span's
    /// strings are repaired the same way when it is exported). The lookup compares raw bytes.
    static std::string valid(std::string_view s) {
        if (is_valid_utf8(s)) return std::string(s);
        std::string out;
        append_valid_utf8(out, s);
        return out;
    }

    [[nodiscard]] bool same(operation_kind k, const series_attributes& a) const noexcept {
        return kind == k && !overflow && server_port == a.server_port && eq(request_model, a.request_model) &&
               eq(operation, a.operation) && eq(provider, a.provider) && eq(response_model, a.response_model) &&
               eq(error_type, a.error_type) && eq(server_address, a.server_address) && eq(name, a.name);
    }
    /// A stored (repaired) string against a measured one: equal, or the measured one repairs to it.
    [[gnu::always_inline]] static bool eq(const std::string& stored, std::string_view raw) noexcept {
        if (stored.size() == raw.size() && same_bytes(stored.data(), raw.data(), raw.size())) [[likely]]
            return true;
        return eq_repaired(stored, raw);
    }
    [[gnu::noinline, gnu::cold]] static bool eq_repaired(const std::string& stored, std::string_view raw) noexcept {
        if (is_valid_utf8(raw)) return false;
        try {
            return stored == valid(raw);
        } catch (const std::bad_alloc&) {
            return false;   // out of memory: measured into another series
        }
    }
};

namespace {
std::atomic<std::uint64_t> g_next_instance{1};

/// The series each kind of operation last measured on this thread, for one genai_metrics
/// instance (ids are never reused; series live as long as their instance). Services call a
/// handful of models: most lookups find the same attribute set again and skip hash and probe.
struct last_series {
    std::uint64_t instance = 0;
    genai_metrics::series* s = nullptr;
};
thread_local std::array<last_series, static_cast<std::size_t>(operation_kind::count_)> t_last;
} // namespace

genai_metrics::genai_metrics(std::size_t max_series, std::shared_ptr<const price_table> prices)
    : max_series_(max_series), instance_(g_next_instance.fetch_add(1, std::memory_order_relaxed)), prices_(std::move(prices)) {
    std::size_t n = 64;
    while (n < max_series * 2) n <<= 1;   // at most half full: probes stay short
    mask_ = n - 1;
    slots_ = std::make_unique<slot[]>(n);
}

genai_metrics::~genai_metrics() {
    for (std::size_t i = 0; i <= mask_; ++i) delete slots_[i].s.load(std::memory_order_acquire);
    for (auto& o : overflow_) delete o.load(std::memory_order_acquire);
}

genai_metrics::series* genai_metrics::overflow_series(operation_kind k) noexcept {
    overflowed_.fetch_add(1, std::memory_order_relaxed);
    auto& o = overflow_[static_cast<std::size_t>(k)];
    series* s = o.load(std::memory_order_acquire);
    if (s) return s;
    series* fresh = nullptr;
    try {
        fresh = new series(k, {});
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
    fresh->overflow = true;
    if (o.compare_exchange_strong(s, fresh, std::memory_order_acq_rel)) return fresh;
    delete fresh;   // another thread made it first
    return s;
}

genai_metrics::series* genai_metrics::find(operation_kind k, const series_attributes& a) noexcept {
    last_series& last = t_last[static_cast<std::size_t>(k)];
    if (last.instance == instance_ && last.s->same(k, a)) return last.s;
    series* s = lookup(k, a);
    if (s && !s->overflow) last = {instance_, s};
    return s;
}

genai_metrics::series* genai_metrics::lookup(operation_kind k, const series_attributes& a) noexcept {
    const std::uint64_t h = hash_of(k, a);
    for (std::size_t probe = 0, at = h & mask_; probe <= mask_; ++probe, at = (at + 1) & mask_) {
        slot& sl = slots_[at];
        std::uint64_t have = sl.hash.load(std::memory_order_acquire);
        if (have == 0) {
            if (used_.load(std::memory_order_relaxed) >= max_series_) return overflow_series(k);
            if (sl.hash.compare_exchange_strong(have, h, std::memory_order_acq_rel)) {
                // this slot is ours: publish the series (steady state never comes here again)
                used_.fetch_add(1, std::memory_order_relaxed);
                series* fresh = nullptr;
                try {
                    fresh = new series(k, a);
                    if (k == operation_kind::llm && prices_)
                        fresh->price = prices_->find(a.response_model.empty() ? a.request_model : a.response_model);
                } catch (const std::bad_alloc&) {
                    fresh = nullptr;   // the slot stays claimed and empty: lookups skip it
                }
                sl.s.store(fresh, std::memory_order_release);
                return fresh;
            }
            // another thread claimed the slot meanwhile: `have` holds its hash
        }
        if (have != h) continue;
        series* s = sl.s.load(std::memory_order_acquire);
        for (int spin = 0; !s && spin < 1 << 20; ++spin)   // claimed, not yet published: a few instructions away
            s = sl.s.load(std::memory_order_acquire);
        if (s && s->same(k, a)) return s;
    }
    return overflow_series(k);
}

// Which span attributes the metrics read. Checks the length and a letter first: most keys are
// other attributes, and a dropped trace's spans come here on every set_attribute.
std::string_view* string_fact(span_facts& f, std::string_view k) noexcept {
    if (k.size() < 10) return nullptr;
    if (k[0] == 'g') {
        if (k == "gen_ai.request.model") return &f.request_model;
        if (k == "gen_ai.provider.name") return &f.provider;
        if (k == "gen_ai.response.model") return &f.response_model;
        if (k == "gen_ai.operation.name") return &f.operation;
        if (k == "gen_ai.agent.name") return &f.agent_name;
        if (k == "gen_ai.tool.name") return &f.tool_name;
    } else if (k[0] == 'e') {
        if (k == "error.type") return &f.error_type;
    } else if (k[0] == 's') {
        if (k == "server.address") return &f.server_address;
    }
    return nullptr;
}

std::int64_t* int_fact(span_facts& f, std::string_view k) noexcept {
    if (k.size() < 11) return nullptr;
    if (k[0] == 'g' && k[7] == 'u') {   // gen_ai.usage.*
        if (k == "gen_ai.usage.input_tokens") return &f.input_tokens;
        if (k == "gen_ai.usage.output_tokens") return &f.output_tokens;
        if (k == "gen_ai.usage.cache_read.input_tokens" || k == "gen_ai.usage.cache_read_input_tokens") return &f.cache_read;
        if (k == "gen_ai.usage.cache_creation.input_tokens" || k == "gen_ai.usage.cache_creation_input_tokens")
            return &f.cache_write;
        if (k == "gen_ai.usage.reasoning.output_tokens") return &f.reasoning;
    } else if (k[0] == 's') {
        if (k == "server.port") return &f.server_port;
    } else if (k[0] == 't') {
        if (k == "tracecraft.stream.chunks") return &f.chunks;
    }
    return nullptr;
}

double* double_fact(span_facts& f, std::string_view k) noexcept {
    if (k == "tracecraft.cost_usd") return &f.cost;
    if (k == "gen_ai.response.time_to_first_chunk") return &f.first_chunk;
    return nullptr;
}

namespace {

/// A recorded span's facts, found in one walk of its attributes (last write wins).
span_facts facts_of(const span_record& s) noexcept {
    span_facts f;
    s.attrs.for_each([&](const attr_entry& e) {
        const std::string_view k = e.key.view();
        const value_view& v = e.value;
        switch (v.type()) {
        case value_type::string:
            if (std::string_view* slot = string_fact(f, k)) *slot = v.as_string();
            break;
        case value_type::int64:
            if (std::int64_t* slot = int_fact(f, k)) *slot = v.as_int();
            break;
        case value_type::float64:
            if (double* slot = double_fact(f, k)) *slot = v.as_double();
            break;
        default:
            break;
        }
    });
    return f;
}

void add_count(std::atomic<std::uint64_t>& c, std::int64_t v) noexcept {
    if (v > 0) c.fetch_add(static_cast<std::uint64_t>(v), std::memory_order_relaxed);
}

} // namespace

void genai_metrics::record(const trace_buffer& t) noexcept {
    t.for_each_span([&](span_record& r) {
        if (!measured_kind(r.kind)) return;
        const double seconds = static_cast<double>(view_access::span(&r, &t).duration_ns()) / 1e9;
        measure(r.kind, facts_of(r), r.name.view(), r.status == status_code::error, seconds);
    });
}

void genai_metrics::measure(span_kind kind, const span_facts& f, std::string_view span_name, bool error, double seconds,
                            bool overflow) noexcept {
    series_attributes a;
    if (error) a.error_type = f.error_type.empty() ? std::string_view("_OTHER") : f.error_type;
    operation_kind k;
    if (kind == span_kind::agent) {
        k = operation_kind::agent;
        a.operation = f.operation.empty() ? "invoke_agent" : f.operation;
        a.name = f.agent_name.empty() ? span_name : f.agent_name;
        a.provider = f.provider;
        a.request_model = f.request_model;
    } else if (kind == span_kind::tool) {
        k = operation_kind::tool;
        a.operation = "execute_tool";
        a.name = f.tool_name.empty() ? span_name : f.tool_name;
    } else if (kind == span_kind::workflow) {
        k = operation_kind::workflow;
        a.operation = "invoke_workflow";
        a.name = span_name;
    } else {
        k = operation_kind::llm;
        a.operation = f.operation.empty() ? "chat" : f.operation;
        a.provider = f.provider;
        a.request_model = f.request_model;
        a.response_model = f.response_model;
        a.server_address = f.server_address;
        a.server_port = f.server_address.empty() ? 0 : f.server_port;
    }
    series* s = overflow ? overflow_series(k) : find(k, a);
    if (!s) return;
    s->hist[h_duration].observe(duration_bounds, seconds, 1);
    if (k != operation_kind::llm) return;
    const bool usage = f.input_tokens >= 0 || f.output_tokens >= 0;
    if (usage) {
        s->hist[h_input_tokens].observe(token_bounds, static_cast<double>(std::max<std::int64_t>(0, f.input_tokens)), 1);
        s->hist[h_output_tokens].observe(token_bounds, static_cast<double>(std::max<std::int64_t>(0, f.output_tokens)), 1);
    }
    add_count(s->usage[u_cache_read], f.cache_read);
    add_count(s->usage[u_cache_write], f.cache_write);
    add_count(s->usage[u_reasoning], f.reasoning);
    if (f.first_chunk >= 0) {
        s->hist[h_first_chunk].observe(duration_bounds, f.first_chunk, 1);
        if (f.chunks > 1 && seconds > f.first_chunk)   // the stream's mean per chunk, once per chunk after the first
            s->hist[h_per_chunk].observe(duration_bounds, (seconds - f.first_chunk) / static_cast<double>(f.chunks - 1),
                                         static_cast<std::uint64_t>(f.chunks - 1));
    }
    double cost = f.cost;
    if (cost < 0 && usage && !(f.request_model.empty() && f.response_model.empty())) {
        const auto in = std::max<std::int64_t>(0, f.input_tokens), out = std::max<std::int64_t>(0, f.output_tokens);
        if (s->price) {   // the series' model: priced when the series was made (as price_table::cost does)
            cost = (static_cast<double>(in) * s->price->input_per_million + static_cast<double>(out) * s->price->output_per_million) / 1e6;
        } else if (s->overflow && prices_) {   // the overflow series holds many models
            const std::string_view model = f.response_model.empty() ? f.request_model : f.response_model;
            if (auto p = prices_->cost(model, in, out)) cost = *p;
        }
    }
    if (cost > 0 && std::isfinite(cost)) atomic_add_double(s->cost_bits, cost);
}

namespace {

using attribute_list = std::vector<std::pair<std::string, attribute_value>>;

attribute_list attributes_of(const genai_metrics::series& s, unsigned attrs) {
    attribute_list out;
    if (s.overflow) {
        out.emplace_back("otel.metric.overflow", true);
        return out;
    }
    auto put = [&](unsigned bit, std::string_view key, const std::string& v) {
        if ((attrs & bit) && !v.empty()) out.emplace_back(std::string(key), v);
    };
    put(a_operation, "gen_ai.operation.name", s.operation);
    put(a_provider, "gen_ai.provider.name", s.provider);
    put(a_request_model, "gen_ai.request.model", s.request_model);
    put(a_response_model, "gen_ai.response.model", s.response_model);
    put(a_error, "error.type", s.error_type);
    put(a_server, "server.address", s.server_address);
    if ((attrs & a_server) && s.server_port > 0) out.emplace_back("server.port", s.server_port);
    if (attrs & a_modality) out.emplace_back("gen_ai.token.modality", std::string("unknown"));
    put(a_agent_name, "gen_ai.agent.name", s.name);
    put(a_tool_name, "gen_ai.tool.name", s.name);
    put(a_workflow_name, "gen_ai.workflow.name", s.name);
    return out;
}

/// Points of one instrument, merged by attribute set (series that differ only in an attribute
/// the instrument leaves out add up).
using point_map = std::map<attribute_list, metric_point>;

void add_histogram(point_map& m, attribute_list attrs, const histogram& h) {
    std::array<std::uint64_t, n_bounds + 1> buckets;
    std::uint64_t n = 0;
    for (std::size_t i = 0; i <= n_bounds; ++i) n += buckets[i] = h.buckets[i].load(std::memory_order_relaxed);
    if (n == 0) return;
    metric_point& p = m[attrs];
    if (p.bucket_counts.empty()) {
        p.attributes = std::move(attrs);
        p.bucket_counts.assign(n_bounds + 1, 0);
        p.min = HUGE_VAL;
        p.max = -HUGE_VAL;
    }
    p.count += n;
    p.sum += std::bit_cast<double>(h.sum_bits.load(std::memory_order_relaxed));
    p.min = std::min(p.min, std::bit_cast<double>(h.min_bits.load(std::memory_order_relaxed)));
    p.max = std::max(p.max, std::bit_cast<double>(h.max_bits.load(std::memory_order_relaxed)));
    for (std::size_t i = 0; i <= n_bounds; ++i) p.bucket_counts[i] += buckets[i];
}

void add_counter(point_map& m, attribute_list attrs, double v, bool integer) {
    if (v <= 0) return;
    metric_point& p = m[attrs];
    if (p.attributes.empty()) p.attributes = std::move(attrs);
    p.integer = integer;
    p.value += v;
}

} // namespace

void genai_metrics::collect(metrics_snapshot& out) const {
    std::array<point_map, static_cast<std::size_t>(instrument::count_)> points;
    auto at = [&](instrument i) -> point_map& { return points[static_cast<std::size_t>(i)]; };
    auto visit = [&](const series& s) {
        auto attrs = [&](instrument i) { return attributes_of(s, info(i).attrs); };
        if (s.kind != operation_kind::llm) {
            const instrument i = s.kind == operation_kind::agent ? instrument::agent_duration
                                 : s.kind == operation_kind::tool ? instrument::tool_duration
                                                                  : instrument::workflow_duration;
            add_histogram(at(i), attrs(i), s.hist[h_duration]);
            return;
        }
        add_histogram(at(instrument::operation_duration), attrs(instrument::operation_duration), s.hist[h_duration]);
        add_histogram(at(instrument::operation_input_tokens), attrs(instrument::operation_input_tokens), s.hist[h_input_tokens]);
        add_histogram(at(instrument::operation_output_tokens), attrs(instrument::operation_output_tokens), s.hist[h_output_tokens]);
        add_histogram(at(instrument::time_to_first_chunk), attrs(instrument::time_to_first_chunk), s.hist[h_first_chunk]);
        add_histogram(at(instrument::time_per_output_chunk), attrs(instrument::time_per_output_chunk), s.hist[h_per_chunk]);
        // every input/output token count measured went into its histogram's sum, exactly (whole
        // numbers below 2^53)
        for (const auto& [i, h] : {std::pair{instrument::usage_input_tokens, h_input_tokens},
                                   std::pair{instrument::usage_output_tokens, h_output_tokens}})
            add_counter(at(i), attrs(i), std::bit_cast<double>(s.hist[h].sum_bits.load(std::memory_order_relaxed)), true);
        constexpr std::pair<instrument, usage_slot> usage[] = {
            {instrument::usage_cache_read_tokens, u_cache_read}, {instrument::usage_cache_write_tokens, u_cache_write},
            {instrument::usage_reasoning_tokens, u_reasoning}};
        for (const auto& [i, slot] : usage)
            add_counter(at(i), attrs(i), static_cast<double>(s.usage[slot].load(std::memory_order_relaxed)), true);
        add_counter(at(instrument::cost), attrs(instrument::cost), std::bit_cast<double>(s.cost_bits.load(std::memory_order_relaxed)), false);
    };
    for (std::size_t i = 0; i <= mask_; ++i)
        if (const series* s = slots_[i].s.load(std::memory_order_acquire)) visit(*s);
    for (const auto& o : overflow_)
        if (const series* s = o.load(std::memory_order_acquire)) visit(*s);
    for (std::size_t i = 0; i < points.size(); ++i) {
        if (points[i].empty()) continue;
        const instrument_info& in = instruments[i];
        metric_data m;
        m.name = std::string(in.name);
        m.description = std::string(in.description);
        m.unit = std::string(in.unit);
        m.type = in.type;
        if (in.bounds) m.bounds.assign(in.bounds, in.bounds + n_bounds);
        for (auto& [attrs, p] : points[i]) m.points.push_back(std::move(p));   // ordered by attributes
        out.metrics.push_back(std::move(m));
    }
}

void append_health_metrics(metrics_snapshot& out, const runtime_stats& s, std::size_t queue_capacity) {
    auto counter = [&](std::string name, std::string desc, std::string unit,
                       std::initializer_list<std::pair<const char*, std::uint64_t>> points, const char* key) {
        metric_data m;
        m.name = std::move(name);
        m.description = std::move(desc);
        m.unit = std::move(unit);
        m.type = metric_type::counter;
        for (const auto& [label, v] : points) {
            metric_point p;
            if (key) p.attributes.emplace_back(key, std::string(label));
            p.value = static_cast<double>(v);
            m.points.push_back(std::move(p));
        }
        out.metrics.push_back(std::move(m));
    };
    auto gauge = [&](std::string name, std::string desc, std::string unit, std::uint64_t v) {
        metric_data m;
        m.name = std::move(name);
        m.description = std::move(desc);
        m.unit = std::move(unit);
        m.type = metric_type::gauge;
        metric_point p;
        p.value = static_cast<double>(v);
        m.points.push_back(std::move(p));
        out.metrics.push_back(std::move(m));
    };
    counter("tracecraft.traces", "Traces by what became of them.", "{trace}",
            {{"started", s.traces_started},
             {"head_dropped", s.traces_head_dropped},
             {"completed", s.traces_completed},
             {"sampled_out", s.traces_sampled_out},
             {"processor_dropped", s.traces_processor_dropped},
             {"processor_failed", s.traces_processor_failed},
             {"kept", s.traces_kept},
             {"queue_dropped", s.traces_queue_dropped},
             {"after_shutdown", s.traces_after_shutdown}},
            "outcome");
    counter("tracecraft.exporter.sent_spans", "Spans delivered to every exporter.", "{span}", {{"", s.spans_exported}}, nullptr);
    counter("tracecraft.exporter.send_failed_spans", "Spans an exporter failed to deliver.", "{span}",
            {{"permanent", s.spans_failed_permanent}, {"retry_expired", s.spans_retry_expired}}, "reason");
    counter("tracecraft.exporter.rejected_spans", "Spans the receiver rejected (OTLP partial success).", "{span}",
            {{"", s.spans_rejected}}, nullptr);
    counter("tracecraft.exporter.enqueue_failed_spans", "Spans given up for room in the pipeline, or at shutdown.", "{span}",
            {{"queue_full", s.spans_queue_dropped}, {"shutdown", s.spans_shutdown_dropped}, {"spool_dropped", s.spans_spool_dropped}},
            "reason");
    counter("tracecraft.exporter.retries", "Export attempts after a retryable failure.", "{attempt}", {{"", s.export_retries}}, nullptr);
    counter("tracecraft.processor.redaction_failures", "Spans fully masked because scanning failed.", "{span}",
            {{"", s.redaction_failures}}, nullptr);
    gauge("tracecraft.exporter.queue_size", "Spans waiting in the pipeline (queued or being exported).", "{span}", s.queue_spans);
    gauge("tracecraft.exporter.queue_capacity", "Capacity of the pipeline (trace_config::max_queue_spans).", "{span}", queue_capacity);
    gauge("tracecraft.exporter.spooled_spans", "Spans waiting in a disk spool.", "{span}", s.spans_spooled);
}

} // namespace detail
} // namespace tracecraft
