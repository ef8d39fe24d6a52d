#include <keel/http/chunked.hpp>

#include <keel/http/detail/byte_classes.hpp>

#include <cstring>

namespace keel::http {

using detail::iequals;
using detail::is;
using detail::kHex;
using detail::kToken;
using detail::kValue;
using detail::trim_ows;

ParseResult ChunkedDecoder::decode(char* body, std::size_t len, std::vector<Header>* trailers) {
    auto error = [](ParseError e) { return ParseResult{ParseStatus::error, 0, e}; };
    while (read_pos_ < len) {
        char ch = body[read_pos_];
        switch (state_) {
            case State::size:
                if (is(static_cast<unsigned char>(ch), kHex)) {
                    if (++size_digits_ > 16) {
                        return error(ParseError::bad_chunk_size);
                    }
                    std::uint64_t d = ch <= '9' ? static_cast<std::uint64_t>(ch - '0')
                                                : static_cast<std::uint64_t>((ch | 0x20) - 'a' + 10);
                    chunk_left_ = (chunk_left_ << 4) | d;
                    ++read_pos_;
                    break;
                }
                if (size_digits_ == 0) {
                    return error(ParseError::bad_chunk_size);
                }
                if (chunk_left_ > max_body_ || discarded_ + write_pos_ + chunk_left_ > max_body_) {
                    return error(ParseError::body_too_large);
                }
                if (ch == ';' || ch == ' ' || ch == '\t') {
                    state_ = ch == ';' ? State::ext : State::size_ws;
                    line_start_ = read_pos_++;
                } else if (ch == '\r') {
                    state_ = State::size_lf;
                    ++read_pos_;
                } else {
                    return error(ParseError::bad_chunk_size);
                }
                break;
            case State::size_ws:  // BWS before ';'
                if (ch == ' ' || ch == '\t') {
                    ++read_pos_;
                } else if (ch == ';') {
                    state_ = State::ext;
                    ++read_pos_;
                } else {
                    return error(ParseError::bad_chunk_size);
                }
                break;
            case State::ext:
                // chunk-ext is ignored but must hold only token, quoted-string, '=', ';' and BWS.
                if (ch == '\r') {
                    state_ = State::size_lf;
                } else if (!is(static_cast<unsigned char>(ch), kValue)) {
                    return error(ch == '\n' ? ParseError::bare_lf : ParseError::bad_chunk);
                } else if (read_pos_ - line_start_ > 4096) {
                    return error(ParseError::bad_chunk);
                }
                ++read_pos_;
                break;
            case State::size_lf:
                if (ch != '\n') {
                    return error(ParseError::bare_cr);
                }
                ++read_pos_;
                if (chunk_left_ == 0) {
                    state_ = State::trailer_start;
                    line_start_ = read_pos_;
                } else {
                    state_ = State::data;
                }
                break;
            case State::data: {
                std::size_t n = static_cast<std::size_t>(
                    std::min<std::uint64_t>(chunk_left_, static_cast<std::uint64_t>(len - read_pos_)));
                if (write_pos_ != read_pos_) {
                    std::memmove(body + write_pos_, body + read_pos_, n);
                }
                write_pos_ += n;
                read_pos_ += n;
                chunk_left_ -= n;
                if (chunk_left_ == 0) {
                    state_ = State::data_cr;
                }
                break;
            }
            case State::data_cr:
                if (ch != '\r') {
                    return error(ch == '\n' ? ParseError::bare_lf : ParseError::bad_chunk);
                }
                state_ = State::data_lf;
                ++read_pos_;
                break;
            case State::data_lf:
                if (ch != '\n') {
                    return error(ParseError::bare_cr);
                }
                ++read_pos_;
                state_ = State::size;
                size_digits_ = 0;
                chunk_left_ = 0;
                break;
            case State::trailer_start:
                if (ch == '\r') {
                    state_ = State::final_lf;
                    ++read_pos_;
                } else if (ch == '\n') {
                    return error(ParseError::bare_lf);
                } else if (ch == ' ' || ch == '\t') {
                    return error(ParseError::obs_fold);
                } else {
                    state_ = State::trailer_line;
                    line_start_ = read_pos_;
                }
                break;
            case State::trailer_line: {
                // Wait for the whole line, then validate it as a header field.
                const void* lf = std::memchr(body + read_pos_, '\n', len - read_pos_);
                // Reject a bare CR or a control byte as soon as it arrives, not only once the
                // line is complete (a line that never completes would otherwise just wait).
                std::size_t check_end = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - body) : len;
                for (std::size_t k = read_pos_; k < check_end; ++k) {
                    unsigned char b = static_cast<unsigned char>(body[k]);
                    if (b == '\r' && k + 1 < len && body[k + 1] != '\n') {
                        return error(ParseError::bare_cr);
                    }
                    if (b != '\r' && b != '\t' && (b < 0x20 || b == 0x7f)) {
                        return error(ParseError::bad_header_value);
                    }
                }
                if (!lf) {
                    // A CR as the last byte is judged with the byte after it: leave it unread.
                    std::size_t stop = body[len - 1] == '\r' ? len - 1 : len;
                    trailer_bytes_ += stop - read_pos_;
                    read_pos_ = stop;
                    if (trailer_bytes_ > max_trailer_bytes_) {
                        return error(ParseError::headers_too_large);
                    }
                    return {ParseStatus::incomplete};
                }
                std::size_t lf_pos = static_cast<std::size_t>(static_cast<const char*>(lf) - body);
                trailer_bytes_ += lf_pos + 1 - read_pos_;
                if (trailer_bytes_ > max_trailer_bytes_) {
                    return error(ParseError::headers_too_large);
                }
                if (lf_pos == line_start_ || body[lf_pos - 1] != '\r') {
                    return error(ParseError::bare_lf);
                }
                std::string_view line{body + line_start_, lf_pos - 1 - line_start_};
                std::size_t colon = 0;
                while (colon < line.size() && is(static_cast<unsigned char>(line[colon]), kToken)) {
                    ++colon;
                }
                if (colon == 0 || colon == line.size() || line[colon] != ':') {
                    return error(colon < line.size() && (line[colon] == ' ' || line[colon] == '\t')
                                     ? ParseError::whitespace_before_colon
                                     : ParseError::bad_chunk);
                }
                // Framing and routing fields are not allowed in trailers (RFC 9110 §6.5.1).
                std::string_view tname = line.substr(0, colon);
                if (iequals(tname, "content-length") || iequals(tname, "transfer-encoding") || iequals(tname, "host")) {
                    return error(ParseError::bad_chunk);
                }
                std::string_view value = line.substr(colon + 1);
                for (char v : value) {
                    if (!is(static_cast<unsigned char>(v), kValue)) {
                        return error(v == '\r' ? ParseError::bare_cr : ParseError::bad_header_value);
                    }
                }
                if (trailer_spans_.size() >= max_trailers_) {
                    return error(ParseError::too_many_headers);
                }
                std::string_view trimmed = trim_ows(value);
                trailer_spans_.push_back(
                    {line_start_, colon, static_cast<std::size_t>(trimmed.data() - body), trimmed.size()});
                read_pos_ = lf_pos + 1;
                line_start_ = read_pos_;
                state_ = State::trailer_start;
                break;
            }
            case State::final_lf:
                if (ch != '\n') {
                    return error(ParseError::bare_cr);
                }
                ++read_pos_;
                state_ = State::done;
                if (trailers) {
                    for (const TrailerSpan& t : trailer_spans_) {
                        trailers->push_back({{body + t.name_off, t.name_len}, {body + t.value_off, t.value_len}});
                    }
                }
                return {ParseStatus::complete, read_pos_, ParseError::none};
            case State::done:
                return {ParseStatus::complete, read_pos_, ParseError::none};
        }
    }
    if (state_ == State::done) {
        return {ParseStatus::complete, read_pos_, ParseError::none};
    }
    return {ParseStatus::incomplete};
}

std::size_t ChunkedDecoder::compact(char* body, std::size_t len) noexcept {
    if (state_ == State::trailer_start || state_ == State::trailer_line || state_ == State::final_lf ||
        state_ == State::done) {
        return 0;
    }
    std::size_t gap = read_pos_ - write_pos_;
    if (gap == 0) {
        return 0;
    }
    std::memmove(body + write_pos_, body + read_pos_, len - read_pos_);
    read_pos_ = write_pos_;
    line_start_ = line_start_ > gap ? line_start_ - gap : 0;
    return gap;
}

std::size_t ChunkedDecoder::discard_decoded(char* body, std::size_t len) noexcept {
    if (state_ >= State::trailer_start) {
        return 0;  // trailer views point into the buffer
    }
    std::size_t shift = read_pos_;
    std::memmove(body, body + read_pos_, len - read_pos_);
    discarded_ += write_pos_;
    line_start_ = line_start_ > shift ? line_start_ - shift : 0;
    read_pos_ = 0;
    write_pos_ = 0;
    return shift;
}

}  // namespace keel::http
