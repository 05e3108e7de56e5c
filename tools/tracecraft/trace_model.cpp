#include "trace_model.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace tctool {
namespace {

namespace json = boost::json;

const json::value* find(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it == o.end() ? nullptr : &it->value();
}

std::string string_of(const json::object& o, std::string_view key) {
    const json::value* v = find(o, key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<std::int64_t> int_of(const json::object& o, std::string_view key) {
    const json::value* v = find(o, key);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
    return std::nullopt;
}

std::optional<double> number_of(const json::object& o, std::string_view key) {
    const json::value* v = find(o, key);
    if (!v) return std::nullopt;
    if (v->is_double()) return v->get_double();
    if (v->is_int64()) return static_cast<double>(v->get_int64());
    if (v->is_uint64()) return static_cast<double>(v->get_uint64());
    return std::nullopt;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string kind_of(const span_record& s) {
    const json::object& a = s.attributes;
    if (std::string k = lower(string_of(a, "tracecraft.step.type")); !k.empty()) return k;
    if (std::string k = string_of(a, "openinference.span.kind"); !k.empty()) {
        if (k == "LLM") return "llm";
        if (k == "TOOL") return "tool";
        if (k == "RETRIEVER" || k == "RERANKER" || k == "EMBEDDING") return "retrieval";
        if (k == "AGENT") return "agent";
        if (k == "GUARDRAIL") return "guardrail";
        if (k == "EVALUATOR") return "evaluation";
        return "workflow";
    }
    if (std::string op = string_of(a, "gen_ai.operation.name"); !op.empty()) {
        if (op == "execute_tool") return "tool";
        if (op == "invoke_agent" || op == "create_agent") return "agent";
        if (op == "embeddings") return "retrieval";
        return "llm";
    }
    for (const auto& kv : a) {
        const std::string_view k = kv.key();
        if (k.starts_with("gen_ai.agent.")) return "agent";
        if (k.starts_with("tool.")) return "tool";
        if (k.starts_with("retrieval.")) return "retrieval";
    }
    for (const auto& kv : a)
        if (kv.key().starts_with("gen_ai.") || kv.key().starts_with("llm.")) return "llm";
    return "span";   // a span of no LLM kind (HTTP server, database, ...)
}

} // namespace

void derive_fields(span_record& s) {
    const json::object& a = s.attributes;
    s.kind = kind_of(s);
    s.model = string_of(a, "gen_ai.request.model");
    if (s.model.empty()) s.model = string_of(a, "gen_ai.response.model");
    if (s.model.empty()) s.model = string_of(a, "llm.model_name");
    s.input_tokens = int_of(a, "gen_ai.usage.input_tokens");
    if (!s.input_tokens) s.input_tokens = int_of(a, "gen_ai.usage.prompt_tokens");
    if (!s.input_tokens) s.input_tokens = int_of(a, "llm.token_count.prompt");
    s.output_tokens = int_of(a, "gen_ai.usage.output_tokens");
    if (!s.output_tokens) s.output_tokens = int_of(a, "gen_ai.usage.completion_tokens");
    if (!s.output_tokens) s.output_tokens = int_of(a, "llm.token_count.completion");
    s.cost_usd = number_of(a, "tracecraft.cost_usd");
    if (!s.cost_usd) s.cost_usd = number_of(a, "gen_ai.usage.cost");
}

bool valid_hex_id(std::string_view id, std::size_t digits) noexcept {
    if (id.size() != digits) return false;
    bool nonzero = false;
    for (char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        nonzero |= c != '0';
    }
    return nonzero;
}

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

std::string normalise_trace_id(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '-') continue;
        out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return valid_hex_id(out, 32) ? out : std::string();
}

std::string iso_time(std::int64_t unix_ns) {
    std::time_t secs = static_cast<std::time_t>(unix_ns / 1'000'000'000);
    long micros = static_cast<long>((unix_ns % 1'000'000'000) / 1000);
    if (micros < 0) {
        micros += 1'000'000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
    return buf;
}

std::optional<std::int64_t> parse_iso_time(std::string_view t) {
    auto digits = [&](std::size_t pos, std::size_t n, int& out) {
        if (pos + n > t.size()) return false;
        out = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (t[i] < '0' || t[i] > '9') return false;
            out = out * 10 + (t[i] - '0');
        }
        return true;
    };
    int y, mo, d, h = 0, mi = 0, s = 0;
    if (!digits(0, 4, y) || t.size() < 10 || t[4] != '-' || !digits(5, 2, mo) || t[7] != '-' || !digits(8, 2, d))
        return std::nullopt;
    std::size_t p = 10;
    std::int64_t frac_ns = 0;
    if (p < t.size() && (t[p] == 'T' || t[p] == ' ')) {
        if (!digits(p + 1, 2, h) || p + 3 >= t.size() || t[p + 3] != ':' || !digits(p + 4, 2, mi)) return std::nullopt;
        p += 6;
        if (p < t.size() && t[p] == ':') {
            if (!digits(p + 1, 2, s)) return std::nullopt;
            p += 3;
        }
        if (p < t.size() && t[p] == '.') {
            ++p;
            std::int64_t scale = 100'000'000;
            const std::size_t begin = p;
            while (p < t.size() && t[p] >= '0' && t[p] <= '9') {
                frac_ns += (t[p] - '0') * scale;
                scale /= 10;
                ++p;
            }
            if (p == begin) return std::nullopt;
        }
        if (p < t.size() && t[p] == 'Z') ++p;
        else if (t.substr(p) == "+00:00") p += 6;
    }
    if (p != t.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    const std::time_t secs = timegm(&tm);
    return static_cast<std::int64_t>(secs) * 1'000'000'000 + frac_ns;
}

} // namespace tctool
