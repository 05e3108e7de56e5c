// Environment lookup shared by the TRACECRAFT_* and OTEL_* readers (private to the library).
#pragma once

#include <cstdlib>

#include "tracecraft/config_loader.hpp"

namespace tracecraft::detail {

/// `lookup` when set, else the process environment.
inline env_lookup env_or_process(const env_lookup& lookup) {
    return lookup ? lookup : env_lookup([](const char* n) { return std::getenv(n); });
}

} // namespace tracecraft::detail
