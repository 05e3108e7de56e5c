// Running the processors: each runtime binds trace_config::processors once; the leading ones
// that may run on the completing thread do so (handoff.cpp calls process_inline), the rest run
// on the strand over each batch before it is delivered. A drop is counted by who dropped:
// the tail sampler (its decision is on the trace) or another processor; a processor that
// throws drops the trace too (fail closed: a scrubber that failed must not let data out).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "pipeline/processor_access.hpp"
#include "pipeline/runtime_core.hpp"
#include "support/log_limiter.hpp"
#include "tracecraft/log.hpp"

namespace tracecraft {

boost::asio::awaitable<processor_verdict> trace_processor::async_process(trace_editor& trace) {
    (void)trace;
    co_return processor_verdict::keep;
}

namespace detail {

namespace asio = boost::asio;

namespace {

log_limiter g_failure_log;

void report_failure(runtime_core& c, const trace_processor& p, std::exception_ptr e) noexcept {
    const std::uint64_t n = c.stats.traces_processor_failed.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!g_failure_log.allow()) return;
    std::string what = "unknown exception";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        what = x.what();
    } catch (...) {
    }
    try {
        logger()->warn("processor '{}' threw ({}): the trace is dropped; {} so far, counted in "
                       "runtime_stats::traces_processor_failed",
                       p.name(), what, n);
    } catch (...) {
    }
}

bool is_drop_reason(std::uint8_t reason) noexcept {
    const auto r = static_cast<sample_reason_code>(reason);
    return r == sample_reason_code::default_drop || r == sample_reason_code::rule_drop;
}

} // namespace

void runtime_core::bind_processors() {
    const processor_context ctx = processor_access::context(cfg, strand, this);
    for (const processor_ptr& p : cfg.processors)
        if (processor_ptr bound = p->bind(ctx, p)) processors.push_back(std::move(bound));
    while (inline_processors < processors.size() && processors[inline_processors]->runs_on_completing_thread())
        ++inline_processors;
}

void runtime_core::count_drop(const trace_buffer* t) noexcept {
    if (is_drop_reason(t->reason))
        stats.traces_sampled_out.fetch_add(1, std::memory_order_relaxed);
    else
        stats.traces_processor_dropped.fetch_add(1, std::memory_order_relaxed);
}

bool runtime_core::process_inline(trace_buffer* t) noexcept {
    trace_editor ed = processor_access::editor(t);
    for (std::size_t i = 0; i < inline_processors; ++i) {
        trace_processor& p = *processors[i];
        processor_verdict v;
        try {
            v = p.process(ed);
        } catch (...) {
            report_failure(*this, p, std::current_exception());
            trace_destroy(t);
            return false;
        }
        if (v == processor_verdict::drop) [[unlikely]] {
            count_drop(t);
            trace_destroy(t);
            return false;
        }
        if (v == processor_verdict::defer) [[unlikely]] {   // breaks its promise: go on on the strand
            t->next_processor = static_cast<std::uint8_t>(i);
            return true;
        }
    }
    t->next_processor = static_cast<std::uint8_t>(inline_processors);
    return true;
}

namespace {

asio::awaitable<void> process_loop(core_ref c) {
    const std::size_t count = c->processors.size();
    while (!c->to_process.empty()) {
        std::vector<trace_ref> traces = std::move(c->to_process.front());
        c->to_process.pop_front();
        std::size_t kept = 0, since_yield = 0;
        for (std::size_t k = 0; k < traces.size(); ++k) {
            // the io_context's other handlers run between slices of ~16 traces (~50 us with
            // redaction): a batch processed in one go held a single-threaded server ~400 us
            if (++since_yield == 16) {
                since_yield = 0;
                co_await asio::post(asio::use_awaitable);
            }
            trace_buffer* t = traces[k].get();
            trace_editor ed = processor_access::editor(t);
            bool keep = true;
            for (std::size_t i = t->next_processor; i < count && keep; ++i) {
                trace_processor& p = *c->processors[i];
                processor_verdict v = processor_verdict::keep;
                std::exception_ptr failure;
                try {
                    v = p.process(ed);
                } catch (...) {
                    failure = std::current_exception();
                }
                if (!failure && v == processor_verdict::defer) {
                    try {
                        auto op = p.async_process(ed);   // named local: GCC 12 co_await rule
                        v = co_await std::move(op);
                    } catch (...) {
                        failure = std::current_exception();
                    }
                }
                if (failure) {
                    report_failure(*c.get(), p, failure);
                    keep = false;
                } else if (v == processor_verdict::drop) {
                    c->count_drop(t);
                    keep = false;
                }
            }
            if (keep) {
                if (kept != k) traces[kept] = std::move(traces[k]);
                ++kept;
                continue;
            }
            // counted as kept when popped from the queue: it is not, after all
            const std::size_t n = t->span_count;
            c->stats.traces_kept.fetch_sub(1, std::memory_order_relaxed);
            c->stats.spans_kept.fetch_sub(n, std::memory_order_relaxed);
            c->pipeline_spans.fetch_sub(n, std::memory_order_acq_rel);
        }
        traces.resize(kept);
        c->deliver(std::move(traces));
        c->check_capacity_waiters_on_strand();
    }
    c->processing = false;
    c->check_waiters_on_strand();
}

} // namespace

void runtime_core::process_batch(std::vector<trace_ref> traces) {
    bool strand_work = inline_processors < processors.size();
    for (std::size_t i = 0; i < traces.size() && !strand_work; ++i)
        strand_work = traces[i].get()->next_processor < processors.size();
    if (!strand_work) {
        deliver(std::move(traces));
        return;
    }
    to_process.push_back(std::move(traces));
    if (processing) return;
    processing = true;
    asio::co_spawn(strand, process_loop(core_ref(this)), asio::detached);
}

} // namespace detail

namespace processors {

processor_list safety() { return {enrichment(), tail_sampling(), redaction()}; }
processor_list efficiency() { return {tail_sampling(), enrichment(), redaction()}; }

} // namespace processors

processor_list::processor_list() : processor_list(processors::safety()) {}
processor_list::processor_list(std::vector<processor_ptr> list) : list_(std::move(list)) {}
processor_list::processor_list(std::initializer_list<processor_ptr> list) : list_(list) {}
processor_list::processor_list(const processor_list& o) = default;
processor_list::processor_list(processor_list&& o) noexcept = default;
processor_list& processor_list::operator=(const processor_list& o) = default;
processor_list& processor_list::operator=(processor_list&& o) noexcept = default;
processor_list::~processor_list() = default;

} // namespace tracecraft
