// Redaction: what the default rules catch, the three modes, custom rules and field paths, and
// the pipeline redacting every string of a span before any exporter sees it.
#include <iostream>

#include <boost/asio.hpp>

#include "example_cli.hpp"
#include "tracecraft/exporters/console.hpp"
#include "tracecraft/tracecraft.hpp"

namespace {
int demo(examples::cli& cli) {
    const char* text =
        "Mail jane.doe@example.com or call (555) 123-4567; card 4111 1111 1111 1111, key sk-ant-api03-abcdefghijkl, "
        "ts 1700000000123 and sha da39a3ee5e6b4b0d3255bfef95601890afd80709 stay.";
    tracecraft::redaction_config cfg;                       // defaults: all rules, MASK
    std::cout << "mask:   " << tracecraft::redactor(cfg).redact(text) << "\n";
    cfg.mode = tracecraft::redaction_mode::hash;
    cfg.hash_key = "demo-key";                              // keyed HMAC: not reversible by dictionary
    std::cout << "hash:   " << tracecraft::redactor(cfg).redact(text) << "\n";
    cfg.mode = tracecraft::redaction_mode::remove;
    std::cout << "remove: " << tracecraft::redactor(cfg).redact(text) << "\n\n";

    // In the pipeline: attributes, inputs, outputs, events and error messages are redacted on
    // the pipeline strand; dropped traces are never scanned.
    boost::asio::io_context ioc;
    tracecraft::trace_config tc;
    tc.redaction.rules.push_back({"employee_id", "EMP-[0-9]{6}", {}, std::string("<EMPLOYEE>")});
    tc.redaction.rules.push_back({"auth_header", "", {"inputs.authorization"}, std::nullopt});
    tracecraft::console_options verbose;
    verbose.verbose = true;
    if (!cli.vars.count("no-console")) tc.exporters.push_back(std::make_shared<tracecraft::console_exporter>(verbose));
    cli.add_exporters(tc, /*console_default=*/false);
    auto rt = tracecraft::init(ioc, tc);
    {
        tracecraft::run_scope run("hr_agent");
        run.set_input("question", "What is the salary of EMP-204815 (jane.doe@example.com)?")
            .set_input("authorization", "opaque-session-token");
        run.set_run_output("I cannot share that; contact hr@example.com");
    }
    rt->shutdown();
    const auto st = rt->stats();
    std::cout << "spans redacted: " << st.spans_redacted << ", failures: " << st.redaction_failures << "\n";
    examples::print_summary(std::cout, *rt);
    return 0;
}
} // namespace

int main(int argc, char** argv) {
    return examples::run(argc, argv, "redaction_demo: the default rules, the three modes, custom rules and the pipeline redacting spans",
                         nullptr, [](examples::cli& cli) { return demo(cli); });
}
