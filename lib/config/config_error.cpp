// config_error::quote: input echoed in an error message, bounded and escaped.
#include "tracecraft/config_error.hpp"

#include "support/utf8.hpp"

namespace tracecraft {

std::string config_error::quote(std::string_view value, std::size_t max_bytes) {
    static const char hex[] = "0123456789abcdef";
    std::string out = "'";
    std::size_t i = 0;
    while (i < value.size() && i < max_bytes) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c >= 0x80) {   // a whole valid sequence is kept, anything else escaped byte by byte
            const std::size_t n = detail::utf8_sequence_length(value, i);
            if (n > 0) {
                out.append(value.substr(i, n));
                i += n;
                continue;
            }
        }
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c == '\'' || c == '\\') (out += '\\') += static_cast<char>(c);
        else if (c < 0x20 || c >= 0x7f) ((out += "\\x") += hex[c >> 4]) += hex[c & 0xF];
        else out += static_cast<char>(c);
        ++i;
    }
    out += '\'';
    if (i < value.size()) out += "... (" + std::to_string(value.size()) + " bytes)";
    return out;
}

} // namespace tracecraft
