#pragma once
/// Binding a JSON request body to a struct declared with KEEL_JSON (describe.hpp), with
/// validation. Every problem is collected, not just the first:
///
///     auto in = keel::json::bind<CreateLink>(req);
///     if (!in) return in.problem();   // 415 wrong content type, 400 malformed (byte offset) or
///     use(in.value());                //  400 with "errors": [{"pointer":"/url","reason":…}, …]
///
/// Rules: a member that is not std::optional is required; null is accepted only for optionals;
/// integers must be integral and fit the member's type; enums must be one of their names;
/// unknown members are rejected (BindOptions::reject_unknown_fields = false ignores them). After
/// a successful bind, `keel_validate(const T&, Validator&)` runs if one is declared for T.

#include <keel/http/request.hpp>
#include <keel/json/describe.hpp>
#include <keel/json/nullable.hpp>
#include <keel/json/reader.hpp>
#include <keel/json/validate.hpp>

#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace keel::json {

struct BindOptions {
    bool reject_unknown_fields = true;
    /// Content-Type must be application/json or application/*+json.
    bool require_content_type = true;
};

namespace detail {

struct Path {
    std::string pointer;
    std::size_t push(std::string_view token) {
        std::size_t mark = pointer.size();
        pointer += '/';
        pointer += pointer_token(token);
        return mark;
    }
    void pop(std::size_t mark) { pointer.resize(mark); }
};

struct Context {
    Errors& errors;
    Path path;
    bool reject_unknown;
    void error(std::string reason) { errors.push_back({path.pointer, std::move(reason)}); }
};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_optional<Nullable<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T>
void read(Reader& r, T& out, Context& ctx);

template <class T>
void read_integer(Reader& r, T& out, Context& ctx) {
    auto range_error = [&] {
        ctx.error("must be an integer between " + std::to_string(std::numeric_limits<T>::min()) + " and " +
                  std::to_string(std::numeric_limits<T>::max()));
    };
    if (r.kind() != Kind::number) {
        range_error();
        return;
    }
    if constexpr (std::is_signed_v<T>) {
        std::int64_t v;
        if (!r.get(v) || v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
            range_error();
            return;
        }
        out = static_cast<T>(v);
    } else {
        std::uint64_t v;
        if (!r.get(v) || v > std::numeric_limits<T>::max()) {
            range_error();
            return;
        }
        out = static_cast<T>(v);
    }
}

template <class T>
void read(Reader& r, T& out, Context& ctx) {
    if constexpr (std::is_same_v<T, bool>) {
        if (!r.get(out)) {
            ctx.error("must be a boolean");
        }
    } else if constexpr (std::is_integral_v<T>) {
        read_integer(r, out, ctx);
    } else if constexpr (std::is_floating_point_v<T>) {
        double d;
        if (r.kind() != Kind::number || !r.get(d)) {
            ctx.error("must be a number");
            return;
        }
        out = static_cast<T>(d);
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (r.kind() != Kind::string || !r.get(out)) {
            ctx.error("must be a string");
        }
    } else if constexpr (is_optional<T>::value) {
        if (r.kind() == Kind::null) {
            out.reset();
            return;
        }
        out.emplace();
        read(r, *out, ctx);
    } else if constexpr (is_vector<T>::value) {
        if (r.kind() != Kind::array) {
            ctx.error("must be an array");
            return;
        }
        out.clear();
        std::size_t index = 0;
        r.for_each_element([&](Reader& element) {
            std::size_t mark = ctx.path.push(std::to_string(index++));
            out.emplace_back();
            read(element, out.back(), ctx);
            ctx.path.pop(mark);
        });
    } else if constexpr (std::is_enum_v<T>) {
        static_assert(DescribedEnum<T>, "declare the enum with KEEL_JSON_ENUM to bind it");
        std::string name;
        auto values = enumerators<T>();
        std::string allowed;
        for (const auto& e : values) {
            allowed += std::string(allowed.empty() ? "" : ", ") + "\"" + e.name + "\"";
        }
        if (r.kind() != Kind::string || !r.get(name)) {
            ctx.error("must be one of " + allowed);
            return;
        }
        for (const auto& e : values) {
            if (name == e.name) {
                out = e.value;
                return;
            }
        }
        ctx.error("must be one of " + allowed);
    } else {
        static_assert(Described<T>, "declare the type with KEEL_JSON to bind it");
        if (r.kind() != Kind::object) {
            ctx.error("must be an object");
            return;
        }
        auto ms = members<T>();
        constexpr std::size_t n = std::tuple_size_v<decltype(ms)>;
        std::array<bool, n> seen{};
        r.for_each_field([&](std::string_view key, Reader& value) {
            bool matched = false;
            std::size_t i = 0;
            std::apply(
                [&](const auto&... m) {
                    (([&] {
                         if (!matched && key == m.name) {
                             matched = true;
                             seen[i] = true;
                             std::size_t mark = ctx.path.push(key);
                             read(value, out.*(m.ptr), ctx);
                             ctx.path.pop(mark);
                         }
                         ++i;
                     }()),
                     ...);
                },
                ms);
            if (!matched && ctx.reject_unknown) {
                std::size_t mark = ctx.path.push(key);
                ctx.error("is not a known field");
                ctx.path.pop(mark);
            }
        });
        std::size_t i = 0;
        std::apply(
            [&](const auto&... m) {
                (([&] {
                     using M = typename std::decay_t<decltype(m)>::type;
                     if (!seen[i] && !is_optional<M>::value) {
                         std::size_t mark = ctx.path.push(m.name);
                         ctx.error("is required");
                         ctx.path.pop(mark);
                     }
                     ++i;
                 }()),
                 ...);
            },
            ms);
    }
}

template <class T>
concept Validatable = requires(const T& t, Validator& v) { keel_validate(t, v); };

bool is_json_content_type(std::string_view content_type) noexcept;

}  // namespace detail

