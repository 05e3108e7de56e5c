// W4 (README, Performance): redaction throughput on one core, recall and precision.
//
//   redaction_throughput [megabytes] [passes] [hostile_kib]
//   (defaults 64, 5, 1024: the corpus is redacted `passes` times; each hostile value is
//   hostile_kib KiB; 0 skips the hostile cases)
//
// A deterministic corpus of attribute strings (1 KiB to 64 KiB of English-like prose) with PII
// planted at known offsets: emails, phone numbers, credit cards, US SSNs, IPv4 addresses,
// sk- keys, AWS AKIA keys, bearer tokens. All default rules, MASK mode. Recall = planted items
// redacted; precision = redactions that cover a planted item. Prints one JSON line.
//
// Then the worst inputs we could construct, one value each made of one unit repeated (digit
// groups, '@' and '=' runs, key prefixes, long base64, repeated PEM headers, nested quotes):
// one JSON line per case with its MB/s. Redaction must stay linear in the input on every one.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tracecraft/redaction.hpp"

namespace {

struct doc {
    std::string text;
    std::vector<std::pair<std::size_t, std::size_t>> planted;   // [start, end)
};

std::vector<doc> make_corpus(std::size_t total_bytes) {
    std::mt19937_64 rng(20261124);
    const char* words[] = {"the", "agent", "called", "a", "tool", "to", "fetch", "weather", "data", "and", "then",
                           "summarised", "three", "documents", "about", "travel", "plans", "for", "next", "week",
                           "while", "model", "latency", "stayed", "low", "with", "retrieval", "over", "vector",
                           "index", "results", "ranked", "by", "relevance", "score"};
    const char* pii[] = {"jane.doe@example.com", "(555) 123-4567", "4111 1111 1111 1111", "078-05-1120",
                         "192.168.1.20", "sk-proj-abcdefghijklmnopqrstuvwx", "AKIAIOSFODNN7EXAMPLE",
                         "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"};
    std::vector<doc> docs;
    std::size_t bytes = 0;
    while (bytes < total_bytes) {
        doc d;
        const std::size_t len = 1024 + rng() % (63 * 1024);
        while (d.text.size() < len) {
            d.text += words[rng() % std::size(words)];
            d.text += (rng() % 12 == 0) ? ". " : " ";
            if (rng() % 120 == 0) {
                const std::string p = pii[rng() % std::size(pii)];
                d.planted.emplace_back(d.text.size(), d.text.size() + p.size());
                d.text += p;
                d.text += ' ';
            }
        }
        bytes += d.text.size();
        docs.push_back(std::move(d));
    }
    return docs;
}

/// Documents in the shapes traces carry (chat messages as JSON, tool-call arguments with JSON
/// inside strings, HTTP log lines, env dumps), a secret or PII item every ~200 bytes in the
/// notation of its shape.
std::vector<doc> make_trace_corpus(std::size_t total_bytes) {
    std::mt19937_64 rng(20261201);
    const char* words[] = {"the", "agent", "called", "a", "tool", "to", "fetch", "weather", "data", "and", "summarised",
                           "documents", "about", "travel", "plans", "model", "latency", "retrieval", "results"};
    const char* items[] = {R"("password": "hunter2hunter2")", R"("api_key": "abc123def456ghi")",
                           "jane.doe@example.com", "+44 20 7946 0958", "4111 1111 1111 1111", "192.168.1.20",
                           "sk-proj-abcdefghijklmnopqrstuvwx", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
                           "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "postgres://app:s3cret@db/main"};
    std::vector<doc> docs;
    std::size_t bytes = 0;
    while (bytes < total_bytes) {
        doc d;
        const std::size_t len = 1024 + rng() % (15 * 1024);
        while (d.text.size() < len) {
            switch (rng() % 4) {
                case 0: d.text += R"({"role": "user", "content": ")"; break;
                case 1: d.text += R"({"name": "lookup", "arguments": "{"query": ")"; break;
                case 2: d.text += "2026-12-01T10:00:00Z INFO created=1732460961 request handled "; break;
                default: d.text += "\nPATH=/usr/bin\nLANG=C.UTF-8\n"; break;
            }
            for (int w = 0; w < 25; ++w) {
                d.text += words[rng() % std::size(words)];
                d.text += ' ';
            }
            const std::string p = items[rng() % std::size(items)];
            d.planted.emplace_back(d.text.size(), d.text.size() + p.size());
            d.text += p;
            d.text += "\"}\n";
        }
        bytes += d.text.size();
        docs.push_back(std::move(d));
    }
    return docs;
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

} // namespace

int main(int argc, char** argv) {
    const std::size_t mb = argc > 1 ? std::stoul(argv[1]) : 64;
    const int passes = argc > 2 ? std::stoi(argv[2]) : 5;
    const auto corpus = make_corpus(mb << 20);
    std::size_t bytes = 0, planted = 0;
    for (const auto& d : corpus) {
        bytes += d.text.size();
        planted += d.planted.size();
    }
    const auto t_compile = std::chrono::steady_clock::now();
    const tracecraft::redactor red{tracecraft::redaction_config{}};
    const double compile_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_compile).count();
    auto scratch = red.make_scratch();
    std::string out;
    // Timed: redaction only (the matches are kept and checked against the plan afterwards).
    std::vector<std::vector<tracecraft::redaction_match>> results;
    results.reserve(corpus.size());
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& d : corpus) results.push_back(red.redact(d.text, out, scratch));
    for (int pass = 1; pass < passes; ++pass)   // more passes: a steadier timing on a noisy host
        for (const auto& d : corpus) red.redact(d.text, out, scratch);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    std::size_t found = 0, redactions = 0, true_positive = 0;
    for (std::size_t i = 0; i < corpus.size(); ++i) {
        const auto& d = corpus[i];
        const auto& matches = results[i];
        redactions += matches.size();
        std::size_t p = 0;
        for (const auto& m : matches) {
            bool covers = false;
            for (const auto& [s, e] : d.planted)
                if (m.start < e && s < m.end) covers = true;
            true_positive += covers;
        }
        for (const auto& [s, e] : d.planted) {
            for (; p < matches.size() && matches[p].end <= s; ++p) {
            }
            if (p < matches.size() && matches[p].start <= s && matches[p].end >= e) ++found;
        }
    }
    std::printf("{\"bench\":\"redaction_throughput\",\"bytes\":%zu,\"documents\":%zu,\"mb_per_s\":%.1f,"
                "\"cpu_s\":%.3f,\"planted\":%zu,\"recall\":%.5f,\"redactions\":%zu,\"precision\":%.5f,"
                "\"compile_ms\":%.1f,\"rules\":%zu}\n",
                bytes, corpus.size(), static_cast<double>(bytes) * passes / 1e6 / secs, cpu, planted,
                planted ? static_cast<double>(found) / static_cast<double>(planted) : 1.0, redactions,
                redactions ? static_cast<double>(true_positive) / static_cast<double>(redactions) : 1.0, compile_ms,
                red.rule_names().size());
    {   // the trace-shaped corpus: throughput only (its planted items are checked by the tests)
        const auto traces = make_trace_corpus(mb << 20);
        std::size_t tbytes = 0;
        for (const auto& d : traces) tbytes += d.text.size();
        const double tcpu0 = cpu_seconds();
        const auto tt0 = std::chrono::steady_clock::now();
        std::size_t tmatches = 0;
        for (int pass = 0; pass < passes; ++pass)
            for (const auto& d : traces) tmatches += red.redact(d.text, out, scratch).size();
        const double tsecs = std::chrono::duration<double>(std::chrono::steady_clock::now() - tt0).count();
        const double tcpu = cpu_seconds() - tcpu0;
        std::printf("{\"bench\":\"redaction_trace_shaped\",\"bytes\":%zu,\"documents\":%zu,\"mb_per_s\":%.1f,"
                    "\"mb_per_cpu_s\":%.1f,\"matches_per_pass\":%zu}\n",
                    tbytes, traces.size(), static_cast<double>(tbytes) * passes / 1e6 / tsecs,
                    static_cast<double>(tbytes) * passes / 1e6 / tcpu, tmatches / static_cast<std::size_t>(passes));
    }
    const std::size_t hostile_kib = argc > 3 ? std::stoul(argv[3]) : 1024;
    if (hostile_kib == 0) return 0;
    const char* units[] = {"4111 ", "1234 ", "1234-", "pwd=", "password: ", "sk-", "token:", "xoxb-", "@", "a@b.", "=",
                           "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0", "-----BEGIN RSA PRIVATE KEY-----\n",
                           "\"'", "{\"a\": \"", "1.2.", "Bearer ", "AccountKey=", "555-1234 ", "+1 "};
    for (const char* unit : units) {
        std::string value;
        while (value.size() < (hostile_kib << 10)) value += unit;
        const auto h0 = std::chrono::steady_clock::now();
        const auto m = red.redact(value, out, scratch);
        const double hs = std::chrono::duration<double>(std::chrono::steady_clock::now() - h0).count();
        std::string shown;
        for (const char* c = unit; *c; ++c) {
            if (*c == '"' || *c == '\\') shown += '\\';
            if (*c == '\n') shown += "\\n";
            else shown += *c;
        }
        std::printf("{\"bench\":\"redaction_hostile\",\"unit\":\"%s\",\"bytes\":%zu,\"mb_per_s\":%.1f,\"matches\":%zu}\n",
                    shown.c_str(), value.size(), static_cast<double>(value.size()) / 1e6 / hs, m.size());
    }
    return 0;
}
