// TraceCraft C++ — the exception thrown for invalid configuration.
#pragma once

#include <stdexcept>
#include <string>

namespace tracecraft {

/// Thrown for invalid configuration; what() is "<field>: <problem>", field() the field alone
/// (e.g. "sampling.rules[2].rate", "OTEL_EXPORTER_OTLP_TIMEOUT", "processors[1]").
class config_error : public std::invalid_argument {
public:
    config_error(const std::string& field, const std::string& problem)
        : std::invalid_argument(field + ": " + problem), field_(field) {}
    [[nodiscard]] const std::string& field() const noexcept { return field_; }

private:
    std::string field_;
};

} // namespace tracecraft
