// Redaction engine: one Hyperscan block-mode database with start-of-match, precise
// post-processing per rule, longest-match overlap resolution.
#include "tracecraft/redaction.hpp"

#include <hs/hs.h>
#include <spdlog/spdlog.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>

#include "redact/rules.hpp"
#include "tracecraft/config_error.hpp"
#include "tracecraft/log.hpp"

namespace tracecraft {
namespace detail {

using candidate = redaction_candidate;

/// Per-strand scan state: the Hyperscan scratch plus buffers reused by every redact call (used
/// only inside one step() or finish(), so interleaved sessions on one scratch stay correct).
struct scan_scratch {
    hs_scratch_t* s = nullptr;
    std::vector<candidate> part, confirmed;
    std::vector<candidate> taken;   ///< chosen matches, sorted by start
    std::vector<std::size_t> crossing;     ///< batch: ends of matches that crossed a separator
    std::vector<std::uint32_t> text_of;    ///< batch: text index of each candidate
    ~scan_scratch() {
        if (s) hs_free_scratch(s);
    }
};

/// Confirmation of a long text spread over several session steps.
struct confirm_progress {
    explicit confirm_progress(std::string_view text) : st(text) {}
    confirm_state st;
    std::uint32_t rule_now = ~std::uint32_t{0};
    std::size_t next = 0;
    bool exhausted = false;
    std::vector<candidate> confirmed;
};

struct redactor_impl {
    redaction_config cfg;
    std::vector<compiled_rule> rules;   ///< pattern rules, index = Hyperscan id
    std::shared_ptr<hs_database_t> db_owner;   ///< shared with redactors of the same rules
    hs_database_t* db = nullptr;
    hs_database_t* allow_db = nullptr;     ///< allowlist patterns, anchored: ^(?:p)$
    std::size_t min_width = 0;             ///< shortest text any rule can match: shorter ones are not scanned
    bool batchable = true;                 ///< no rule is anchored, so texts may be scanned joined (redactor::batch)
    hs_scratch_t* allow_scratch = nullptr; ///< guarded by allow_mutex (allowlist hits are rare)
    mutable std::mutex allow_mutex;
    std::string hmac_key;
    std::map<std::string, std::optional<std::string>, std::less<>> field_paths;   ///< path -> rule replacement
    /// Confirmation budget per text: work_per_byte * size + work_fixed bytes examined. The
    /// default rules need at most ~25 per byte on the worst inputs we could construct.
    std::size_t work_per_byte = 64, work_fixed = 64 * 1024;
    mutable std::atomic<std::uint64_t> exhausted{0};
    /// The same rules compiled for streaming, built on first use (a text longer than a window).
    /// Null if Hyperscan cannot compile them so: such texts are then scanned in one block call.
    mutable std::once_flag stream_once;
    mutable std::shared_ptr<hs_database_t> stream_db;
    hs_database_t* stream_database() const;

    ~redactor_impl() {
        if (allow_scratch) hs_free_scratch(allow_scratch);
        if (allow_db) hs_free_database(allow_db);
    }

