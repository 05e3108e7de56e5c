// Processors of your own beside the shipped ones: a scrubber for internal ticket ids, an
// enricher adding the deployment's region, and a filter dropping health checks. Prints the
// kept traces and how many were dropped by whom.
#include <iostream>

#include <boost/asio.hpp>

#include "example_cli.hpp"
#include "tracecraft/exporters/console.hpp"
#include "tracecraft/tracecraft.hpp"

namespace {

/// Replaces internal ticket ids ("ACME-" and digits) in `value` by "[TICKET]" into `out`;
/// false when there is none.
bool scrub_tickets(std::string_view value, std::string& out) {
    bool hit = false;
    for (std::size_t i = 0; i < value.size();) {
        std::size_t j = i + 5;
        if (value.substr(i, 5) == "ACME-" && j < value.size() && value[j] >= '0' && value[j] <= '9') {
            while (j < value.size() && value[j] >= '0' && value[j] <= '9') ++j;
            out += "[TICKET]";
            i = j;
            hit = true;
        } else {
            out += value[i++];
        }
    }
    return hit;
}

/// Replaces internal ticket ids (ACME-1234) in every string a span carries.
struct ticket_scrubber final : tracecraft::trace_processor {
    std::string_view name() const noexcept override { return "ticket_scrubber"; }
    tracecraft::processor_verdict process(tracecraft::trace_editor& t) override {
        t.for_each_span([](tracecraft::span_editor& s) {
            s.rewrite_strings([](tracecraft::string_section, std::string_view /*key*/, std::string_view value,
                                 std::string& out) {
                return scrub_tickets(value, out);
            });
        });
        return tracecraft::processor_verdict::keep;
    }
};

/// Adds the deployment's region to every run; cheap and thread-safe, so it runs where the trace
/// completed, before the hand-off queue.
struct region_enricher final : tracecraft::trace_processor {
    std::string_view name() const noexcept override { return "region_enricher"; }
    bool runs_on_completing_thread() const noexcept override { return true; }
    tracecraft::processor_verdict process(tracecraft::trace_editor& t) override {
        if (t.has_root()) t.root().set_attribute("cloud.region", "eu-west-1");
        return tracecraft::processor_verdict::keep;
    }
};

/// Drops the load balancer's health checks.
struct drop_health_checks final : tracecraft::trace_processor {
    std::string_view name() const noexcept override { return "drop_health_checks"; }
    bool runs_on_completing_thread() const noexcept override { return true; }
    tracecraft::processor_verdict process(tracecraft::trace_editor& t) override {
        return t.has_root() && t.root().view().name() == "healthz" ? tracecraft::processor_verdict::drop
                                                                   : tracecraft::processor_verdict::keep;
    }
};

} // namespace

int demo(examples::cli& cli) {
    boost::asio::io_context ioc;
    tracecraft::trace_config cfg;   // processors: enrichment, tail sampling, redaction
    cfg.processors.insert(cfg.processors.begin(), std::make_shared<drop_health_checks>());
    cfg.processors.insert(cfg.processors.begin() + 1, std::make_shared<region_enricher>());
    cfg.processors.push_back(std::make_shared<ticket_scrubber>());   // after the built-in redaction
    tracecraft::console_options verbose;
    verbose.verbose = true;
    if (!cli.vars.count("no-console")) cfg.exporters.push_back(std::make_shared<tracecraft::console_exporter>(verbose));
    cli.add_exporters(cfg, /*console_default=*/false);
    auto rt = tracecraft::init(ioc, cfg);
    for (int i = 0; i < 3; ++i) tracecraft::run_scope health("healthz");
    {
        tracecraft::run_scope run("support_agent");
        run.set_input("question", "Status of ACME-4411? Reply to jane.doe@example.com");
        tracecraft::span_scope tool("ticket_lookup", tracecraft::span_kind::tool);
        tool.set_attribute("ticket", "ACME-4411").set_output("status", "ACME-4411 is waiting for ACME-17");
    }
    rt->shutdown();
    const auto st = rt->stats();
    std::cout << "kept " << st.traces_kept << " trace(s); dropped by a processor: " << st.traces_processor_dropped
              << "; processor failures: " << st.traces_processor_failed << "\n";
    examples::print_summary(std::cout, *rt);
    return 0;
}

int main(int argc, char** argv) {
    return examples::run(argc, argv, "custom_processors: your own processors beside the built-in ones (drop, enrich, scrub)",
                         nullptr, demo);
}
