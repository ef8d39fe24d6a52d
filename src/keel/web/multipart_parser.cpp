#include <keel/web/multipart_parser.hpp>

#include <keel/http/detail/byte_classes.hpp>

namespace keel::web {
namespace {

http::Problem malformed(std::string detail) {
    return http::Problem{.status = 400, .detail = "malformed multipart body: " + std::move(detail)};
}

// RFC 2046 bchars (plus space, not last).
bool is_boundary_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

/// Calls fn(key, value) for each `; key=value` parameter after the first `;` of a header value.
/// Quoted values are unquoted (a backslash escapes the next byte).
template <class F>
void for_each_parameter(std::string_view value, F fn) {
    std::size_t i = value.find(';');
    while (i != std::string_view::npos && i < value.size()) {
        ++i;
        while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) {
            ++i;
        }
        std::size_t eq = value.find('=', i);
        if (eq == std::string_view::npos) {
            return;
        }
        std::string_view key = http::detail::trim_ows(value.substr(i, eq - i));
        std::string out;
        i = eq + 1;
        while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) {
            ++i;
        }
        if (i < value.size() && value[i] == '"') {
            for (++i; i < value.size() && value[i] != '"'; ++i) {
                if (value[i] == '\\' && i + 1 < value.size()) {
                    ++i;
                }
                out += value[i];
            }
            i = value.find(';', i);
        } else {
            std::size_t semi = value.find(';', i);
            out = http::detail::trim_ows(
                value.substr(i, semi == std::string_view::npos ? std::string_view::npos : semi - i));
            i = semi;
        }
        fn(key, std::move(out));
    }
}

}  // namespace

MultipartParser::MultipartParser(std::string_view boundary, std::size_t max_header_bytes)
    : delimiter_("\r\n--" + std::string(boundary)), max_header_bytes_(max_header_bytes), pending_("\r\n") {}

std::optional<std::string> MultipartParser::boundary_of(std::string_view content_type) {
    std::string_view type = http::detail::trim_ows(content_type.substr(0, content_type.find(';')));
    if (!http::detail::iequals(type, "multipart/form-data")) {
        return std::nullopt;
    }
    std::optional<std::string> boundary;
    for_each_parameter(content_type, [&](std::string_view key, std::string value) {
        if (!boundary && http::detail::iequals(key, "boundary")) {
            boundary = std::move(value);
        }
    });
    if (!boundary || boundary->empty() || boundary->size() > 70 || boundary->back() == ' ') {
        return std::nullopt;
    }
    for (char c : *boundary) {
        if (!is_boundary_char(c)) {
            return std::nullopt;
        }
    }
    return boundary;
}

Result<void, http::Problem> MultipartParser::parse_headers(std::string_view block, Sink& sink) {
    PartHead head;
    bool form_data = false;
    while (!block.empty()) {
        std::size_t eol = block.find("\r\n");
        std::string_view line = block.substr(0, eol);
        block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 2);
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            return malformed("a part has a header line without a name");
        }
        std::string_view name = line.substr(0, colon);
        std::string_view value = http::detail::trim_ows(line.substr(colon + 1));
        if (http::detail::iequals(name, "content-disposition")) {
            form_data = http::detail::iequals(http::detail::trim_ows(value.substr(0, value.find(';'))), "form-data");
            for_each_parameter(value, [&](std::string_view key, std::string v) {
                if (http::detail::iequals(key, "name")) {
                    head.name = std::move(v);
                } else if (http::detail::iequals(key, "filename")) {
                    head.filename = std::move(v);
                }
            });
        } else if (http::detail::iequals(name, "content-type")) {
            head.content_type = value;
        }
    }
    if (!form_data || head.name.empty()) {
        return malformed("every part needs \"Content-Disposition: form-data; name=...\"");
    }
    return sink.begin(head);
}

