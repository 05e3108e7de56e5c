// The built-in redaction rules and their confirmers: each Hyperscan hit is checked by a precise
// parser (Luhn for cards, the e-mail grammar, phone and IPv4 shapes, key=value for passwords).
#include <cstring>

#include "redact/rules.hpp"

namespace tracecraft::detail {

const std::vector<compiled_rule>& default_rules() {
    static const std::vector<compiled_rule> r = {
        {"private_key", "-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----", post_kind::private_key, 0, {}},
        {"anthropic_api_key", "sk-ant-[a-zA-Z0-9_-]{10}", post_kind::token_start, 1, {}, true, "a-zA-Z0-9_-"},
        {"openai_api_key", "sk-[a-zA-Z0-9_-]{10}", post_kind::token_start, 2, {}, true, "a-zA-Z0-9_-"},
        {"stripe_key", "[spr]k_(?:live|test)_[a-zA-Z0-9]{20}", post_kind::token_start, 3, {}, true, "a-zA-Z0-9"},
        {"github_token", "gh[pousr]_[a-zA-Z0-9]{36}", post_kind::token_start, 4, {}, true, "a-zA-Z0-9"},
        {"github_token", "github_pat_[A-Za-z0-9_]{22}", post_kind::token_start, 4, {}, true, "A-Za-z0-9_"},
        {"google_api_key", "AIza[a-zA-Z0-9_-]{35}", post_kind::plain, 5, {}},
        {"slack_token", "xox[baprs]-[0-9A-Za-z-]{10}", post_kind::token_start, 6, {}, true, "0-9A-Za-z-"},
        {"aws_access_key", "\\b(?:AKIA|ASIA)[A-Z0-9]{16}\\b", post_kind::plain, 7, {}},
        {"aws_secret_key", "(?i:aws_?secret_?(?:access_?)?key)[\\s\"':=]{1,5}[A-Za-z0-9/+=]{40}", post_kind::aws_secret, 8, {}},
        {"azure_connection_string", "AccountKey=[A-Za-z0-9+/=]{20}", post_kind::plain, 9, {}, true, "A-Za-z0-9+/="},
        {"bearer_token", "Bearer\\s+[A-Za-z0-9._~+/-]{8}", post_kind::plain, 10, {}, true, "A-Za-z0-9._~+/-", '='},
        {"generic_api_key_param", "(?i:api[_-]?key)[=:]\\s*[\"']?[A-Za-z0-9_-]{8}", post_kind::plain, 11, {}, true, "A-Za-z0-9_-"},
        // email and password_field cost ~200 MB/s each with start-of-match; as prefilters
        // (anchored on '@' and on the key's '='/':') Hyperscan stays fast and confirm() finds
        // the exact extent
        {"password_field", "(?i:password|passwd|pwd|secret|token)\\s*[=:]", post_kind::password, 12, {}, false},
        // the digit rules are prefilters too (start-of-match on digit runs costs ~1.7 GB/s
        // each); confirm() parses the exact number around the hit
        {"credit_card", "\\d{4}[- ]?\\d{4}[- ]?\\d{4}", post_kind::credit_card, 13, {}, false},
        {"ssn", "\\b\\d{3}-\\d{2}-\\d{4}\\b", post_kind::plain, 14, {}},
        {"email", "@[a-zA-Z0-9-]+\\.[a-zA-Z]{2}", post_kind::email, 15, {}, false},
        {"phone", "[\\d)][-. ]?\\d{3}[-. ]?\\d{4}", post_kind::phone, 16, {}, false},
        {"ipv4", "\\d\\.\\d{1,3}\\.\\d{1,3}\\.\\d", post_kind::ipv4, 17, {}, false},
    };
    return r;
}

namespace {


bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) noexcept { return is_digit(c) || is_alpha(c); }
bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/// email from a prefilter hit ending just after "@label.xx": local part to the left of '@',
/// dot-separated domain labels to the right, ending in an alphabetic TLD of 2+ letters.
bool confirm_email(std::string_view t, std::size_t& s, std::size_t& e) {
    const std::size_t at = t.rfind('@', e);
    if (at == std::string_view::npos || at == 0) return false;
    std::size_t b = at;
    auto local = [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; };
    while (b > 0 && local(t[b - 1])) --b;
    while (b < at && !is_alnum(t[b])) ++b;   // start on a letter or digit
    if (b == at) return false;
    std::size_t pos = at + 1, good = std::string_view::npos;
    bool dotted = false;
    while (true) {
        const std::size_t label = pos;
        while (pos < t.size() && (is_alnum(t[pos]) || t[pos] == '-')) ++pos;
        if (pos == label) break;
        if (dotted) {
            bool alpha = pos - label >= 2;
            for (std::size_t i = label; i < pos && alpha; ++i) alpha = is_alpha(t[i]);
            if (alpha) good = pos;
        }
        if (pos + 1 < t.size() && t[pos] == '.' && is_alnum(t[pos + 1])) {
            ++pos;
            dotted = true;
        } else {
            break;
        }
    }
    if (good == std::string_view::npos) return false;
    s = b;
    e = good;
    return true;
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

bool is_sep(char c) noexcept { return c == '-' || c == ' '; }

/// credit card from a hit on 12 digits: the whole run of digits and single '-'/' ' separators
/// around it must hold 13-19 digits, start with an issuer digit (2-6), stand alone and pass Luhn.
bool confirm_card(confirm_state& st, std::size_t& s, std::size_t& e) {
    // A card is at most 19 digits with single separators between them (37 bytes): a run that
    // goes on further in either direction is no card, so neither walk goes beyond 40 bytes (a
    // page of "4111 4111 ..." would otherwise walk the whole run for every group), and a hit
    // inside a run already known to be too long is rejected without a walk.
    const std::string_view t = st.text;
    constexpr std::size_t longest = 40;
    if (st.value.from != ~std::size_t{0} && e > st.value.from && e <= st.value.to) return false;
    std::size_t& work = st.work;
    std::size_t b = e, f = e;
    while (b > 0 && e - b <= longest &&
           (is_digit(t[b - 1]) || (is_sep(t[b - 1]) && b >= 2 && is_digit(t[b - 2]) && is_digit(t[b]))))
        --b;
    while (f < t.size() && f - e <= longest &&
           (is_digit(t[f]) || (is_sep(t[f]) && f + 1 < t.size() && is_digit(t[f + 1]) && is_digit(t[f - 1]))))
        ++f;
    work += f - b;
    if (f - b > longest) {
        st.value.from = b;   // [b, f) lies inside one run longer than any card
        st.value.to = f;
        return false;
    }
    if (b > 0 && (is_alnum(t[b - 1]) || t[b - 1] == '.')) return false;
    if (f < t.size() && is_alnum(t[f])) return false;
    if (t[b] < '2' || t[b] > '6') return false;   // issuer prefixes; a ms timestamp starts with 1
    std::size_t digits = 0;
    if (!luhn_ok(t.substr(b, f - b), digits) || digits < 13 || digits > 19) return false;
    s = b;
    e = f;
    return true;
}

std::size_t digits_back(std::string_view t, std::size_t p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (p == 0 || !is_digit(t[--p])) return std::string_view::npos;
    return p;
}

/// phone from a hit ending on the last 4 digits: [+cc sep] (ddd) or ddd, sep, ddd, sep, dddd.
bool confirm_phone(std::string_view t, std::size_t& s, std::size_t& e) {
    if (e < t.size() && is_digit(t[e])) return false;
    auto sep = [](char c) { return c == '-' || c == '.' || c == ' '; };
    std::size_t p = digits_back(t, e, 4);
    if (p == std::string_view::npos) return false;
    if (p > 0 && sep(t[p - 1])) --p;
    p = digits_back(t, p, 3);
    if (p == std::string_view::npos) return false;
    if (p > 0 && sep(t[p - 1])) --p;
    if (p >= 5 && t[p - 1] == ')' && t[p - 5] == '(' && is_digit(t[p - 2]) && is_digit(t[p - 3]) && is_digit(t[p - 4])) {
        p -= 5;
    } else {
        p = digits_back(t, p, 3);
        if (p == std::string_view::npos) return false;
    }
    // optional country code: +d{1,3} and a separator
    std::size_t q = p;
    if (q > 0 && sep(t[q - 1])) --q;
    std::size_t d = 0;
    while (d < 3 && q > d && is_digit(t[q - d - 1])) ++d;
    if (d > 0 && q > d && t[q - d - 1] == '+') p = q - d - 1;
    if (p > 0 && (is_digit(t[p - 1]) || t[p - 1] == '.')) return false;
    if (e + 1 < t.size() && t[e] == '.' && is_digit(t[e + 1])) return false;
    s = p;
    return true;
}

/// IPv4 from a hit inside "d.ddd.ddd.d": four dotted octets 0-255 standing alone.
bool confirm_ipv4(std::string_view t, std::size_t& s, std::size_t& e) {
    std::size_t f = e;
    while (f < t.size() && is_digit(t[f]) && f - e < 3) ++f;
    std::size_t p = f;
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (p == 0 || t[p - 1] != '.') return false;
            --p;
        }
        std::size_t n = 0;
        int value = 0, mul = 1;
        while (p > 0 && is_digit(t[p - 1]) && n < 3) {
            value += (t[p - 1] - '0') * mul;
            mul *= 10;
            --p;
            ++n;
        }
        if (n == 0 || value > 255) return false;
    }
    if (p > 0 && (is_digit(t[p - 1]) || t[p - 1] == '.' || is_alpha(t[p - 1]))) return false;
    if (f < t.size() && (is_digit(t[f]) || is_alpha(t[f]))) return false;
    if (f + 1 < t.size() && t[f] == '.' && is_digit(t[f + 1])) return false;
    s = p;
    e = f;
    return true;
}

