// The library's spdlog logger "tracecraft" (created at warn level unless the program made one).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "tracecraft/log.hpp"

namespace tracecraft {

std::shared_ptr<spdlog::logger> logger() {
    static std::shared_ptr<spdlog::logger> l = [] {
        if (auto existing = spdlog::get("tracecraft")) return existing;
        auto created = spdlog::stderr_color_mt("tracecraft");
        created->set_level(spdlog::level::warn);
        return created;
    }();
    return l;
}

} // namespace tracecraft
