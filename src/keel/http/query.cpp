#include <keel/http/query.hpp>

#include <keel/core/percent.hpp>

namespace keel::http {
namespace {

/// Calls fn(raw_name, raw_value, has_value) for each "name=value" pair; stops when fn returns false.
template <class F>
void for_each_pair(std::string_view query, F fn) {
    while (!query.empty()) {
        std::size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        if (!pair.empty()) {
            std::size_t eq = pair.find('=');
            std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
            if (!fn(pair.substr(0, eq), value)) {
                return;
            }
        }
        if (amp == std::string_view::npos) {
            return;
        }
        query.remove_prefix(amp + 1);
    }
}

bool name_is(std::string_view raw, std::string_view name) {
    if (raw.find_first_of("%+") == std::string_view::npos) {
        return raw == name;  // the common case: no decoding
    }
    auto decoded = decode_query_component(raw);
    return decoded && *decoded == name;
}

}  // namespace

std::optional<std::string> decode_query_component(std::string_view s) {
    return percent_decode(s, true);
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
    std::optional<std::string> found;
    for_each_pair(query, [&](std::string_view n, std::string_view v) {
        if (!name_is(n, name)) {
            return true;
        }
        found = decode_query_component(v);
        return false;
    });
    return found;
}

Result<std::optional<std::string>> query_scalar(std::string_view query, std::string_view name) {
    std::optional<std::string_view> raw;
    bool repeated = false;
    for_each_pair(query, [&](std::string_view n, std::string_view v) {
        if (name_is(n, name)) {
            repeated = raw.has_value();
            raw = v;
        }
        return !repeated;
    });
    if (repeated) {
        return Error(Errc::invalid_argument, "must appear at most once");
    }
    if (!raw) {
        return std::optional<std::string>{};
    }
    auto decoded = decode_query_component(*raw);
    if (!decoded) {
        return Error(Errc::invalid_argument, "has a malformed percent-escape");
    }
    return std::optional<std::string>(std::move(*decoded));
}

}  // namespace keel::http
