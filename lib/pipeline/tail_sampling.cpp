// Sampling after the head decision: the tail sampler (a processor: errors, slow traces, rules,
// then the default rate) and the 56-bit rate rule it shares with the head decision at a trace's
// first span (record/span_scope.cpp). Sample reasons are formatted only when asked for.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "record/view_access.hpp"
#include "pipeline/processor_access.hpp"
#include "pipeline/runtime_core.hpp"
#include "tracecraft/detail/clock.hpp"
#include "tracecraft/span_data.hpp"

namespace tracecraft {

namespace detail {

std::uint64_t rate_to_threshold(double rate) noexcept {
    if (!(rate > 0.0)) return 0;
    if (rate >= 1.0) return 1ull << 56;
    return static_cast<std::uint64_t>(std::ldexp(rate, 56));
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
class tail_sampling_processor final : public trace_processor {
public:
    tail_sampling_processor() = default;   // unbound: what processors::tail_sampling() lists
    explicit tail_sampling_processor(const trace_config& cfg)
        : cfg_(&cfg), rate_threshold_(rate_to_threshold(cfg.sampling.rate)) {
        for (const auto& r : cfg.sampling.rules) rule_thresholds_.push_back(rate_to_threshold(r.rate));
    }

    std::string_view name() const noexcept override { return "tail_sampling"; }
    processor_ptr bind(const processor_context& ctx, processor_ptr) override {
        const sampling_config& s = ctx.config().sampling;
        const bool rate_all = s.rate >= 1.0;
        // without rules, a rate of 1 keeps everything and a lower one needs no whole trace
        // unless errors or slow traces are kept regardless: the head decision is then final
        if (s.rules.empty() && (rate_all || (!s.always_keep_errors && !s.always_keep_slow))) return nullptr;
        processor_access::core(ctx)->tail_enabled = true;   // record every trace: decided here
        return std::make_shared<tail_sampling_processor>(ctx.config());
    }
    bool runs_on_completing_thread() const noexcept override { return true; }

    processor_verdict process(trace_editor& trace) override {
        trace_buffer* t = processor_access::buffer(trace);
        if (t->head != head_decision::tail || !cfg_ || keep(t)) return processor_verdict::keep;
        if (cfg_->on_sampled_out) {
            try {
                cfg_->on_sampled_out(view_access::trace(t));
            } catch (...) {
            }
        }
        return processor_verdict::drop;
    }

private:
    /// The tail decision; records its reason on `t`.
    bool keep(trace_buffer* t) const noexcept {
        const sampling_config& s = cfg_->sampling;
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
            return decide(sample_reason_code::rule_keep, sample_reason_code::rule_drop, rule_thresholds_[i]);
        }
        return decide(sample_reason_code::default_keep, sample_reason_code::default_drop, rate_threshold_);
    }

    const trace_config* cfg_ = nullptr;   ///< the runtime's (it outlives its processors)
    std::uint64_t rate_threshold_ = 0;
    std::vector<std::uint64_t> rule_thresholds_;
};

} // namespace

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

} // namespace detail

processor_ptr processors::tail_sampling() {
    return std::make_shared<detail::tail_sampling_processor>();
}

std::string trace_view::sample_reason() const { return detail::format_sample_reason(t_, t_->rt->cfg); }

} // namespace tracecraft
