// UTF-8 validation (private to the library): the length of one well-formed sequence, per the
// Unicode standard's table of well-formed byte sequences (no overlongs, no surrogates, at most
// U+10FFFF).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tracecraft::detail {

/// Length (1-4) of the well-formed UTF-8 sequence at s[i], or 0 if the bytes there are not one.
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    if (c < 0x80) return 1;
    const std::size_t left = s.size() - i;
    const auto cont = [&](std::size_t k) { return k < left && (b(k) & 0xC0) == 0x80; };
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || !cont(1) || !cont(2)) return 0;
        if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
        if (c == 0xED && b(1) > 0x9F) return 0;   // surrogates
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || !cont(1) || !cont(2) || !cont(3)) return 0;
        if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
        if (c == 0xF4 && b(1) > 0x8F) return 0;   // above U+10FFFF
        return 4;
    }
    return 0;
}

/// True if all of `s` is well-formed UTF-8 (ASCII fast path).
inline bool is_valid_utf8(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        const std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

/// Appends `s` to `out` with every byte that is not part of a well-formed sequence replaced
/// by U+FFFD; returns how many were replaced.
inline std::size_t append_valid_utf8(std::string& out, std::string_view s) {
    std::size_t replaced = 0;
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++replaced;
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return replaced;
}

} // namespace tracecraft::detail
