// TraceCraft C++ — PII and secret redaction with one compiled Hyperscan database.
//
// The Python SDK's default rules, with their known flaws fixed: every rule is matched in one
// pass (no sequential rewriting), overlapping matches resolve to the longest (then the most
// specific) match, credit cards must pass the Luhn check and stand alone (no leaked tail
// digits, no mangled timestamps), "sk-" keys must start a token, and private keys are
// redacted as whole blocks. Rules: email, phone, credit_card, ssn, ipv4, ipv6,
// anthropic_api_key, openai_api_key, aws_access_key, aws_secret_key (keyword-anchored), jwt,
// bearer_token, github_token, google_api_key, huggingface_token, azure_connection_string,
// generic_api_key_param, private_key, slack_token, slack_webhook, stripe_key, password_field
// (README, Redaction, describes each with an example it masks and one it leaves). Key-value
// rules mask the value and keep the key.
//
// Modes: mask ("[REDACTED]" or the rule's replacement), hash ("[HASH:<16 hex>]" = keyed
// HMAC-SHA256, so hashes are not reversible by dictionary), remove (""). Field-path rules
// replace a whole value without scanning. Allowlists keep exact strings or full matches of
// patterns. A redactor is immutable after construction and shareable; each scanning context
// (strand) owns a scratch from make_scratch().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tracecraft/config_error.hpp"

namespace tracecraft {

enum class redaction_mode { mask, hash, remove };

/// A custom rule (the Python SDK's RedactionRule). `pattern` uses Hyperscan's PCRE subset and must
/// support start-of-match reporting; `field_paths` replace whole values by key or dotted path
/// ("api_key", "inputs.api_key", "attributes.credentials.api_key").
struct redaction_rule {
    std::string name;
    std::string pattern;
    std::vector<std::string> field_paths;
    std::optional<std::string> replacement;   ///< overrides the mode for this rule's matches
};

/// The Python SDK's RedactionConfig.
struct redaction_config {
    bool enabled = true;
    redaction_mode mode = redaction_mode::mask;
    bool include_defaults = true;
    std::vector<redaction_rule> rules;
    std::vector<std::string> allowlist;           ///< matched text kept when equal to one of these
    std::vector<std::string> allowlist_patterns;  ///< ... or fully matching one of these (Hyperscan syntax)
    std::string hash_key;                         ///< HMAC key for hash mode; empty: random per process
    std::vector<std::string> disabled_defaults;   ///< names of default rules to leave out
};

/// One match that was replaced.
struct redaction_match {
    std::size_t start = 0, end = 0;   ///< byte offsets in the input
    std::string_view rule;
};

namespace detail {
struct redactor_impl;
struct scan_scratch;
struct confirm_progress;
/// A raw hit: [s, e) of rule `rule` (index in the compiled set), before confirmation.
struct redaction_candidate {
    std::size_t s, e;
    std::uint32_t rule;
};
/// Test hook: when set, every scan fails as if Hyperscan had returned an error (to prove the
/// pipeline fails closed). One relaxed load per 256 KiB window.
void set_redaction_fault_injection(bool on) noexcept;
/// Test hook: a confirmation budget of `per_byte` bytes examined per text byte (0: the default),
/// to prove that an exhausted budget masks the whole text.
void set_redaction_work_budget(std::size_t per_byte) noexcept;
} // namespace detail

/// Per-scanning-context scratch space (Hyperscan scratch). Not thread-safe: one per strand.
class redaction_scratch {
public:
    redaction_scratch();
    ~redaction_scratch();
    redaction_scratch(redaction_scratch&&) noexcept;
    redaction_scratch& operator=(redaction_scratch&&) noexcept;

private:
    friend class redactor;
    [[nodiscard]] detail::scan_scratch* get() const noexcept { return s_.get(); }
    std::unique_ptr<detail::scan_scratch> s_;
};

class redactor {
public:
    /// Compiles every pattern into one database. Throws config_error naming the rule.
    explicit redactor(const redaction_config& config);
    ~redactor();
    redactor(const redactor&) = delete;
    redactor& operator=(const redactor&) = delete;

    [[nodiscard]] redaction_scratch make_scratch() const;

