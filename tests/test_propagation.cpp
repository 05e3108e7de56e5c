#include "test_util.hpp"

using namespace tracecraft;

namespace {
const char* const valid_tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
}

BOOST_AUTO_TEST_SUITE(propagation)

BOOST_AUTO_TEST_CASE(parses_valid_traceparent) {
    std::string err;
    auto c = parse_traceparent(valid_tp, &err);
    BOOST_TEST_REQUIRE(c.has_value(), err);
    BOOST_TEST(c->trace.to_hex() == "0af7651916cd43dd8448eb211c80319c");
    BOOST_TEST(c->span.to_hex() == "b7ad6b7169203331");
    BOOST_TEST(c->sampled());
    BOOST_TEST(c->remote);

    auto unsampled = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
    BOOST_TEST_REQUIRE(unsampled.has_value());
    BOOST_TEST(!unsampled->sampled());
    // unknown flag bits are ignored for version 00
    auto other_bits = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-09");
    BOOST_TEST_REQUIRE(other_bits.has_value());
    BOOST_TEST(other_bits->flags == 0x01);
    // surrounding optional whitespace is not part of an HTTP field value
    BOOST_TEST(parse_traceparent(std::string(" \t") + valid_tp + " ").has_value());
}

BOOST_AUTO_TEST_CASE(accepts_future_versions_as_the_spec_says) {
    // a higher version with exactly the version-00 fields
    BOOST_TEST(parse_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").has_value());
    // a higher version with more data after a '-'
    auto c = parse_traceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future-will-be-like");
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST(c->span.to_hex() == "b7ad6b7169203331");
}

struct bad_case {
    const char* header;
    const char* expected;   // substring of the error message
};

BOOST_AUTO_TEST_CASE(rejects_invalid_traceparent_with_a_clear_message) {
    const bad_case cases[] = {
        {"", "empty"},
        {"   ", "empty"},
        {"00", "too short"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0", "too short"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", "too short"},
        {"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "version ff"},
        {"0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "version"},
        {"0A-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "version"},
        {"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", "trace-id"},
        {"00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01", "parent-id"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0A", "trace-flags"},
        {"00-00000000000000000000000000000000-b7ad6b7169203331-01", "trace-id is all zeros"},
        {"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", "parent-id is all zeros"},
        {"00-0af7651916cd43dd8448eb211c8031zz-b7ad6b7169203331-01", "trace-id"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033zz-01", "parent-id"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-zz", "trace-flags"},
        {"00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "separated"},
        {"00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01", "separated"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331_01", "separated"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-", "exactly 55"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", "exactly 55"},
        {"00-0af7651916cd43dd8448eb211c80319c0-b7ad6b716920333-01", "separated"},
        {"00-0af7651916cd43dd8448eb211c8031-9cb7ad6b7169203331-01", "separated"},
        {"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x", "must start with '-'"},
        {"cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01.future", "must start with '-'"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331--1", "trace-flags"},
        {"00--af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "trace-id"},
        {"-00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "version"},
        {"00-0af7651916cd43dd 448eb211c80319c-b7ad6b7169203331-01", "trace-id"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1", "too short"},
        {"00-+af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "trace-id"},
        {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333\xc3-01", "parent-id"},
    };
    BOOST_TEST(std::size(cases) >= 30u);
    for (const auto& c : cases) {
        std::string err;
        const auto r = parse_traceparent(c.header, &err);
        BOOST_TEST(!r.has_value(), "accepted: '" << c.header << "'");
        BOOST_TEST(err.find(c.expected) != std::string::npos,
                   "header '" << c.header << "': error '" << err << "' lacks '" << c.expected << "'");
    }
}

BOOST_AUTO_TEST_CASE(tracestate_validation) {
    std::string err;
    auto ok = parse_tracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,tenant1@vendor=x", &err);
    BOOST_TEST_REQUIRE(ok.has_value(), err);
    BOOST_TEST(*ok == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,tenant1@vendor=x");
    BOOST_TEST(!parse_tracestate("Rojo=1", &err).has_value());   // uppercase key
    BOOST_TEST(err.find("invalid key") != std::string::npos);
    BOOST_TEST(!parse_tracestate("rojo", &err).has_value());
    BOOST_TEST(!parse_tracestate("rojo=a,rojo=b", &err).has_value());
    BOOST_TEST(err.find("duplicate") != std::string::npos);
    BOOST_TEST(!parse_tracestate("rojo=a=b", &err).has_value());
    std::string many;
    for (int i = 0; i < 33; ++i) many += "k" + std::to_string(i) + "=v,";
    BOOST_TEST(!parse_tracestate(many, &err).has_value());
    BOOST_TEST(err.find("32") != std::string::npos);

    // extract keeps a valid parent even when tracestate is invalid
    auto pc = extract(valid_tp, "BAD KEY=1", &err);
    BOOST_TEST_REQUIRE(pc.has_value());
    BOOST_TEST(pc->tracestate.empty());
    BOOST_TEST(!err.empty());
}

BOOST_AUTO_TEST_CASE(format_round_trip) {
    span_context c{trace_id::generate(), span_id::generate(), 1, false};
    const std::string tp = format_traceparent(c);
    BOOST_TEST(tp.size() == 55u);
    auto back = parse_traceparent(tp);
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST((back->trace == c.trace));
    BOOST_TEST((back->span == c.span));
    BOOST_TEST(back->sampled());
}

BOOST_AUTO_TEST_CASE(continue_and_inject) {
    tc_test::traced_env env;
    std::string injected, state;
    {
        auto remote = extract(valid_tp, "rojo=00f067aa0ba902b7");
        BOOST_TEST_REQUIRE(remote.has_value());
        run_options o;
        o.parent = remote->parent;
        o.tracestate = remote->tracestate;
        run_scope run("handle_request", o);
        span_scope child("upstream_call", span_kind::llm);
        injected = current_traceparent();
        state = current_tracestate();
    }
    BOOST_TEST(current_traceparent().empty());
    const auto spans = env.finish();
    BOOST_TEST_REQUIRE(spans.size() == 2u);
    const auto& run = tc_test::get_span(spans, "handle_request");
    const auto& child = tc_test::get_span(spans, "upstream_call");
    BOOST_TEST(run.trace.to_hex() == "0af7651916cd43dd8448eb211c80319c");
    BOOST_TEST(run.parent_id.to_hex() == "b7ad6b7169203331");
    BOOST_TEST(run.remote_parent);
    BOOST_TEST(run.local_root);
    BOOST_TEST((child.parent_id == run.id));
    BOOST_TEST(injected == "00-0af7651916cd43dd8448eb211c80319c-" + child.id.to_hex() + "-01");
    BOOST_TEST(state == "rojo=00f067aa0ba902b7");
}

BOOST_AUTO_TEST_SUITE_END()
