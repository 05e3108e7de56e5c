// Redaction: each default rule (positive and negative), modes, field paths, allowlists,
// overlap resolution, Luhn, invalid UTF-8, a 64 MiB value, a planted-PII corpus.
#include <chrono>
#include <random>

#include "test_util.hpp"
#include "tracecraft/redaction.hpp"

using namespace tracecraft;

namespace {
const redactor& default_redactor() {
    static redactor r{redaction_config{}};
    return r;
}
std::string R(std::string_view s) { return default_redactor().redact(s); }
} // namespace

BOOST_AUTO_TEST_SUITE(redaction)

BOOST_AUTO_TEST_CASE(each_default_rule_positive) {
    const std::pair<const char*, const char*> cases[] = {
        {"Contact john.doe@example.com now", "Contact [REDACTED] now"},
        {"Call 555-123-4567 or (555) 123-4567 or +1-555-123-4567", "Call [REDACTED] or [REDACTED] or [REDACTED]"},
        {"Card 4111-1111-1111-1111 and 4111 1111 1111 1111 and 4111111111111111",
         "Card [REDACTED] and [REDACTED] and [REDACTED]"},
        {"ssn 123-45-6789.", "ssn [REDACTED]."},
        {"host 192.168.10.254 up", "host [REDACTED] up"},
        {"key sk-proj-abcdefghijklmnop1234 end", "key [REDACTED] end"},
        {"anthropic sk-ant-api03-abcdefghijklmnopqrstuv end", "anthropic [REDACTED] end"},
        {"AKIAIOSFODNN7EXAMPLE here", "[REDACTED] here"},
        {"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = [REDACTED]"},
        {"Authorization: Bearer aaa.bbb.ccc", "Authorization: [REDACTED]"},
        {"token ghp_abcdefghijklmnopqrstuvwxyz0123456789 x", "token [REDACTED] x"},
        {"g AIzaSyA1234567890abcdefghijklmnopqrstuv x", "g [REDACTED] x"},
        {"DefaultEndpointsProtocol=https;AccountKey=abcdefghijklmnopqrstuvwxyz0123==;", "DefaultEndpointsProtocol=https;AccountKey=[REDACTED];"},
        {"url?api_key=abcd1234efgh", "url?api_key=[REDACTED]"},
        {"slack xoxb-1234567890-abcdefghij x", "slack [REDACTED] x"},
        {"stripe sk_live_abcdefghijklmnopqrstuvwx x", "stripe [REDACTED] x"},
        {"password=hunter22", "password=[REDACTED]"},
        {"call +44 20 7946 0958 or +81-3-1234-5678 or +15551234567.", "call [REDACTED] or [REDACTED] or [REDACTED]."},
    };
    for (const auto& [in, expected] : cases) BOOST_TEST(R(in) == expected, "input: " << in);
}

// Key-value secrets in the notations traces carry: the value is masked, the key stays readable,
// nothing after the value is touched.
BOOST_AUTO_TEST_CASE(key_value_secrets_in_every_notation) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"password": "hunter2hunter2", "user": "bob"})", R"({"password": "[REDACTED]", "user": "bob"})"},
        {R"({"password":"hunter2","n":1})", R"({"password":"[REDACTED]","n":1})"},
        {R"({"content": "{\"api_key\": \"abc123secret\", \"q\": 1}"})", R"({"content": "{\"api_key\": \"[REDACTED]\", \"q\": 1}"})"},
        {R"(cfg = {'token': 'tok-123', 'retries': 3})", R"(cfg = {'token': '[REDACTED]', 'retries': 3})"},
        {"aws:\n  secret_access_key: wJalrXUtnFEMIK7MDENG\n  region: us-east-1", "aws:\n  secret_access_key: [REDACTED]\n  region: us-east-1"},
        {"AWS_SECRET_ACCESS_KEY=abc/def+ghi\nHOME=/root", "AWS_SECRET_ACCESS_KEY=[REDACTED]\nHOME=/root"},
        {"GET /cb?code=1&access_token=ya29.a0Af&state=x", "GET /cb?code=1&access_token=[REDACTED]&state=x"},
        {"X-Api-Key: 9f8e7d6c5b4a\r\nAccept: */*", "X-Api-Key: [REDACTED]\r\nAccept: */*"},
        {"run tool --password s3cr3t --verbose", "run tool --password [REDACTED] --verbose"},
        {"cli --token=abc123 --x", "cli --token=[REDACTED] --x"},
        {"Server=db;User Id=sa;Password=P@ss;Database=x", "Server=db;User Id=sa;Password=[REDACTED];Database=x"},
        {"postgres://app:p%40ss@db.internal:5432/main", "postgres://app:[REDACTED]@db.internal:5432/main"},
        {"mysql://root:toor@localhost/x and amqp://u:x@mq", "mysql://root:[REDACTED]@localhost/x and amqp://u:[REDACTED]@mq"},
        {"client_secret=abcDEF123&grant_type=x", "client_secret=[REDACTED]&grant_type=x"},
        {"  - refresh_token: rt-999", "  - refresh_token: [REDACTED]"},
        {"SharedAccessKey=abc123==;EntityPath=q", "SharedAccessKey=[REDACTED];EntityPath=q"},
    };
    for (const auto& [in, expected] : cases) BOOST_TEST(R(in) == expected, "input: " << in);
    const char* left[] = {R"({"password": null, "token": true})", "password reset flow", "see the secret: it is patience",
                          "token budget: 5000 per day"};
    for (const char* c : left) BOOST_TEST(R(c) == c, "changed: " << c);
}

