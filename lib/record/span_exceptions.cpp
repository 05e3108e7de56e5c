// Exceptions and cancellation on spans: error.type, exception events, tracecraft.cancelled.
#include "tracecraft/span.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

#include <boost/asio/error.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/system/system_error.hpp>

#include "metrics/metric_probe.hpp"
#include "tracecraft/detail/span_record.hpp"

namespace tracecraft {

using namespace detail;

namespace {
std::string demangle(const char* mangled) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> p(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
    return status == 0 && p ? std::string(p.get()) : std::string(mangled);
}
} // namespace

bool is_cancellation(const std::exception& e) noexcept {
    const auto* se = dynamic_cast<const boost::system::system_error*>(&e);
    if (!se) return false;
    const boost::system::error_code& ec = se->code();
    return ec == boost::asio::error::operation_aborted ||
           ec == boost::asio::experimental::error::channel_cancelled ||
           ec == boost::system::errc::operation_canceled;
}

bool is_cancellation(std::exception_ptr e) noexcept {
    if (!e) return false;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return is_cancellation(x);
    } catch (...) {
    }
    return false;
}

namespace {
/// tracecraft.cancelled, a "cancelled" event naming what ended the span; never ERROR.
void mark_cancelled(span& s, span_record* r, std::string_view what) {
    r->flags |= span_flag_exception;
    s.set_attribute("tracecraft.cancelled", true);
    if (what.empty())
        s.add_event("cancelled");
    else
        s.add_event("cancelled", {{"exception.message", what}});
}
} // namespace

span& span::record_cancellation(std::exception_ptr e) {
    if (!rec_) return *this;
    std::string what;
    if (e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            what = x.what();
        } catch (...) {
        }
    }
    mark_cancelled(*this, rec_, what);
    return *this;
}

span& span::record_exception(const std::exception& e) {
    if (!rec_) {
        if (probe_ && !is_cancellation(e)) detail::probe_error(probe_, demangle(typeid(e).name()));
        return *this;
    }
    if (is_cancellation(e)) {
        mark_cancelled(*this, rec_, e.what());
        return *this;
    }
    const std::string type = demangle(typeid(e).name());
    add_event("exception", {{"exception.type", type}, {"exception.message", std::string_view(e.what())}});
    rec_->flags |= span_flag_exception;
    rec_->status = status_code::error;
    rec_->status_message = rec_->copy(e.what());
    set_attribute("error.type", type);
    return *this;
}

span& span::record_exception(std::exception_ptr ep) {
    if ((!rec_ && !probe_) || !ep) return *this;
    try {
        std::rethrow_exception(ep);
    } catch (const std::exception& e) {
        record_exception(e);
    } catch (...) {
        const std::type_info* ti = abi::__cxa_current_exception_type();
        const std::string type = ti ? demangle(ti->name()) : std::string("unknown");
        if (!rec_) {
            detail::probe_error(probe_, type);
            return *this;
        }
        add_event("exception", {{"exception.type", type}, {"exception.message", "non-standard exception"}});
        rec_->flags |= span_flag_exception;
        rec_->status = status_code::error;
        rec_->status_message = rec_->copy("non-standard exception: " + type);
        set_attribute("error.type", type);
    }
    return *this;
}

} // namespace tracecraft