    bool allowed(std::string_view m) const {
        if (std::find(cfg.allowlist.begin(), cfg.allowlist.end(), m) != cfg.allowlist.end()) return true;
        if (!allow_db) return false;
        std::lock_guard lk(allow_mutex);
        bool hit = false;
        hs_scan(allow_db, m.data(), static_cast<unsigned>(m.size()), 0, allow_scratch,
                [](unsigned, unsigned long long, unsigned long long, unsigned, void* c) {
                    *static_cast<bool*>(c) = true;
                    return 1;   // stop at the first full match
                },
                &hit);
        return hit;
    }
};

namespace {

struct scan_context {
    std::vector<candidate>* out;
    const std::vector<compiled_rule>* rules;
    const char* joined = nullptr;                      ///< batch scans: texts joined by NUL separators
    const std::vector<std::size_t>* separators = nullptr;   ///< batch scans: their positions, ascending
    std::vector<std::size_t>* crossing = nullptr;      ///< batch scans: ends of matches across a separator
};

/// True if a pattern has an anchor outside a character class (`^`, `$`, `\A`, `\z`, `\Z`,
/// `\G`): joined with other texts it would not match as it does alone.
bool has_anchor(std::string_view p) {
    bool in_class = false;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\') {
            if (i + 1 < p.size() && !in_class && std::strchr("AzZG", p[i + 1])) return true;
            ++i;
        } else if (in_class) {
            if (c == ']') in_class = false;
        } else if (c == '[') {
            in_class = true;
            if (i + 1 < p.size() && p[i + 1] == '^') ++i;
            if (i + 1 < p.size() && p[i + 1] == ']') ++i;   // "[]...]" and "[^]...]": ']' is a member
        } else if (c == '^' || c == '$') {
            return true;
        }
    }
    return false;
}

/// Among the last few candidates (overlapping rules interleave their reports), one of rule `id`
/// that `same` accepts, or nullptr.
template <class Same>
candidate* recent_candidate(std::vector<candidate>& v, unsigned id, Same same) {
    const std::size_t n = v.size();
    for (std::size_t k = n; k > 0 && k + 4 > n; --k)
        if (v[k - 1].rule == id && same(v[k - 1])) return &v[k - 1];
    return nullptr;
}

int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int, void* ctx) {
    auto* c = static_cast<scan_context*>(ctx);
    const compiled_rule& rule = (*c->rules)[id];
    const auto end = static_cast<std::size_t>(to);
    if (c->joined) [[unlikely]] {
        // A match whose last byte is a separator belongs to no text. One that starts in an
        // earlier text hides the start its own text alone would report for this end: that
        // text is rescanned alone (redactor::batch::scan). Prefilter hits keep only their end.
        if (c->joined[end - 1] == '\0' && std::binary_search(c->separators->begin(), c->separators->end(), end - 1))
            return 0;
        if (rule.som && std::memchr(c->joined + from, 0, end - static_cast<std::size_t>(from))) {
            c->crossing->push_back(end);
            return 0;
        }
    }
    if (!rule.som) {
        // Without start-of-match the start is unknown: the candidate is keyed by its end, and
        // Hyperscan reports every end of the match. A run of consecutive ends of one rule is
        // one token: keep its last end, which every prefilter confirmer (email, token)
        // resolves to the same [start, end) as any other end of the run.
        if (candidate* prev = recent_candidate(*c->out, id, [&](const candidate& p) { return p.e + 1 == end; })) {
            prev->s = prev->e = end;
            return 0;
        }
        from = to;
    } else if (rule.post == post_kind::plain || rule.post == post_kind::token_start) {
        // With start-of-match, an open-ended repeat reports every longer end from one start;
        // these rules accept any end (confirm() looks only before the start), so the longest
        // end wins anyway: keep one candidate per (rule, start).
        if (candidate* prev = recent_candidate(*c->out, id, [&](const candidate& p) { return p.s == from; })) {
            if (end > prev->e) prev->e = end;
            return 0;
        }
    }
    c->out->push_back(candidate{static_cast<std::size_t>(from), end, id});
    return 0;
}

std::string to_hex(const unsigned char* p, std::size_t n) {
    static const char hex[] = "0123456789abcdef";
    std::string s(n * 2, '0');
    for (std::size_t i = 0; i < n; ++i) {
        s[2 * i] = hex[p[i] >> 4];
        s[2 * i + 1] = hex[p[i] & 0xF];
    }
    return s;
}

std::atomic<bool> g_fault_injection{false};
std::atomic<std::size_t> g_budget_per_byte{0};   // test hook; 0: the redactor's own budget

/// Compiled pattern databases by rule set, so that a runtime started again with the same rules
/// (tests, short-lived tools, every init() of a process) does not pay Hyperscan's compile time
/// (~10 ms for the defaults) again. A database is immutable and scanned with per-user scratch,
/// so one copy serves every redactor. The few most recent rule sets are kept.
template <class Compile>
std::shared_ptr<hs_database_t> cached_database(const std::vector<const char*>& exprs, const std::vector<unsigned>& flags,
                                               unsigned mode, Compile&& compile) {
    static std::mutex m;
    static std::vector<std::pair<std::string, std::shared_ptr<hs_database_t>>> cache;   // most recent last
    constexpr std::size_t max_entries = 8;
    std::string key = std::to_string(mode) + ';';
    for (std::size_t i = 0; i < exprs.size(); ++i) {
        key += std::to_string(flags[i]);
        key += ':';
        key += std::to_string(std::strlen(exprs[i]));
        key += ':';
        key += exprs[i];
    }
    {
        std::lock_guard lk(m);
        for (auto it = cache.begin(); it != cache.end(); ++it)
            if (it->first == key) {
                auto entry = std::move(*it);
                cache.erase(it);
                cache.push_back(std::move(entry));
                return cache.back().second;
            }
    }
    std::shared_ptr<hs_database_t> db(compile(), hs_free_database);   // outside the lock: ~10 ms
    std::lock_guard lk(m);
    if (cache.size() >= max_entries) cache.erase(cache.begin());
    cache.emplace_back(std::move(key), db);
    return db;
}