BOOST_AUTO_TEST_CASE(credentials_and_pii_by_shape) {
    const std::pair<const char*, const char*> cases[] = {
        {"cookie: session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk; path=/",
         "cookie: session=[REDACTED]; path=/"},
        {R"({"id_token": "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwcyJ9.c2lnbmF0dXJlLXNpZw"})", R"({"id_token": "[REDACTED]"})"},
        {"the token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.abcdefghijk expired", "the token [REDACTED] expired"},
        {"Authorization: Basic dXNlcjpwYXNzd29yZA==\r\nHost: x", "Authorization: Basic [REDACTED]\r\nHost: x"},
        {"Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "Authorization: Token [REDACTED]"},
        {"authorization: bearer abc.def-ghi_jkl", "authorization: bearer [REDACTED]"},
        {"post to https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX now", "post to [REDACTED] now"},
        {"HF hf_abcdefghijklmnopqrstuvwxyzABCDEF12 x", "HF [REDACTED] x"},
        {"pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz x", "pat [REDACTED] x"},
        {"/unsubscribe?email=jane.doe%40example.com&list=1", "/unsubscribe?email=[REDACTED]&list=1"},
        {"to=jane%2Btag%40example.co.uk", "to=[REDACTED]"},
        {"JOHN.DOE@EXAMPLE.COM wrote", "[REDACTED] wrote"},
        {"from 2001:0db8:85a3:0000:0000:8a2e:0370:7334 and 2001:db8::8a2e:370:7334.", "from [REDACTED] and [REDACTED]."},
        {"client fe80::1ff:fe23:4567:890a, mapped ::ffff:192.0.2.128", "client [REDACTED], mapped [REDACTED]"},
        {"amex 3782 822463 10005 and 378282246310005", "amex [REDACTED] and [REDACTED]"},
        {"diners 3056 930902 5904", "diners [REDACTED]"},
        {"19 digits 6011 1111 1111 1111 110", "19 digits [REDACTED]"},
    };
    for (const auto& [in, expected] : cases) BOOST_TEST(R(in) == expected, "input: " << in);
    const char* left[] = {
        "id 123e4567-e89b-12d3-a456-426614174000 at 2024-11-24T15:42:41.123Z",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "chatcmpl-AbC123dEf456 msg_01XyZabc and resp_67a8b9",
        "order 112-4567890-1234567 and tracking 1Z999AA10123456784",
        "versions 1.2.3, 10.4.0-rc1, v2.3.4.5",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
        "card-like 4111 1111 1111 1112 fails Luhn",
        "time 10:30:45 and 12:00, ratio 3:2, slice x[1::2], std::vector",
        "1700000000 1700000000123 1700000000123456789",
    };
    for (const char* c : left) BOOST_TEST(R(c) == c, "changed: " << c);
}

BOOST_AUTO_TEST_CASE(private_key_blocks_are_redacted_whole) {
    const std::string pem = "cfg\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQUJDREVG\n"
                            "-----END OPENSSH PRIVATE KEY-----\nafter";
    BOOST_TEST(R(pem) == "cfg\n[REDACTED]\nafter");
    // cut off: the header and the base64 that follows, not the rest of the text
    BOOST_TEST(R("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB...") == "[REDACTED]...");
    BOOST_TEST(R("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nQUJDREVG\n\nThe agent answered.") ==
               "[REDACTED]\n\nThe agent answered.");
    const std::string pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\nlQOYBF0\nQUJD\n=abcd\n"
                            "-----END PGP PRIVATE KEY BLOCK-----\nok";
    BOOST_TEST(R(pgp) == "[REDACTED]\nok");
    const std::string enc = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,AB12\n\nMIIE\n"
                            "-----END RSA PRIVATE KEY-----";
    BOOST_TEST(R(enc) == "[REDACTED]");
}

BOOST_AUTO_TEST_CASE(default_rules_negative_cases) {
    const char* clean[] = {
        "ts 1700000000123",                                    // timestamp, not a phone or a card
        "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",       // 40 hex chars without AWS keyword
        "order 4111111111111112 fails Luhn",
        "task-abcdefghijklmnop is not an sk- key",
        "version 1.2.3.456 and 300.1.1.1",
        "12345678901234567890123",                             // 23 digits: no card
        "email me at john at example dot com",
        "max_tokens: 1000",
        "2024-01-15 10:30:00",
        "call extension 12345",
        R"({"id":"chatcmpl-abc","object":"chat.completion","created": 1732460961,"model":"gpt-4o"})",   // unix seconds
        "ts_ms 1732460961123 ts_ns 1732460961123456789 ts 1732460961",
        "the secret: consistency, a password reset flow and a token budget of 4096",
        R"({"max_tokens": 4096, "tokens": 12, "token_count": 3})",
        "rated +1 by two reviewers, +3.5 %",
    };
    for (const char* c : clean) BOOST_TEST(R(c) == c, "changed: " << c);
}

BOOST_AUTO_TEST_CASE(overlaps_resolve_to_the_longest_most_specific_match) {
    redaction_config c;
    c.mode = redaction_mode::hash;
    c.hash_key = "k";
    const redactor r(c);
    redaction_scratch s = r.make_scratch();
    std::string out;
    auto m = r.redact("card 4111111111111111 end", out, s);
    BOOST_TEST_REQUIRE(m.size() == 1u);
    BOOST_TEST(m[0].rule == "credit_card");   // not a phone match on the first 10 digits
    m = r.redact("x sk-ant-api03-abcdefghijklmnop y", out, s);
    BOOST_TEST_REQUIRE(m.size() == 1u);
    BOOST_TEST(m[0].rule == "anthropic_api_key");
    BOOST_TEST(m[0].start == 2u);
}

BOOST_AUTO_TEST_CASE(modes_mask_hash_remove_and_rule_replacement) {
    redaction_config hash;
    hash.mode = redaction_mode::hash;
    hash.hash_key = "secret-key";
    const redactor h(hash);
    const std::string a = h.redact("mail a@b.io");
    BOOST_TEST(a.rfind("mail [HASH:", 0) == 0u);
    BOOST_TEST(a.size() == std::string("mail [HASH:0123456789abcdef]").size());
    BOOST_TEST(h.redact("mail a@b.io") == a);                 // deterministic for a key
    redaction_config other = hash;
    other.hash_key = "another-key";
    BOOST_TEST(redactor(other).redact("mail a@b.io") != a);   // keyed: not a plain SHA-256
    redaction_config rm;
    rm.mode = redaction_mode::remove;
    BOOST_TEST(redactor(rm).redact("mail a@b.io end") == "mail  end");
    redaction_config custom;
    custom.include_defaults = false;
    custom.rules.push_back(redaction_rule{"employee_id", "EMP-[0-9]{6}", {}, std::string("<EMPLOYEE>")});
    BOOST_TEST(redactor(custom).redact("id EMP-123456, mail a@b.io") == "id <EMPLOYEE>, mail a@b.io");
}

BOOST_AUTO_TEST_CASE(field_paths_and_allowlists) {
    redaction_config c;
    c.rules.push_back(redaction_rule{"api_key_field", "", {"api_key", "attributes.credentials.token"}, std::nullopt});
    c.allowlist = {"support@example.com"};
    c.allowlist_patterns = {"10\\.0\\.0\\.[0-9]+"};
    const redactor r(c);
    BOOST_TEST(r.field_replacement("inputs.api_key").value_or("none") == "[REDACTED]");
    BOOST_TEST(r.field_replacement("api_key").value_or("none") == "[REDACTED]");
    BOOST_TEST(r.field_replacement("attributes.credentials.token").value_or("none") == "[REDACTED]");
    BOOST_TEST(!r.field_replacement("inputs.query").has_value());
    BOOST_TEST(r.redact("write to support@example.com or bob@example.com") == "write to support@example.com or [REDACTED]");
    BOOST_TEST(r.redact("hosts 10.0.0.7 and 192.168.1.1") == "hosts 10.0.0.7 and [REDACTED]");
}

BOOST_AUTO_TEST_CASE(bad_rules_fail_with_the_rule_named) {
    redaction_config c;
    c.rules.push_back(redaction_rule{"broken", "([a-z]+", {}, std::nullopt});
    try {
        redactor r(c);
        BOOST_ERROR("accepted a broken pattern");
    } catch (const config_error& e) {
        BOOST_TEST(e.field().find("broken") != std::string::npos);
    }
    redaction_config d;
    d.disabled_defaults = {"no_such_rule"};
    BOOST_CHECK_THROW(redactor{d}, config_error);
    redaction_config e;
    e.rules.push_back(redaction_rule{"", "x", {}, std::nullopt});
    BOOST_CHECK_THROW(redactor{e}, config_error);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_scanned_as_bytes) {
    const char raw[] = "\xff\xfe bad \xc3 bytes a@b.io \x80\x81";
    const std::string in(raw, sizeof(raw) - 1);
    const std::string out = R(in);
    BOOST_TEST(out.find("a@b.io") == std::string::npos);
    BOOST_TEST(out.find("\xff\xfe bad \xc3 bytes ") == 0u);
}

BOOST_AUTO_TEST_CASE(a_64_mib_value) {
    std::string big;
    big.reserve(64u << 20);
    const std::string filler = "The quick brown fox jumps over the lazy dog while the agent thinks. ";
    std::size_t planted = 0;
    while (big.size() < (64u << 20) - 200) {
        big += filler;
        if (big.size() % 1000000 < filler.size()) {
            big += "mail user" + std::to_string(planted++) + "@example.org ";
        }
    }
    const std::string out = R(big);
    BOOST_TEST(planted > 50u);
    BOOST_TEST(out.find("@example.org") == std::string::npos);   // every planted email, across windows
    std::size_t n = 0;
    for (std::size_t p = out.find("[REDACTED]"); p != std::string::npos; p = out.find("[REDACTED]", p + 1)) ++n;
    BOOST_TEST(n == planted);
}

BOOST_AUTO_TEST_CASE(planted_corpus_recall_and_clean_text_untouched) {
    std::mt19937 rng(42);
    const char* words[] = {"agent", "model", "answer", "the", "weather", "is", "sunny", "retrieval", "documents", "and",
                           "tool", "call", "returned", "results", "quickly", "for", "user", "question", "about", "travel"};
    const char* pii[] = {"alice@example.com", "555-867-5309", "4242 4242 4242 4242", "078-05-1120", "10.1.2.3",
                         "sk-abcdefghijklmnopqrstuvwx", "AKIAABCDEFGHIJKLMNOP", "Bearer eyJhbGciOi.eyJzdWIi.SflKxw"};
    std::size_t planted = 0, found = 0;
    for (int doc = 0; doc < 200; ++doc) {
        std::string text, clean;
        std::vector<std::string> secrets;
        const int len = 1024 + static_cast<int>(rng() % 8192);
        while (static_cast<int>(text.size()) < len) {
            const std::string w = words[rng() % std::size(words)];
            text += w + " ";
            clean += w + " ";
            if (rng() % 40 == 0) {
                const std::string p = pii[rng() % std::size(pii)];
                text += p + " ";
                secrets.push_back(p);
            }
        }
        const std::string out = R(text);
        for (const auto& s : secrets) {
            ++planted;
            if (out.find(s) == std::string::npos) ++found;
        }
        BOOST_TEST_REQUIRE(R(clean) == clean);   // precision: clean text is untouched
    }
    BOOST_TEST(planted > 100u);
    BOOST_TEST(found == planted);   // recall 100 %
}

// A batch joins texts with NUL separators for one scan; each text must still get exactly what
// redact() gives it alone, including when a match would run from one text into the next.
BOOST_AUTO_TEST_CASE(a_batch_redacts_each_text_as_if_alone) {
    const redactor& red = default_redactor();
    auto scratch = red.make_scratch();
    std::mt19937 rng(7);
    const char* pieces[] = {"alice@example.com", "555-867-5309", "4242 4242 4242 4242", "078-05-1120", "10.1.2.3",
                            "sk-abcdefghijklmnopqrstuvwx", "AKIAABCDEFGHIJKLMNOP", "Bearer eyJhbGciOi.eyJzdWIi.SflKxw",
                            "api_key=abcdefgh12345678", "password: hunter2", "-----BEGIN RSA PRIVATE KEY-----",
                            "the agent", " answered ", "1234", "-", "@", ".com", "ghp_", "sk-ant-", "Bearer "};
    redactor::batch batch(red, scratch);
    std::string expected, got;
    std::size_t hits = 0;
    for (int round = 0; round < 300; ++round) {
        // one long text of random pieces, cut at random points: matches straddle the cuts
        std::string whole;
        while (whole.size() < 400) whole += pieces[rng() % std::size(pieces)];
        std::vector<std::string> texts;
        for (std::size_t at = 0; at < whole.size();) {
            const std::size_t n = std::min<std::size_t>(whole.size() - at, 1 + rng() % 40);
            texts.push_back(whole.substr(at, n));
            at += n;
        }
        batch.clear();
        for (const auto& t : texts) BOOST_TEST_REQUIRE(batch.add(t));
        batch.scan();
        for (std::size_t i = 0; i < texts.size(); ++i) {
            red.redact(texts[i], expected, scratch);
            if (batch.has_candidates(i)) {
                const auto m = batch.finish(i, got);
                hits += m.size();
            } else {
                got = texts[i];
            }
            BOOST_TEST_REQUIRE(got == expected, "text " << i << " '" << texts[i] << "': batch '" << got << "' alone '" << expected << "'");
        }
    }
    BOOST_TEST(hits > 100u);   // the comparison covered real matches, not just clean text
}

// The property the pipeline relies on: for every rule set and every texts, a batch gives each
// text exactly what redact() gives it alone (random rule sets x random texts, seeded).
BOOST_AUTO_TEST_CASE(a_batch_agrees_with_redact_for_random_rule_sets) {
    const char* patterns[] = {"secret=.+", "Authorization: .*", "id=\\S+", "[a-z]+@x", "a.b", "\\d+", "(ab)+",
                              "x[^y]*y", "k[^\\n]{0,30}v", "tok_[a-z0-9]{4,}", "\\s+\\d", "b+", "q.{2,6}q"};
    const char* pieces[] = {"Authorization: ", "secret=", "id=", "one", "two", "ab", "x", "y", "q", "k", "v", " ",
                            "\n", "12", "@x", "tok_", "a1b2", "bbb", "\t", "Z"};
    std::mt19937 rng(20261130);
    std::size_t compared = 0, hits = 0;
    std::string expected, got;
    for (int set = 0; set < 120 * tc_test::fuzz_scale(); ++set) {
        redaction_config cfg;
        cfg.include_defaults = rng() % 3 == 0;
        const int n_rules = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < n_rules; ++k)
            cfg.rules.push_back(redaction_rule{"r" + std::to_string(k), patterns[rng() % std::size(patterns)], {}, std::nullopt});
        const redactor red(cfg);
        auto scratch = red.make_scratch();
        redactor::batch batch(red, scratch);
        for (int round = 0; round < 40; ++round) {
            std::vector<std::string> texts(1 + rng() % 6);
            for (auto& t : texts) {
                const int n = static_cast<int>(rng() % 8);
                for (int k = 0; k < n; ++k) t += pieces[rng() % std::size(pieces)];
                if (rng() % 10 == 0) t.push_back('\0');
            }
            batch.clear();
            for (const auto& t : texts) BOOST_TEST_REQUIRE(batch.add(t));
            batch.scan();
            for (std::size_t i = 0; i < texts.size(); ++i) {
                const auto alone = red.redact(texts[i], expected, scratch);
                got = texts[i];
                if (batch.has_candidates(i)) hits += batch.finish(i, got).size();
                ++compared;
                BOOST_TEST_REQUIRE(got == expected, "rule set " << set << " round " << round << " text " << i << ": batch '"
                                                                << got << "' alone '" << expected << "'");
            }
        }
    }
    BOOST_TEST(compared > 10000u);
    BOOST_TEST(hits > 1000u);
}

