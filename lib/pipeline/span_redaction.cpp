// The redaction processor: every string a kept span carries (attributes, inputs, outputs, event
// attributes, status message) through the runtime's redactor, on the pipeline strand. A trace
// of short values is scanned in one Hyperscan call (redactor::batch) without a coroutine;
// long values are scanned window by window, yielding to the io_context between windows. A
// span whose scan fails is fully masked (fail closed) and counted.
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "pipeline/processor_access.hpp"
#include "support/log_limiter.hpp"
#include "record/string_slots.hpp"
#include "tracecraft/log.hpp"
#include "tracecraft/redaction.hpp"

namespace tracecraft {

namespace detail {

namespace asio = boost::asio;

namespace {

/// A field-path rule's replacement for the slot's key, if any (only when such rules exist).
std::optional<std::string> whole_value_rule(const redactor& red, const string_slot& slot, std::string& path) {
    if (red.config().rules.empty() || !slot.entry) return std::nullopt;
    path.assign(section_name(slot.section)).append(".").append(slot.entry->key.view());
    return red.field_replacement(path);
}

log_limiter g_failure_log, g_budget_log;

/// Masks every string in `slots` (a scan failed: fail closed), counting each span once.
void mask_all(counters& c, const std::vector<string_slot>& slots, const std::string& failure) noexcept {
    span_record* prev = nullptr;
    str_ref masked{};
    for (std::size_t i = 0; i < slots.size(); ++i) {
        if (slots[i].span != prev) {
            prev = slots[i].span;
            masked = prev->copy("[REDACTED]");
            c.redaction_failures.fetch_add(1, std::memory_order_relaxed);
        }
        slots[i].set(masked);
    }
    if (!g_failure_log.allow()) return;
    try {
        logger()->error("redaction failed, span(s) fully masked (counted in runtime_stats::redaction_failures, "
                        "{} so far): {}",
                        c.redaction_failures.load(std::memory_order_relaxed), failure);
    } catch (...) {
    }
}

/// The message of the exception being handled (inside a catch block).
std::string current_failure() noexcept {
    try {
        throw;
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "unknown exception";
    }
}

/// Bound to one runtime: its compiled redactor and strand-only scratch state.
class redaction_processor final : public trace_processor {
public:
    redaction_processor(const redaction_config& cfg, counters& stats)
        : redactor_(cfg), scratch_(redactor_.make_scratch()), batch_(redactor_, scratch_), stats_(stats) {}

    std::string_view name() const noexcept override { return "redaction"; }

    // Neither path lets an exception out: whatever goes wrong, the trace's strings are masked
    // (fail closed), the failure is counted and said, and the pipeline goes on.
    processor_verdict process(trace_editor& trace) override {
        trace_buffer* t = processor_access::buffer(trace);
        bool done = true;
        try {
            done = redact_now(t);
        } catch (...) {
            mask_trace(t, current_failure());
        }
        count_budget();
        return done ? processor_verdict::keep : processor_verdict::defer;
    }
    asio::awaitable<processor_verdict> async_process(trace_editor& trace) override {
        trace_buffer* t = processor_access::buffer(trace);
        std::string failure;
        try {
            auto op = redact_slowly(t);   // named local: GCC 12 co_await rule
            co_await std::move(op);
        } catch (...) {
            failure = current_failure();
        }
        if (!failure.empty()) mask_trace(t, failure);
        count_budget();
        co_return processor_verdict::keep;
    }

private:
    void mask_trace(trace_buffer* t, const std::string& failure) noexcept {
        std::vector<string_slot>& slots = slots_;
        slots.clear();
        try {
            for (span_record* r = t->ended.load(std::memory_order_acquire); r; r = r->next_ended) collect_strings(r, slots);
        } catch (...) {   // out of memory while listing: mask what was listed
        }
        mask_all(stats_, slots, failure);
    }

    /// Adds the values masked over budget since the last trace to runtime_stats, and says so.
    void count_budget() noexcept {
        const std::uint64_t now = redactor_.budget_exhaustions();
        if (now == budget_seen_) return;
        stats_.redaction_budget_exhausted.fetch_add(now - budget_seen_, std::memory_order_relaxed);
        budget_seen_ = now;
        if (!g_budget_log.allow()) return;
        try {
            logger()->warn("redaction: a value exceeded the work budget and was masked whole ({} so far, counted in "
                           "runtime_stats::redaction_budget_exhausted)",
                           now);
        } catch (...) {
        }
    }