    /// Redacts `text` into `out`; returns the replaced matches (offsets in `text`).
    /// Throws std::runtime_error if the scan fails (callers fail closed).
    std::vector<redaction_match> redact(std::string_view text, std::string& out, redaction_scratch& scratch) const;
    /// The same in steps: scans at most `window` bytes per call to step() (one Hyperscan stream
    /// over the whole text, so a match of any length across windows is found as in one call);
    /// the pipeline co_awaits a post between steps so a huge value never starves other handlers.
    class batch;
    class session {
    public:
        session(const redactor& r, std::string_view text, redaction_scratch& scratch) noexcept;
        ~session();
        session(const session&) = delete;
        session& operator=(const session&) = delete;
        /// Scans the next window, or (a text longer than a window, once scanned) confirms the
        /// next slice of candidates; returns true when nothing is left for finish() but to
        /// build the output.
        bool step();
        /// After the last step: builds `out` and returns the replaced matches.
        std::vector<redaction_match> finish(std::string& out);
        /// After the last step: false when no rule hit the text at all, so finish() would find
        /// no match and only copy the text (callers that keep the original can skip it).
        [[nodiscard]] bool has_candidates() const noexcept { return !raw_.empty(); }

    private:
        friend class batch;
        const redactor* r_;
        std::string_view text_;
        redaction_scratch* scratch_;
        std::size_t off_ = 0;
        void* stream_ = nullptr;   // the Hyperscan stream of a text longer than a window
        bool done_ = false;        // scanned
        std::unique_ptr<detail::confirm_progress> progress_;   // a long text's confirmation, in slices
        bool confirm_slice();
        std::vector<detail::redaction_candidate> raw_;   // hits of every window so far
    };
    static constexpr std::size_t window = 256 * 1024;

    /// Many short texts scanned with one Hyperscan call. A span's values are a few dozen bytes
    /// each, and for such a value the fixed cost of a scan call is most of the scan; a batch
    /// joins the texts with NUL separators and scans them once. A match that would cross a
    /// separator is discarded and its text rescanned alone, so each text gets exactly what
    /// redact() gives it. Reusable: clear() keeps the buffers. Texts must outlive scan()/finish().
    class batch {
    public:
        batch(const redactor& r, redaction_scratch& scratch) noexcept : r_(&r), scratch_(&scratch) {}
        /// Adds `text` as the next index (0, 1, ...). Returns false, adding nothing, when the
        /// text cannot join a batch: longer than max_text, or the redactor has an anchored rule
        /// (`^`, `$`, `\A`, `\z`) -- scan it with a session. (A text's own NUL bytes are no
        /// separators: a hit across one is rescanned alone, like a hit across a separator.)
        bool add(std::string_view text);
        /// Scans every added text. Throws std::runtime_error if the scan fails.
        void scan();
        [[nodiscard]] std::size_t size() const noexcept { return texts_.size(); }
        [[nodiscard]] std::size_t bytes() const noexcept { return joined_.size(); }
        /// After scan(): false when no rule hit text i (finish would only copy it).
        [[nodiscard]] bool has_candidates(std::size_t i) const noexcept { return first_[i] != first_[i + 1]; }
        /// After scan(): redacts text i into `out`, as redact() would, and returns its matches.
        std::vector<redaction_match> finish(std::size_t i, std::string& out);
        void clear() noexcept;
        static constexpr std::size_t max_text = 16 * 1024;

    private:
        const redactor* r_;
        redaction_scratch* scratch_;
        std::vector<std::string_view> texts_;
        std::vector<std::size_t> at_;                     // offset of text i in joined_ (if joined)
        std::string joined_;                              // the texts worth scanning, each followed by a NUL
        std::vector<std::size_t> joined_at_;              // offsets of the joined texts, ascending
        std::vector<std::uint32_t> joined_text_;          // their text indexes
        std::vector<std::size_t> separators_;             // positions of the separators in joined_
        std::vector<detail::redaction_candidate> cand_;   // by text, offsets relative to it
        std::vector<std::uint32_t> first_;                // text i's candidates: [first_[i], first_[i+1])
        std::vector<std::uint32_t> fill_;
    };

    /// Convenience: redacted copy (uses an internal scratch; not for concurrent use).
    [[nodiscard]] std::string redact(std::string_view text) const;

    /// If a field-path rule covers `path` (or its last component), the replacement text.
    [[nodiscard]] std::optional<std::string> field_replacement(std::string_view path) const;
    /// The replacement text for `matched` under rule `rule` (mode, rule replacement, HMAC).
    [[nodiscard]] std::string replacement_for(std::string_view matched, std::string_view rule) const;

    /// How many texts were masked whole because confirming their matches exceeded the work
    /// budget (a last line of defence: every rule is linear, the budget is ~3x the worst input
    /// we could construct). Such a text is reported as one match of rule "work_budget".
    [[nodiscard]] std::uint64_t budget_exhaustions() const noexcept;

    [[nodiscard]] const redaction_config& config() const noexcept;
    [[nodiscard]] std::vector<std::string> rule_names() const;

private:
    std::vector<redaction_match> exhausted(std::string_view text, std::string& out) const;
    std::unique_ptr<detail::redactor_impl> impl_;
    mutable std::unique_ptr<redaction_scratch> own_scratch_;
};

} // namespace tracecraft