// The smallest case that leaked: two texts hit by one open-ended rule, the second longer.
BOOST_AUTO_TEST_CASE(a_batch_with_two_open_ended_hits) {
    redaction_config cfg;
    cfg.include_defaults = false;
    cfg.rules.push_back(redaction_rule{"auth", "Authorization: .*", {}, std::nullopt});
    const redactor red(cfg);
    auto scratch = red.make_scratch();
    redactor::batch batch(red, scratch);
    const std::string h1 = "Authorization: one", h2 = "Authorization: two and more";
    BOOST_TEST_REQUIRE(batch.add(h1));
    BOOST_TEST_REQUIRE(batch.add(h2));
    batch.scan();
    std::string out;
    BOOST_TEST_REQUIRE(batch.has_candidates(0));
    batch.finish(0, out);
    BOOST_TEST(out == "[REDACTED]");
    BOOST_TEST_REQUIRE(batch.has_candidates(1));
    batch.finish(1, out);
    BOOST_TEST(out == "[REDACTED]");
}

// Hostile values: one unit repeated, the shapes that made confirmation quadratic (every
// position a candidate that rescanned the run). Linear now: 4x the input takes ~4x the time.
BOOST_AUTO_TEST_CASE(redaction_is_linear_on_hostile_values) {
    const redactor& red = default_redactor();
    auto scratch = red.make_scratch();
    const char* units[] = {"4111 ", "1234 ", "1234-", "pwd=", "password: ", "sk-", "token:", "xoxb-", "@", "a@b.", "=",
                           "QUJDREVGR0hJ", "-----BEGIN RSA PRIVATE KEY-----\n", "\"'", "1.2.", "Bearer ", "AccountKey=",
                           "555-1234 ", "+1 ", "ghp_", "AKIA"};
    std::string out;
    const auto before = red.budget_exhaustions();
    for (const char* unit : units) {
        double secs[2] = {0, 0};
        const std::size_t sizes[2] = {64u << 10, 256u << 10};
        for (int k = 0; k < 2; ++k) {
            std::string v;
            while (v.size() < sizes[k]) v += unit;
            const auto t0 = std::chrono::steady_clock::now();
            red.redact(v, out, scratch);
            secs[k] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        }
        // quadratic would be 16x; allow noise on a busy machine (and the fixed costs of a small value)
        BOOST_TEST(secs[1] < 10 * secs[0] + 0.05, "unit '" << unit << "': 64 KiB " << secs[0] << " s, 256 KiB " << secs[1] << " s");
        BOOST_TEST(secs[1] < 2.0, "unit '" << unit << "' 256 KiB took " << secs[1] << " s");
    }
    BOOST_TEST(red.budget_exhaustions() == before);   // the defaults stay within their budget
}

