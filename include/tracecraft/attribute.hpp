// TraceCraft C++ — typed attribute values.
//
// Two forms: `value_view` is the zero-copy view exporters read straight out of a span record;
// `attribute_value` is an owning std::variant for code that keeps spans (tests, the in-memory
// exporter). Both carry the OpenTelemetry attribute types: string, int64, double, bool and
// homogeneous arrays of those.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tracecraft {

enum class value_type : std::uint8_t {
    none = 0,
    string,
    int64,
    float64,
    boolean,
    string_array,
    int64_array,
    float64_array,
    bool_array,
};

/// Owning attribute value.
using attribute_value = std::variant<std::monostate, std::string, std::int64_t, double, bool,
                                     std::vector<std::string>, std::vector<std::int64_t>,
                                     std::vector<double>, std::vector<bool>>;

/// Non-owning view of a value stored in a span record. Valid while the record is alive.
class value_view {
public:
    value_view() noexcept : type_(value_type::none) { u_.i = 0; }
    static value_view of_string(const char* p, std::uint32_t n) noexcept {
        value_view v; v.type_ = value_type::string; v.u_.s = {p, n}; return v;
    }
    static value_view of_int(std::int64_t i) noexcept { value_view v; v.type_ = value_type::int64; v.u_.i = i; return v; }
    static value_view of_double(double d) noexcept { value_view v; v.type_ = value_type::float64; v.u_.d = d; return v; }
    static value_view of_bool(bool b) noexcept { value_view v; v.type_ = value_type::boolean; v.u_.b = b; return v; }
    static value_view of_array(value_type t, const void* p, std::uint32_t n) noexcept {
        value_view v; v.type_ = t; v.u_.a = {p, n}; return v;
    }

    [[nodiscard]] value_type type() const noexcept { return type_; }
    [[nodiscard]] std::string_view as_string() const noexcept { return {u_.s.p, u_.s.n}; }
    [[nodiscard]] std::int64_t as_int() const noexcept { return u_.i; }
    [[nodiscard]] double as_double() const noexcept { return u_.d; }
    [[nodiscard]] bool as_bool() const noexcept { return u_.b; }
    /// Arrays: element count and typed access. Strings are stored as string_view elements.
    [[nodiscard]] std::uint32_t array_size() const noexcept { return u_.a.n; }
    [[nodiscard]] std::span<const std::string_view> as_string_array() const noexcept {
        return {static_cast<const std::string_view*>(u_.a.p), u_.a.n};
    }
    [[nodiscard]] std::span<const std::int64_t> as_int_array() const noexcept {
        return {static_cast<const std::int64_t*>(u_.a.p), u_.a.n};
    }
    [[nodiscard]] std::span<const double> as_double_array() const noexcept {
        return {static_cast<const double*>(u_.a.p), u_.a.n};
    }
    [[nodiscard]] std::span<const bool> as_bool_array() const noexcept {
        return {static_cast<const bool*>(u_.a.p), u_.a.n};
    }
    // In-place setters (library use): write single fields so the hot path never copies a
    // value_view through a stack temporary (that caused store-forwarding stalls).
    void set_string(const char* p, std::uint32_t n) noexcept { type_ = value_type::string; u_.s.p = p; u_.s.n = n; }
    void set_int(std::int64_t i) noexcept { type_ = value_type::int64; u_.i = i; }
    void set_double(double d) noexcept { type_ = value_type::float64; u_.d = d; }
    void set_bool(bool b) noexcept { type_ = value_type::boolean; u_.b = b; }
    void set_array(value_type t, const void* p, std::uint32_t n) noexcept { type_ = t; u_.a.p = p; u_.a.n = n; }
    [[nodiscard]] const void* array_data() const noexcept { return u_.a.p; }

    /// Deep copy into an owning value.
    [[nodiscard]] attribute_value to_value() const;

private:
    value_type type_;
    union {
        std::int64_t i;
        double d;
        bool b;
        struct { const char* p; std::uint32_t n; } s;
        struct { const void* p; std::uint32_t n; } a;
    } u_;
};

/// Visits the elements of an array value as scalar value_views (nothing for scalars).
template <class F>
void for_each_element(const value_view& v, F&& f) {
    switch (v.type()) {
        case value_type::string_array:
            for (auto s : v.as_string_array()) f(value_view::of_string(s.data(), static_cast<std::uint32_t>(s.size())));
            break;
        case value_type::int64_array:
            for (auto i : v.as_int_array()) f(value_view::of_int(i));
            break;
        case value_type::float64_array:
            for (auto d : v.as_double_array()) f(value_view::of_double(d));
            break;
        case value_type::bool_array:
            for (bool b : v.as_bool_array()) f(value_view::of_bool(b));
            break;
        default: break;
    }
}

[[nodiscard]] inline bool is_array(value_type t) noexcept {
    return t == value_type::string_array || t == value_type::int64_array || t == value_type::float64_array ||
           t == value_type::bool_array;
}

/// Renders a value for humans (console exporter, test messages): strings unquoted,
/// arrays as [a, b].
[[nodiscard]] std::string to_display_string(const attribute_value& v);

} // namespace tracecraft