/// password_field from a prefilter hit ending just after the '=' or ':' that follows the key.
bool confirm_password(confirm_state& st, std::size_t& s, std::size_t& e) {
    const std::string_view t = st.text;
    if (e == 0) return false;
    std::size_t k = e - 1;   // the '=' or ':'
    while (k > 0 && is_space(t[k - 1])) --k;
    static constexpr std::string_view keys[] = {"password", "passwd", "secret", "token", "pwd"};
    std::size_t start = std::string_view::npos;
    for (auto key : keys) {
        if (k < key.size()) continue;
        bool eq = true;
        for (std::size_t i = 0; i < key.size() && eq; ++i)
            eq = (t[k - key.size() + i] | 0x20) == key[i];
        if (eq) {
            start = k - key.size();
            break;
        }
    }
    if (start == std::string_view::npos) return false;
    std::size_t v = e;
    while (v < t.size() && is_space(t[v])) ++v;
    const bool quoted = v < t.size() && (t[v] == '"' || t[v] == '\'');
    if (quoted) ++v;
    const std::size_t vs = v;
    v = st.value.end(t, v, [](char c) { return !is_space(c) && c != '"' && c != '\''; }, st.work);
    if (v - vs < 4) return false;
    if (v < t.size() && (t[v] == '"' || t[v] == '\'')) ++v;
    s = start;
    e = v;
    return true;
}
bool is_word(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}


} // namespace