BOOST_AUTO_TEST_CASE(an_exhausted_budget_masks_the_whole_value_and_is_counted) {
    const redactor& red = default_redactor();
    auto scratch = red.make_scratch();
    const auto before = red.budget_exhaustions();
    detail::set_redaction_work_budget(1);
    std::string v, out;
    while (v.size() < 8192) v += "4111 ";
    const auto m = red.redact(v, out, scratch);
    detail::set_redaction_work_budget(0);
    BOOST_TEST(out == "[REDACTED]");
    BOOST_TEST_REQUIRE(m.size() == 1u);
    BOOST_TEST(m[0].rule == "work_budget");
    BOOST_TEST(red.budget_exhaustions() == before + 1);
    BOOST_TEST(R("call 555-867-5309 now") == "call [REDACTED] now");   // back to normal
}

// A match longer than anything a window overlap could hold, across a window boundary, in a value
// scanned in steps: found whole (the text is one Hyperscan stream).
BOOST_AUTO_TEST_CASE(a_long_match_across_a_window_boundary) {
    redaction_config cfg;
    cfg.include_defaults = false;
    cfg.rules.push_back(redaction_rule{"block", "BEGIN[^E]*END", {}, std::nullopt});
    const redactor red(cfg);
    auto scratch = red.make_scratch();
    std::string v(redactor::window - 10000, 'x');
    const std::size_t start = v.size();
    v += "BEGIN" + std::string(40000, 's') + "END";
    v += std::string(redactor::window, 'y');
    redactor::session session(red, v, scratch);
    int steps = 1;
    while (!session.step()) ++steps;
    BOOST_TEST(steps == 4);   // three windows scanned, then the candidates confirmed in one slice
    std::string out;
    const auto m = session.finish(out);
    BOOST_TEST_REQUIRE(m.size() == 1u);
    BOOST_TEST(m[0].start == start);
    BOOST_TEST(m[0].end == start + 40008);
    BOOST_TEST(out.find('s') == std::string::npos);
    std::string alone;
    red.redact(v, alone, scratch);
    BOOST_TEST(alone == out);
}

