// retrying_exporter: the shared retry loop (export/delivery/retry.cpp) around the inner export.
#include "export/delivery/retry.hpp"
#include "export/stages/stage_core.hpp"

namespace tracecraft {

namespace asio = boost::asio;

namespace detail {
struct retry_state : stage_core, retry_observer {
    retry_policy policy;
    void on_retry(const export_result&, std::chrono::milliseconds) override {
        retries.fetch_add(1, std::memory_order_relaxed);
    }
};

namespace {
asio::awaitable<attempt_result> attempt_inner(std::shared_ptr<retry_state> st, span_batch batch) {
    attempt_result a;
    if (st->stopping.load(std::memory_order_relaxed)) {
        a.result = export_result::failure("retrying_exporter: shut down", false);
        co_return a;
    }
    a.result = co_await st->inner->export_batch(std::move(batch));   // exceptions: run_with_retries
    co_return a;
}
} // namespace
} // namespace detail

retrying_exporter::retrying_exporter(exporter_ptr inner, retry_policy policy)
    : export_stage(std::move(inner), "retrying_exporter"), st_(detail::make_stage_state<detail::retry_state>(this->inner())) {
    policy.validate("retrying_exporter.policy");
    st_->policy = policy;
    core_ = st_;
}
retrying_exporter::~retrying_exporter() = default;

boost::asio::awaitable<export_result> retrying_exporter::export_batch(span_batch batch) {
    auto st = st_;
    detail::attempt_fn attempt = [st, batch]() { return detail::attempt_inner(st, batch); };
    export_result r = co_await detail::run_with_retries(st->policy, st->ex, attempt, st.get(), st->ioc);
    st->count(batch, r);
    co_return r;
}

} // namespace tracecraft
