// The enrichment processor: LLM cost from the price table on spans with a model and usage,
// and the run totals (tokens, cost, errors) on the root span. Runs on the completing thread and
// touches only traces with token usage or errors: others pay one test.
#include "record/view_access.hpp"
#include "pipeline/enrichment.hpp"

#include "pipeline/processor_access.hpp"
#include "record/view_access.hpp"
#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/pricing.hpp"
#include "tracecraft/processor.hpp"
#include "llm/token_counts.hpp"

namespace tracecraft {

namespace detail {

namespace {

/// The attributes enrichment reads, found in one walk of a span's list (last write wins).
struct usage_keys {
    const attr_entry *in = nullptr, *out = nullptr, *estimated = nullptr, *cost = nullptr;
    const attr_entry *response_model = nullptr, *request_model = nullptr;

    explicit usage_keys(const span_record& s) noexcept {
        s.attrs.for_each([&](const attr_entry& e) {
            const std::string_view k = e.key.view();
            if (k.size() < 19 || (k[0] != 'g' && k[0] != 't')) return;   // cheap reject
            if (k == "gen_ai.usage.input_tokens") in = &e;
            else if (k == "gen_ai.usage.output_tokens") out = &e;
            else if (k == "tracecraft.usage.estimated") estimated = &e;
            else if (k == "tracecraft.cost_usd") cost = &e;
            else if (k == "gen_ai.response.model") response_model = &e;
            else if (k == "gen_ai.request.model") request_model = &e;
        });
    }
    static bool is(const attr_entry* e, value_type t) noexcept { return e && e->value.type() == t; }
};

/// Adds span `s` to the totals; with `prices`, first prices a span with recorded usage and a
/// known model that has no cost of its own (tracecraft.cost_usd).
void add_span(span_record& s, run_totals& r, const price_table* prices) noexcept {
    if (s.status == status_code::error) ++r.error_count;
    const usage_keys k(s);
    const bool in = usage_keys::is(k.in, value_type::int64), out = usage_keys::is(k.out, value_type::int64);
    if (in || out) {
        r.any_usage = true;
        // set_attribute can bypass set_tokens' clamp: negative counts add nothing, sums saturate
        if (in) r.input_tokens = add_tokens(r.input_tokens, std::max<std::int64_t>(0, k.in->value.as_int()));
        if (out) r.output_tokens = add_tokens(r.output_tokens, std::max<std::int64_t>(0, k.out->value.as_int()));
        r.estimated |= usage_keys::is(k.estimated, value_type::boolean) && k.estimated->value.as_bool();
    }
    if (usage_keys::is(k.cost, value_type::float64)) {   // set by the user (or an earlier pass): kept
        r.cost_usd += k.cost->value.as_double();
        r.any_cost = true;
        return;
    }
    if (!prices || !(s.flags & span_flag_usage)) return;
    const attr_entry* m = usage_keys::is(k.response_model, value_type::string) ? k.response_model : k.request_model;
    if (!usage_keys::is(m, value_type::string)) return;
    if (const auto c = prices->cost(m->value.as_string(), in ? std::max<std::int64_t>(0, k.in->value.as_int()) : 0,
                                       out ? std::max<std::int64_t>(0, k.out->value.as_int()) : 0)) {
        append_attribute(&s, "tracecraft.cost_usd", value_view::of_double(*c));
        r.cost_usd += *c;
        r.any_cost = true;
    }
}

run_totals sum_trace(const trace_buffer& t, const price_table* prices) noexcept {
    run_totals r;
    t.for_each_span([&](span_record& s) { add_span(s, r, prices); });
    return r;
}

} // namespace

run_totals compute_run_totals(const trace_view& t) noexcept {
    return sum_trace(*view_access::buffer(t), nullptr);   // without prices nothing is written
}

run_totals run_totals_of(const trace_view& t) noexcept {
    if (t.has_root()) {
        const attribute_range a = t.root().attributes();
        if (const value_view errors = a.find("tracecraft.run.error_count"); errors.type() == value_type::int64) {
            run_totals r;
            r.error_count = errors.as_int();
            const value_view in = a.find("tracecraft.run.input_tokens"), out = a.find("tracecraft.run.output_tokens");
            r.any_usage = in.type() == value_type::int64;
            if (r.any_usage) r.input_tokens = in.as_int();
            if (out.type() == value_type::int64) r.output_tokens = out.as_int();
            if (const value_view c = a.find("tracecraft.run.cost_usd"); c.type() == value_type::float64) {
                r.cost_usd = c.as_double();
                r.any_cost = true;
            }
            return r;
        }
    }
    return compute_run_totals(t);
}

namespace {

class enrichment_processor final : public trace_processor {
public:
    explicit enrichment_processor(std::shared_ptr<const price_table> prices) : prices_(std::move(prices)) {}

    std::string_view name() const noexcept override { return "enrichment"; }
    processor_ptr bind(const processor_context& ctx, processor_ptr) override {
        const trace_config& cfg = ctx.config();
        if (!cfg.enrich) return nullptr;
        return std::make_shared<enrichment_processor>(cfg.prices ? cfg.prices : price_table::builtin());
    }
    bool runs_on_completing_thread() const noexcept override { return true; }

    processor_verdict process(trace_editor& trace) override {
        trace_buffer* t = processor_access::buffer(trace);
        if (!t->has_error.load(std::memory_order_relaxed) && !(t->span_flags & span_flag_usage))
            return processor_verdict::keep;
        const run_totals r = sum_trace(*t, prices_.get());   // prices LLM spans on the way
        span_record* root = t->root;
        if (!root || !(root->flags & span_flag_ended)) return processor_verdict::keep;
        if (r.any_usage) {
            append_attribute(root, "tracecraft.run.input_tokens", value_view::of_int(r.input_tokens));
            append_attribute(root, "tracecraft.run.output_tokens", value_view::of_int(r.output_tokens));
            append_attribute(root, "tracecraft.run.total_tokens", value_view::of_int(add_tokens(r.input_tokens, r.output_tokens)));
            if (r.estimated) append_attribute(root, "tracecraft.run.usage_estimated", value_view::of_bool(true));
        }
        if (r.any_cost) append_attribute(root, "tracecraft.run.cost_usd", value_view::of_double(r.cost_usd));
        append_attribute(root, "tracecraft.run.error_count", value_view::of_int(r.error_count));
        return processor_verdict::keep;
    }

private:
    std::shared_ptr<const price_table> prices_;
};

} // namespace
} // namespace detail

processor_ptr processors::enrichment() { return std::make_shared<detail::enrichment_processor>(nullptr); }

} // namespace tracecraft