BOOST_AUTO_TEST_CASE(patterns_that_would_change_meaning_are_rejected_with_the_rule_named) {
    auto message = [](redaction_config cfg) -> std::string {
        try {
            redactor r(cfg);
        } catch (const config_error& e) {
            return e.what();
        }
        return "accepted";
    };
    redaction_config nul;
    nul.rules.push_back(redaction_rule{"with_nul", std::string("abc\0def", 7), {}, std::nullopt});
    const std::string m1 = message(nul);
    BOOST_TEST(m1.find("redaction.rules[0].pattern") != std::string::npos, m1);
    BOOST_TEST(m1.find("with_nul") != std::string::npos, m1);
    BOOST_TEST(m1.find("NUL") != std::string::npos, m1);

    redaction_config escape;   // "x)|(.*" wrapped as "^(?:p)$" kept everything
    escape.allowlist_patterns = {"x)|(.*"};
    const std::string m2 = message(escape);
    BOOST_TEST(m2.find("redaction.allowlist_patterns[0]") != std::string::npos, m2);

    redaction_config quoted;   // an open \Q quote must not swallow the wrapper's ")$"
    quoted.allowlist_patterns = {"\\Qkeep@example.com"};
    const redactor rq(quoted);
    BOOST_TEST(rq.redact("mail keep@example.com and other@example.com") == "mail keep@example.com and [REDACTED]");

    redaction_config nul_allow;
    nul_allow.allowlist_patterns = {std::string("a\0", 2)};
    BOOST_TEST(message(nul_allow).find("NUL") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_long_hash_key_gives_the_same_hmac_as_hmac_itself) {
    redaction_config cfg;
    cfg.mode = redaction_mode::hash;
    cfg.hash_key = std::string(200, 'k');
    const redactor r(cfg);
    // HMAC-SHA256(key = 200 x 'k', "a@example.com"), first 8 bytes, computed independently (Python hmac)
    const std::string out = r.redact("a@example.com");
    BOOST_TEST(out.rfind("[HASH:", 0) == 0u);
    redaction_config same = cfg;
    const redactor r2(same);
    BOOST_TEST(r2.redact("a@example.com") == out);
    BOOST_TEST(out == "[HASH:" + std::string("1857bc49bd28e14b") + "]");
}

BOOST_AUTO_TEST_CASE(a_batch_refuses_what_it_cannot_join) {
    auto scratch = default_redactor().make_scratch();
    redactor::batch batch(default_redactor(), scratch);
    BOOST_TEST(!batch.add(std::string(redactor::batch::max_text + 1, 'a')));
    BOOST_TEST(batch.add("mail bob@example.com"));
    const std::string nul_inside("a\0x@y.io 078-05-1120\0", 22);   // a text's own NULs are no separators
    BOOST_TEST(batch.add(nul_inside));
    BOOST_TEST(batch.size() == 2u);
    batch.scan();
    std::string got, alone;
    default_redactor().redact(nul_inside, alone, scratch);
    BOOST_TEST_REQUIRE(batch.has_candidates(1));
    batch.finish(1, got);
    BOOST_TEST(got == alone);
    BOOST_TEST(got == std::string("a\0[REDACTED] [REDACTED]\0", 25));

    redaction_config anchored;
    anchored.rules.push_back(redaction_rule{"whole_id", "^ID-[0-9]{4}$", {}, std::nullopt});
    const redactor red(anchored);
    auto s2 = red.make_scratch();
    redactor::batch b2(red, s2);
    BOOST_TEST(!b2.add("ID-1234"));                  // '^' would not match after a separator
    BOOST_TEST(red.redact("ID-1234") == "[REDACTED]");   // alone it does

    redaction_config in_class;
    in_class.rules.push_back(redaction_rule{"not_anchored", "x[^a-z$]{4}y", {}, std::nullopt});
    const redactor red3(in_class);
    auto s3 = red3.make_scratch();
    redactor::batch b3(red3, s3);
    BOOST_TEST(b3.add("x1234y"));                    // '^' and '$' inside a class are no anchors
    BOOST_TEST(b3.add("x12"));
    BOOST_TEST(b3.add("3y"));                        // "x12\\03y" would match across the separator
    b3.scan();
    std::string out;
    BOOST_TEST(b3.has_candidates(0));
    b3.finish(0, out);
    BOOST_TEST(out == "[REDACTED]");
    BOOST_TEST(!b3.has_candidates(1));
    BOOST_TEST(!b3.has_candidates(2));

    // a match reaching back into the previous text hides the start this text alone reports:
    // the text is rescanned alone
    redaction_config dotted;
    dotted.rules.push_back(redaction_rule{"a_to_b", "a[^z]{0,20}b", {}, std::nullopt});
    const redactor red4(dotted);
    auto s4 = red4.make_scratch();
    redactor::batch b4(red4, s4);
    BOOST_TEST(b4.add("qa"));
    BOOST_TEST(b4.add("xxab"));
    BOOST_TEST(b4.add("zz"));
    b4.scan();
    BOOST_TEST(!b4.has_candidates(0));
    BOOST_TEST_REQUIRE(b4.has_candidates(1));
    const auto m = b4.finish(1, out);
    BOOST_TEST(out == "xx[REDACTED]");
    BOOST_TEST_REQUIRE(m.size() == 1u);
    BOOST_TEST(m[0].start == 2u);
    BOOST_TEST(!b4.has_candidates(2));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pipeline_redaction)

BOOST_AUTO_TEST_CASE(every_string_a_span_carries_is_redacted_before_export) {
    trace_config cfg;
    cfg.redaction.rules.push_back(redaction_rule{"token_field", "", {"inputs.auth_token"}, std::nullopt});
    cfg.sampling.rate = 0.0;   // only the error trace is kept; the dropped one is never scanned
    tc_test::traced_env env(cfg);
    {
        run_options o;
        o.user_id = "bob@example.com";
        o.input = "my card is 4111 1111 1111 1111";
        run_scope run("support_agent", o);
        run.set_attribute("note", "call me at 555-123-4567")
            .set_attribute("contacts", {"a@b.io", "plain"})
            .set_input("auth_token", "opaque-value-without-pattern")
            .set_output("answer", "sent to alice@example.com");
        run.add_event("tool_log", {{"line", "key sk-abcdefghijklmnopqrst used"}});
        run.set_status(status_code::error, "failed for 078-05-1120");
    }
    { run_scope clean("dropped_run"); clean.set_attribute("email", "x@y.io"); }
    const auto spans = env.finish();
    BOOST_TEST_REQUIRE(spans.size() == 1u);
    const auto& s = spans[0];
    BOOST_TEST(tc_test::str(s.attribute("user.id")) == "[REDACTED]");
    BOOST_TEST(tc_test::str(s.attribute("note")) == "call me at [REDACTED]");
    BOOST_TEST((std::get<std::vector<std::string>>(s.attribute("contacts")) == std::vector<std::string>{"[REDACTED]", "plain"}));
    BOOST_TEST(tc_test::str(s.input("input")) == "my card is [REDACTED]");
    BOOST_TEST(tc_test::str(s.input("auth_token")) == "[REDACTED]");   // field path, no pattern needed
    BOOST_TEST(tc_test::str(s.output("answer")) == "sent to [REDACTED]");
    BOOST_TEST(tc_test::str(s.events.at(0).attributes.at(0).second) == "key [REDACTED] used");
    BOOST_TEST(s.status_message == "failed for [REDACTED]");
    BOOST_TEST(env.rt->stats().spans_redacted == 1u);
    BOOST_TEST(env.rt->stats().redaction_failures == 0u);
}

// Once a batch threw out of the pipeline here (an open-ended custom rule over two values, the
// second longer): the pipeline coroutine died, nothing was exported after it and shutdown()
// never returned. Both values are masked and the next traces still flow.
BOOST_AUTO_TEST_CASE(open_ended_custom_rule_over_two_values_and_the_pipeline_goes_on) {
    trace_config cfg;
    cfg.redaction.rules.push_back(redaction_rule{"auth", "Authorization: .*", {}, std::nullopt});
    tc_test::traced_env env(cfg);
    {
        run_scope run("headers");
        run.set_attribute("h1", "Authorization: one").set_attribute("h2", "Authorization: two and much longer");
    }
    for (int i = 0; i < 3; ++i) {
        run_scope later("later");
        later.set_attribute("mail", "x@example.com");
    }
    const auto spans = env.finish();
    BOOST_TEST_REQUIRE(spans.size() == 4u);
    const auto& h = tc_test::get_span(spans, "headers");
    BOOST_TEST(tc_test::str(h.attribute("h1")) == "[REDACTED]");
    BOOST_TEST(tc_test::str(h.attribute("h2")) == "[REDACTED]");
    BOOST_TEST(tc_test::str(tc_test::get_span(spans, "later").attribute("mail")) == "[REDACTED]");
    BOOST_TEST(env.rt->stats().redaction_failures == 0u);
    BOOST_TEST(env.rt->stats().traces_processor_failed == 0u);
}

BOOST_AUTO_TEST_CASE(a_value_over_the_work_budget_is_masked_whole_and_counted) {
    tc_test::traced_env env;
    detail::set_redaction_work_budget(1);
    {
        run_scope run("digits");
        std::string v;
        while (v.size() < 4096) v += "1234 ";
        run.set_attribute("prompt", v).set_attribute("short", "ok");
    }
    env.rt->force_flush();
    detail::set_redaction_work_budget(0);
    const auto spans = env.finish();
    BOOST_TEST_REQUIRE(spans.size() == 1u);
    BOOST_TEST(tc_test::str(spans[0].attribute("prompt")) == "[REDACTED]");
    BOOST_TEST(tc_test::str(spans[0].attribute("short")) == "ok");
    BOOST_TEST(env.rt->stats().redaction_budget_exhausted == 1u);
}

BOOST_AUTO_TEST_CASE(redaction_can_be_disabled) {
    trace_config cfg;
    cfg.redaction.enabled = false;
    tc_test::traced_env env(cfg);
    { span_scope s("raw"); s.set_attribute("email", "x@y.io"); }
    BOOST_TEST(tc_test::str(tc_test::get_span(env.finish(), "raw").attribute("email")) == "x@y.io");
}

BOOST_AUTO_TEST_CASE(a_broken_custom_pattern_fails_runtime_construction) {
    trace_config cfg;
    cfg.redaction.rules.push_back(redaction_rule{"bad", "(unclosed", {}, std::nullopt});
    boost::asio::io_context ioc;
    BOOST_CHECK_THROW(runtime(ioc, cfg), config_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pipeline_redaction_yields)

namespace {
struct tick_exporter final : exporter {
    std::atomic<long>* ticks;
    long at_export = -1;
    std::size_t spans = 0;
    explicit tick_exporter(std::atomic<long>* t) : ticks(t) {}
    std::string_view name() const noexcept override { return "ticks"; }
    boost::asio::awaitable<export_result> export_batch(span_batch b) override {
        at_export = ticks->load();
        spans += b.span_count();
        co_return export_result::ok();
    }
};

boost::asio::awaitable<void> ticker(std::atomic<long>* ticks, const bool* stop) {
    while (!*stop) {
        ++*ticks;
        co_await boost::asio::post(boost::asio::use_awaitable);
    }
}

boost::asio::awaitable<void> big_trace(std::string* value, std::atomic<long>* ticks, long* at_end) {
    {
        span_scope s("big");
        s.set_attribute("blob", *value);
    }
    *at_end = ticks->load();
    co_return;
}
} // namespace

BOOST_AUTO_TEST_CASE(a_huge_value_is_scanned_in_steps_that_let_other_handlers_run) {
    std::atomic<long> ticks{0};
    bool stop = false;
    long at_end = 0;
    std::string value(32u << 20, 'a');
    value.replace(value.size() / 2, 14, " x@example.io ");
    auto exp = std::make_shared<tick_exporter>(&ticks);
    boost::asio::io_context ioc(1);
    trace_config cfg;
    cfg.exporters = {exp};
    cfg.flush_interval = std::chrono::milliseconds(1);
    cfg.max_attribute_value_length = 0;   // no limit: the whole 32 MiB
    auto rt = std::make_shared<runtime>(ioc, cfg);
    boost::asio::co_spawn(make_executor(ioc, rt.get()), ticker(&ticks, &stop), boost::asio::detached);
    boost::asio::co_spawn(make_executor(ioc, rt.get()), big_trace(&value, &ticks, &at_end), boost::asio::detached);
    while (exp->spans == 0) ioc.run_one();
    stop = true;
    ioc.run();
    rt->shutdown();
    // 32 MiB in 256 KiB windows = 128 steps; the ticker runs between steps on the same thread
    BOOST_TEST(exp->at_export - at_end >= 100);
    BOOST_TEST(rt->stats().spans_redacted == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pipeline_redaction_fail_closed)

BOOST_AUTO_TEST_CASE(a_span_that_cannot_be_scanned_is_fully_masked_and_counted) {
    tc_test::traced_env env;
    {
        span_scope s("unscannable");
        s.set_attribute("email", "x@y.io").set_attribute("count", 3).set_input("q", "plain text");
        s.set_attribute("list", {"a", "b"});
        s.set_status(status_code::error, "boom for x@y.io");
    }
    detail::set_redaction_fault_injection(true);
    auto spans = env.finish();
    detail::set_redaction_fault_injection(false);
    const auto& s = tc_test::get_span(spans, "unscannable");
    BOOST_TEST(tc_test::str(s.attribute("email")) == "[REDACTED]");
    BOOST_TEST(tc_test::str(s.input("q")) == "[REDACTED]");   // even clean text: nothing unscanned leaves
    BOOST_TEST((std::get<std::vector<std::string>>(s.attribute("list")) == std::vector<std::string>{"[REDACTED]", "[REDACTED]"}));
    BOOST_TEST(std::get<std::int64_t>(s.attribute("count")) == 3);   // non-strings carry no text
    BOOST_TEST(s.status_message == "[REDACTED]");
    BOOST_TEST(env.rt->stats().redaction_failures == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// Open-ended rules report one Hyperscan callback per possible end; the engine keeps one
// candidate per token. The match must still cover the whole token and name the right rule.
BOOST_AUTO_TEST_CASE(open_ended_matches_cover_whole_tokens) {
    const tracecraft::redactor red{tracecraft::redaction_config{}};
    auto scratch = red.make_scratch();
    std::string out;
    const std::string key = "sk-ant-api03-" + std::string(60, 'x');
    const std::string bearer = "Bearer " + std::string(50, 'a') + ".b.c==";
    const std::string mail = "first.last@mail.example.co.uk";
    const std::string text = "k " + key + " then " + bearer + " and " + mail + " ok";
    const auto m = red.redact(text, out, scratch);
    BOOST_TEST_REQUIRE(m.size() == 3u);
    BOOST_TEST(text.substr(m[0].start, m[0].end - m[0].start) == key);
    BOOST_TEST(m[0].rule == "anthropic_api_key");
    BOOST_TEST(text.substr(m[1].start, m[1].end - m[1].start) == bearer);
    BOOST_TEST(m[1].rule == "bearer_token");
    BOOST_TEST(text.substr(m[2].start, m[2].end - m[2].start) == mail);
    BOOST_TEST(m[2].rule == "email");
    BOOST_TEST(out == "k [REDACTED] then [REDACTED] and [REDACTED] ok");
}
