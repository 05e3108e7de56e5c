#include "viewer_assets.hpp"

#include <boost/json.hpp>

namespace tctool {

namespace {
constexpr std::string_view html =
#include "viewer_index.html.inc"
    ;
constexpr std::string_view css =
#include "viewer.css.inc"
    ;
constexpr std::string_view js =
#include "viewer.js.inc"
    ;

void replace_once(std::string& s, std::string_view what, const std::string& with) {
    if (auto p = s.find(what); p != std::string::npos) s.replace(p, what.size(), with);
}

/// JSON text safe inside a <script> element: no '<' at all (so no "</script" or "<!--"; in JSON
/// a '<' can only be inside a string, where \u003c means the same), U+2028/9 escaped.
std::string script_safe(std::string s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '<') {
            out += "\\u003c";
            continue;
        }
        if (s.compare(i, 3, "\xE2\x80\xA8") == 0 || s.compare(i, 3, "\xE2\x80\xA9") == 0) {
            out += s[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
            i += 2;
            continue;
        }
        out.push_back(s[i]);
    }
    return out;
}
} // namespace

std::string_view viewer_html() noexcept { return html; }
std::string_view viewer_css() noexcept { return css; }
std::string_view viewer_js() noexcept { return js; }

std::string standalone_html(const boost::json::object& data) {
    std::string page(html);
    replace_once(page, R"(<link rel="stylesheet" href="viewer.css">)", "<style>\n" + std::string(css) + "</style>");
    replace_once(page, R"(<script src="viewer.js"></script>)",
                 "<script>window.TRACECRAFT_DATA = " + script_safe(boost::json::serialize(data)) + ";</script>\n<script>\n" +
                     std::string(js) + "</script>");   // the script has no "</" (a test checks)
    return page;
}

} // namespace tctool
