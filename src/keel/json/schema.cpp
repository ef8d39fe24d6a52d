#include <keel/json/schema.hpp>

namespace keel::json::schema_detail {

std::string with_keywords(std::string schema, const std::string& keywords) {
    if (keywords.empty() || schema.size() < 2 || schema.back() != '}' || schema.starts_with(R"({"$ref")") ||
        schema.starts_with(R"({"anyOf")")) {
        return schema;  // a reference or a union: the rule belongs to what it points at
    }
    // Our own keywords override the type's defaults (an integer's C++ range).
    for (const char* key : {"\"minimum\":", "\"maximum\":"}) {
        if (keywords.find(key) == std::string::npos) {
            continue;
        }
        std::size_t at = schema.find(std::string(",") + key);
        if (at != std::string::npos) {
            std::size_t end = schema.find_first_of(",}", at + 1 + std::char_traits<char>::length(key));
            schema.erase(at, end - at);
        }
    }
    schema.pop_back();
    return schema + keywords + "}";
}

}  // namespace keel::json::schema_detail
