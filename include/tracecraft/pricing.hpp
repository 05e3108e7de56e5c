// TraceCraft C++ — model price table: cost of an LLM call from its token usage.
//
// Prices are USD per million input / output tokens, looked up by exact model name or by an
// explicit alias — never by prefix ("gpt-4o-mini" is not "gpt-4o"). The built-in table is
// data/model_prices.json compiled into the library; load your own with from_file/from_json and
// set it as trace_config::prices.
//
//   { "models":  { "gpt-4o": { "input_per_million": 2.5, "output_per_million": 10 } },
//     "aliases": { "gpt-4o-2024-08-06": "gpt-4o" } }
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tracecraft/config_error.hpp"

namespace tracecraft {

struct model_price {
    double input_per_million = 0;
    double output_per_million = 0;
};

class price_table {
public:
    price_table() = default;
    /// Parses a table; throws config_error naming the bad entry (unknown alias target,
    /// negative price, missing field).
    [[nodiscard]] static price_table from_json(std::string_view json_text);
    [[nodiscard]] static price_table from_file(const std::string& path);
    /// The table shipped with the library (data/model_prices.json).
    [[nodiscard]] static std::shared_ptr<const price_table> builtin();

    void set(std::string model, model_price price);
    void add_alias(std::string alias, std::string model);   ///< throws config_error if `model` is unknown

    /// Exact name first, then aliases; nullptr when the model is unknown.
    [[nodiscard]] const model_price* find(std::string_view model) const noexcept;
    /// USD for this usage; nullopt when the model is unknown.
    [[nodiscard]] std::optional<double> cost(std::string_view model, std::int64_t input_tokens,
                                             std::int64_t output_tokens) const noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return models_.size(); }

private:
    std::map<std::string, model_price, std::less<>> models_;
    std::map<std::string, std::string, std::less<>> aliases_;
};

} // namespace tracecraft
