// TraceCraft C++ — trace processors: the pipeline's pluggable stages between a finished trace
// and the exporters.
//
// A processor receives each finished trace in turn and keeps it (possibly modified) or drops
// it. trace_config::processors lists them in order; the shipped ones are processors like any
// other: enrichment (cost, run totals), tail sampling and redaction. A user processor is one
// class and one line of configuration:
//
//   struct drop_health_checks final : tracecraft::trace_processor {
//       std::string_view name() const noexcept override { return "drop_health_checks"; }
//       tracecraft::processor_verdict process(tracecraft::trace_editor& t) override {
//           return t.has_root() && t.root().view().name() == "healthz" ? tracecraft::processor_verdict::drop
//                                                                      : tracecraft::processor_verdict::keep;
//       }
//   };
//   cfg.processors.push_back(std::make_shared<drop_health_checks>());
//
// Where processors run: on the pipeline strand (a strand of the runtime's io_context, tracing
// suppressed), one trace at a time, never concurrently with each other. A processor that says
// runs_on_completing_thread() (thread-safe, cheap, synchronous — the shipped enrichment and
// tail sampler) runs instead on the thread that ended the trace's last span, before the
// hand-off queue, as long as every processor before it does too; a trace it drops then never
// takes queue space. The head sampling decision (the rate, at a trace's first span) is not a
// processor: it stays on the span's hot path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "tracecraft/span.hpp"
#include "tracecraft/span_data.hpp"

namespace tracecraft {

struct trace_config;

namespace detail {
struct span_record;
struct trace_buffer;
struct runtime_core;
struct processor_access;
} // namespace detail

/// What a processor decided for a trace.
enum class processor_verdict : std::uint8_t {
    keep,    ///< pass the trace on to the next processor (then to the exporters)
    drop,    ///< release it; counted in runtime_stats (traces_sampled_out for the tail sampler,
             ///< traces_processor_dropped otherwise)
    defer,   ///< from process(): continue in async_process() (on the pipeline strand)
};

/// Where a string value sits in a span, for string_rewriter.
enum class string_section : std::uint8_t { attributes, inputs, outputs, events, status };

/// Called for each string value of a span: the section, the attribute (or input/output/event
/// attribute) key — empty for the status message — and the value; set `out` and return true to
/// replace the value. String arrays are visited element by element under their key.
using string_rewriter =
    std::function<bool(string_section section, std::string_view key, std::string_view value, std::string& out)>;

/// Write access to one finished span of a trace being processed.
class span_editor {
public:
    [[nodiscard]] span_view view() const noexcept;
    /// Adds an attribute (a later value of the same key wins when exported). Not subject to
    /// max_attributes_per_span: processors add derived data.
    span_editor& set_attribute(std::string_view key, const attribute_arg& value);
    /// Replaces string values through `f` (see string_rewriter); returns how many changed.
    std::size_t rewrite_strings(const string_rewriter& f);

private:
    friend class trace_editor;
    friend struct detail::processor_access;
    span_editor(detail::span_record* r, detail::trace_buffer* t) noexcept : r_(r), t_(t) {}
    detail::span_record* r_;
    detail::trace_buffer* t_;
};

/// A finished trace as a processor sees it: read through view(), modified through its spans.
class trace_editor {
public:
    [[nodiscard]] trace_view view() const noexcept;
    [[nodiscard]] trace_id id() const noexcept;
    [[nodiscard]] std::size_t span_count() const noexcept;
    /// True when some span has status ERROR.
    [[nodiscard]] bool has_error() const noexcept;
    [[nodiscard]] bool has_root() const noexcept;
    /// The local root span (check has_root() first).
    [[nodiscard]] span_editor root() noexcept;
    /// f(span_editor&) for every span; order unspecified.
    void for_each_span(const std::function<void(span_editor&)>& f);

private:
    friend struct detail::processor_access;
    explicit trace_editor(detail::trace_buffer* t) noexcept : t_(t) {}
    detail::trace_buffer* t_;
};

/// What a processor is given by each runtime that uses it.
class processor_context {
public:
    /// The runtime's configuration (validated).
    [[nodiscard]] const trace_config& config() const noexcept { return cfg_; }
    /// The pipeline strand, for timers and I/O of asynchronous processors.
    [[nodiscard]] const boost::asio::any_io_executor& executor() const noexcept { return ex_; }

private:
    friend struct detail::processor_access;
    processor_context(const trace_config& c, boost::asio::any_io_executor ex, detail::runtime_core* core) noexcept
        : cfg_(c), ex_(std::move(ex)), core_(core) {}
    const trace_config& cfg_;
    boost::asio::any_io_executor ex_;
    detail::runtime_core* core_;
};

class trace_processor {
public:
    virtual ~trace_processor() = default;
    [[nodiscard]] virtual std::string_view name() const noexcept = 0;

