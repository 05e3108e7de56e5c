// Redaction engine: one Hyperscan block-mode database with start-of-match, precise
// post-processing per rule, longest-match overlap resolution.
#include "tracecraft/redaction.hpp"

#include <hs/hs.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <map>
#include <regex>
#include <stdexcept>

#include "tracecraft/config.hpp"

namespace tracecraft {
namespace detail {

enum class post_kind : std::uint8_t { plain, token_start, credit_card, phone, ipv4, aws_secret, private_key };

struct compiled_rule {
    std::string name;
    std::string pattern;
    post_kind post = post_kind::plain;
    int priority = 0;                      ///< lower wins ties
    std::optional<std::string> replacement;
};

struct scan_scratch {
    hs_scratch_t* s = nullptr;
    ~scan_scratch() {
        if (s) hs_free_scratch(s);
    }
};

struct redactor_impl {
    redaction_config cfg;
    std::vector<compiled_rule> rules;   ///< pattern rules, index = Hyperscan id
    hs_database_t* db = nullptr;
    std::vector<std::regex> allow_patterns;
    std::string hmac_key;
    std::map<std::string, std::optional<std::string>, std::less<>> field_paths;   ///< path -> rule replacement

    ~redactor_impl() {
        if (db) hs_free_database(db);
    }
};

namespace {

struct candidate {
    std::size_t s, e;
    std::uint32_t rule;
};

const std::vector<compiled_rule>& default_rules() {
    static const std::vector<compiled_rule> r = {
        {"private_key", "-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----", post_kind::private_key, 0, {}},
        {"anthropic_api_key", "sk-ant-[a-zA-Z0-9_-]{10,}", post_kind::token_start, 1, {}},
        {"openai_api_key", "sk-[a-zA-Z0-9_-]{10,}", post_kind::token_start, 2, {}},
        {"stripe_key", "[spr]k_(?:live|test)_[a-zA-Z0-9]{20,}", post_kind::token_start, 3, {}},
        {"github_token", "gh[pousr]_[a-zA-Z0-9]{36,}", post_kind::token_start, 4, {}},
        {"github_token", "github_pat_[A-Za-z0-9_]{22,}", post_kind::token_start, 4, {}},
        {"google_api_key", "AIza[a-zA-Z0-9_-]{35}", post_kind::plain, 5, {}},
        {"slack_token", "xox[baprs]-[0-9A-Za-z-]{10,}", post_kind::token_start, 6, {}},
        {"aws_access_key", "\\b(?:AKIA|ASIA)[A-Z0-9]{16}\\b", post_kind::plain, 7, {}},
        {"aws_secret_key", "(?i:aws_?secret_?(?:access_?)?key)[\\s\"':=]{1,5}[A-Za-z0-9/+=]{40}", post_kind::aws_secret, 8, {}},
        {"azure_connection_string", "AccountKey=[A-Za-z0-9+/=]{20,}", post_kind::plain, 9, {}},
        {"bearer_token", "Bearer\\s+[A-Za-z0-9._~+/-]{8,}=*", post_kind::plain, 10, {}},
        {"generic_api_key_param", "(?i:api[_-]?key)[=:]\\s*[\"']?[A-Za-z0-9_-]{8,}", post_kind::plain, 11, {}},
        {"password_field", "(?i:password|passwd|pwd|secret|token)\\s*[=:]\\s*[\"']?[^\\s\"']{4,}[\"']?", post_kind::plain, 12, {}},
        {"credit_card", "\\d{4}(?:[-\\s]?\\d{4}){2}[-\\s]?\\d{1,7}", post_kind::credit_card, 13, {}},
        {"ssn", "\\b\\d{3}-\\d{2}-\\d{4}\\b", post_kind::plain, 14, {}},
        {"email", "[a-zA-Z0-9._%+-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*\\.[a-zA-Z]{2,}", post_kind::plain, 15, {}},
        {"phone", "(?:\\+\\d{1,3}[-.\\s]?)?(?:\\(\\d{3}\\)|\\d{3})[-.\\s]?\\d{3}[-.\\s]?\\d{4}", post_kind::phone, 16, {}},
        {"ipv4", "\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b", post_kind::ipv4, 17, {}},
    };
    return r;
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_word(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool luhn_ok(std::string_view s, std::size_t& digits) {
    int sum = 0;
    bool dbl = false;
    digits = 0;
    for (std::size_t i = s.size(); i-- > 0;) {
        const char c = s[i];
        if (!is_digit(c)) continue;
        int d = c - '0';
        if (dbl) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
        dbl = !dbl;
        ++digits;
    }
    return digits > 0 && sum % 10 == 0;
}

/// Rule-specific confirmation of one (start, end); may adjust the range.
bool confirm(post_kind k, std::string_view text, std::size_t& s, std::size_t& e) {
    const char before = s > 0 ? text[s - 1] : ' ';
    const char after = e < text.size() ? text[e] : ' ';
    switch (k) {
        case post_kind::plain: return true;
        case post_kind::token_start: return !is_word(before) && before != '-';
        case post_kind::credit_card: {
            if (is_digit(before) || is_digit(after)) return false;
            // issuer prefixes of the card networks (2-series Mastercard, Amex/Diners 3, Visa 4,
            // Mastercard 5, Discover 6): a 13-digit millisecond timestamp starts with 1
            if (text[s] < '2' || text[s] > '6') return false;
            std::size_t digits = 0;
            return luhn_ok(text.substr(s, e - s), digits) && digits >= 13 && digits <= 19;
        }
        case post_kind::phone: return !is_digit(before) && !is_digit(after) && before != '.' && !(after == '.' && e + 1 < text.size() && is_digit(text[e + 1]));
        case post_kind::ipv4: {
            if (is_digit(before) || before == '.' || is_digit(after)) return false;
            if (after == '.' && e + 1 < text.size() && is_digit(text[e + 1])) return false;
            int octet = 0, len = 0;
            for (std::size_t i = s; i <= e; ++i) {
                if (i == e || text[i] == '.') {
                    if (len == 0 || octet > 255) return false;
                    octet = 0;
                    len = 0;
                } else {
                    octet = octet * 10 + (text[i] - '0');
                    ++len;
                }
            }
            return true;
        }
        case post_kind::aws_secret:
            s = e - 40;   // keep the keyword, redact the 40-character secret
            return true;
        case post_kind::private_key: {
            // the whole block up to and including the END line; to the end of the text if the
            // block is cut off (fail closed)
            const std::size_t end_marker = text.find("-----END", e);
            if (end_marker == std::string_view::npos) {
                e = text.size();
                return true;
            }
            const std::size_t close = text.find("-----", end_marker + 8);
            e = close == std::string_view::npos ? text.size() : close + 5;
            return true;
        }
    }
    return true;
}

int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int, void* ctx) {
    static_cast<std::vector<candidate>*>(ctx)->push_back(
        candidate{static_cast<std::size_t>(from), static_cast<std::size_t>(to), id});
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

} // namespace
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
        if (!r.pattern.empty()) im.rules.push_back({r.name, r.pattern, detail::post_kind::plain, prio++, r.replacement});
        for (const auto& p : r.field_paths) im.field_paths[p] = r.replacement;
    }
    for (std::size_t i = 0; i < config.allowlist_patterns.size(); ++i) {
        try {
            im.allow_patterns.emplace_back(config.allowlist_patterns[i], std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error& e) {
            throw config_error("redaction.allowlist_patterns[" + std::to_string(i) + "]", e.what());
        }
    }
    if (!im.rules.empty()) {
        std::vector<const char*> exprs;
        std::vector<unsigned> flags, ids;
        for (std::size_t i = 0; i < im.rules.size(); ++i) {
            exprs.push_back(im.rules[i].pattern.c_str());
            flags.push_back(HS_FLAG_SOM_LEFTMOST);
            ids.push_back(static_cast<unsigned>(i));
        }
        hs_compile_error_t* err = nullptr;
        if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK,
                             nullptr, &im.db, &err) != HS_SUCCESS) {
            std::string field = "redaction";
            std::string what = err ? err->message : "unknown error";
            if (err && err->expression >= 0 && static_cast<std::size_t>(err->expression) < im.rules.size())
                field = "redaction.rule '" + im.rules[static_cast<std::size_t>(err->expression)].name + "'.pattern";
            if (err) hs_free_compile_error(err);
            throw config_error(field, "Hyperscan cannot compile it with start-of-match reporting: " + what);
        }
    }
    if (!config.hash_key.empty()) {
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

bool redactor::session::step() {
    if (done_) return true;
    const auto& im = *r_->impl_;
    if (!im.db || text_.empty()) {
        done_ = true;
        return true;
    }
    // windows overlap so that a match crossing a boundary is seen whole by one window
    constexpr std::size_t overlap = 8 << 10;
    const std::size_t len = std::min(text_.size() - off_, window + overlap);
    std::vector<detail::candidate> part;
    const hs_error_t rc = hs_scan(im.db, text_.data() + off_, static_cast<unsigned>(len), 0, scratch_->get()->s,
                                  detail::on_match, &part);
    if (rc != HS_SUCCESS) throw std::runtime_error("tracecraft: hs_scan failed with code " + std::to_string(rc));
    const bool last = off_ + len >= text_.size();
    for (const auto& c : part) {
        if (c.s >= window && !last) continue;   // belongs to the next window
        raw_.push_back(static_cast<std::uint64_t>(c.s + off_));
        raw_.push_back(static_cast<std::uint64_t>(c.e + off_));
        raw_.push_back(c.rule);
    }
    off_ += window;
    done_ = last;
    return done_;
}

std::vector<redaction_match> redactor::session::finish(std::string& out) {
    while (!step()) {
    }
    const auto& im = *r_->impl_;
    const std::string_view text = text_;
    std::vector<redaction_match> result;
    out.clear();
    std::vector<detail::candidate> raw;
    raw.reserve(raw_.size() / 3);
    for (std::size_t i = 0; i + 2 < raw_.size(); i += 3)
        raw.push_back(detail::candidate{static_cast<std::size_t>(raw_[i]), static_cast<std::size_t>(raw_[i + 1]),
                                        static_cast<std::uint32_t>(raw_[i + 2])});
    if (raw.empty()) {
        out.assign(text);
        return result;
    }
    // one confirmed candidate per (rule, start): the longest end that the rule accepts
    std::sort(raw.begin(), raw.end(), [](const auto& a, const auto& b) {
        return a.rule != b.rule ? a.rule < b.rule : a.s != b.s ? a.s < b.s : a.e > b.e;
    });
    std::vector<detail::candidate> confirmed;
    for (std::size_t i = 0; i < raw.size();) {
        std::size_t j = i;
        bool done = false;
        for (; j < raw.size() && raw[j].rule == raw[i].rule && raw[j].s == raw[i].s; ++j) {
            if (done) continue;
            std::size_t s = raw[j].s, e = raw[j].e;
            if (detail::confirm(im.rules[raw[j].rule].post, text, s, e)) {
                confirmed.push_back(detail::candidate{s, e, raw[j].rule});
                done = true;
            }
        }
        i = j;
    }
    // allowlists
    if (!im.cfg.allowlist.empty() || !im.allow_patterns.empty()) {
        std::erase_if(confirmed, [&](const detail::candidate& c) {
            const std::string m(text.substr(c.s, c.e - c.s));
            if (std::find(im.cfg.allowlist.begin(), im.cfg.allowlist.end(), m) != im.cfg.allowlist.end()) return true;
            for (const auto& re : im.allow_patterns)
                if (std::regex_match(m, re)) return true;
            return false;
        });
    }
    // overlaps: longest first, then the more specific rule
    std::sort(confirmed.begin(), confirmed.end(), [&](const auto& a, const auto& b) {
        const auto la = a.e - a.s, lb = b.e - b.s;
        if (la != lb) return la > lb;
        const int pa = im.rules[a.rule].priority, pb = im.rules[b.rule].priority;
        return pa != pb ? pa < pb : a.s < b.s;
    });
    std::map<std::size_t, std::size_t> taken;   // start -> end
    for (const auto& c : confirmed) {
        auto it = taken.lower_bound(c.s);
        if (it != taken.end() && it->first < c.e) continue;
        if (it != taken.begin() && std::prev(it)->second > c.s) continue;
        taken[c.s] = c.e;
        result.push_back(redaction_match{c.s, c.e, im.rules[c.rule].name});
    }
    std::sort(result.begin(), result.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
    std::size_t pos = 0;
    out.reserve(text.size());
    for (const auto& m : result) {
        out.append(text.substr(pos, m.start - pos));
        out.append(r_->replacement_for(text.substr(m.start, m.end - m.start), m.rule));
        pos = m.end;
    }
    out.append(text.substr(pos));
    return result;
}

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
