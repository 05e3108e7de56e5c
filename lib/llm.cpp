// LLM helpers: usage parsing, the price table, run-level enrichment, streamed LLM spans.
#include <cmath>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "runtime_core.hpp"
#include "tracecraft/config_loader.hpp"
#include "tracecraft/detail/trace_buffer.hpp"
#include "tracecraft/llm_stream.hpp"
#include "tracecraft/llm_usage.hpp"
#include "tracecraft/pricing.hpp"

namespace tracecraft {

namespace json = boost::json;

// ---- usage -----------------------------------------------------------------------------

namespace {

std::optional<std::int64_t> int_field(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
    return std::nullopt;
}

std::optional<token_usage> usage_of(const json::object& u) {
    token_usage out;
    bool any = false;
    for (auto [key, field] : {std::pair{"prompt_tokens", &token_usage::input_tokens}, std::pair{"input_tokens", &token_usage::input_tokens},
                              std::pair{"completion_tokens", &token_usage::output_tokens},
                              std::pair{"output_tokens", &token_usage::output_tokens}}) {
        if (auto v = int_field(u, key)) {
            out.*field = *v;
            any = true;
        }
    }
    if (!any) return std::nullopt;
    return out;
}

} // namespace

std::optional<token_usage> parse_usage(std::string_view text) {
    boost::system::error_code ec;
    const json::value doc = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec || !doc.is_object()) return std::nullopt;
    const json::object& o = doc.as_object();
    if (const auto* u = o.if_contains("usage"); u && u->is_object()) return usage_of(u->as_object());
    // Anthropic stream: {"type":"message_start","message":{"usage":{...}}}
    if (const auto* m = o.if_contains("message"); m && m->is_object())
        if (const auto* u = m->as_object().if_contains("usage"); u && u->is_object()) return usage_of(u->as_object());
    return std::nullopt;
}

std::int64_t estimate_tokens(std::string_view text) noexcept {
    if (text.empty()) return 0;
    return std::max<std::int64_t>(1, static_cast<std::int64_t>((text.size() + 3) / 4));
}

// ---- price table -----------------------------------------------------------------------

namespace {
const char* const builtin_prices_json =
#include "model_prices.inc"
    ;

double price_field(const json::object& o, std::string_view key, const std::string& model) {
    const json::value* v = o.if_contains(key);
    const std::string where = "prices.models." + model + "." + std::string(key);
    if (!v || !v->is_number()) throw config_error(where, "must be a number");
    const double d = v->to_number<double>();
    if (!(d >= 0) || !std::isfinite(d)) throw config_error(where, "must be >= 0");
    return d;
}
} // namespace

price_table price_table::from_json(std::string_view text) {
    boost::system::error_code ec;
    const json::value doc = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec) throw config_error("prices", "invalid JSON: " + ec.message());
    if (!doc.is_object()) throw config_error("prices", "must be a JSON object");
    price_table t;
    const auto* models = doc.as_object().if_contains("models");
    if (!models || !models->is_object()) throw config_error("prices.models", "must be an object of model -> prices");
    for (const auto& [name, v] : models->as_object()) {
        const std::string model(name);
        if (!v.is_object()) throw config_error("prices.models." + model, "must be an object");
        t.set(model, model_price{price_field(v.as_object(), "input_per_million", model),
                                 price_field(v.as_object(), "output_per_million", model)});
    }
    if (const auto* aliases = doc.as_object().if_contains("aliases")) {
        if (!aliases->is_object()) throw config_error("prices.aliases", "must be an object of alias -> model");
        for (const auto& [alias, target] : aliases->as_object()) {
            if (!target.is_string()) throw config_error("prices.aliases." + std::string(alias), "must name a model");
            t.add_alias(std::string(alias), std::string(target.as_string()));
        }
    }
    return t;
}

price_table price_table::from_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw config_error("prices", "cannot read '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    return from_json(ss.str());
}

std::shared_ptr<const price_table> price_table::builtin() {
    static const std::shared_ptr<const price_table> table = std::make_shared<const price_table>(from_json(builtin_prices_json));
    return table;
}

void price_table::set(std::string model, model_price price) { models_[std::move(model)] = price; }

void price_table::add_alias(std::string alias, std::string model) {
    if (!models_.count(model))
        throw config_error("prices.aliases." + alias, "refers to unknown model '" + model + "'");
    aliases_[std::move(alias)] = std::move(model);
}

const model_price* price_table::find(std::string_view model) const noexcept {
    if (auto it = models_.find(model); it != models_.end()) return &it->second;
    if (auto a = aliases_.find(model); a != aliases_.end())
        if (auto it = models_.find(a->second); it != models_.end()) return &it->second;
    return nullptr;
}

std::optional<double> price_table::cost(std::string_view model, std::int64_t in, std::int64_t out) const noexcept {
    const model_price* p = find(model);
    if (!p) return std::nullopt;
    return (static_cast<double>(in) * p->input_per_million + static_cast<double>(out) * p->output_per_million) / 1e6;
}

// ---- enrichment (on the thread that completes the trace, or the pipeline strand) -------

