// The examples' shared command line, exporters, summary and error handling.
#include "example_cli.hpp"

#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>

#include "tracecraft/config_loader.hpp"
#include "tracecraft/exporters/console.hpp"
#include "tracecraft/exporters/jsonl.hpp"
#include "tracecraft/exporters/otlp_http.hpp"
#include "tracecraft/log.hpp"

#include <spdlog/spdlog.h>

namespace examples {

namespace {

const char* const environment_help =
    "Environment:\n"
    "  OTEL_EXPORTER_OTLP_ENDPOINT            turns on OTLP/HTTP export (base URL; /v1/traces is appended)\n"
    "  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT     the same, used as is (wins over the generic one)\n"
    "  OTEL_EXPORTER_OTLP_[TRACES_]HEADERS, _PROTOCOL (http/protobuf|http/json), _COMPRESSION (gzip|none),\n"
    "  OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT, _CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY\n"
    "  OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES\n"
    "  TRACECRAFT_SPOOL_DIR, TRACECRAFT_SPOOL_MAX_BYTES, TRACECRAFT_SPOOL_FSYNC   disk spool of the OTLP exporter\n"
    "  OTEL_METRICS_EXPORTER=none, OTEL_METRIC_EXPORT_INTERVAL, OTEL_EXPORTER_OTLP_METRICS_*   GenAI metrics export\n"
    "  OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT   prompts and completions on spans (true|false)\n"
    "  TRACECRAFT_SAMPLING_RATE, TRACECRAFT_METRICS, ...   every trace_config variable (tracecraft/config_loader.hpp)\n"
    "  TRACECRAFT_LOG_LEVEL                   the tracecraft logger's level (trace..off)\n";

bool has_env(const char* name) {
    const char* v = std::getenv(name);
    return v && *v;
}

} // namespace

std::string otlp_traces_url(const std::string& url) {
    const bool https = url.rfind("https://", 0) == 0;
    if (!https && url.rfind("http://", 0) != 0)
        throw tracecraft::config_error("--otlp", "expected an http:// or https:// URL, got " + tracecraft::config_error::quote(url) +
                                                     " (grpc is not supported)");
    const std::string rest = url.substr(https ? 8 : 7);
    const auto slash = rest.find('/');
    if (rest.empty() || slash == 0) throw tracecraft::config_error("--otlp", "no host in " + tracecraft::config_error::quote(url));
    if (slash == std::string::npos || slash == rest.size() - 1) {
        std::string base = url;
        while (!base.empty() && base.back() == '/') base.pop_back();
        return base + "/v1/traces";
    }
    return url;
}

void cli::add_exporters(tracecraft::trace_config& cfg, bool console_default) const {
    tracecraft::apply_env(cfg);   // TRACECRAFT_* and the OTel metrics/content variables over the example's defaults
    const bool console = vars.count("console") ? true : vars.count("no-console") ? false : console_default;
    if (console) cfg.exporters.push_back(std::make_shared<tracecraft::console_exporter>());
    std::string otlp = vars.count("otlp") ? vars["otlp"].as<std::string>() : std::string();
    const bool from_env = has_env("OTEL_EXPORTER_OTLP_ENDPOINT") || has_env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    if (!otlp.empty() || from_env) {
        tracecraft::otlp_http_options o = tracecraft::otlp_http_options::from_env();
        if (!otlp.empty()) o.endpoint = otlp_traces_url(otlp);
        if (vars.count("spool")) o.spool_dir = vars["spool"].as<std::string>();
        cfg.exporters.push_back(std::make_shared<tracecraft::otlp_http_exporter>(o));
    } else if (vars.count("spool")) {
        throw tracecraft::config_error("--spool", "needs OTLP export (--otlp URL or OTEL_EXPORTER_OTLP_ENDPOINT)");
    }
    if (vars.count("jsonl")) {
        tracecraft::jsonl_options j;
        j.path = vars["jsonl"].as<std::string>();
        cfg.exporters.push_back(std::make_shared<tracecraft::jsonl_exporter>(j));
    }
}

void print_summary(std::ostream& out, const tracecraft::runtime& rt) {
    const tracecraft::runtime_stats s = rt.stats();
    out << "tracing: traces kept " << s.traces_kept << ", sampled out " << s.traces_sampled_out << "; spans exported "
        << s.spans_exported << ", rejected by the receiver " << s.spans_rejected << ", failed " << s.spans_export_failed
        << " (permanent " << s.spans_failed_permanent << ", retries gave up " << s.spans_retry_expired
        << "), dropped for queue room " << s.spans_queue_dropped << ", dropped at shutdown " << s.spans_shutdown_dropped
        << ", retries " << s.export_retries << "; spool: holds " << s.spans_spooled << ", dropped "
        << s.spans_spool_dropped << ", replayed " << s.spans_spool_replayed << "; redaction failures "
        << s.redaction_failures << ", masked over budget " << s.redaction_budget_exhausted << ", strings UTF-8-repaired "
        << s.strings_utf8_repaired << ", spans over max depth " << s.spans_depth_dropped << "\n";
}

int run(int argc, char** argv, const std::string& description, const std::function<void(cli&)>& declare,
        const std::function<int(cli&)>& body, bool tracing_options) {
    const std::string program = argc > 0 ? std::string(argv[0]).substr(std::string(argv[0]).rfind('/') + 1) : "example";
    try {
        cli c;
        c.options.add_options()("help,h", "print this help and exit");
        if (tracing_options)
            c.options.add_options()
            ("otlp", po::value<std::string>()->value_name("URL"),
             "export over OTLP/HTTP to URL (a URL without a path gets /v1/traces)")
            ("spool", po::value<std::string>()->value_name("DIR"), "disk spool for the OTLP exporter (survives outages and crashes)")
            ("jsonl", po::value<std::string>()->value_name("FILE"), "also write traces as JSON lines to FILE")
            ("console", "print traces on the terminal")
            ("no-console", "do not print traces on the terminal");
        if (declare) declare(c);
        po::command_line_parser parser(argc, argv);
        parser.options(c.options);
        if (c.positional.max_total_count() > 0) parser.positional(c.positional);
        po::store(parser.run(), c.vars);
        if (c.vars.count("help")) {
            std::cout << description << "\n\n" << c.options << "\n" << (tracing_options ? environment_help : "");
            return 0;
        }
        po::notify(c.vars);
        if (const char* level = std::getenv("TRACECRAFT_LOG_LEVEL"); level && *level) {
            const auto l = spdlog::level::from_str(level);
            if (l == spdlog::level::off && std::string(level) != "off")
                throw tracecraft::config_error("TRACECRAFT_LOG_LEVEL", "expected trace, debug, info, warn, error, critical or off, got " +
                                                                           tracecraft::config_error::quote(level));
            tracecraft::logger()->set_level(l);
        }
        return body(c);
    } catch (const po::error& e) {
        std::cerr << program << ": " << e.what() << " (see --help)\n";
        return 2;
    } catch (const tracecraft::config_error& e) {
        std::cerr << program << ": " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << program << ": " << e.what() << "\n";
        return 1;
    }
}

} // namespace examples