    /// Redacts a trace whose values are all short (the common case) in one Hyperscan call over
    /// all of them (redactor::batch), without a coroutine. Returns false, having changed nothing,
    /// when a value cannot be batched or the values exceed one window: redact_slowly does those.
    bool redact_now(trace_buffer* t) {
        const redactor& red = redactor_;
        std::vector<string_slot>& slots = slots_;
        redactor::batch& batch = batch_;
        slots.clear();
        batch.clear();
        for (span_record* r = t->ended.load(std::memory_order_acquire); r; r = r->next_ended) collect_strings(r, slots);
        for (const string_slot& slot : slots)
            if (!batch.add(slot.get()) || batch.bytes() > redactor::window) return false;
        try {
            batch.scan();
        } catch (const std::exception& ex) {
            mask_all(stats_, slots, ex.what());
            return true;
        }
        std::string out, path;
        span_record* changed = nullptr;   // the last span counted as redacted (slots are grouped by span)
        for (std::size_t i = 0; i < slots.size(); ++i) {
            const string_slot& slot = slots[i];
            bool hit = false;
            if (auto whole = whole_value_rule(red, slot, path)) {
                slot.set(slot.span->copy(*whole));
                hit = true;
            } else if (batch.has_candidates(i) && !batch.finish(i, out).empty()) {
                slot.set(slot.span->copy(out));
                hit = true;
            }
            if (hit && changed != slot.span) {
                changed = slot.span;
                stats_.spans_redacted.fetch_add(1, std::memory_order_relaxed);
            }
        }
        return true;
    }

    /// Redacts one trace on the strand value by value, yielding to the io_context every
    /// `redactor::window` bytes scanned so that a huge value never starves the user's handlers. A
    /// span whose scan fails is fully masked (fail closed) and counted.
    asio::awaitable<void> redact_slowly(trace_buffer* t) {
        const redactor& red = redactor_;
        std::vector<string_slot> slots;
        std::string out, path;
        std::size_t since_yield = 0;
        for (span_record* r = t->ended.load(std::memory_order_acquire); r; r = r->next_ended) {
            slots.clear();
            collect_strings(r, slots);
            bool changed = false, failed = false;
            std::string failure;
            for (const string_slot& slot : slots) {
                if (auto whole = whole_value_rule(red, slot, path)) {
                    slot.set(r->copy(*whole));
                    changed = true;
                    continue;
                }
                try {
                    redactor::session session(red, slot.get(), scratch_);
                    while (!session.step()) {
                        since_yield = 0;
                        co_await asio::post(asio::use_awaitable);   // let other handlers run
                    }
                    since_yield += slot.get().size();
                    if (session.has_candidates() && !session.finish(out).empty()) {   // no hit: nothing to copy
                        slot.set(r->copy(out));
                        changed = true;
                    }
                } catch (const std::exception& ex) {
                    failed = true;
                    failure = ex.what();
                    break;
                }
                if (since_yield >= redactor::window) {
                    since_yield = 0;
                    co_await asio::post(asio::use_awaitable);
                }
            }
            if (failed)
                mask_all(stats_, slots, failure);
            else if (changed)
                stats_.spans_redacted.fetch_add(1, std::memory_order_relaxed);
        }
    }

    redactor redactor_;   ///< compiled once per rule set (cached); throws config_error naming a bad rule
    redaction_scratch scratch_;
    redactor::batch batch_;
    std::vector<string_slot> slots_;   ///< reused for every trace
    counters& stats_;
    std::uint64_t budget_seen_ = 0;
};

/// What processors::redaction() lists: binds a redaction_processor when redaction is enabled.
class redaction_binder final : public trace_processor {
public:
    std::string_view name() const noexcept override { return "redaction"; }
    processor_ptr bind(const processor_context& ctx, processor_ptr) override {
        if (!ctx.config().redaction.enabled) return nullptr;
        return std::make_shared<redaction_processor>(ctx.config().redaction, processor_access::core(ctx)->stats);
    }
    processor_verdict process(trace_editor&) override { return processor_verdict::keep; }
};

} // namespace
} // namespace detail

processor_ptr processors::redaction() { return std::make_shared<detail::redaction_binder>(); }

} // namespace tracecraft
