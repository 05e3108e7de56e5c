// The web viewer's files (viewer/index.html, viewer.css, viewer.js), compiled into the binary.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace tctool {

[[nodiscard]] std::string_view viewer_html() noexcept;
[[nodiscard]] std::string_view viewer_css() noexcept;
[[nodiscard]] std::string_view viewer_js() noexcept;

/// One self-contained page: the viewer with its CSS, its script and `data` inlined
/// ({"list": list_json, "traces": {id: trace_json}}), which opens from disk.
[[nodiscard]] std::string standalone_html(const boost::json::object& data);

} // namespace tctool
