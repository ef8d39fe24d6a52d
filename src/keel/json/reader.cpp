#include <keel/json/reader.hpp>

#include <simdjson.h>

namespace keel::json {

std::string_view to_string(Kind k) noexcept {
    switch (k) {
        case Kind::object:
            return "object";
        case Kind::array:
            return "array";
        case Kind::string:
            return "string";
        case Kind::number:
            return "number";
        case Kind::boolean:
            return "boolean";
        case Kind::null:
            return "null";
    }
    return "?";
}

namespace {

namespace od = simdjson::ondemand;

// Finds where a malformed document goes wrong, for the error message only: simdjson's first
// pass can reject a document without saying where. A small recursive-descent syntax check.
class SyntaxScan {
  public:
    explicit SyntaxScan(std::string_view s) : s_(s) {}
    std::size_t first_error() {
        ws();
        if (!value(0)) {
            return i_;
        }
        ws();
        return i_ < s_.size() ? i_ : s_.size();
    }

  private:
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
            ++i_;
        }
    }
    bool lit(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) {
            return false;
        }
        i_ += word.size();
        return true;
    }
    bool string() {
        if (i_ >= s_.size() || s_[i_] != '"') {
            return false;
        }
        ++i_;
        while (i_ < s_.size() && s_[i_] != '"') {
            if (static_cast<unsigned char>(s_[i_]) < 0x20) {
                return false;
            }
            i_ += s_[i_] == '\\' ? 2 : 1;
        }
        if (i_ >= s_.size()) {
            return false;
        }
        ++i_;
        return true;
    }
    bool number() {
        std::size_t start = i_;
        if (i_ < s_.size() && s_[i_] == '-')
            ++i_;
        while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' || s_[i_] == 'e' ||
                                  s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-')) {
            ++i_;
        }
        return i_ > start;
    }
    bool value(int depth) {
        if (depth > 1024 || i_ >= s_.size()) {
            return false;
        }
        char c = s_[i_];
        if (c == '{' || c == '[') {
            char close = c == '{' ? '}' : ']';
            ++i_;
            ws();
            if (i_ < s_.size() && s_[i_] == close) {
                ++i_;
                return true;
            }
            for (;;) {
                ws();
                if (c == '{') {
                    if (!string())
                        return false;
                    ws();
                    if (i_ >= s_.size() || s_[i_] != ':')
                        return false;
                    ++i_;
                    ws();
                }
                if (!value(depth + 1))
                    return false;
                ws();
                if (i_ < s_.size() && s_[i_] == ',') {
                    ++i_;
                    continue;
                }
                if (i_ < s_.size() && s_[i_] == close) {
                    ++i_;
                    return true;
                }
                return false;
            }
        }
        if (c == '"')
            return string();
        if (c == 't')
            return lit("true");
        if (c == 'f')
            return lit("false");
        if (c == 'n')
            return lit("null");
        return number();
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

class DomReader final : public Reader {
  public:
    explicit DomReader(simdjson::dom::element e) : e_(e) {}

    Kind kind() override {
        switch (e_.type()) {
            case simdjson::dom::element_type::OBJECT:
                return Kind::object;
            case simdjson::dom::element_type::ARRAY:
                return Kind::array;
            case simdjson::dom::element_type::STRING:
                return Kind::string;
            case simdjson::dom::element_type::INT64:
            case simdjson::dom::element_type::UINT64:
            case simdjson::dom::element_type::DOUBLE:
                return Kind::number;
            case simdjson::dom::element_type::BOOL:
                return Kind::boolean;
            case simdjson::dom::element_type::NULL_VALUE:
                return Kind::null;
        }
        return Kind::null;
    }
    bool get(std::string& out) override {
        std::string_view s;
        if (e_.get_string().get(s)) {
            return false;
        }
        out.assign(s);
        return true;
    }
    bool get(std::int64_t& out) override { return !e_.get_int64().get(out); }
    bool get(std::uint64_t& out) override { return !e_.get_uint64().get(out); }
    bool get(double& out) override { return !e_.get_double().get(out); }
    bool get(bool& out) override { return !e_.get_bool().get(out); }
    void for_each_field(const std::function<void(std::string_view, Reader&)>& fn) override {
        simdjson::dom::object obj;
        if (e_.get_object().get(obj)) {
            return;
        }
        for (auto field : obj) {
            DomReader r(field.value);
            fn(field.key, r);
        }
    }
    void for_each_element(const std::function<void(Reader&)>& fn) override {
        simdjson::dom::array arr;
        if (e_.get_array().get(arr)) {
            return;
        }
        for (simdjson::dom::element element : arr) {
            DomReader r(element);
            fn(r);
        }
    }

  private:
    simdjson::dom::element e_;
};

}  // namespace

Result<void, MalformedJson> read_document(std::string_view json, const std::function<void(Reader& root)>& fn) {
    // simdjson reads up to SIMDJSON_PADDING bytes past the end: parse from a padded copy. The
    // DOM parser validates the whole document (syntax and UTF-8) and picks its SIMD kernel at
    // run time.
    thread_local simdjson::dom::parser parser;
    thread_local std::string padded;
    padded.assign(json);
    padded.resize(json.size() + simdjson::SIMDJSON_PADDING, '\0');
    simdjson::dom::element root;
    if (auto e = parser.parse(padded.data(), json.size(), false).get(root)) {
        std::size_t offset = SyntaxScan(json).first_error();
        return MalformedJson{std::min(offset, json.size()), simdjson::error_message(e)};
    }
    DomReader r(root);
    fn(r);
    return {};
}

bool is_valid_utf8(std::string_view text) noexcept {
    return simdjson::validate_utf8(text.data(), text.size());
}

}  // namespace keel::json