    /// Called once by each runtime that lists this processor, when the runtime is created.
    /// Returns the instance that runtime calls: `self` (the default; one instance then serves
    /// every runtime that lists it, so it must tolerate calls from several strands), a new
    /// instance bound to the runtime's configuration (the shipped processors do this), or null
    /// to take no part in this runtime. May throw config_error.
    virtual std::shared_ptr<trace_processor> bind(const processor_context& ctx, std::shared_ptr<trace_processor> self) {
        (void)ctx;
        return self;
    }
    /// Called once on the pipeline strand when a runtime using this instance shuts down, after
    /// the last trace. Drop every executor, timer and I/O object of the io_context here: the
    /// processor may outlive it (a trace_config holding it often does).
    virtual void shutdown() {}
    /// True if process() is thread-safe, cheap and never returns defer: it may then run on the
    /// thread that completed the trace (see the header comment). Default false.
    [[nodiscard]] virtual bool runs_on_completing_thread() const noexcept { return false; }

    /// Synchronous processing, the common case. Return defer to continue in async_process().
    virtual processor_verdict process(trace_editor& trace) {
        (void)trace;
        return processor_verdict::defer;
    }
    /// Asynchronous processing on the pipeline strand (await timers, I/O; yield with
    /// asio::post for long work). Called when process() returned defer; the default keeps the
    /// trace. Returning defer from here means keep. An exception (from either function) drops
    /// the trace: counted in runtime_stats::traces_processor_failed and logged at warn.
    virtual boost::asio::awaitable<processor_verdict> async_process(trace_editor& trace);
};

using processor_ptr = std::shared_ptr<trace_processor>;

/// An ordered list of processors: trace_config::processors. A vector with the operations a
/// configuration needs; default-constructed it is processors::safety().
class processor_list {
public:
    using iterator = std::vector<processor_ptr>::iterator;
    using const_iterator = std::vector<processor_ptr>::const_iterator;

    processor_list();   ///< processors::safety()
    processor_list(std::vector<processor_ptr> list);
    processor_list(std::initializer_list<processor_ptr> list);
    // Out of line (lib/pipeline/processing.cpp): a trace_config copied or destroyed in user code
    // stays small code.
    processor_list(const processor_list& o);
    processor_list(processor_list&& o) noexcept;
    processor_list& operator=(const processor_list& o);
    processor_list& operator=(processor_list&& o) noexcept;
    ~processor_list();

    void push_back(processor_ptr p) { list_.push_back(std::move(p)); }
    iterator insert(const_iterator pos, processor_ptr p) { return list_.insert(pos, std::move(p)); }
    iterator erase(const_iterator pos) { return list_.erase(pos); }
    void clear() noexcept { list_.clear(); }
    [[nodiscard]] std::size_t size() const noexcept { return list_.size(); }
    [[nodiscard]] bool empty() const noexcept { return list_.empty(); }
    [[nodiscard]] const processor_ptr& operator[](std::size_t i) const noexcept { return list_[i]; }
    [[nodiscard]] iterator begin() noexcept { return list_.begin(); }
    [[nodiscard]] iterator end() noexcept { return list_.end(); }
    [[nodiscard]] const_iterator begin() const noexcept { return list_.begin(); }
    [[nodiscard]] const_iterator end() const noexcept { return list_.end(); }

private:
    std::vector<processor_ptr> list_;
};

/// The shipped processors and the two ready-made orders. Each reads its settings from the
/// runtime's trace_config when the runtime binds it (one list may serve several runtimes).
namespace processors {
/// tracecraft.cost_usd on LLM spans with a model and usage (prices from trace_config::prices,
/// else the built-in table) and tracecraft.run.* totals on the root span; takes no part when
/// trace_config::enrich is false. Runs on the completing thread.
[[nodiscard]] processor_ptr enrichment();
/// trace_config::sampling's tail rules: always_keep_errors, always_keep_slow, rules, then the
/// default rate. Takes no part when no tail decision is configured (the head rate decides
/// alone). Runs on the completing thread; calls trace_config::on_sampled_out for drops.
[[nodiscard]] processor_ptr tail_sampling();
/// trace_config::redaction over every string a span carries; takes no part when disabled.
/// Runs on the pipeline strand (yields on long values); a span whose scan fails is masked.
[[nodiscard]] processor_ptr redaction();
/// enrichment → tail_sampling → redaction (the default): tail rules and on_sampled_out see cost
/// and totals.
[[nodiscard]] processor_list safety();
/// tail_sampling → enrichment → redaction: dropped traces are never enriched.
[[nodiscard]] processor_list efficiency();
} // namespace processors

} // namespace tracecraft