bool faulty() noexcept { return g_fault_injection.load(std::memory_order_relaxed); }

void check_scan(hs_error_t rc) {
    if (rc != HS_SUCCESS) throw std::runtime_error("tracecraft: hs_scan failed with code " + std::to_string(rc));
}

/// One Hyperscan call over [data, data + n) reporting to `ctx`; throws if the scan fails.
void scan_block(const redactor_impl& im, scan_scratch& sc, const char* data, std::size_t n, scan_context& ctx) {
    check_scan(faulty() ? HS_SCRATCH_IN_USE : hs_scan(im.db, data, static_cast<unsigned>(n), 0, sc.s, on_match, &ctx));
}

} // namespace

void set_redaction_fault_injection(bool on) noexcept { g_fault_injection.store(on); }
void set_redaction_work_budget(std::size_t per_byte) noexcept { g_budget_per_byte.store(per_byte); }

hs_database_t* redactor_impl::stream_database() const {
    std::call_once(stream_once, [this] {
        std::vector<const char*> exprs;
        std::vector<unsigned> flags, ids;
        for (std::size_t i = 0; i < rules.size(); ++i) {
            exprs.push_back(rules[i].pattern.c_str());
            flags.push_back(rules[i].som ? HS_FLAG_SOM_LEFTMOST : 0u);
            ids.push_back(static_cast<unsigned>(i));
        }
        constexpr unsigned mode = HS_MODE_STREAM | HS_MODE_SOM_HORIZON_LARGE;
        try {
            stream_db = cached_database(exprs, flags, mode, [&]() -> hs_database_t* {
                hs_database_t* db = nullptr;
                hs_compile_error_t* err = nullptr;
                if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()), mode,
                                     nullptr, &db, &err) != HS_SUCCESS) {
                    logger()->info("redaction rules cannot be compiled for streaming ({}): long values are scanned "
                                   "in one call", err ? err->message : "unknown error");
                    if (err) hs_free_compile_error(err);
                    return nullptr;
                }
                return db;
            });
        } catch (const std::exception&) {
            stream_db = nullptr;
        }
    });
    return stream_db.get();
}

} // namespace detail

redaction_scratch::redaction_scratch() : s_(std::make_unique<detail::scan_scratch>()) {}
redaction_scratch::~redaction_scratch() = default;
redaction_scratch::redaction_scratch(redaction_scratch&&) noexcept = default;
redaction_scratch& redaction_scratch::operator=(redaction_scratch&&) noexcept = default;