namespace detail {

void enrich_trace(trace_buffer* t, const price_table& prices) noexcept {
    std::int64_t in = 0, out = 0, errors = 0;
    double cost = 0;
    bool any_usage = false, any_cost = false, estimated = false;
    t->for_each_span([&](span_record& s) {
        if (s.status == status_code::error) ++errors;
        if (!(s.flags & span_flag_usage)) return;
        any_usage = true;
        const attr_entry* ei = s.attrs.find("gen_ai.usage.input_tokens");
        const attr_entry* eo = s.attrs.find("gen_ai.usage.output_tokens");
        const std::int64_t si = ei && ei->value.type() == value_type::int64 ? ei->value.as_int() : 0;
        const std::int64_t so = eo && eo->value.type() == value_type::int64 ? eo->value.as_int() : 0;
        in += si;
        out += so;
        if (const attr_entry* e = s.attrs.find("tracecraft.usage.estimated"); e && e->value.type() == value_type::boolean)
            estimated |= e->value.as_bool();
        if (const attr_entry* c = s.attrs.find("tracecraft.cost_usd"); c && c->value.type() == value_type::float64) {
            cost += c->value.as_double();   // set by the user: kept as is
            any_cost = true;
            return;
        }
        const attr_entry* m = s.attrs.find("gen_ai.response.model");
        if (!m || m->value.type() != value_type::string) m = s.attrs.find("gen_ai.request.model");
        if (!m || m->value.type() != value_type::string) return;
        if (const auto c = prices.cost(m->value.as_string(), si, so)) {
            append_attribute(&s, "tracecraft.cost_usd", value_view::of_double(*c));
            cost += *c;
            any_cost = true;
        }
    });
    span_record* root = t->root;
    if (!root || !(root->flags & span_flag_ended)) return;
    if (any_usage) {
        append_attribute(root, "tracecraft.run.input_tokens", value_view::of_int(in));
        append_attribute(root, "tracecraft.run.output_tokens", value_view::of_int(out));
        append_attribute(root, "tracecraft.run.total_tokens", value_view::of_int(in + out));
        if (estimated) append_attribute(root, "tracecraft.run.usage_estimated", value_view::of_bool(true));
    }
    if (any_cost) append_attribute(root, "tracecraft.run.cost_usd", value_view::of_double(cost));
    append_attribute(root, "tracecraft.run.error_count", value_view::of_int(errors));
}

} // namespace detail

// ---- streamed LLM spans ----------------------------------------------------------------

namespace {
span_options llm_span_options() {
    span_options o;
    o.kind = span_kind::llm;
    return o;
}
} // namespace

llm_stream::llm_stream(std::string_view name, llm_call_options options)
    : scope_(name, llm_span_options()), opt_(std::move(options)), start_(std::chrono::steady_clock::now()) {
    if (!opt_.model.empty()) scope_.set_model(opt_.model, opt_.provider);
}

llm_stream::~llm_stream() {
    if (done_) return;
    if (std::uncaught_exceptions() > uncaught_) close("stream abandoned by an exception", false);
    else close({}, true);
}

void llm_stream::on_chunk(const llm_chunk& c) {
    if (done_) return;
    const auto now = std::chrono::steady_clock::now();
    if (chunks_ == 0) first_ = now;
    ++chunks_;
    bytes_ += c.text.size();
    if (!c.text.empty()) {
        const std::size_t room = opt_.max_output_bytes > text_.size() ? opt_.max_output_bytes - text_.size() : 0;
        if (c.text.size() > room) truncated_ = true;
        text_.append(c.text, 0, std::min(room, c.text.size()));
    }
    if (c.usage) usage_ = c.usage;
    if (!c.finish_reason.empty()) finish_reason_ = c.finish_reason;
    if (!c.model.empty()) response_model_ = c.model;
}

void llm_stream::finish() { close({}, false); }
void llm_stream::fail(std::string_view error) { close(error.empty() ? std::string_view("stream failed") : error, false); }

void llm_stream::close(std::string_view error, bool stopped_early) {
    if (done_) return;
    done_ = true;
    span& s = scope_;
    const auto end = std::chrono::steady_clock::now();
    s.set_attribute("tracecraft.stream.chunks", static_cast<std::int64_t>(chunks_));
    s.set_attribute("tracecraft.stream.output_bytes", static_cast<std::int64_t>(bytes_));
    if (chunks_ > 0)
        s.set_attribute("gen_ai.response.time_to_first_chunk", std::chrono::duration<double>(first_ - start_).count());
    if (!response_model_.empty()) s.set_attribute("gen_ai.response.model", response_model_);
    if (!finish_reason_.empty()) s.set_attribute("gen_ai.response.finish_reasons", {std::string_view(finish_reason_)});
    token_usage u;
    if (usage_) {
        u = *usage_;
    } else {
        u.input_tokens = opt_.input_tokens_estimate;
        u.output_tokens = estimate_tokens(text_);
        u.estimated = true;
    }
    if (chunks_ > 0 || usage_) s.set_usage(u);
    if (chunks_ > 1 && u.output_tokens > 0) {
        const double secs = std::chrono::duration<double>(end - first_).count();
        if (secs > 0) s.set_attribute("tracecraft.stream.tokens_per_second", static_cast<double>(u.output_tokens) / secs);
    }
    s.set_output("completion", text_);
    if (truncated_) s.set_attribute("tracecraft.stream.output_truncated", true);
    if (stopped_early) s.set_attribute("tracecraft.stream.stopped_early", true);
    if (!error.empty()) {
        s.set_attribute("error.type", "stream_error");
        s.set_status(status_code::error, error);
    }
}

} // namespace tracecraft