Result<void, http::Problem> MultipartParser::feed(std::string_view bytes, Sink& sink) {
    pending_.append(bytes);
    std::size_t start = 0;  // bytes of pending_ already consumed
    for (;;) {
        std::string_view rest = std::string_view(pending_).substr(start);
        switch (state_) {
            case State::preamble: {
                std::size_t at = rest.find(delimiter_);
                if (at == std::string_view::npos) {
                    // Preamble is ignored; keep only what could begin a delimiter.
                    start += rest.size() > delimiter_.size() ? rest.size() - delimiter_.size() : 0;
                    pending_.erase(0, start);
                    return {};
                }
                start += at + delimiter_.size();
                state_ = State::after_delimiter;
                break;
            }
            case State::after_delimiter: {
                // "--" closes the body right after the boundary (RFC 2046 §5.1.1: close-delimiter :=
                // delimiter "--"); transport padding (spaces, tabs) may only come before a CRLF.
                if (rest.size() < 2) {
                    pending_.erase(0, start);
                    return {};
                }
                if (rest.substr(0, 2) == "--") {
                    state_ = State::done;
                    start += 2;
                    break;
                }
                std::size_t pad = 0;
                while (pad < rest.size() && (rest[pad] == ' ' || rest[pad] == '\t')) {
                    ++pad;
                }
                if (rest.size() - pad < 2) {
                    pending_.erase(0, start);
                    return {};
                }
                if (rest.substr(pad, 2) == "\r\n") {
                    state_ = State::headers;
                } else {
                    return malformed("a boundary line is followed by something other than CRLF or \"--\"");
                }
                start += pad + 2;
                break;
            }
            case State::headers: {
                std::size_t end = rest.starts_with("\r\n") ? 0 : rest.find("\r\n\r\n");
                if (end == std::string_view::npos) {
                    // The block ends at rest.size() - 3 at the earliest: refuse only what must be too
                    // long, so the verdict does not depend on where the body was split.
                    if (rest.size() > max_header_bytes_ + 3) {
                        return malformed("a part's headers are longer than " + std::to_string(max_header_bytes_) +
                                         " bytes");
                    }
                    pending_.erase(0, start);
                    return {};
                }
                if (end > max_header_bytes_) {
                    return malformed("a part's headers are longer than " + std::to_string(max_header_bytes_) +
                                     " bytes");
                }
                if (auto r = parse_headers(rest.substr(0, end), sink); !r) {
                    return r;
                }
                start += end == 0 ? 2 : end + 4;
                state_ = State::body;
                break;
            }
            case State::body: {
                std::size_t at = rest.find(delimiter_);
                if (at == std::string_view::npos) {
                    // All but a possible delimiter prefix at the end is part data.
                    std::size_t safe = rest.size() >= delimiter_.size() ? rest.size() - (delimiter_.size() - 1) : 0;
                    if (safe > 0) {
                        if (auto r = sink.data(rest.substr(0, safe)); !r) {
                            return r;
                        }
                    }
                    pending_.erase(0, start + safe);
                    return {};
                }
                if (at > 0) {
                    if (auto r = sink.data(rest.substr(0, at)); !r) {
                        return r;
                    }
                }
                if (auto r = sink.end(); !r) {
                    return r;
                }
                start += at + delimiter_.size();
                state_ = State::after_delimiter;
                break;
            }
            case State::done:
                pending_.clear();  // the epilogue is ignored
                return {};
        }
    }
}

Result<void, http::Problem> MultipartParser::finish() const {
    if (state_ != State::done) {
        return malformed("the body ended before the closing boundary");
    }
    return {};
}

std::string sanitize_filename(std::string_view name) {
    std::size_t slash = name.find_last_of("/\\");
    if (slash != std::string_view::npos) {
        name.remove_prefix(slash + 1);
    }
    std::string out;
    for (unsigned char c : name) {
        if (c >= 0x20 && c != 0x7F) {
            out += static_cast<char>(c);
        }
    }
    if (out.size() > 255) {
        std::size_t cut = 255;
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) {
            --cut;  // don't split a UTF-8 sequence
        }
        out.resize(cut);
    }
    if (out == "." || out == "..") {
        out.clear();
    }
    return out;
}

}  // namespace keel::web