redactor::redactor(const redaction_config& config) : impl_(std::make_unique<detail::redactor_impl>()) {
    auto& im = *impl_;
    im.cfg = config;
    if (config.include_defaults)
        for (const auto& r : detail::default_rules())
            if (std::find(config.disabled_defaults.begin(), config.disabled_defaults.end(), r.name) ==
                config.disabled_defaults.end())
                im.rules.push_back(r);
    for (const auto& name : config.disabled_defaults) {
        const auto& d = detail::default_rules();
        if (std::none_of(d.begin(), d.end(), [&](const auto& r) { return r.name == name; }))
            throw config_error("redaction.disabled_defaults", "no default rule named '" + name + "'");
    }
    int prio = 100;
    for (std::size_t i = 0; i < config.rules.size(); ++i) {
        const auto& r = config.rules[i];
        const std::string field = "redaction.rules[" + std::to_string(i) + "]";
        if (r.name.empty()) throw config_error(field + ".name", "must not be empty");
        if (r.pattern.empty() && r.field_paths.empty())
            throw config_error(field, "rule '" + r.name + "' needs a pattern or field_paths");
        if (r.pattern.find('\0') != std::string::npos)   // Hyperscan takes C strings: it would compile a prefix
            throw config_error(field + ".pattern", "rule '" + r.name + "' contains a NUL byte; write \\x00 to match one");
        if (!r.pattern.empty()) im.rules.push_back({r.name, r.pattern, detail::post_kind::plain, prio++, r.replacement});
        for (const auto& p : r.field_paths) im.field_paths[p] = r.replacement;
    }
    if (!config.allowlist_patterns.empty()) {
        std::vector<std::string> anchored;
        for (std::size_t i = 0; i < config.allowlist_patterns.size(); ++i) {
            const std::string& p = config.allowlist_patterns[i];
            const std::string field = "redaction.allowlist_patterns[" + std::to_string(i) + "]";
            if (p.find('\0') != std::string::npos)
                throw config_error(field, "contains a NUL byte; write \\x00 to match one");
            // valid on its own first, so that it cannot close the wrapper's group ("x)|(.*" would
            // turn "^(?:p)$" into an allowlist that keeps everything); "\E" ends a "\Q" quote
            // left open, which would otherwise swallow the wrapper's ")$"
            hs_expr_info_t* info = nullptr;
            hs_compile_error_t* err = nullptr;
            if (hs_expression_info(p.c_str(), 0, &info, &err) != HS_SUCCESS) {
                const std::string what = err ? err->message : "unknown error";
                if (err) hs_free_compile_error(err);
                throw config_error(field, "not a valid pattern: " + what);
            }
            std::free(info);
            anchored.push_back("^(?:" + p + "\\E)$");
        }
        std::vector<const char*> exprs;
        std::vector<unsigned> flags, ids;
        for (std::size_t i = 0; i < anchored.size(); ++i) {
            exprs.push_back(anchored[i].c_str());
            flags.push_back(HS_FLAG_SINGLEMATCH);
            ids.push_back(static_cast<unsigned>(i));
        }
        hs_compile_error_t* err = nullptr;
        if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK,
                             nullptr, &im.allow_db, &err) != HS_SUCCESS) {
            const std::string what = err ? err->message : "unknown error";
            const int idx = err ? err->expression : -1;
            if (err) hs_free_compile_error(err);
            throw config_error("redaction.allowlist_patterns[" + std::to_string(idx < 0 ? 0 : idx) + "]", what);
        }
        if (hs_alloc_scratch(im.allow_db, &im.allow_scratch) != HS_SUCCESS)
            throw std::runtime_error("tracecraft: hs_alloc_scratch failed");
    }
    if (!im.rules.empty()) {
        std::vector<const char*> exprs;
        std::vector<unsigned> flags, ids;
        for (std::size_t i = 0; i < im.rules.size(); ++i) {
            exprs.push_back(im.rules[i].pattern.c_str());
            flags.push_back(im.rules[i].som ? HS_FLAG_SOM_LEFTMOST : 0u);
            ids.push_back(static_cast<unsigned>(i));
        }
        im.db_owner = detail::cached_database(exprs, flags, HS_MODE_BLOCK, [&] {
            hs_database_t* db = nullptr;
            hs_compile_error_t* err = nullptr;
            if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                                 HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
                std::string field = "redaction";
                std::string what = err ? err->message : "unknown error";
                if (err && err->expression >= 0 && static_cast<std::size_t>(err->expression) < im.rules.size())
                    field = "redaction.rule '" + im.rules[static_cast<std::size_t>(err->expression)].name + "'.pattern";
                if (err) hs_free_compile_error(err);
                throw config_error(field, "Hyperscan cannot compile it with start-of-match reporting: " + what);
            }
            return db;
        });
        im.db = im.db_owner.get();
    }
    for (auto& r : im.rules) {
        if (!r.extend.empty()) r.extend_table = detail::class_table(r.extend);
        if (detail::has_anchor(r.pattern)) im.batchable = false;
    }
    // Values shorter than every rule's minimum match width need no scan (method names,
    // model ids, short tags: most strings of a typical span).
    im.min_width = im.rules.empty() ? 0 : ~std::size_t{0};
    for (const auto& r : im.rules) {
        hs_expr_info_t* info = nullptr;
        hs_compile_error_t* err = nullptr;
        if (hs_expression_info(r.pattern.c_str(), r.som ? HS_FLAG_SOM_LEFTMOST : 0u, &info, &err) == HS_SUCCESS && info) {
            im.min_width = std::min<std::size_t>(im.min_width, info->min_width);
            std::free(info);   // allocated by Hyperscan's default allocator (malloc)
        } else {
            if (err) hs_free_compile_error(err);
            im.min_width = 0;   // unknown: scan everything
        }
    }
    // Rules sharing a name share its replacement (replacement_for's lookup), resolved once here
    // so that redacting never searches or allocates per match.
    for (auto& r : im.rules)
        if (!r.replacement)
            for (const auto& o : im.rules)
                if (o.replacement && o.name == r.name) {
                    r.replacement = o.replacement;
                    break;
                }
    if (config.hash_key.size() > 64) {
        // HMAC hashes a key longer than the block (64 bytes for SHA-256) before use; doing it
        // once here gives the same MACs without re-hashing the key for every match
        unsigned char k[32];
        SHA256(reinterpret_cast<const unsigned char*>(config.hash_key.data()), config.hash_key.size(), k);
        im.hmac_key.assign(reinterpret_cast<const char*>(k), sizeof k);
    } else if (!config.hash_key.empty()) {
        im.hmac_key = config.hash_key;
    } else {
        unsigned char k[32];
        if (RAND_bytes(k, sizeof k) != 1) throw std::runtime_error("tracecraft: RAND_bytes failed for the HMAC key");
        im.hmac_key.assign(reinterpret_cast<const char*>(k), sizeof k);
    }
}

