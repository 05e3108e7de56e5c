// tracecraft: receive, store, browse and check traces without a vendor backend.
//
//   tracecraft serve    OTLP/HTTP receiver into SQLite + the web viewer on the same port
//   tracecraft view     the span tree of traces in the terminal
//   tracecraft stats    counts, tokens, cost and latency percentiles per group
//   tracecraft query    traces matching filters, as a table, JSON or CSV
//   tracecraft validate check a TraceCraft JSONL file line by line
//   tracecraft export   one self-contained HTML page with the viewer and the traces
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>

#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "api_json.hpp"
#include "jsonl_source.hpp"
#include "reports.hpp"
#include "trace_server.hpp"
#include "viewer_assets.hpp"

namespace po = boost::program_options;
namespace json = boost::json;
using namespace tctool;

namespace {

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

constexpr const char* overview = R"(usage: tracecraft COMMAND [OPTIONS]

Receive, store, browse and check traces without a vendor backend.

commands:
  serve      OTLP/HTTP receiver (POST /v1/traces, protobuf or JSON, gzip) storing into SQLite,
             with the web viewer on the same port (http://HOST:PORT/)
  view       the span tree of traces in the terminal (SOURCE: a .db or a TraceCraft .jsonl)
  stats      traces, spans, errors, tokens, cost and latency p50/p90/p99 per group
  query      traces matching filters, as a table, JSON or CSV
  validate   check a TraceCraft JSONL file line by line (exit status 1 on any error)
  export     one self-contained HTML file: the viewer with the traces inlined

'tracecraft COMMAND --help' describes a command's options.
environment: TRACECRAFT_LOG_LEVEL (trace, debug, info, warn, error; default info)
)";

po::variables_map parse(const std::vector<std::string>& args, const po::options_description& opts,
                        const po::positional_options_description& pos) {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
    if (vm.count("help")) return vm;
    po::notify(vm);
    return vm;
}

bool wants_help(const po::variables_map& vm, const std::string& usage, const po::options_description& opts) {
    if (!vm.count("help")) return false;
    std::cout << usage << "\n" << opts << "\n";
    return true;
}

bool color_wanted(const std::string& mode) {
    if (mode == "always") return true;
    if (mode == "never") return false;
    if (mode != "auto") throw usage_error("--color: expected auto, always or never, got '" + mode + "'");
    return isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
}

/// The SOURCE argument of the reading commands: declared (also as the first positional
/// argument) and parsed with the command's other options.
po::variables_map parse_with_source(const std::vector<std::string>& args, po::options_description& opts, std::string& source) {
    opts.add_options()("source", po::value(&source)->required(), "a trace database (.db) or a TraceCraft JSONL file");
    po::positional_options_description pos;
    pos.add("source", 1);
    return parse(args, opts, pos);
}

/// Opens SOURCE; skipped JSONL lines are said in one line on stderr.
opened_source open_and_report(const std::string& path) {
    opened_source src = open_source(path);
    std::set<std::size_t> lines;
    for (const line_problem& p : src.problems) lines.insert(p.line);
    if (!lines.empty())
        std::cerr << "tracecraft: " << path << ": skipped " << lines.size() << " invalid line(s); first: line "
                  << src.problems.front().line << ": " << src.problems.front().message << " ('tracecraft validate' lists them)\n";
    return src;
}

int cmd_serve(const std::vector<std::string>& args) {
    po::options_description opts("serve options");
    serve_options so;
    std::string db;
    std::size_t max_body_mib = 32;
    opts.add_options()("help,h", "this help")
        ("host", po::value(&so.host)->default_value(so.host), "address to listen on (0.0.0.0: every interface)")
        ("port", po::value(&so.port)->default_value(so.port), "TCP port (0: any free port, printed at start)")
        ("db", po::value(&db)->default_value("traces.db"), "SQLite database (created if missing)")
        ("jsonl", po::value(&so.jsonl), "also append each completed trace to this TraceCraft JSONL file")
        ("redact", po::bool_switch(&so.redact), "redact secrets and PII (TraceCraft's built-in rules) before storing")
        ("max-body-mib", po::value(&max_body_mib)->default_value(max_body_mib), "largest request body, also after gzip decompression");
    const auto vm = parse(args, opts, {});
    if (wants_help(vm, "usage: tracecraft serve [--host 127.0.0.1] [--port 4318] [--db traces.db] [--jsonl FILE] [--redact]\n\n"
                       "Receives OTLP/HTTP traces (POST /v1/traces; application/x-protobuf or application/json; gzip)\n"
                       "into SQLite, merging spans of one trace sent in several requests, and serves the web viewer\n"
                       "on the same port. Point an SDK at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:PORT.\n"
                       "Ctrl-C (SIGINT) or SIGTERM stops it.", opts))
        return 0;
    if (max_body_mib == 0 || max_body_mib > 4096) throw usage_error("--max-body-mib: expected 1..4096");
    so.max_body = max_body_mib << 20;
    trace_store store(db);
    boost::asio::io_context ioc(1);
    trace_server server(ioc, so, store);
    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (!ec) server.stop();
    });
    const std::string url = "http://" + (so.host == "0.0.0.0" ? std::string("127.0.0.1") : so.host) + ":" + std::to_string(server.port());
    std::cout << "tracecraft serve: listening on " << url << "  (OTLP: POST " << url << "/v1/traces; viewer: " << url
              << "/)  database: " << db << (so.redact ? "  redaction on" : "") << std::endl;
    ioc.run();
    const server_stats& s = server.stats();
    std::cout << "tracecraft serve: stopped; " << s.export_requests << " export requests, " << s.spans_stored << " spans stored, "
              << s.spans_rejected << " rejected, " << s.bad_requests << " bad requests, " << s.too_large << " too large, "
              << s.unsupported << " unsupported, " << s.store_failures << " store failures" << (so.redact ? ", " + std::to_string(s.redactions) + " redactions" : "") << std::endl;
    return 0;
}

