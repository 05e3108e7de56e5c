// TraceCraft C++ — trace and span identifiers.
//
// Identifiers are kept as native integers; hexadecimal text exists only at the edges
// (W3C headers, OTLP/JSON, JSONL). Generation uses a per-thread xoshiro256** generator
// seeded from std::random_device: no lock, no syscall per id, never all-zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tracecraft {

/// 16-byte W3C trace id, stored as two big-endian halves (hi = bytes 0..7).
struct trace_id {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;

    [[nodiscard]] constexpr bool valid() const noexcept { return (hi | lo) != 0; }
    /// 32 lowercase hex characters.
    [[nodiscard]] std::string to_hex() const;
    /// Writes 32 hex characters to `out` (no terminator).
    void write_hex(char* out) const noexcept;
    /// Writes the 16 big-endian bytes to `out`.
    void write_bytes(unsigned char* out) const noexcept;
    /// Parses exactly 32 lowercase hex characters; nullopt otherwise (all-zero is returned as is).
    [[nodiscard]] static std::optional<trace_id> from_hex(std::string_view hex) noexcept;
    /// A fresh random, non-zero id.
    [[nodiscard]] static trace_id generate() noexcept;

    friend constexpr bool operator==(const trace_id&, const trace_id&) noexcept = default;
};

/// 8-byte W3C span id (parent-id in traceparent), stored as a big-endian integer.
struct span_id {
    std::uint64_t value = 0;

    [[nodiscard]] constexpr bool valid() const noexcept { return value != 0; }
    [[nodiscard]] std::string to_hex() const;
    void write_hex(char* out) const noexcept;
    void write_bytes(unsigned char* out) const noexcept;
    [[nodiscard]] static std::optional<span_id> from_hex(std::string_view hex) noexcept;
    [[nodiscard]] static span_id generate() noexcept;

    friend constexpr bool operator==(const span_id&, const span_id&) noexcept = default;
};

/// W3C trace-flags. Only the `sampled` bit (0x01) is interpreted.
enum class trace_flags : std::uint8_t { none = 0, sampled = 1 };

/// The immutable, copyable identity of a span as it crosses boundaries.
struct span_context {
    trace_id trace;
    span_id span;
    std::uint8_t flags = 0;   ///< raw W3C trace-flags byte
    bool remote = false;      ///< true when extracted from a carrier (another process)

    [[nodiscard]] constexpr bool valid() const noexcept { return trace.valid() && span.valid(); }
    [[nodiscard]] constexpr bool sampled() const noexcept { return (flags & 0x01u) != 0; }

    friend constexpr bool operator==(const span_context&, const span_context&) noexcept = default;
};

namespace detail {
/// Next 64 random bits of this thread's generator (never blocks, never locks).
std::uint64_t random_u64() noexcept;
/// A new root's ids in one call (the hot path of every unsampled root): a random span id, and
/// a random trace id unless `t` is already valid (remote parent).
void random_root_ids(trace_id& t, span_id& s) noexcept;
} // namespace detail

} // namespace tracecraft
