// The runtime: hand-off queue, sampling, batching and delivery on a strand of the user's
// io_context. No thread is ever created here.
#include "tracecraft/runtime.hpp"

#include <algorithm>
#include <cmath>
#include <future>
#include <mutex>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "runtime_core.hpp"
#include "tracecraft/detail/clock.hpp"
#include "tracecraft/executor.hpp"
#include "tracecraft/log.hpp"
#include "tracecraft/span_data.hpp"

namespace tracecraft {

namespace asio = boost::asio;

namespace detail {

// ---------------------------------------------------------------- io_context lifetime

/// Registered in each io_context a runtime uses: when the io_context starts its destruction,
/// the runtimes on it release their I/O objects and stop posting.
class lifetime_service : public asio::execution_context::service {
public:
    using key_type = lifetime_service;
    static asio::execution_context::id id;

    explicit lifetime_service(asio::execution_context& ctx)
        : asio::execution_context::service(ctx), liveness(std::make_shared<context_liveness>()) {}

    void add(runtime_core* c) {
        std::lock_guard lk(m_);
        cores_.push_back(c);
    }
    void remove(runtime_core* c) {
        std::lock_guard lk(m_);
        cores_.erase(std::remove(cores_.begin(), cores_.end(), c), cores_.end());
    }

    std::shared_ptr<context_liveness> liveness;

private:
    void shutdown() override {
        liveness->gone.store(true);
        std::lock_guard lk(m_);
        for (runtime_core* c : cores_) {
            c->flush_timer.reset();
            c->strand = asio::any_io_executor();
        }
        cores_.clear();
    }
    std::mutex m_;
    std::vector<runtime_core*> cores_;
};
asio::execution_context::id lifetime_service::id;

// ---------------------------------------------------------------- references

void core_add_ref(runtime_core* c) noexcept {
    if (c) c->refs.fetch_add(1, std::memory_order_relaxed);
}
void core_release(runtime_core* c) noexcept {
    if (c && c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete c;
}

namespace {
/// Counted core pointer for handlers.
class core_ref {
public:
    explicit core_ref(runtime_core* c) noexcept : c_(c) { core_add_ref(c_); }
    core_ref(const core_ref& o) noexcept : c_(o.c_) { core_add_ref(c_); }
    core_ref(core_ref&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    core_ref& operator=(const core_ref&) = delete;
    core_ref& operator=(core_ref&&) = delete;
    ~core_ref() { core_release(c_); }
    runtime_core* operator->() const noexcept { return c_; }
    runtime_core* get() const noexcept { return c_; }

private:
    runtime_core* c_;
};

std::mutex g_default_mutex;
std::shared_ptr<runtime> g_default;
std::atomic<runtime_core*> g_default_core{nullptr};
} // namespace

runtime_core* default_core() noexcept { return g_default_core.load(std::memory_order_acquire); }

// ---------------------------------------------------------------- sampling

std::uint64_t rate_to_threshold(double rate) noexcept {
    if (!(rate > 0.0)) return 0;
    if (rate >= 1.0) return 1ull << 56;
    return static_cast<std::uint64_t>(std::ldexp(rate, 56));
}

bool rate_keep(const trace_id& t, std::uint64_t threshold) noexcept {
    return (t.lo & ((1ull << 56) - 1)) < threshold;
}

bool runtime_core::head_keep(const trace_id& t) const noexcept {
    return rate_all || tail_enabled || rate_keep(t, rate_threshold);
}

namespace {
bool root_has_tag(const span_record* root, const std::vector<std::string>& tags) {
    const attr_entry* e = root->attrs.find("tag.tags");
    if (!e || e->value.type() != value_type::string_array) return false;
    for (std::string_view have : e->value.as_string_array())
        for (const auto& want : tags)
            if (have == want) return true;
    return false;
}
} // namespace

bool runtime_core::tail_keep(trace_buffer* t) const noexcept {
    const sampling_config& s = cfg.sampling;
    const span_record* root = t->root;
    const bool err = t->has_error.load(std::memory_order_relaxed);
    const double dur_ms =
        root ? static_cast<double>(tick_delta_to_ns(static_cast<std::int64_t>(root->end_ticks - root->start_ticks))) / 1e6
             : -1.0;
    auto decide = [&](sample_reason_code keep, sample_reason_code drop, std::uint64_t threshold) {
        const bool k = rate_keep(t->id, threshold);
        t->reason = static_cast<std::uint8_t>(k ? keep : drop);
        return k;
    };
    if (s.always_keep_errors && err) {
        t->reason = static_cast<std::uint8_t>(sample_reason_code::error);
        return true;
    }
    if (s.always_keep_slow && root && dur_ms >= s.slow_threshold_ms) {
        t->reason = static_cast<std::uint8_t>(sample_reason_code::slow);
        return true;
    }
    for (std::size_t i = 0; i < s.rules.size(); ++i) {
        const sampling_rule& r = s.rules[i];
        if (r.match_error && !err) continue;
        if (!r.match_names.empty() &&
            (!root || std::find(r.match_names.begin(), r.match_names.end(), root->name.view()) == r.match_names.end()))
            continue;
        if (!r.match_tags.empty() && (!root || !root_has_tag(root, r.match_tags))) continue;
        if (r.min_duration_ms && (!root || dur_ms < *r.min_duration_ms)) continue;
        t->rule = static_cast<std::uint16_t>(i);
        return decide(sample_reason_code::rule_keep, sample_reason_code::rule_drop, rule_to_threshold(i));
    }
    return decide(sample_reason_code::default_keep, sample_reason_code::default_drop, rate_threshold);
}

std::uint64_t runtime_core::rule_to_threshold(std::size_t i) const noexcept { return rule_thresholds[i]; }

std::string format_sample_reason(const trace_buffer* t, const trace_config& cfg) {
    std::ostringstream os;
    auto rate_str = [](double r) {
        std::ostringstream o;
        o << r;
        std::string s = o.str();
        if (s.find('.') == std::string::npos && s.find('e') == std::string::npos) s += ".0";
        return s;
    };
    const auto rule_name = [&] { return t->rule < cfg.sampling.rules.size() ? cfg.sampling.rules[t->rule].name : ""; };
    switch (static_cast<sample_reason_code>(t->reason)) {
        case sample_reason_code::rate_all:
        case sample_reason_code::head_rate:
        case sample_reason_code::default_keep: os << "Kept: default rate (" << rate_str(cfg.sampling.rate) << ")"; break;
        case sample_reason_code::default_drop: os << "Dropped: default rate (" << rate_str(cfg.sampling.rate) << ")"; break;
        case sample_reason_code::error: os << "Kept: error trace (always_keep_errors=true)"; break;
        case sample_reason_code::slow: os << "Kept: slow trace (>" << rate_str(cfg.sampling.slow_threshold_ms) << "ms)"; break;
        case sample_reason_code::rule_keep: os << "Kept: matched rule '" << rule_name() << "'"; break;
        case sample_reason_code::rule_drop: {
            const double rate = t->rule < cfg.sampling.rules.size() ? cfg.sampling.rules[t->rule].rate : 0.0;
            os << "Dropped: matched rule '" << rule_name() << "' (rate=" << rate_str(rate) << ")";
            break;
        }
    }
    return os.str();
}

// ---------------------------------------------------------------- core

runtime_core::runtime_core(asio::io_context& c, trace_config config)
    : cfg(std::move(config)), ioc(c), queue(std::max<std::size_t>(64, cfg.max_queue_spans)) {
    auto& svc = asio::use_service<lifetime_service>(ioc);
    liveness = svc.liveness;
    strand = tracecraft::suppressed(asio::make_strand(ioc.get_executor()));
    // On the plain executor (not the strand): its handler hops to the strand itself, and a wait on
    // a plain io_context executor counts as exactly one unit of outstanding work, which
    // arm_timer_on_strand gives back (see there).
    flush_timer = std::make_unique<asio::steady_timer>(ioc.get_executor());
    rate_all = cfg.sampling.rate >= 1.0;
    rate_threshold = rate_to_threshold(cfg.sampling.rate);
    tail_enabled = !cfg.sampling.rules.empty() ||
                   (!rate_all && (cfg.sampling.always_keep_errors || cfg.sampling.always_keep_slow));
    for (const auto& r : cfg.sampling.rules) rule_thresholds.push_back(rate_to_threshold(r.rate));
    for (const auto& e : cfg.exporters) deliveries.push_back(delivery{e, {}, false});
    if (cfg.enrich) prices = cfg.prices ? cfg.prices : price_table::builtin();
    if (cfg.redaction.enabled) {
        redact = std::make_unique<redactor>(cfg.redaction);   // compiled once; throws config_error
        scratch = std::make_unique<redaction_scratch>(redact->make_scratch());
        redact_batch = std::make_unique<redactor::batch>(*redact, *scratch);
    }
    svc.add(this);
}

runtime_core::~runtime_core() {
    trace_buffer* t = nullptr;
    std::size_t lost = 0;
    while (queue.try_pop(t)) {
        lost += t->span_count;
        trace_destroy(t);
    }
    if (lost) logger()->error("runtime destroyed with {} queued spans not exported (call shutdown() first)", lost);
    pending.clear();
    if (!liveness->gone.load()) {
        asio::use_service<lifetime_service>(ioc).remove(this);
    }
}

void runtime_core::on_trace_complete(trace_buffer* t) noexcept {
    std::uint32_t n = 0;
    bool err = false;
    std::uint8_t flags = 0;
    for (span_record* s = t->ended.load(std::memory_order_acquire); s; s = s->next_ended) {
        ++n;
        err |= s->status == status_code::error;
        flags |= s->flags;
    }
    t->span_count = n;
    t->has_error.store(err, std::memory_order_relaxed);
    // Enrichment only touches traces with token usage or errors: W1-style traces pay nothing.
    const bool enrich = prices && (err || (flags & span_flag_usage));
    if (enrich && cfg.order == processor_order::safety) enrich_trace(t, *prices);
    if (t->head == head_decision::tail && !tail_keep(t)) {
        stats.traces_sampled_out.fetch_add(1, std::memory_order_relaxed);
        if (cfg.on_sampled_out) {
            try {
                cfg.on_sampled_out(trace_view(t));
            } catch (...) {
            }
        }
        trace_destroy(t);
        return;
    }
    if (!accepting.load(std::memory_order_acquire) || liveness->gone.load(std::memory_order_acquire)) {
        stats.traces_after_shutdown.fetch_add(1, std::memory_order_relaxed);
        if (!warned_after_shutdown.exchange(true))
            logger()->warn("traces finished after the runtime shut down (or its io_context was destroyed) "
                           "are not exported; counted in runtime_stats::traces_after_shutdown");
        trace_destroy(t);
        return;
    }
    if (enrich && cfg.order == processor_order::efficiency) enrich_trace(t, *prices);
    const std::size_t prev = pipeline_spans.fetch_add(n, std::memory_order_acq_rel);
    if (prev != 0 && prev + n > cfg.max_queue_spans) {
        pipeline_spans.fetch_sub(n, std::memory_order_acq_rel);
        stats.traces_queue_dropped.fetch_add(1, std::memory_order_relaxed);
        stats.spans_queue_dropped.fetch_add(n, std::memory_order_relaxed);
        if (!warned_queue_full.exchange(true))
            logger()->warn("pipeline queue full ({} spans): finished traces are dropped and counted in "
                           "runtime_stats::spans_queue_dropped; raise max_queue_spans or lower the rate",
                           cfg.max_queue_spans);
        trace_destroy(t);
        return;
    }
    const std::size_t u = undrained_spans.fetch_add(n, std::memory_order_acq_rel);
    if (!queue.try_push(t)) {   // more traces than slots (cannot happen: slots >= spans)
        undrained_spans.fetch_sub(n, std::memory_order_acq_rel);
        pipeline_spans.fetch_sub(n, std::memory_order_acq_rel);
        stats.traces_queue_dropped.fetch_add(1, std::memory_order_relaxed);
        stats.spans_queue_dropped.fetch_add(n, std::memory_order_relaxed);
        trace_destroy(t);
        return;
    }
    if (u < cfg.batch_size && u + n >= cfg.batch_size) {
        asio::post(strand, [c = core_ref(this)] { c->drain_on_strand(false); });
    } else if (u == 0) {
        asio::post(strand, [c = core_ref(this)] { c->arm_timer_on_strand(); });
    }
}

void runtime_core::arm_timer_on_strand() {
    if (timer_armed || !flush_timer || shut_down) return;
    timer_armed = true;
    flush_timer->expires_after(cfg.flush_interval);
    flush_timer->async_wait([c = core_ref(this)](const boost::system::error_code& ec) {
        c->ioc.get_executor().on_work_started();   // gives back what arm_timer_on_strand took
        asio::post(c->strand, [c, ec] {
            c->timer_armed = false;
            if (!ec) c->drain_on_strand(true);
        });
    });
    // The batch timer alone must not keep the user's io_context::run() from returning: a
    // program that runs its work and then calls shutdown() (which drains every queued trace)
    // would otherwise wait out flush_interval first. So the pending wait does not count as
    // outstanding work. (Never zero here: this handler itself is outstanding work.)
    ioc.get_executor().on_work_finished();
}

void runtime_core::drain_on_strand(bool force) {
    trace_buffer* t = nullptr;
    std::size_t popped = 0, traces = 0;
    while (queue.try_pop(t)) {
        popped += t->span_count;
        ++traces;
        pending_spans += t->span_count;
        pending.emplace_back(t);
    }
    if (popped) {
        undrained_spans.fetch_sub(popped, std::memory_order_acq_rel);
        stats.traces_kept.fetch_add(traces, std::memory_order_relaxed);
        stats.spans_kept.fetch_add(popped, std::memory_order_relaxed);
    }
    dispatch_batches_on_strand(force);
    if (!pending.empty() || undrained_spans.load(std::memory_order_acquire) > 0) arm_timer_on_strand();
    check_waiters_on_strand();
}

struct inflight_batch {
    span_batch batch;
    std::size_t remaining = 0;
    bool failed = false;
};

void runtime_core::dispatch_batches_on_strand(bool force) {
    while (!pending.empty() && (force || pending_spans >= cfg.batch_size)) {
        std::vector<trace_ref> take;
        std::size_t spans = 0;
        std::size_t i = 0;
        for (; i < pending.size(); ++i) {
            const std::size_t n = pending[i].get()->span_count;
            if (!take.empty() && spans + n > cfg.batch_size) break;
            spans += n;
            take.push_back(std::move(pending[i]));
        }
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(i));
        pending_spans -= spans;
        if (redact) {
            to_process.push_back(std::move(take));
            start_processor();
        } else {
            deliver(std::move(take));
        }
    }
}

void runtime_core::deliver(std::vector<trace_ref> take) {
    auto b = std::make_shared<inflight_batch>();
    b->batch = span_batch(std::move(take));
    b->remaining = deliveries.size();
    if (deliveries.empty()) {
        pipeline_spans.fetch_sub(b->batch.span_count(), std::memory_order_acq_rel);
        return;
    }
    for (std::size_t d = 0; d < deliveries.size(); ++d) {
        deliveries[d].batches.push_back(b);
        start_delivery(d);
    }
}

namespace {

void collect(span_record* r, attr_list& list, const char* section, std::vector<string_slot>& out) {
    for (attr_chunk* c = list.head; c; c = c->next)
        for (std::uint32_t i = 0; i < c->n; ++i) {
            attr_entry& e = c->e[i];
            if (e.value.type() == value_type::string) out.push_back(string_slot{r, &e, -1, section});
            if (e.value.type() == value_type::string_array)
                for (std::uint32_t k = 0; k < e.value.array_size(); ++k)
                    out.push_back(string_slot{r, &e, static_cast<std::int32_t>(k), section});
        }
}

/// Every string of span `r`: attributes, inputs, outputs, event attributes, status message.
void collect_span(span_record* r, std::vector<string_slot>& out) {
    collect(r, r->attrs, "attributes", out);
    collect(r, r->inputs, "inputs", out);
    collect(r, r->outputs, "outputs", out);
    for (event_record* e = r->events_head; e; e = e->next) collect(r, e->attrs, "events", out);
    if (r->status_message.n) out.push_back(string_slot{r, nullptr, -1, "status"});
}

/// A field-path rule's replacement for the slot's key, if any (only when such rules exist).
std::optional<std::string> whole_value_rule(const redactor& red, const string_slot& slot, std::string& path) {
    if (red.config().rules.empty() || !slot.entry) return std::nullopt;
    path.assign(slot.section).append(".").append(slot.entry->key.view());
    return red.field_replacement(path);
}

/// Masks every string in `slots` (a scan failed: fail closed), counting each span once.
void mask_all(runtime_core& c, const std::vector<string_slot>& slots, const std::string& failure) {
    span_record* prev = nullptr;
    str_ref masked{};
    for (std::size_t i = 0; i < slots.size(); ++i) {
        if (slots[i].span != prev) {
            prev = slots[i].span;
            masked = prev->copy("[REDACTED]");
            c.stats.redaction_failures.fetch_add(1, std::memory_order_relaxed);
        }
        slots[i].set(masked);
    }
    logger()->error("redaction failed, span(s) fully masked: {}", failure);
}

/// Redacts a trace whose values are all short (the common case) in one Hyperscan call over
/// all of them (redactor::batch), without a coroutine. Returns false, having changed nothing,
/// when a value cannot be batched or the values exceed one window: redact_trace does those.
bool redact_trace_now(runtime_core& c, trace_buffer* t) {
    const redactor& red = *c.redact;
    std::vector<string_slot>& slots = c.redact_slots;
    redactor::batch& batch = *c.redact_batch;
    slots.clear();
    batch.clear();
    for (span_record* r = t->ended.load(std::memory_order_acquire); r; r = r->next_ended) collect_span(r, slots);
    for (const string_slot& slot : slots)
        if (!batch.add(slot.get()) || batch.bytes() > redactor::window) return false;
    try {
        batch.scan();
    } catch (const std::exception& ex) {
        mask_all(c, slots, ex.what());
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
            c.stats.spans_redacted.fetch_add(1, std::memory_order_relaxed);
        }
    }
    return true;
}

/// Redacts one trace on the strand value by value, yielding to the io_context every
/// `redactor::window` bytes scanned so that a huge value never starves the user's handlers. A
/// span whose scan fails is fully masked (fail closed) and counted.
asio::awaitable<void> redact_trace(core_ref c, trace_buffer* t) {
    const redactor& red = *c->redact;
    std::vector<string_slot> slots;
    std::string out, path;
    std::size_t since_yield = 0;
    for (span_record* r = t->ended.load(std::memory_order_acquire); r; r = r->next_ended) {
        slots.clear();
        collect_span(r, slots);
        bool changed = false, failed = false;
        std::string failure;
        for (const string_slot& slot : slots) {
            if (auto whole = whole_value_rule(red, slot, path)) {
                slot.set(r->copy(*whole));
                changed = true;
                continue;
            }
            try {
                redactor::session session(red, slot.get(), *c->scratch);
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
            mask_all(*c.get(), slots, failure);
        else if (changed)
            c->stats.spans_redacted.fetch_add(1, std::memory_order_relaxed);
    }
}

asio::awaitable<void> process_loop(core_ref c) {
    while (!c->to_process.empty()) {
        std::vector<trace_ref> traces = std::move(c->to_process.front());
        c->to_process.pop_front();
        std::size_t since_yield = 0;
        for (const auto& t : traces) {
            // the io_context's other handlers run between slices of ~16 traces (~50 us): a
            // batch redacted in one go held a single-threaded server for ~400 us (W5's p99)
            if (++since_yield == 16) {
                since_yield = 0;
                co_await asio::post(asio::use_awaitable);
            }
            if (redact_trace_now(*c.get(), t.get())) continue;
            auto op = redact_trace(core_ref(c), t.get());   // named local: GCC 12 co_await rule
            co_await std::move(op);
        }
        c->deliver(std::move(traces));
    }
    c->processing = false;
    c->check_waiters_on_strand();
}

} // namespace

void runtime_core::start_processor() {
    if (processing || to_process.empty()) return;
    processing = true;
    asio::co_spawn(strand, process_loop(core_ref(this)), asio::detached);
}

namespace {
asio::awaitable<void> delivery_loop(core_ref c, std::size_t i) {
    runtime_core::delivery& d = c->deliveries[i];
    while (!d.batches.empty()) {
        std::shared_ptr<inflight_batch> b = std::move(d.batches.front());
        d.batches.pop_front();
        export_result r;
        try {
            r = co_await d.exp->export_batch(b->batch);
        } catch (const std::exception& e) {
            r = export_result::failure(std::string("exporter threw: ") + e.what());
        }
        if (!r.success) {
            b->failed = true;
            logger()->debug("exporter '{}' failed: {}", d.exp->name(), r.error);
        }
        if (--b->remaining == 0) {
            const std::size_t n = b->batch.span_count();
            (b->failed ? c->stats.spans_export_failed : c->stats.spans_exported).fetch_add(n, std::memory_order_relaxed);
            c->stats.batches_exported.fetch_add(1, std::memory_order_relaxed);
            c->pipeline_spans.fetch_sub(n, std::memory_order_acq_rel);
            c->check_capacity_waiters_on_strand();
        }
    }
    d.busy = false;
    c->check_waiters_on_strand();
}
} // namespace

void runtime_core::start_delivery(std::size_t i) {
    delivery& d = deliveries[i];
    if (d.busy || d.batches.empty()) return;
    d.busy = true;
    asio::co_spawn(strand, delivery_loop(core_ref(this), i), asio::detached);
}

bool runtime_core::idle_on_strand() const noexcept {
    if (!pending.empty() || processing || !to_process.empty()) return false;
    for (const auto& d : deliveries)
        if (d.busy || !d.batches.empty()) return false;
    return true;
}

struct flush_waiter {
    explicit flush_waiter(const asio::any_io_executor& ex) : timer(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
};

void runtime_core::check_capacity_waiters_on_strand() {
    if (capacity_waiters.empty()) return;
    std::erase_if(capacity_waiters, [this](const auto& w) {
        if (!has_capacity(w.first) && !shut_down) return false;
        w.second->timer.cancel();
        return true;
    });
}

void runtime_core::check_waiters_on_strand() {
    if (waiters.empty() || !idle_on_strand()) return;
    for (auto& w : waiters) w->timer.cancel();
    waiters.clear();
}

namespace {
asio::awaitable<void> flush_on_strand(core_ref c) {
    c->drain_on_strand(true);
    while (!c->idle_on_strand()) {
        auto w = std::make_shared<flush_waiter>(c->strand);
        c->waiters.push_back(w);
        boost::system::error_code ec;
        co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        c->drain_on_strand(true);
    }
    for (auto& d : c->deliveries) co_await d.exp->force_flush();
}

asio::awaitable<void> capacity_on_strand(core_ref c, std::size_t spans) {
    while (!c->has_capacity(spans) && !c->shut_down && c->accepting.load(std::memory_order_acquire)) {
        c->drain_on_strand(true);   // hand partly filled batches over now: the producer is waiting
        if (c->has_capacity(spans)) break;
        auto w = std::make_shared<flush_waiter>(c->strand);
        c->capacity_waiters.emplace_back(spans, w);
        boost::system::error_code ec;
        co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

/// Waits (on the strand) until no recorded trace is open or `deadline` passes; true when idle.
/// Polls: a trace completes on whatever thread ends its last span, and completion must stay
/// free of notifications on the hot path.
asio::awaitable<bool> wait_idle_on_strand(core_ref c, std::chrono::steady_clock::time_point deadline) {
    asio::steady_timer timer(c->strand);
    std::chrono::milliseconds step{1};
    for (;;) {
        c->drain_on_strand(false);   // queued traces are complete: count them as kept
        if (c->open_traces() == 0) co_return true;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) co_return false;
        timer.expires_at(std::min(deadline, now + step));
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        step = std::min(step * 2, std::chrono::milliseconds(20));
    }
}

asio::awaitable<void> shutdown_on_strand(core_ref c) {
    if (c->shut_down) co_return;
    c->accepting.store(false, std::memory_order_release);
    co_await flush_on_strand(core_ref(c));
    for (auto& d : c->deliveries) co_await d.exp->shutdown();
    c->shut_down = true;
    c->check_capacity_waiters_on_strand();   // release producers waiting for capacity
    if (c->flush_timer) c->flush_timer->cancel();
}

asio::awaitable<void> graceful_shutdown_on_strand(core_ref c, std::chrono::milliseconds grace) {
    if (c->shut_down) co_return;
    const auto deadline = std::chrono::steady_clock::now() + grace;
    if (!co_await wait_idle_on_strand(core_ref(c), deadline))
        logger()->warn("shutdown: {} traces still open after the {} ms grace period (detached work still "
                       "running); spans that end later are counted in runtime_stats::traces_after_shutdown",
                       c->open_traces(), grace.count());
    co_await shutdown_on_strand(core_ref(c));
}

asio::awaitable<void> start_exporters(core_ref c) {
    exporter_environment env;
    env.executor = c->strand;
    env.service_name = c->cfg.service_name;
    for (auto& d : c->deliveries) d.exp->start(env);
    co_return;
}
} // namespace

} // namespace detail

// ---------------------------------------------------------------- config

void trace_config::validate() const {
    auto rate_ok = [](double r) { return r >= 0.0 && r <= 1.0; };
    if (!rate_ok(sampling.rate)) throw config_error("sampling.rate", "must be between 0.0 and 1.0, got " + std::to_string(sampling.rate));
    if (!(sampling.slow_threshold_ms >= 0.0))
        throw config_error("sampling.slow_threshold_ms", "must be >= 0, got " + std::to_string(sampling.slow_threshold_ms));
    for (std::size_t i = 0; i < sampling.rules.size(); ++i) {
        const auto& r = sampling.rules[i];
        const std::string f = "sampling.rules[" + std::to_string(i) + "]";
        if (r.name.empty()) throw config_error(f + ".name", "must not be empty");
        if (!rate_ok(r.rate)) throw config_error(f + ".rate", "must be between 0.0 and 1.0, got " + std::to_string(r.rate));
        if (r.min_duration_ms && !(*r.min_duration_ms >= 0.0))
            throw config_error(f + ".min_duration_ms", "must be >= 0");
    }
    if (service_name.empty()) throw config_error("service_name", "must not be empty");
    if (max_step_depth == 0 || max_step_depth > 65000) throw config_error("max_step_depth", "must be between 1 and 65000");
    if (max_queue_spans == 0) throw config_error("max_queue_spans", "must be > 0");
    if (batch_size == 0) throw config_error("batch_size", "must be > 0");
    if (batch_size > max_queue_spans) throw config_error("batch_size", "must not exceed max_queue_spans");
    if (flush_interval.count() <= 0) throw config_error("flush_interval", "must be > 0 ms");
    if (max_attributes_per_span == 0) throw config_error("max_attributes_per_span", "must be > 0");
    for (std::size_t i = 0; i < exporters.size(); ++i)
        if (!exporters[i]) throw config_error("exporters[" + std::to_string(i) + "]", "is null");
}

// ---------------------------------------------------------------- runtime

runtime::runtime(asio::io_context& ioc, trace_config config) : ioc_(ioc), core_(nullptr) {
    config.validate();
    core_ = new detail::runtime_core(ioc, std::move(config));
    if (core_->deliveries.empty())
        logger()->info("runtime '{}' has no exporters: finished traces are counted and released",
                       core_->cfg.service_name);
    asio::co_spawn(core_->strand, detail::start_exporters(detail::core_ref(core_)), asio::detached);
}

runtime::~runtime() {
    {
        std::lock_guard lk(detail::g_default_mutex);
        detail::runtime_core* expected = core_;
        detail::g_default_core.compare_exchange_strong(expected, nullptr);
    }
    if (!core_->shut_down && core_->pipeline_spans.load() > 0 && !core_->liveness->gone.load())
        logger()->warn("runtime destroyed before shutdown(): {} spans still in the pipeline",
                       core_->pipeline_spans.load());
    core_->accepting.store(false);
    detail::core_release(core_);
}

asio::awaitable<void> runtime::async_force_flush() {
    auto op = detail::flush_on_strand(detail::core_ref(core_));
    co_await asio::co_spawn(core_->strand, std::move(op), asio::use_awaitable);
}

bool runtime::has_capacity(std::size_t spans) const noexcept { return core_->has_capacity(spans); }

asio::awaitable<void> runtime::async_wait_for_capacity(std::size_t spans) {
    if (core_->has_capacity(spans)) co_return;
    auto op = detail::capacity_on_strand(detail::core_ref(core_), spans);
    co_await asio::co_spawn(core_->strand, std::move(op), asio::use_awaitable);
}

asio::awaitable<void> runtime::async_shutdown() {
    auto op = detail::shutdown_on_strand(detail::core_ref(core_));
    co_await asio::co_spawn(core_->strand, std::move(op), asio::use_awaitable);
}

asio::awaitable<void> runtime::async_shutdown(std::chrono::milliseconds grace) {
    auto op = detail::graceful_shutdown_on_strand(detail::core_ref(core_), grace);
    co_await asio::co_spawn(core_->strand, std::move(op), asio::use_awaitable);
}

asio::awaitable<bool> runtime::async_wait_idle(std::chrono::milliseconds timeout) {
    auto op = detail::wait_idle_on_strand(detail::core_ref(core_), std::chrono::steady_clock::now() + timeout);
    co_return co_await asio::co_spawn(core_->strand, std::move(op), asio::use_awaitable);
}

void runtime::shutdown() { run_blocking(detail::shutdown_on_strand(detail::core_ref(core_))); }
void runtime::shutdown(std::chrono::milliseconds grace) {
    run_blocking(detail::graceful_shutdown_on_strand(detail::core_ref(core_), grace));
}
void runtime::force_flush() { run_blocking(detail::flush_on_strand(detail::core_ref(core_))); }

void runtime::run_blocking(asio::awaitable<void> op) {
    if (ioc_.get_executor().running_in_this_thread())
        throw std::logic_error("tracecraft::runtime: blocking shutdown()/force_flush() called from a handler of "
                               "its own io_context would deadlock; co_await async_shutdown() instead");
    if (core_->liveness->gone.load()) return;
    std::promise<void> done;
    auto fut = done.get_future();
    asio::co_spawn(core_->strand, std::move(op), [&done](std::exception_ptr e) {
        if (e)
            done.set_exception(e);
        else
            done.set_value();
    });
    if (ioc_.stopped()) ioc_.restart();
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        ioc_.run_one_for(std::chrono::milliseconds(20));
        if (ioc_.stopped()) ioc_.restart();
    }
    fut.get();
}


std::uint64_t detail::runtime_core::open_traces() const noexcept {
    // recorded roots minus the traces whose fate is known (a relaxed snapshot: never negative)
    const std::uint64_t done = stats.traces_sampled_out.load() + stats.traces_queue_dropped.load() +
                               stats.traces_after_shutdown.load() + stats.traces_kept.load();
    const std::uint64_t started = stats.traces_started.load();
    return started > done ? started - done : 0;
}

runtime_stats runtime::stats() const noexcept {
    const auto& s = core_->stats;
    runtime_stats r;
    r.traces_head_dropped = s.traces_head_dropped.load();
    r.traces_started = s.traces_started.load() + r.traces_head_dropped;
    r.traces_sampled_out = s.traces_sampled_out.load();
    r.traces_kept = s.traces_kept.load();
    r.traces_queue_dropped = s.traces_queue_dropped.load();
    r.traces_after_shutdown = s.traces_after_shutdown.load();
    r.traces_completed = r.traces_sampled_out + r.traces_queue_dropped + r.traces_after_shutdown + r.traces_kept;
    r.spans_kept = s.spans_kept.load();
    r.spans_queue_dropped = s.spans_queue_dropped.load();
    r.spans_depth_dropped = s.spans_depth_dropped.load();
    r.spans_exported = s.spans_exported.load();
    r.spans_export_failed = s.spans_export_failed.load();
    r.batches_exported = s.batches_exported.load();
    r.queue_spans = core_->pipeline_spans.load();
    r.spans_redacted = s.spans_redacted.load();
    r.redaction_failures = s.redaction_failures.load();
    r.context_waits = s.context_waits.load();
    r.spans_out_of_order = s.spans_out_of_order.load();
    r.spans_abandoned = s.spans_abandoned.load();
    r.traces_open = core_->open_traces();
    return r;
}

bool runtime::is_healthy() const noexcept {
    return core_->accepting.load() && !core_->liveness->gone.load() &&
           core_->pipeline_spans.load() * 10 < core_->cfg.max_queue_spans * 9;
}

const trace_config& runtime::config() const noexcept { return core_->cfg; }
asio::io_context& runtime::context() const noexcept { return ioc_; }

std::shared_ptr<runtime> init(asio::io_context& ioc, trace_config config) {
    auto rt = std::make_shared<runtime>(ioc, std::move(config));
    std::shared_ptr<runtime> old;
    {
        std::lock_guard lk(detail::g_default_mutex);
        old = std::move(detail::g_default);
        detail::g_default = rt;
        detail::g_default_core.store(rt->core(), std::memory_order_release);
    }
    return rt;
}

std::shared_ptr<runtime> default_runtime() noexcept {
    std::lock_guard lk(detail::g_default_mutex);
    return detail::g_default;
}

void reset_default_runtime() noexcept {
    std::shared_ptr<runtime> old;
    std::lock_guard lk(detail::g_default_mutex);
    old = std::move(detail::g_default);
    detail::g_default_core.store(nullptr, std::memory_order_release);
}

std::string trace_view::sample_reason() const { return detail::format_sample_reason(t_, t_->rt->cfg); }

} // namespace tracecraft