redactor::~redactor() = default;

redaction_scratch redactor::make_scratch() const {
    redaction_scratch s;
    if (impl_->db && hs_alloc_scratch(impl_->db, &s.s_->s) != HS_SUCCESS)
        throw std::runtime_error("tracecraft: hs_alloc_scratch failed");
    return s;
}

const redaction_config& redactor::config() const noexcept { return impl_->cfg; }

std::vector<std::string> redactor::rule_names() const {
    std::vector<std::string> n;
    for (const auto& r : impl_->rules)
        if (std::find(n.begin(), n.end(), r.name) == n.end()) n.push_back(r.name);
    return n;
}

std::optional<std::string> redactor::field_replacement(std::string_view path) const {
    const auto& fp = impl_->field_paths;
    if (fp.empty()) return std::nullopt;
    auto it = fp.find(path);
    if (it == fp.end()) {
        const auto dot = path.rfind('.');
        if (dot != std::string_view::npos) it = fp.find(path.substr(dot + 1));
    }
    if (it == fp.end()) {   // bare key under a section: "inputs.api_key" -> "api_key"
        const auto first = path.find('.');
        if (first != std::string_view::npos) it = fp.find(path.substr(first + 1));
    }
    if (it == fp.end()) return std::nullopt;
    switch (impl_->cfg.mode) {
        case redaction_mode::remove: return std::string();
        case redaction_mode::hash: return std::string("[REDACTED]");   // whole values are not hashed
        default: return it->second.value_or("[REDACTED]");
    }
}

std::string redactor::replacement_for(std::string_view matched, std::string_view rule) const {
    for (const auto& r : impl_->rules)
        if (r.name == rule && r.replacement) return *r.replacement;
    switch (impl_->cfg.mode) {
        case redaction_mode::remove: return {};
        case redaction_mode::hash: {
            unsigned char mac[EVP_MAX_MD_SIZE];
            unsigned int len = 0;
            HMAC(EVP_sha256(), impl_->hmac_key.data(), static_cast<int>(impl_->hmac_key.size()),
                 reinterpret_cast<const unsigned char*>(matched.data()), matched.size(), mac, &len);
            return "[HASH:" + detail::to_hex(mac, 8) + "]";
        }
        default: return "[REDACTED]";
    }
}