int cmd_view(const std::vector<std::string>& args) {
    po::options_description opts("view options");
    std::string source, color;
    view_options vo;
    opts.add_options()("help,h", "this help")("trace", po::value(&vo.trace_id), "only this trace (32 hex digits or a UUID)")
        ("limit", po::value(&vo.limit)->default_value(vo.limit), "the newest N traces (without --trace)")
        ("json", po::bool_switch(&vo.json), "the traces as JSON (the viewer's /api/traces/{id} form)")
        ("color", po::value(&color)->default_value("auto"), "auto, always or never (auto: on a terminal, unless NO_COLOR is set)");
    const auto vm = parse_with_source(args, opts, source);
    if (wants_help(vm, "usage: tracecraft view SOURCE [--trace ID] [--json]\n\nThe span tree of each trace with durations, kinds, "
                       "models, tokens, cost, errors and a waterfall bar.", opts))
        return 0;
    if (vo.limit < 1) throw usage_error("--limit: expected a positive number");
    vo.color = color_wanted(color);
    const opened_source src = open_and_report(source);
    render_view(std::cout, *src.store, vo);
    return 0;
}

int cmd_stats(const std::vector<std::string>& args) {
    po::options_description opts("stats options");
    std::string source, by;
    bool as_json = false;
    opts.add_options()("help,h", "this help")("by", po::value(&by), "group spans by name, kind or model (default: one row over whole traces)")
        ("json", po::bool_switch(&as_json), "JSON instead of a table");
    const auto vm = parse_with_source(args, opts, source);
    if (wants_help(vm, "usage: tracecraft stats SOURCE [--by name|kind|model]\n\nTraces, spans, errors, tokens, cost and latency "
                       "percentiles (nearest rank) per group.", opts))
        return 0;
    stats_group g = stats_group::none;
    if (by == "name") g = stats_group::name;
    else if (by == "kind") g = stats_group::kind;
    else if (by == "model") g = stats_group::model;
    else if (!by.empty()) throw usage_error("--by: expected name, kind or model, got '" + by + "'");
    const opened_source src = open_and_report(source);
    render_stats(std::cout, *src.store, g, as_json);
    return 0;
}

int cmd_query(const std::vector<std::string>& args) {
    po::options_description opts("query options");
    std::string source, since, format;
    trace_filter f;
    f.limit = 50;
    opts.add_options()("help,h", "this help")("name", po::value(&f.name), "trace name contains this (case-insensitive)")
        ("service", po::value(&f.service), "service.name equals this")
        ("error", po::bool_switch(&f.errors_only), "only traces with an error")
        ("min-duration-ms", po::value(&f.min_duration_ms), "only traces at least this long")
        ("min-cost", po::value(&f.min_cost), "only traces costing at least this many USD")
        ("model", po::value(&f.model), "only traces with a span using this model")
        ("since", po::value(&since), "only traces started after this: ISO-8601 time or an age (30s, 15m, 2h, 7d)")
        ("limit", po::value(&f.limit)->default_value(50), "at most N traces, newest first")
        ("format", po::value(&format)->default_value("table"), "table, json or csv");
    const auto vm = parse_with_source(args, opts, source);
    if (wants_help(vm, "usage: tracecraft query SOURCE [--name] [--error] [--min-duration-ms] [--min-cost] [--model] [--since] "
                       "[--limit] [--format table|json|csv]", opts))
        return 0;
    query_format qf;
    if (format == "table") qf = query_format::table;
    else if (format == "json") qf = query_format::json;
    else if (format == "csv") qf = query_format::csv;
    else throw usage_error("--format: expected table, json or csv, got '" + format + "'");
    if (f.limit < 1) throw usage_error("--limit: expected a positive number");
    if (f.min_duration_ms < 0 || f.min_cost < 0) throw usage_error("--min-duration-ms and --min-cost must not be negative");
    if (!since.empty()) {
        const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        f.since_ns = parse_since(since, now);
    }
    const opened_source src = open_and_report(source);
    std::int64_t total = 0;
    const auto traces = src.store->list(f, &total);
    render_query(std::cout, traces, total, qf);
    return 0;
}