/// Parses `json` into `out`, appending every problem to `errors`. Returns false when the JSON
/// is malformed (errors then holds one entry whose reason names the byte offset).
template <class T>
bool parse(std::string_view json, T& out, Errors& errors, const BindOptions& options = {}) {
    detail::Context ctx{errors, {}, options.reject_unknown_fields};
    try {
        read_document(json, [&](Reader& root) { detail::read(root, out, ctx); });
    } catch (const MalformedJson& e) {
        errors.clear();
        errors.push_back({"", "malformed JSON at byte " + std::to_string(e.offset) + ": " + e.message});
        return false;
    }
    if (errors.empty()) {
        if constexpr (detail::Validatable<T>) {
            Validator v(errors);
            keel_validate(out, v);
        }
    }
    return true;
}

/// The result of bind(): the value, or the problem response to return.
template <class T>
class Bound {
public:
    explicit operator bool() const noexcept { return value_.has_value(); }
    T& value() { return *value_; }
    T& operator*() { return *value_; }
    T* operator->() { return &*value_; }
    http::Response problem() { return std::move(*problem_); }

private:
    template <class U>
    friend Bound<U> bind(http::Request& req, const BindOptions& options);
    std::optional<T> value_;
    std::optional<http::Response> problem_;
};

template <class T>
Bound<T> bind(http::Request& req, const BindOptions& options = {}) {
    Bound<T> b;
    if (options.require_content_type && !detail::is_json_content_type(req.header("Content-Type").value_or(""))) {
        b.problem_.emplace(to_problem({{"", "Content-Type must be application/json"}}, req.path(),
                                      "the request body must be JSON", 415));
        return b;
    }
    Errors errors;
    T value{};
    bool well_formed = parse(req.body(), value, errors, options);
    if (!errors.empty()) {
        b.problem_.emplace(to_problem(errors, req.path(),
                                      well_formed ? "the request body failed validation" : errors.front().reason));
        return b;
    }
    b.value_.emplace(std::move(value));
    return b;
}

/// A response whose body is `value` written as JSON (application/json).
template <class T>
http::Response response(const T& value, int status = 200) {
    http::Response r(status);
    r.header("Content-Type", "application/json");
    Writer(r.body_buffer()).value(value);
    return r;
}

}  // namespace keel::json
