// The redaction engine's rule representation (internal): how a rule is compiled and confirmed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tracecraft::detail {

enum class post_kind : std::uint8_t {
    plain, token_start, credit_card, phone, phone_intl, ipv4, aws_secret, private_key, email, password, url_password,
    after_separator,   ///< the match is key=value: only what follows the first '=' or ':' (and quote) is masked
    auth_credential,   ///< the credential after "Authorization: <scheme> "
    ipv6,
    jwt
};

struct compiled_rule {
    std::string name;
    std::string pattern;
    post_kind post = post_kind::plain;
    int priority = 0;                      ///< lower wins ties
    std::optional<std::string> replacement;
    bool som = true;   ///< false: a prefilter without start-of-match; confirm() finds [start, end)
    /// Open-ended token rules are compiled as their fixed-length prefix (`x{10,}` -> `x{10}`):
    /// with start-of-match Hyperscan would report every longer end (~40 callbacks per bearer
    /// token, half the scan time on a dense corpus). The match is then extended greedily over
    /// this class, then over `trailing` characters: the same [start, end) as the open form.
    std::string extend = {};   ///< class spec ("a-zA-Z0-9_-"); empty: no extension
    char trailing = 0;       ///< e.g. '=' for base64 padding after a bearer token
    std::array<bool, 256> extend_table{};   ///< built from `extend` by the redactor
};

/// 256-entry membership table for a class spec of single characters and a-b ranges.
inline std::array<bool, 256> class_table(std::string_view spec) {
    std::array<bool, 256> t{};
    for (std::size_t i = 0; i < spec.size(); ++i) {
        const auto a = static_cast<unsigned char>(spec[i]);
        if (i + 2 < spec.size() && spec[i + 1] == '-') {
            for (unsigned c = a; c <= static_cast<unsigned char>(spec[i + 2]); ++c) t[c] = true;
            i += 2;
        } else {
            t[a] = true;
        }
    }
    return t;
}

/// The built-in rules (names and order as documented in redaction.hpp).
const std::vector<compiled_rule>& default_rules();

/// The end of the run of bytes in `member` that starts at `from`, remembered so that asking again
/// from inside the same run costs nothing: a run of n bytes hit n times is walked once, which
/// keeps extension and value scans linear when every position of a long run is a candidate.
struct run_memo {
    std::size_t from = ~std::size_t{0}, to = 0;
    template <class Member>
    std::size_t end(std::string_view t, std::size_t p, Member member, std::size_t& work) {
        if (from != ~std::size_t{0} && p >= from && p <= to) return to;
        std::size_t e = p;
        while (e < t.size() && member(t[e])) ++e;
        work += e - p;
        from = p;
        to = e;
        return e;
    }
};

/// State of confirming one text's candidates, in order of (rule, start): memos that make each
/// confirmer amortised O(1) per candidate, and the work done so far (bytes examined) for the
/// redactor's budget. Reset the memos when the rule changes.
struct confirm_state {
    explicit confirm_state(std::string_view t) noexcept : text(t) {}
    std::string_view text;
    run_memo extend, value;
    std::size_t end_marker_from = ~std::size_t{0}, end_marker_at = 0;   ///< memo of find("-----END", from)
    /// memo of the next closing quote of a quoted value: the quote ("\"" or "'", or "\\\"" for
    /// a JSON string inside a string) and the range [from, at] it answers for
    std::string_view quote_of;
    std::size_t quote_from = ~std::size_t{0}, quote_at = 0;
    std::size_t work = 0;
    void next_rule() noexcept {
        extend = {};
        value = {};
        end_marker_from = ~std::size_t{0};
        quote_from = ~std::size_t{0};
    }
    /// text.find(q, p), remembered: asking again from inside the range it answered costs nothing
    /// (a page of '"password": "' with no closing quote searches the text once).
    std::size_t find_quote(std::string_view q, std::size_t p) {
        if (quote_from != ~std::size_t{0} && q == quote_of && p >= quote_from &&
            (quote_at == std::string_view::npos || p <= quote_at))
            return quote_at;
        quote_at = text.find(q, p);
        work += (quote_at == std::string_view::npos ? text.size() : quote_at) - p;
        quote_of = q;
        quote_from = p;
        return quote_at;
    }
};

/// Rule-specific confirmation of one candidate [s, e); may adjust the range. Every confirmer
/// examines a bounded number of bytes, or walks a run once through the memos in `st`.
bool confirm(post_kind k, confirm_state& st, std::size_t& s, std::size_t& e);

/// token_start: the match begins a token (no word character or '-' before it). Checked before
/// extension, so that a run of "sk-sk-sk-..." costs one check per candidate.
bool starts_token(std::string_view text, std::size_t s) noexcept;

} // namespace tracecraft::detail
