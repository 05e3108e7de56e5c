#include <set>

#include "test_util.hpp"


using namespace tracecraft;

BOOST_AUTO_TEST_SUITE(ids)

BOOST_AUTO_TEST_CASE(generated_ids_are_nonzero_and_unique) {
    std::set<std::pair<std::uint64_t, std::uint64_t>> traces;
    std::set<std::uint64_t> spans;
    for (int i = 0; i < 100000; ++i) {
        const trace_id t = trace_id::generate();
        const span_id s = span_id::generate();
        BOOST_TEST_REQUIRE(t.valid());
        BOOST_TEST_REQUIRE(s.valid());
        traces.insert({t.hi, t.lo});
        spans.insert(s.value);
    }
    BOOST_TEST(traces.size() == 100000u);
    BOOST_TEST(spans.size() == 100000u);
}

BOOST_AUTO_TEST_CASE(hex_round_trip_and_byte_order) {
    const auto t = trace_id::from_hex("0af7651916cd43dd8448eb211c80319c");
    BOOST_TEST_REQUIRE(t.has_value());
    BOOST_TEST(t->hi == 0x0af7651916cd43ddull);
    BOOST_TEST(t->lo == 0x8448eb211c80319cull);
    BOOST_TEST(t->to_hex() == "0af7651916cd43dd8448eb211c80319c");
    unsigned char bytes[16];
    t->write_bytes(bytes);
    BOOST_TEST(bytes[0] == 0x0a);
    BOOST_TEST(bytes[15] == 0x9c);
    const auto s = span_id::from_hex("b7ad6b7169203331");
    BOOST_TEST_REQUIRE(s.has_value());
    BOOST_TEST(s->value == 0xb7ad6b7169203331ull);
    BOOST_TEST(s->to_hex() == "b7ad6b7169203331");
}

BOOST_AUTO_TEST_CASE(hex_parsing_is_strict) {
    BOOST_TEST(!trace_id::from_hex("0AF7651916CD43DD8448EB211C80319C").has_value());   // uppercase
    BOOST_TEST(!trace_id::from_hex("0af7651916cd43dd8448eb211c80319").has_value());    // 31 chars
    BOOST_TEST(!trace_id::from_hex("0af7651916cd43dd8448eb211c80319cc").has_value());  // 33 chars
    BOOST_TEST(!span_id::from_hex("b7ad6b716920333g").has_value());
    BOOST_TEST(!span_id::from_hex("").has_value());
}

BOOST_AUTO_TEST_CASE(span_kind_names) {
    BOOST_TEST(to_string(span_kind::agent) == "agent");
    BOOST_TEST(to_string(span_kind::retrieval) == "retrieval");
    BOOST_TEST(to_string(span_kind::error) == "error");
    for (int i = 0; i <= static_cast<int>(span_kind::error); ++i) {
        const auto k = static_cast<span_kind>(i);
        BOOST_TEST((span_kind_from_string(to_string(k)) == k));
    }
    BOOST_TEST(!span_kind_from_string("AGENT").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