namespace detail {

namespace {

/// Orders candidates by (rule, start, longest end first) without duplicates. Hyperscan reports
/// in order of end, so each rule's candidates are nearly sorted already: grouped by rule with a
/// counting pass, then sorted only where they are not (a page of hits sorts in O(n)).
void prepare_candidates(std::vector<candidate>& raw, std::size_t rules, std::vector<candidate>& tmp) {
    const auto less = [](const candidate& a, const candidate& b) {
        return a.rule != b.rule ? a.rule < b.rule : a.s != b.s ? a.s < b.s : a.e > b.e;
    };
    if (raw.size() > 64) {
        std::vector<std::size_t> first(rules + 1, 0);
        for (const auto& c : raw) ++first[c.rule + 1];
        for (std::size_t r = 0; r < rules; ++r) first[r + 1] += first[r];
        tmp.resize(raw.size());
        for (const auto& c : raw) tmp[first[c.rule]++] = c;
        raw.swap(tmp);
    }
    if (!std::is_sorted(raw.begin(), raw.end(), less)) std::sort(raw.begin(), raw.end(), less);
    raw.erase(std::unique(raw.begin(), raw.end(),
                          [](const auto& a, const auto& b) { return a.rule == b.rule && a.s == b.s && a.e == b.e; }),
              raw.end());
}

/// Confirms raw[next, ...) group by group until `stop` candidates are passed (never splitting a
/// (rule, start) group) into `confirmed`. Every confirmer is bounded or memoised, so this is
/// linear; the budget is the last line of defence against a case not foreseen: past it the
/// text is masked whole (fail closed). Returns false when the budget is exhausted.
bool confirm_candidates(const redactor_impl& im, const std::vector<candidate>& raw, std::size_t& next, std::size_t stop,
                        confirm_state& st, std::uint32_t& rule_now, std::vector<candidate>& confirmed) {
    const std::string_view text = st.text;
    const std::size_t per_byte = g_budget_per_byte.load(std::memory_order_relaxed);
    const std::size_t budget = per_byte ? per_byte * text.size() : im.work_per_byte * text.size() + im.work_fixed;
    std::size_t i = next;
    while (i < raw.size() && i < stop) {
        std::size_t j = i;
        bool done = false;
        if (raw[i].rule != rule_now) {
            rule_now = raw[i].rule;
            st.next_rule();
        }
        const compiled_rule& rule = im.rules[raw[i].rule];
        for (; j < raw.size() && raw[j].rule == raw[i].rule && raw[j].s == raw[i].s; ++j) {
            st.work += 4;
            if (done) continue;
            std::size_t s = raw[j].s, e = raw[j].e;
            if (rule.post == post_kind::token_start && !starts_token(text, s)) continue;
            if (!rule.extend.empty()) {   // fixed-length prefix match: extend to the whole token
                const auto& table = rule.extend_table;
                e = st.extend.end(text, e, [&](char c) { return table[static_cast<unsigned char>(c)]; }, st.work);
                if (rule.trailing)
                    while (e < text.size() && text[e] == rule.trailing) ++e;
            }
            if (confirm(rule.post, st, s, e)) {
                confirmed.push_back(candidate{s, e, raw[j].rule});
                done = true;
            }
        }
        i = j;
        if (st.work > budget) [[unlikely]] {
            next = i;
            return false;
        }
    }
    next = i;
    return true;
}

} // namespace
} // namespace detail

redactor::session::session(const redactor& r, std::string_view text, redaction_scratch& scratch) noexcept
    : r_(&r), text_(text), scratch_(&scratch) {}

redactor::session::~session() {
    if (stream_) hs_close_stream(static_cast<hs_stream_t*>(stream_), nullptr, nullptr, nullptr);
}

bool redactor::session::step() {
    if (done_) return !progress_ || confirm_slice();
    const auto& im = *r_->impl_;
    if (!im.db || text_.size() < std::max<std::size_t>(im.min_width, 1)) {
        done_ = true;
        return true;
    }
    detail::scan_scratch& sc = *scratch_->get();
    detail::scan_context ctx{&raw_, &im.rules};
    hs_database_t* sdb = text_.size() > window ? im.stream_database() : nullptr;
    if (!sdb) {   // one block scan of the whole text (the common case: short values)
        detail::scan_block(im, sc, text_.data(), text_.size(), ctx);
        done_ = true;
        return true;
    }
    // A long text is one Hyperscan stream fed a window per step: the same matches as one block
    // scan (start-of-match is exact over the whole stream), with the caller free to yield
    // between windows. Offsets are stream offsets, i.e. offsets in the text.
    if (off_ == 0) {
        if (hs_alloc_scratch(sdb, &sc.s) != HS_SUCCESS) throw std::runtime_error("tracecraft: hs_alloc_scratch failed");
        hs_stream_t* st = nullptr;
        if (hs_open_stream(sdb, 0, &st) != HS_SUCCESS) throw std::runtime_error("tracecraft: hs_open_stream failed");
        stream_ = st;
    }
    const std::size_t len = std::min(text_.size() - off_, window);
    auto* st = static_cast<hs_stream_t*>(stream_);
    detail::check_scan(detail::faulty() ? HS_SCRATCH_IN_USE
                                        : hs_scan_stream(st, text_.data() + off_, static_cast<unsigned>(len), 0, sc.s,
                                                         detail::on_match, &ctx));
    off_ += len;
    if (off_ < text_.size()) return false;
    stream_ = nullptr;
    detail::check_scan(hs_close_stream(st, sc.s, detail::on_match, &ctx));   // end-anchored matches
    done_ = true;
    if (raw_.empty()) return true;
    // A long text's candidates are confirmed in slices too (a page of digit groups has one per
    // few bytes): the caller may yield between steps.
    detail::prepare_candidates(raw_, im.rules.size(), sc.part);
    progress_ = std::make_unique<detail::confirm_progress>(text_);
    return false;
}

