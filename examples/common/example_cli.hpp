// What every example program shares: its command line (Boost.Program_options) with the
// exporter options, the standard OTEL_* configuration, a closing summary that prints every
// counter of loss, and one-line errors with exit status 2 for bad input.
//
//   int main(int argc, char** argv) {
//       return examples::run(argc, argv, "agent_demo: ...", [](examples::cli& cli) {
//           cli.options.add_options()("runs", po::value<int>()->default_value(3), "agent runs");
//       }, [](examples::cli& cli) { ...; return 0; });
//   }
#pragma once

#include <functional>
#include <iosfwd>
#include <string>

#include <boost/program_options.hpp>

#include "tracecraft/config.hpp"
#include "tracecraft/runtime.hpp"

namespace examples {

namespace po = boost::program_options;

struct cli {
    po::options_description options{"Options"};
    po::positional_options_description positional;
    po::variables_map vars;

    /// --otlp URL (or OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT): an OTLP/HTTP exporter with the
    /// OTEL_EXPORTER_OTLP_* settings; --spool DIR; --jsonl FILE; --console / --no-console.
    /// `console_default`: whether traces are printed unless --no-console.
    void add_exporters(tracecraft::trace_config& cfg, bool console_default = true) const;
};

/// The URL of the traces endpoint for --otlp: a URL without a path gets /v1/traces (as
/// OTEL_EXPORTER_OTLP_ENDPOINT does); one with a path is used as is. Throws config_error for
/// anything but an http:// or https:// URL with a host.
std::string otlp_traces_url(const std::string& url);

/// Prints every counter of loss and delivery of `rt` (one block, for a closing summary).
void print_summary(std::ostream& out, const tracecraft::runtime& rt);

/// Parses the command line (with the exporter options and --help, which also lists the
/// environment variables honoured), then runs `body`. Bad options or configuration: one line
/// on stderr, exit status 2. Any other exception: one line, exit status 1.
/// `tracing_options`: false for a program that does not trace (no exporter options).
int run(int argc, char** argv, const std::string& description, const std::function<void(cli&)>& declare,
        const std::function<int(cli&)>& body, bool tracing_options = true);

} // namespace examples