int cmd_validate(const std::vector<std::string>& args) {
    po::options_description opts("validate options");
    std::string file;
    std::size_t max_errors = 100;
    opts.add_options()("help,h", "this help")("file", po::value(&file)->required(), "a TraceCraft JSONL file")
        ("max-errors", po::value(&max_errors)->default_value(max_errors), "print at most N errors (all are counted)");
    po::positional_options_description pos;
    pos.add("file", 1);
    const auto vm = parse(args, opts, pos);
    if (wants_help(vm, "usage: tracecraft validate FILE\n\nChecks every line against the TraceCraft line schema (a run with its "
                       "steps); prints each error with its line number and field path; exit status 1 on any error.", opts))
        return 0;
    std::ifstream in(file, std::ios::binary);
    if (!in) throw usage_error("cannot read '" + file + "'");
    std::vector<line_problem> problems;
    std::string line;
    std::size_t n = 0, runs = 0;
    while (std::getline(in, line)) {
        ++n;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        const std::size_t before = problems.size();
        validate_line(line, n, problems);
        runs += problems.size() == before;
    }
    for (std::size_t i = 0; i < problems.size() && i < max_errors; ++i)
        std::cout << file << ":" << problems[i].line << ": " << problems[i].message << "\n";
    std::cout << file << ": " << n << " lines, " << runs << " valid runs, " << problems.size() << " errors\n";
    return problems.empty() ? 0 : 1;
}

int cmd_export(const std::vector<std::string>& args) {
    po::options_description opts("export options");
    std::string source, html, trace;
    std::int64_t limit = 1000;
    opts.add_options()("help,h", "this help")("html", po::value(&html)->required(), "the HTML file to write")
        ("trace", po::value(&trace), "only this trace (the page opens on it)")
        ("limit", po::value(&limit)->default_value(limit), "at most N traces, newest first");
    const auto vm = parse_with_source(args, opts, source);
    if (wants_help(vm, "usage: tracecraft export SOURCE --html OUT [--trace ID]\n\nOne self-contained HTML file (the viewer, its "
                       "script and the traces inlined; no network) that opens from disk.", opts))
        return 0;
    if (limit < 1) throw usage_error("--limit: expected a positive number");
    const opened_source src = open_and_report(source);
    std::vector<trace_summary> traces;
    if (!trace.empty()) {
        const std::string id = normalise_trace_id(trace);
        if (id.empty()) throw usage_error("--trace: '" + trace + "' is not a trace id (32 hex digits or a UUID)");
        auto t = src.store->summary(id);
        if (!t) throw usage_error("no trace " + id + " in " + source);
        traces.push_back(*t);
    } else {
        trace_filter f;
        f.limit = limit;
        traces = src.store->list(f);
    }
    json::object data;
    data["list"] = list_json(traces, static_cast<std::int64_t>(traces.size()), 0);
    json::object by_id;
    for (const trace_summary& t : traces) by_id[t.trace_id] = trace_json(t, src.store->spans(t.trace_id));
    data["traces"] = std::move(by_id);
    data["exported_at"] = iso_time(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    if (!trace.empty()) data["open_trace"] = traces.front().trace_id;
    std::ofstream out(html, std::ios::binary | std::ios::trunc);
    if (!out) throw usage_error("cannot write '" + html + "'");
    out << standalone_html(data);
    out.close();
    if (!out) throw usage_error("error writing '" + html + "'");
    std::cout << "wrote " << html << " (" << traces.size() << (traces.size() == 1 ? " trace)" : " traces)") << "\n";
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        if (const char* lvl = std::getenv("TRACECRAFT_LOG_LEVEL")) spdlog::set_level(spdlog::level::from_str(lvl));
        if (argc < 2) {
            std::cerr << overview;
            return 2;
        }
        const std::string cmd = argv[1];
        const std::vector<std::string> args(argv + 2, argv + argc);
        if (cmd == "--help" || cmd == "-h" || cmd == "help") {
            std::cout << overview;
            return 0;
        }
        if (cmd == "serve") return cmd_serve(args);
        if (cmd == "view") return cmd_view(args);
        if (cmd == "stats") return cmd_stats(args);
        if (cmd == "query") return cmd_query(args);
        if (cmd == "validate") return cmd_validate(args);
        if (cmd == "export") return cmd_export(args);
        throw usage_error("unknown command '" + cmd + "' (try 'tracecraft --help')");
    } catch (const po::required_option& e) {
        std::string name = e.get_option_name();
        while (!name.empty() && name.front() == '-') name.erase(0, 1);
        if (name == "source" || name == "file")   // the positional arguments, named as in the usage line
            for (char& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        else
            name = "--" + name;
        std::cerr << "tracecraft: " << argv[1] << ": missing " << name << " (try 'tracecraft " << argv[1] << " --help')\n";
    } catch (const po::error& e) {
        std::cerr << "tracecraft: " << e.what() << " (try 'tracecraft " << (argc > 1 ? argv[1] : "") << " --help')\n";
    } catch (const std::exception& e) {
        std::cerr << "tracecraft: " << e.what() << "\n";
    }
    return 2;
}