bool redactor::session::confirm_slice() {
    constexpr std::size_t slice = 16384;   // candidates per step: ~1-2 ms
    auto& p = *progress_;
    if (p.exhausted || p.next >= raw_.size()) return true;
    if (!detail::confirm_candidates(*r_->impl_, raw_, p.next, p.next + slice, p.st, p.rule_now, p.confirmed)) {
        p.exhausted = true;
        return true;
    }
    return p.next >= raw_.size();
}


std::vector<redaction_match> redactor::session::finish(std::string& out) {
    while (!step()) {
    }
    const auto& im = *r_->impl_;
    const std::string_view text = text_;
    std::vector<redaction_match> result;
    out.clear();
    if (raw_.empty()) {
        out.assign(text);
        return result;
    }
    detail::scan_scratch& sc = *scratch_->get();
    std::vector<detail::candidate>* confirmed_ptr = &sc.confirmed;
    if (progress_) {   // confirmed step by step already
        if (progress_->exhausted) return r_->exhausted(text, out);
        confirmed_ptr = &progress_->confirmed;
    } else {
        detail::prepare_candidates(raw_, im.rules.size(), sc.part);
        sc.confirmed.clear();
        detail::confirm_state st(text);
        std::uint32_t rule_now = ~std::uint32_t{0};
        std::size_t next = 0;
        if (!detail::confirm_candidates(im, raw_, next, raw_.size(), st, rule_now, sc.confirmed)) [[unlikely]]
            return r_->exhausted(text, out);
    }
    std::vector<detail::candidate>& confirmed = *confirmed_ptr;
    // allowlists
    if (!im.cfg.allowlist.empty() || im.allow_db) {
        std::erase_if(confirmed, [&](const detail::candidate& c) { return im.allowed(text.substr(c.s, c.e - c.s)); });
    }
    // overlaps: longest first, then the more specific rule
    std::sort(confirmed.begin(), confirmed.end(), [&](const auto& a, const auto& b) {
        const auto la = a.e - a.s, lb = b.e - b.s;
        if (la != lb) return la > lb;
        const int pa = im.rules[a.rule].priority, pb = im.rules[b.rule].priority;
        return pa != pb ? pa < pb : a.s < b.s;
    });
    auto& taken = sc.taken;   // chosen matches, sorted by start
    taken.clear();
    if (confirmed.size() <= 64) {   // the common case: a few matches, a vector beats a tree
        for (const auto& c : confirmed) {
            auto it = std::lower_bound(taken.begin(), taken.end(), c.s,
                                       [](const detail::candidate& t, std::size_t s) { return t.s < s; });
            if (it != taken.end() && it->s < c.e) continue;
            if (it != taken.begin() && std::prev(it)->e > c.s) continue;
            taken.insert(it, c);
        }
    } else {   // many (a page of e-mails): O(log n) per match instead of a vector insert
        std::map<std::size_t, detail::candidate> chosen;
        for (const auto& c : confirmed) {
            auto it = chosen.lower_bound(c.s);
            if (it != chosen.end() && it->second.s < c.e) continue;
            if (it != chosen.begin() && std::prev(it)->second.e > c.s) continue;
            chosen.emplace_hint(it, c.s, c);
        }
        for (const auto& [start, c] : chosen) taken.push_back(c);
    }
    result.reserve(taken.size());
    std::size_t pos = 0;
    out.reserve(text.size());
    for (const auto& m : taken) {
        const detail::compiled_rule& rule = im.rules[m.rule];
        result.push_back(redaction_match{m.s, m.e, rule.name});
        out.append(text.substr(pos, m.s - pos));
        if (rule.replacement)
            out.append(*rule.replacement);
        else if (im.cfg.mode == redaction_mode::mask)
            out.append("[REDACTED]");
        else
            out.append(r_->replacement_for(text.substr(m.s, m.e - m.s), rule.name));
        pos = m.e;
    }
    out.append(text.substr(pos));
    return result;
}

// ---------------------------------------------------------------- batch

bool redactor::batch::add(std::string_view text) {
    const auto& im = *r_->impl_;
    if (!im.batchable || text.size() > max_text) return false;
    const auto i = static_cast<std::uint32_t>(texts_.size());
    texts_.push_back(text);
    at_.push_back(joined_.size());
    if (im.db && text.size() >= std::max<std::size_t>(im.min_width, 1)) {   // shorter: nothing can match
        joined_at_.push_back(joined_.size());
        joined_text_.push_back(i);
        joined_.append(text);
        separators_.push_back(joined_.size());
        joined_.push_back('\0');
    }
    return true;
}

