// The model price table: built-in prices (data/model_prices.json), JSON files, aliases, cost.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "tracecraft/config_error.hpp"
#include "tracecraft/pricing.hpp"

namespace tracecraft {

namespace json = boost::json;
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
    std::error_code fec;
    const auto st = std::filesystem::status(path, fec);
    if (fec || !std::filesystem::is_regular_file(st))   // a FIFO would block, /dev/zero never ends
        throw config_error("prices", "cannot read " + config_error::quote(path, 256) + ": not a regular file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw config_error("prices", "cannot read " + config_error::quote(path, 256));
    constexpr std::size_t limit = 16 << 20;
    std::string text(limit + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > limit) throw config_error("prices", config_error::quote(path, 256) + " is larger than 16 MiB");
    return from_json(text);
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
} // namespace tracecraft
