// The built-in redaction rules and their confirmers: each Hyperscan hit is checked by a precise
// parser (Luhn for cards, the e-mail grammar, phone and IPv4 shapes, key=value for passwords).
#include <cstring>

#include "redact/rules.hpp"

namespace tracecraft::detail {

const std::vector<compiled_rule>& default_rules() {
    static const std::vector<compiled_rule> r = {
        {"private_key", "-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----", post_kind::private_key, 0, {}},
        // a JWT anywhere (cookie, id_token, prose): header.payload.signature, both JSON parts
        // (a prefilter on ".eyJ" + 8, the payload's start: with start-of-match the open repeats
        // cost ~15 % of the scan; confirm() walks back to the header and on to the signature)
        {"jwt", "\\.eyJ[A-Za-z0-9_-]{8}", post_kind::jwt, 1, {}, false},
        {"anthropic_api_key", "sk-ant-[a-zA-Z0-9_-]{10}", post_kind::token_start, 1, {}, true, "a-zA-Z0-9_-"},
        {"openai_api_key", "sk-[a-zA-Z0-9_-]{10}", post_kind::token_start, 2, {}, true, "a-zA-Z0-9_-"},
        {"stripe_key", "[spr]k_(?:live|test)_[a-zA-Z0-9]{20}", post_kind::token_start, 3, {}, true, "a-zA-Z0-9"},
        {"github_token", "gh[pousr]_[a-zA-Z0-9]{36}", post_kind::token_start, 4, {}, true, "a-zA-Z0-9"},
        {"github_token", "github_pat_[A-Za-z0-9_]{22}", post_kind::token_start, 4, {}, true, "A-Za-z0-9_"},
        {"google_api_key", "AIza[a-zA-Z0-9_-]{35}", post_kind::plain, 5, {}},
        {"slack_token", "xox[baprs]-[0-9A-Za-z-]{10}", post_kind::token_start, 6, {}, true, "0-9A-Za-z-"},
        {"slack_webhook", "https://hooks\\.slack\\.com/services/[A-Za-z0-9]{4}", post_kind::plain, 6, {}, true, "A-Za-z0-9/"},
        {"huggingface_token", "hf_[A-Za-z0-9]{30}", post_kind::token_start, 6, {}, true, "A-Za-z0-9"},
        {"aws_access_key", "\\b(?:AKIA|ASIA)[A-Z0-9]{16}\\b", post_kind::plain, 7, {}},
        {"aws_secret_key", "(?i:aws_?secret_?(?:access_?)?key)[\\s\"':=]{1,5}[A-Za-z0-9/+=]{40}", post_kind::aws_secret, 8, {}},
        {"azure_connection_string", "AccountKey=[A-Za-z0-9+/=]{20}", post_kind::after_separator, 9, {}, true, "A-Za-z0-9+/="},
        {"bearer_token", "Bearer\\s+[A-Za-z0-9._~+/-]{8}", post_kind::plain, 10, {}, true, "A-Za-z0-9._~+/-", '='},
        // Authorization: Basic / Token / bearer in any case: the credential after the scheme
        {"bearer_token", "(?i:authorization)[\"']?[ \\t]*[:=][ \\t]*[\"']?(?i:basic|token|bearer) +",
         post_kind::auth_credential, 10, {}, false},
        {"generic_api_key_param", "(?i:api[_-]?key)[=:]\\s*[\"']?[A-Za-z0-9_-]{8}", post_kind::after_separator, 11, {}, true,
         "A-Za-z0-9_-"},
        // email and password_field cost ~200 MB/s each with start-of-match; as prefilters
        // (anchored on '@' and on the key's '='/':') Hyperscan stays fast and confirm() finds
        // the exact extent
        // Key-value secrets in every notation (key=value, JSON, JSON inside a string, Python and
        // JS dicts, YAML, env files, headers, query strings, connection strings, CLI flags):
        // prefilters ending at the separator; confirm() finds the key and the value's extent
        // and masks the value only
        {"password_field",
         "(?i:password|passwd|pwd|secret|token|api[_-]?key|private[_-]?key|secret[_-]?(?:access[_-]?)?key|accountkey|"
         "sharedaccesskey)"
         "(?:\\\\?[\"'])?[ \\t]*[=:]",
         post_kind::password, 12, {}, false},
        {"password_field", "--(?:[A-Za-z0-9]+[_-])*(?i:password|passwd|pwd|secret|token|api[_-]?key) ", post_kind::password, 12,
         {}, false},
        // a URL's userinfo password: scheme://user:password@host (any host, %-escapes kept whole)
        {"password_field", "://[^\\s/:@]{1,64}:[^\\s/@]{1,256}@", post_kind::url_password, 12, {}, false},
        // the digit rules are prefilters too (start-of-match on digit runs costs ~1.7 GB/s
        // each); confirm() parses the exact number around the hit
        // the start of every printed grouping: 4-4-4 (4-4-4-4, 19 digits) or 4-6-4 (Amex 4-6-5,
        // Diners 4-6-4); confirm() takes the whole run
        {"credit_card", "\\d{4}(?:[- ]?\\d{4}[- ]?\\d{4}|[- ]\\d{6}[- ]\\d{4})", post_kind::credit_card, 13, {}, false},
        {"ssn", "\\b\\d{3}-\\d{2}-\\d{4}\\b", post_kind::plain, 14, {}},
        {"email", "(?:@|%40)[a-zA-Z0-9-]+\\.[a-zA-Z]{2}", post_kind::email, 15, {}, false},   // also URL-encoded
        {"phone", "[\\d)][-. ]?\\d{3}[-. ]?\\d{4}", post_kind::phone, 16, {}, false},
        // international (E.164, grouped or not): '+', country code, 8-15 digits in all
        {"phone", "\\+\\d{1,3}[-. ]?\\d", post_kind::phone_intl, 16, {}, false},
        {"ipv4", "\\d\\.\\d{1,3}\\.\\d{1,3}\\.\\d", post_kind::ipv4, 17, {}, false},
        // IPv6: four groups in a row, or a '::' next to a group; confirm() parses the address
        {"ipv6", ":[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:", post_kind::ipv6, 17, {}, false},
        {"ipv6", "::", post_kind::ipv6, 17, {}, false},
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
    // the '@' of the hit, or its URL encoding "%40" (jane%40example.com in a query string):
    // within the hit, i.e. at most a domain label (63 bytes) and a dot and two letters back --
    // an unbounded search would walk back to the previous e-mail for every hit
    std::size_t at = std::string_view::npos, after_at = 0;
    for (std::size_t p = e; p > 0 && e - p < 72; --p) {
        if (t[p - 1] == '@') {
            at = p - 1;
            after_at = p;
            break;
        }
        if (p >= 3 && t[p - 3] == '%' && t[p - 2] == '4' && t[p - 1] == '0') {
            at = p - 3;
            after_at = p;
            break;
        }
    }
    if (at == std::string_view::npos || at == 0) return false;
    std::size_t b = at;
    auto local = [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; };
    while (b > 0 && local(t[b - 1])) --b;
    while (b < at && !is_alnum(t[b])) ++b;   // start on a letter or digit
    if (b == at) return false;
    if (b > 0 && t[b - 1] == ':') {   // scheme://user:password@host is a URL's userinfo, not an e-mail
        std::size_t p = b - 1;
        while (p > 0 && b - p < 80 && !is_space(t[p - 1]) && t[p - 1] != '/') --p;
        if (p >= 2 && t[p - 1] == '/' && t[p - 2] == '/') return false;
    }
    std::size_t pos = after_at, good = std::string_view::npos;
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
    // printed groupings start with four digits (4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3); an order
    // number such as 112-4567890-1234567 is not a card
    for (std::size_t i = b; i < f; ++i)
        if (is_sep(t[i])) {
            if (i - b != 4) return false;
            break;
        }
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
    // standing alone: not inside a hex id (a UUID's "a959-4002483c8d06") or a longer number
    if (p > 0 && (is_alnum(t[p - 1]) || t[p - 1] == '.')) return false;
    if (e < t.size() && is_alpha(t[e])) return false;
    if (e + 1 < t.size() && t[e] == '.' && is_digit(t[e + 1])) return false;
    // part of a longer grouped number (an order number 112-4567890-1234567, a UUID)
    if (e + 1 < t.size() && t[e] == '-' && is_digit(t[e + 1])) return false;
    if (p >= 2 && t[p - 1] == '-' && is_alnum(t[p - 2])) return false;
    // A bare run of ten digits is no phone number here: unix-seconds timestamps (OpenAI's
    // "created": 1732460961 in every response), ids and counters have that shape. A number
    // written as a phone number has separators, parentheses or a leading '+'.
    bool shaped = false;
    for (std::size_t i = p; i < e; ++i) shaped |= sep(t[i]) || t[i] == '(' || t[i] == '+';
    if (!shaped) return false;
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

bool is_key_char(char c) noexcept { return is_alnum(c) || c == '_' || c == '-' || c == '.'; }

bool no_value(std::string_view v) noexcept {
    constexpr std::string_view none[] = {"null", "true", "false", "None", "undefined", "nil"};
    for (const auto n : none)
        if (v == n) return true;
    return false;
}

/// password_field from a prefilter hit ending just after the separator ('=', ':' or, for a CLI
/// flag, ' ') that follows a secret key. Masks the value only; the key stays readable.
/// - the key: the word before the separator (and an optional closing quote, or \" inside a
///   JSON string), at most 64 bytes; a flag separated by a space must start with "--"
/// - an unquoted key with ':' must begin its line (YAML, env dumps, HTTP headers; "- " list
///   items) or follow '{', ',', '(' or '[' (inline dicts): "the secret: consistency" in prose
///   is left alone
/// - the value: a quoted string to its closing quote ("...", '...', or \"...\" in JSON inside a
///   string); otherwise up to whitespace or one of & ; , } ) ] " ' < > -- what ends a value in
///   query strings, connection strings, dicts and markup. Empty, null and booleans are no value.
bool confirm_password(confirm_state& st, std::size_t& s, std::size_t& e) {
    const std::string_view t = st.text;
    if (e == 0) return false;
    const std::size_t sep = e - 1;
    const char sep_char = t[sep];
    std::size_t k = sep;
    while (k > 0 && sep - k < 16 && (t[k - 1] == ' ' || t[k - 1] == '\t')) --k;
    bool quoted = false;
    if (k > 0 && (t[k - 1] == '"' || t[k - 1] == '\'')) {
        quoted = true;
        --k;
        if (k > 0 && t[k - 1] == '\\') --k;
    }
    const std::size_t key_end = k;
    while (k > 0 && key_end - k < 64 && is_key_char(t[k - 1])) --k;
    if (k == key_end || (k > 0 && is_key_char(t[k - 1]))) return false;   // no key, or longer than 64
    const std::string_view key = t.substr(k, key_end - k);
    if (sep_char == ' ' && key.substr(0, 2) != "--") return false;
    if (quoted) {   // the key's opening quote
        if (k == 0 || (t[k - 1] != '"' && t[k - 1] != '\'')) return false;
    } else if (sep_char == ':' && key.substr(0, 2) != "--") {
        std::size_t p = k;
        if (p >= 2 && t[p - 1] == ' ' && t[p - 2] == '-') p -= 2;   // "- key: value"
        const std::size_t floor = p > 256 ? p - 256 : 0;
        while (p > floor && (t[p - 1] == ' ' || t[p - 1] == '\t')) --p;
        if (p > 0 && !std::strchr("\n\r{,([", t[p - 1])) return false;
    }
    std::size_t v = e;
    while (v < t.size() && v - e < 16 && (t[v] == ' ' || t[v] == '\t')) ++v;
    std::size_t vs = v, ve = v;
    if (v + 1 < t.size() && t[v] == '\\' && (t[v + 1] == '"' || t[v + 1] == '\'')) {
        vs = v + 2;
        const std::size_t close = st.find_quote(t[v + 1] == '"' ? std::string_view("\\\"") : std::string_view("\\'"), vs);
        ve = close == std::string_view::npos ? t.size() : close;
    } else if (v < t.size() && (t[v] == '"' || t[v] == '\'')) {
        vs = v + 1;
        const std::size_t close = st.find_quote(t[v] == '"' ? std::string_view("\"") : std::string_view("'"), vs);
        ve = close == std::string_view::npos ? t.size() : close;
        if (ve > vs && t[ve - 1] == '\\') ve = vs;   // an escaped quote: not this simple shape, leave it
    } else {
        ve = st.value.end(t, v, [](char c) { return !is_space(c) && !std::strchr("&;,})]\"'<>", c); }, st.work);
    }
    if (ve <= vs || no_value(t.substr(vs, ve - vs))) return false;
    s = vs;
    e = ve;
    return true;
}

/// password_field from a hit ending just after the '@' of scheme://user:password@: the password.
bool confirm_url_password(std::string_view t, std::size_t& s, std::size_t& e) {
    if (e == 0 || t[e - 1] != '@') return false;
    const std::size_t at = e - 1;
    std::size_t colon = std::string_view::npos, p = at;
    while (p > 0 && at - p < 330) {
        const char c = t[p - 1];
        if (c == '/' || c == '@' || is_space(c)) break;
        if (c == ':' && colon == std::string_view::npos) colon = p - 1;
        --p;
    }
    // p is just after "://" when the userinfo is well formed
    if (colon == std::string_view::npos || p < 3 || t.substr(p - 3, 3) != "://" || colon == p) return false;
    if (colon + 1 == at) return false;   // empty password
    s = colon + 1;
    e = at;
    return true;
}

/// The value of a key=value match (fixed rules such as AccountKey=...): after the first '=' or
/// ':' and an opening quote.
bool confirm_after_separator(std::string_view t, std::size_t& s, std::size_t e) {
    std::size_t p = s;
    while (p < e && t[p] != '=' && t[p] != ':') ++p;
    if (p == e) return false;
    ++p;
    while (p < e && (is_space(t[p]) || t[p] == '"' || t[p] == '\'')) ++p;
    if (p >= e) return false;
    s = p;
    return true;
}

/// An international number from a hit on '+' and its first digits: '+', then 8-15 digits with
/// single spaces, '-' or '.' between groups, standing alone.
bool confirm_phone_intl(std::string_view t, std::size_t& s, std::size_t& e) {
    std::size_t plus = e;
    while (plus > 0 && e - plus < 8 && t[plus - 1] != '+') --plus;
    if (plus == 0 || t[plus - 1] != '+') return false;
    --plus;
    if (plus > 0 && (is_alnum(t[plus - 1]) || t[plus - 1] == '+')) return false;
    std::size_t p = plus + 1, digits = 0, last = p;
    while (p < t.size() && p - plus < 24) {
        if (is_digit(t[p])) {
            ++digits;
            last = ++p;
        } else if ((t[p] == ' ' || t[p] == '-' || t[p] == '.') && p + 1 < t.size() && is_digit(t[p + 1]) && is_digit(t[p - 1])) {
            ++p;
        } else {
            break;
        }
    }
    if (digits < 8 || digits > 15) return false;
    if (last < t.size() && (is_alnum(t[last]) || (t[last] == '.' && last + 1 < t.size() && is_digit(t[last + 1]))))
        return false;
    s = plus;
    e = last;
    return true;
}

bool is_word(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}


} // namespace

/// A private key block from its BEGIN line: the base64 (and armor header) lines that follow,
/// through the END line. A block cut off before its END line ends with its last base64 line,
/// not with the text. Each header walks only its own block, so repeated headers stay linear.
bool confirm_private_key(confirm_state& st, std::size_t& s, std::size_t& e) {
    const std::string_view t = st.text;
    (void)s;
    std::size_t p = e;
    auto b64 = [](char c) { return is_alnum(c) || c == '+' || c == '/' || c == '='; };
    for (;;) {
        std::size_t q = p;
        if (q < t.size() && t[q] == '\r') ++q;
        if (q < t.size() && t[q] == '\n') ++q;
        else if (q < t.size() && t[q] == ' ') ++q;   // keys pasted onto one line, space-separated
        else break;
        if (t.substr(q, 8) == "-----END") {
            const std::size_t close = t.substr(0, std::min(t.size(), q + 80)).find("-----", q + 8);   // bounded
            const std::size_t stop = close == std::string_view::npos ? std::min(t.size(), q + 80) : close + 5;
            st.work += stop - q;
            e = stop;
            return true;
        }
        std::size_t r = q;
        while (r < t.size() && b64(t[r])) ++r;
        std::size_t line_end = r;
        while (line_end < t.size() && line_end - q < 256 && t[line_end] != '\n' && t[line_end] != '\r') ++line_end;
        st.work += line_end - q;
        const std::string_view line = t.substr(q, line_end - q);
        if (r < line_end) {   // not all base64
            if (line.find(": ") != std::string_view::npos && line.find(": ") < 32) {   // armor header: Proc-Type, Version
                e = p = line_end;
                continue;
            }
            if (r - q >= 4) e = r;   // a cut-off line: its base64 part, then stop
            return true;
        }
        if (r == q) {   // a blank line (between armor headers and body), or the text's end
            if (q < t.size() && t[q] == '\n' && p != e) break;
            if (q >= t.size()) break;
            p = q;
            continue;
        }
        e = p = r;
    }
    return true;
}

/// The credential after "Authorization: <scheme> " (Basic, Token, Bearer in any case).
bool confirm_auth_credential(std::string_view t, std::size_t& s, std::size_t& e) {
    std::size_t p = e;
    // RFC 6750's b64token: what Basic, Token and Bearer credentials are made of
    while (p < t.size() && p - e < 4096 && (is_alnum(t[p]) || std::strchr("-._~+/=", t[p]) != nullptr)) ++p;
    if (p - e < 4) return false;
    s = e;
    e = p;
    return true;
}

/// An IPv6 address around a hit: hex groups, at most one "::", an optional dotted IPv4 tail;
/// eight groups (an IPv4 tail counts two), or fewer with "::" (then at least two groups, one of
/// three or more digits: "x[1::2]" is a slice, "fe80::1" an address); standing alone.
bool confirm_ipv6(std::string_view t, std::size_t& s, std::size_t& e) {
    auto addr = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; };
    std::size_t b = e, f = e;
    while (b > 0 && e - b < 48 && addr(t[b - 1])) --b;
    while (f < t.size() && f - e < 48 && addr(t[f])) ++f;
    while (f > b && (t[f - 1] == '.' || (t[f - 1] == ':' && !(f - b >= 2 && t[f - 2] == ':')))) --f;   // sentence end
    if (b > 0 && (is_alnum(t[b - 1]) || t[b - 1] == ':')) return false;
    if (f < t.size() && (is_alnum(t[f]) || t[f] == ':')) return false;
    const std::string_view a = t.substr(b, f - b);
    if (a.size() < 3 || a.size() > 45) return false;
    std::size_t groups = 0, long_groups = 0, compress = 0;
    bool v4 = false;
    for (std::size_t i = 0; i < a.size();) {
        if (a[i] == ':') {
            if (i + 1 < a.size() && a[i + 1] == ':') {
                if (++compress > 1) return false;
                i += 2;
                continue;
            }
            if (i == 0 || i + 1 == a.size()) return false;   // a single ':' at either end
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < a.size() && a[j] != ':') ++j;
        const std::string_view g = a.substr(i, j - i);
        if (g.find('.') != std::string_view::npos) {   // the IPv4 tail
            if (j != a.size()) return false;
            std::size_t gs = 0, ge = g.size();
            if (!confirm_ipv4(g, gs, ge) || gs != 0 || ge != g.size()) return false;
            v4 = true;
            groups += 2;
        } else {
            if (g.size() > 4) return false;
            ++groups;
            long_groups += g.size() >= 3;
        }
        i = j;
    }
    if (compress == 0 && groups != 8) return false;
    if (compress == 1 && (groups > 7 || groups < 2 || (long_groups == 0 && !v4))) return false;
    s = b;
    e = f;
    return true;
}

/// A JWT from a hit 12 bytes past the '.' that starts its payload: header (eyJ...), payload
/// (eyJ...) and signature, each of base64url characters, the signature at least 8 long.
bool confirm_jwt(confirm_state& st, std::size_t& s, std::size_t& e) {
    const std::string_view t = st.text;
    auto b64url = [](char c) { return is_alnum(c) || c == '_' || c == '-'; };
    if (e < 12) return false;
    const std::size_t dot = e - 12;
    std::size_t b = dot;
    while (b > 0 && dot - b < 4096 && b64url(t[b - 1])) --b;
    st.work += dot - b;
    if (dot - b < 10 || t.substr(b, 3) != "eyJ" || (b > 0 && (b64url(t[b - 1]) || t[b - 1] == '.'))) return false;
    std::size_t p = st.extend.end(t, dot + 1, b64url, st.work);   // the payload
    if (p >= t.size() || t[p] != '.') return false;
    const std::size_t sig = p + 1;
    std::size_t f = sig;
    while (f < t.size() && f - sig < 4096 && b64url(t[f])) ++f;
    st.work += f - sig;
    if (f - sig < 8) return false;
    s = b;
    e = f;
    return true;
}

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
        case post_kind::url_password: return confirm_url_password(text, s, e);
        case post_kind::phone_intl: return confirm_phone_intl(text, s, e);
        case post_kind::after_separator: return confirm_after_separator(text, s, e);
        case post_kind::private_key: return confirm_private_key(st, s, e);
        case post_kind::auth_credential: return confirm_auth_credential(text, s, e);
        case post_kind::ipv6: return confirm_ipv6(text, s, e);
        case post_kind::jwt: return confirm_jwt(st, s, e);
    }
    return true;
}

} // namespace tracecraft::detail
