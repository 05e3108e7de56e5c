// failure_log: first of each kind at warn, then rate-limited summaries.
#include "export/delivery/failure_log.hpp"

#include <spdlog/spdlog.h>

#include "tracecraft/log.hpp"

namespace tracecraft::detail {

namespace {
constexpr const char* kind_text[] = {"retried",       "given up after retrying", "refused (permanent error)",
                                     "rejected by the receiver (partial success)",
                                     "dropped for queue room or at shutdown", "dropped from the spool (byte limit)",
                                     "skipped as corrupt in the spool"};
} // namespace

failure_log::failure_log(std::string subject, std::chrono::nanoseconds period) : subject_(std::move(subject)), period_(period) {}

void failure_log::record(kind k, std::uint64_t spans, std::string_view status) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lk(m_);
    if (!said_[k]) {
        said_[k] = true;
        logger()->warn("{}: {} spans {} ({}); said again at most every {} s with the counts",
                       subject_, spans, kind_text[k], status,
                       std::chrono::duration_cast<std::chrono::seconds>(period_).count());
        if (last_line_ == std::chrono::steady_clock::time_point{}) last_line_ = now;
        return;
    }
    ++events_[k];
    spans_[k] += spans;
    last_status_[k].assign(status);
    unsaid_ = true;
    if (now - last_line_ >= period_) say_summary_locked(now);
}

void failure_log::flush() {
    std::lock_guard lk(m_);
    if (unsaid_) say_summary_locked(std::chrono::steady_clock::now());
}

void failure_log::say_summary_locked(std::chrono::steady_clock::time_point now) {
    std::string text;
    for (unsigned k = 0; k < kinds; ++k) {
        if (!events_[k]) continue;
        if (!text.empty()) text += "; ";
        text += fmt::format("{} spans {} in {} batches (last: {})", spans_[k], kind_text[k], events_[k], last_status_[k]);
        events_[k] = spans_[k] = 0;
    }
    last_line_ = now;
    unsaid_ = false;
    if (!text.empty()) logger()->warn("{}: since the last report: {}", subject_, text);
}

} // namespace tracecraft::detail
