// TraceCraft C++ — library diagnostics.
//
// The library logs through one named spdlog logger, "tracecraft" (created on first use with a
// stderr sink at level warn). Set its level, or register your own logger under that name
// before first use, to control it. The hot path never logs per span: repeated conditions are
// logged once and counted in runtime_stats.
#pragma once

#include <memory>

namespace spdlog {
class logger;
}

namespace tracecraft {

/// The "tracecraft" logger.
[[nodiscard]] std::shared_ptr<spdlog::logger> logger();

} // namespace tracecraft
