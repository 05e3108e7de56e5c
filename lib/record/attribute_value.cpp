// Attribute values: owning copies of recorded values, display strings.
#include "tracecraft/attribute.hpp"

#include <sstream>

namespace tracecraft {
attribute_value value_view::to_value() const {
    switch (type_) {
        case value_type::string: return std::string(as_string());
        case value_type::int64: return as_int();
        case value_type::float64: return as_double();
        case value_type::boolean: return as_bool();
        case value_type::string_array: {
            std::vector<std::string> v;
            for (auto s : as_string_array()) v.emplace_back(s);
            return v;
        }
        case value_type::int64_array: {
            auto a = as_int_array();
            return std::vector<std::int64_t>(a.begin(), a.end());
        }
        case value_type::float64_array: {
            auto a = as_double_array();
            return std::vector<double>(a.begin(), a.end());
        }
        case value_type::bool_array: {
            auto a = as_bool_array();
            return std::vector<bool>(a.begin(), a.end());
        }
        default: return std::monostate{};
    }
}

namespace {
struct display_visitor {
    std::string operator()(std::monostate) const { return "null"; }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
        std::ostringstream os;
        os << d;
        return os.str();
    }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    template <class T>
    std::string operator()(const std::vector<T>& a) const {
        std::string out = "[";
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (i) out += ", ";
            out += (*this)(static_cast<T>(a[i]));
        }
        return out + "]";
    }
};
} // namespace

std::string to_display_string(const attribute_value& v) {
    return std::visit(display_visitor{}, v);
}

} // namespace tracecraft
