// TraceCraft C++ — the exception thrown for invalid configuration.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace tracecraft {

/// Thrown for invalid configuration; what() is "<field>: <problem>", field() the field alone
/// (e.g. "sampling.rules[2].rate", "OTEL_EXPORTER_OTLP_TIMEOUT", "processors[1]").
class config_error : public std::invalid_argument {
public:
    config_error(const std::string& field, const std::string& problem)
        : std::invalid_argument(field + ": " + problem), field_(field) {}
    [[nodiscard]] const std::string& field() const noexcept { return field_; }

    /// `value` as it may appear in a message: in single quotes, at most `max_bytes` of it, control
    /// bytes, quotes, backslashes and bytes that are not valid UTF-8 escaped (\n, \x1b), and
    /// "... (N bytes)" when cut. A 1 MiB input with ESC bytes never becomes a 1 MiB message.
    [[nodiscard]] static std::string quote(std::string_view value, std::size_t max_bytes = 64);

private:
    std::string field_;
};

} // namespace tracecraft
