// A timer wait that does not keep io_context::run() from returning (private to the library).
//
// The pipeline's background waits (a retry's backoff, the spool sender idling) must not hold
// a user's `ioc.run(); rt->shutdown();` for minutes: like the batch timer, the pending wait
// gives its unit of outstanding work back while it waits and takes it again when it completes.
// If run() returns meanwhile, shutdown() (which runs the io_context itself) finishes the work.
// The handler's associated executor and cancellation slot are kept.
#pragma once

#include <utility>

#include <boost/asio/cancellation_signal.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/require.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tracecraft::detail {

/// A timer on the io_context's own executor type: its pending wait is one unit of outstanding
/// work (a timer on a strand or an any_io_executor makes Asio track the handler's executor too).
using background_timer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                           boost::asio::wait_traits<std::chrono::steady_clock>,
                                                           boost::asio::io_context::executor_type>;

/// Waits on `timer` (made on `ioc`'s executor) without counting as outstanding work.
template <class Token>
auto async_background_wait(background_timer& timer, boost::asio::io_context* ioc, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [&timer, ioc](auto handler) {
            // The handler given to the timer is a plain function (no associated executor, no
            // bound cancellation slot: either would make Asio track an executor's work for it),
            // so only the timer operation counts, and that is given back below. Cancellation of
            // the caller's slot cancels the timer; the caller's handler is dispatched to its
            // own executor.
            auto slot = boost::asio::get_associated_cancellation_slot(handler);
            auto ex = boost::asio::get_associated_executor(handler, timer.get_executor());
            if (slot.is_connected()) slot.assign([&timer](boost::asio::cancellation_type) { timer.cancel(); });
            timer.async_wait([h = std::move(handler), ex, ioc, slot](boost::system::error_code ec) mutable {
                ioc->get_executor().on_work_started();   // gives back what the initiation took
                if (slot.is_connected()) slot.clear();
                boost::asio::dispatch(ex, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
            });
            ioc->get_executor().on_work_finished();   // never zero here: the caller's handler is outstanding work
        },
        token);
}

/// An executor that runs everything on `inner` but does not track outstanding work: co_spawn
/// on it keeps no work guard, so a long-lived pipeline coroutine (the delivery loop, the spool
/// sender) holds io_context::run() only through its actual I/O, never while it waits.
class untracked_executor {
public:
    /// (A factory, not a constructor from any_io_executor: that one would take part in
    /// any_io_executor's own conversion checks and make them recursive.)
    static untracked_executor wrap(const boost::asio::any_io_executor& inner) {
        return untracked_executor(tag{}, boost::asio::require(inner, boost::asio::execution::blocking.never));
    }

    boost::asio::execution_context& query(boost::asio::execution::context_t) const noexcept {
        return boost::asio::query(inner_, boost::asio::execution::context);
    }
    static constexpr boost::asio::execution::blocking_t query(boost::asio::execution::blocking_t) noexcept {
        return boost::asio::execution::blocking.never;
    }
    untracked_executor require(boost::asio::execution::blocking_t::never_t) const noexcept { return *this; }
    template <class F>
    void execute(F&& f) const {
        inner_.execute(std::forward<F>(f));
    }
    friend bool operator==(const untracked_executor& a, const untracked_executor& b) noexcept { return a.inner_ == b.inner_; }
    friend bool operator!=(const untracked_executor& a, const untracked_executor& b) noexcept { return !(a == b); }

private:
    struct tag {};
    untracked_executor(tag, boost::asio::any_io_executor inner) : inner_(std::move(inner)) {}
    boost::asio::any_io_executor inner_;
};

/// A completion handler `f` with the cancellation slot `slot` and no associated executor, for
/// co_spawn on an untracked_executor. asio::bind_cancellation_slot would not do: its binder
/// forwards the executor association, so co_spawn then delivers an emitted cancellation through
/// a dispatch to the coroutine's executor, which for a never-blocking executor is a post. The
/// cancellation then lands on whatever the coroutine awaits next — possibly after the operation
/// it was meant for has completed, cancelling the next one instead. With this handler co_spawn
/// forwards emit() at once; emit only on the coroutine's own strand.
template <class F>
class slot_handler {
public:
    using cancellation_slot_type = boost::asio::cancellation_slot;
    slot_handler(boost::asio::cancellation_slot slot, F f) : slot_(slot), f_(std::move(f)) {}
    cancellation_slot_type get_cancellation_slot() const noexcept { return slot_; }
    template <class... Args>
    void operator()(Args&&... args) {
        f_(std::forward<Args>(args)...);
    }

private:
    boost::asio::cancellation_slot slot_;
    F f_;
};

template <class F>
slot_handler<F> with_cancellation_slot(boost::asio::cancellation_slot slot, F f) {
    return slot_handler<F>(slot, std::move(f));
}

} // namespace tracecraft::detail