void redactor::batch::clear() noexcept {
    texts_.clear();
    at_.clear();
    joined_.clear();
    joined_at_.clear();
    joined_text_.clear();
    separators_.clear();
    cand_.clear();
    first_.clear();
}

void redactor::batch::scan() {
    const auto& im = *r_->impl_;
    const std::size_t n = texts_.size();
    cand_.clear();
    first_.assign(n + 1, 0);
    if (joined_.empty()) return;
    detail::scan_scratch& sc = *scratch_->get();
    std::vector<detail::candidate>& all = sc.part;
    all.clear();
    sc.crossing.clear();
    detail::scan_context ctx{&all, &im.rules, joined_.data(), &separators_, &sc.crossing};
    detail::scan_block(im, sc, joined_.data(), joined_.size(), ctx);
    const auto joined_index = [&](std::size_t end) {   // the joined text holding byte end - 1
        return static_cast<std::size_t>(std::upper_bound(joined_at_.begin(), joined_at_.end(), end - 1) - joined_at_.begin() - 1);
    };
    std::vector<std::uint32_t>& text_of = sc.text_of;
    text_of.clear();
    for (const auto& c : all) text_of.push_back(joined_text_[joined_index(c.e)]);
    // texts where a match crossed in from the previous text: their hits are from a scan alone
    const std::size_t joint = all.size();
    for (std::size_t k = 0; k < sc.crossing.size(); ++k) {
        const std::size_t j = joined_index(sc.crossing[k]);
        if (k > 0 && joined_index(sc.crossing[k - 1]) == j) continue;
        const std::uint32_t t = joined_text_[j];
        for (std::size_t m = 0; m < joint; ++m)
            if (text_of[m] == t) text_of[m] = ~std::uint32_t{0};   // superseded
        // into a vector of its own: on_match merges a hit into recent candidates of the same
        // rule and start, and offsets relative to this text must not meet absolute ones
        std::vector<detail::candidate>& own = sc.confirmed;
        own.clear();
        detail::scan_context alone{&own, &im.rules};
        detail::scan_block(im, sc, joined_.data() + joined_at_[j], texts_[t].size(), alone);
        for (const auto& c : own) {
            all.push_back(detail::candidate{c.s + joined_at_[j], c.e + joined_at_[j], c.rule});
            text_of.push_back(t);
        }
    }
    // group by text (counting sort), offsets relative to the text
    for (std::size_t m = 0; m < all.size(); ++m)
        if (text_of[m] != ~std::uint32_t{0}) ++first_[text_of[m] + 1];
    for (std::size_t i = 0; i < n; ++i) first_[i + 1] += first_[i];
    cand_.resize(first_[n]);
    fill_.assign(first_.begin(), first_.end() - 1);
    for (std::size_t m = 0; m < all.size(); ++m) {
        const std::uint32_t t = text_of[m];
        if (t == ~std::uint32_t{0}) continue;
        cand_[fill_[t]++] = detail::candidate{all[m].s - at_[t], all[m].e - at_[t], all[m].rule};
    }
}

std::vector<redaction_match> redactor::batch::finish(std::size_t i, std::string& out) {
    session s(*r_, texts_[i], *scratch_);
    s.done_ = true;
    s.raw_.assign(cand_.begin() + first_[i], cand_.begin() + first_[i + 1]);
    return s.finish(out);
}

std::vector<redaction_match> redactor::exhausted(std::string_view text, std::string& out) const {
    impl_->exhausted.fetch_add(1, std::memory_order_relaxed);
    out.clear();
    if (impl_->cfg.mode != redaction_mode::remove) out = "[REDACTED]";
    return {redaction_match{0, text.size(), "work_budget"}};
}

std::uint64_t redactor::budget_exhaustions() const noexcept { return impl_->exhausted.load(std::memory_order_relaxed); }

std::vector<redaction_match> redactor::redact(std::string_view text, std::string& out, redaction_scratch& scratch) const {
    session s(*this, text, scratch);
    return s.finish(out);
}

std::string redactor::redact(std::string_view text) const {
    if (!own_scratch_) own_scratch_ = std::make_unique<redaction_scratch>(make_scratch());
    std::string out;
    redact(text, out, *own_scratch_);
    return out;
}

} // namespace tracecraft
