#pragma once
// A KEEL_JSON type with validation rules, shared by the json and http tests.

#include <keel/json/describe.hpp>
#include <keel/json/validate.hpp>

#include <cstdint>
#include <regex>
#include <string>

namespace shop {

struct Signup {
    std::string email;
    std::string handle;
    std::int64_t age = 0;
};
KEEL_JSON(Signup, email, handle, age)

inline void keel_validate(const Signup& s, keel::json::Validator& v) {
    static const std::regex handle_re("[a-z0-9_]{3,16}");
    v.length("/email", s.email, 3, 254);
    v.check(s.email.find('@') != std::string::npos, "/email", "must be an email address");
    v.pattern("/handle", s.handle, handle_re, "3-16 lowercase letters, digits or '_'");
    v.range("/age", s.age, std::int64_t{13}, std::int64_t{150});
}

}  // namespace shop
