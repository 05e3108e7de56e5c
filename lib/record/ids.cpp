// Trace and span identifiers: random generation (per-thread generator), hex and bytes.
#include "tracecraft/ids.hpp"

#include <bit>
#include <chrono>
#include <cstring>
#include <random>

namespace tracecraft {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void write_u64_hex(std::uint64_t v, char* out) noexcept {
    for (int i = 15; i >= 0; --i) {
        out[i] = hex_digits[v & 0xF];
        v >>= 4;
    }
}

void write_u64_be(std::uint64_t v, unsigned char* out) noexcept {
    // one byte swap and one store (GCC 12 does not fold the byte loop: ~90 instructions per id,
    // three ids per exported span)
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
    std::memcpy(out, &v, 8);
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;   // uppercase is not valid W3C hex
}

bool parse_u64_hex(std::string_view s, std::uint64_t& out) noexcept {
    std::uint64_t v = 0;
    for (char c : s) {
        const int d = hex_value(c);
        if (d < 0) return false;
        v = (v << 4) | static_cast<std::uint64_t>(d);
    }
    out = v;
    return true;
}

// xoshiro256** (Blackman & Vigna), one state per thread, seeded once.
struct rng_state {
    std::uint64_t s[4];
    bool seeded;
};
__attribute__((tls_model("initial-exec"))) thread_local rng_state t_rng{};

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void seed(rng_state& r) noexcept {
    std::uint64_t x = static_cast<std::uint64_t>(
        std::chrono::high_resolution_clock::now().time_since_epoch().count());
    x ^= reinterpret_cast<std::uintptr_t>(&r);   // a thread_local's address differs per thread
    try {
        std::random_device rd;
        x ^= (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    } catch (...) {
        // no entropy device: time, address and thread id still differ per thread
    }
    for (auto& s : r.s) s = splitmix64(x);
    r.seeded = true;
}

inline std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

} // namespace

namespace detail {
namespace {
inline std::uint64_t next_random() noexcept {
    rng_state& r = t_rng;
    if (!r.seeded) [[unlikely]]
        seed(r);
    const std::uint64_t result = rotl(r.s[1] * 5, 7) * 9;
    const std::uint64_t t = r.s[1] << 17;
    r.s[2] ^= r.s[0];
    r.s[3] ^= r.s[1];
    r.s[1] ^= r.s[2];
    r.s[0] ^= r.s[3];
    r.s[2] ^= t;
    r.s[3] = rotl(r.s[3], 45);
    return result;
}
} // namespace

std::uint64_t random_u64() noexcept { return next_random(); }

void random_root_ids(trace_id& t, span_id& s) noexcept {
    while (!t.valid()) {
        t.hi = next_random();
        t.lo = next_random();
    }
    do {
        s.value = next_random();
    } while (s.value == 0);
}
} // namespace detail

std::string trace_id::to_hex() const {
    std::string s(32, '0');
    write_hex(s.data());
    return s;
}
void trace_id::write_hex(char* out) const noexcept {
    write_u64_hex(hi, out);
    write_u64_hex(lo, out + 16);
}
void trace_id::write_bytes(unsigned char* out) const noexcept {
    write_u64_be(hi, out);
    write_u64_be(lo, out + 8);
}
std::optional<trace_id> trace_id::from_hex(std::string_view hex) noexcept {
    trace_id t;
    if (hex.size() != 32 || !parse_u64_hex(hex.substr(0, 16), t.hi) || !parse_u64_hex(hex.substr(16), t.lo))
        return std::nullopt;
    return t;
}
trace_id trace_id::generate() noexcept {
    trace_id t;
    do {
        t.hi = detail::random_u64();
        t.lo = detail::random_u64();
    } while (!t.valid());
    return t;
}

std::string span_id::to_hex() const {
    std::string s(16, '0');
    write_hex(s.data());
    return s;
}
void span_id::write_hex(char* out) const noexcept { write_u64_hex(value, out); }
void span_id::write_bytes(unsigned char* out) const noexcept { write_u64_be(value, out); }
std::optional<span_id> span_id::from_hex(std::string_view hex) noexcept {
    span_id s;
    if (hex.size() != 16 || !parse_u64_hex(hex, s.value)) return std::nullopt;
    return s;
}
span_id span_id::generate() noexcept {
    std::uint64_t v;
    do {
        v = detail::random_u64();
    } while (v == 0);
    return span_id{v};
}

} // namespace tracecraft