bool starts_token(std::string_view text, std::size_t s) noexcept {
    const char before = s > 0 ? text[s - 1] : ' ';
    return !is_word(before) && before != '-';
}

/// Rule-specific confirmation of one (start, end); may adjust the range.
bool confirm(post_kind k, confirm_state& st, std::size_t& s, std::size_t& e) {
    const std::string_view text = st.text;
    st.work += 16;   // the bounded confirmers' share
    switch (k) {
        case post_kind::plain: return true;
        case post_kind::token_start: return starts_token(text, s);
        case post_kind::credit_card: return confirm_card(st, s, e);
        case post_kind::phone: return confirm_phone(text, s, e);
        case post_kind::ipv4: return confirm_ipv4(text, s, e);
        case post_kind::aws_secret:
            s = e - 40;   // keep the keyword, redact the 40-character secret
            return true;
        case post_kind::email: return confirm_email(text, s, e);
        case post_kind::password: return confirm_password(st, s, e);
        case post_kind::private_key: {
            // the whole block up to and including the END line; to the end of the text if the
            // block is cut off (fail closed). The search is remembered: a page of repeated
            // BEGIN lines searches the text once, not once per header.
            if (st.end_marker_from == ~std::size_t{0} || e < st.end_marker_from ||
                (st.end_marker_at != std::string_view::npos && e > st.end_marker_at)) {
                st.end_marker_at = text.find("-----END", e);
                st.work += (st.end_marker_at == std::string_view::npos ? text.size() : st.end_marker_at) - e;
                st.end_marker_from = e;
            }
            const std::size_t end_marker = st.end_marker_at;
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

} // namespace tracecraft::detail
