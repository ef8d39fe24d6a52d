#pragma once
/// keel::http::ChunkedDecoder: the chunked transfer coding (RFC 9112 §7.1) of a request body,
/// decoded in place as the bytes arrive, with the same strictness as the request parser (bad
/// sizes, extensions with control characters, framing headers in trailers are errors).
/// Not for responses.

#include <keel/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace keel::http {

/// Decodes a chunked body in place as its bytes arrive: encoded bytes are read from
/// body[read_pos...] and decoded bytes written at body[0...]; decoded never overtakes read.
/// Trailer fields are validated like headers and appended to `trailers` (views into body).
class ChunkedDecoder {
  public:
    explicit ChunkedDecoder(std::uint64_t max_body_bytes = UINT64_MAX, std::size_t max_trailer_bytes = 16 * 1024,
                            std::size_t max_trailers = 100) noexcept
        : max_body_(max_body_bytes), max_trailer_bytes_(max_trailer_bytes), max_trailers_(max_trailers) {}

    /// `body` points at the first byte after the head, `len` bytes are available there.
    /// complete: decoded() bytes at body[0] are the body, consumed() encoded bytes were used.
    ParseResult decode(char* body, std::size_t len, std::vector<Header>* trailers);

    /// Drops the chunk framing already decoded: moves the undecoded bytes down to just after
    /// the decoded data. Returns how many bytes the caller's buffer shrank by (0 once trailers
    /// have started, as trailer views must stay put).
    std::size_t compact(char* body, std::size_t len) noexcept;

    /// Streaming: forgets the decoded bytes (the consumer has taken them) and moves the bytes not
    /// yet decoded down to body[0]. Returns how many bytes the caller's buffer shrank by (0 once
    /// trailers have started). The body limit still counts every byte decoded so far.
    std::size_t discard_decoded(char* body, std::size_t len) noexcept;

    std::size_t decoded() const noexcept { return write_pos_; }
    std::size_t consumed() const noexcept { return read_pos_; }
    void reset(std::uint64_t max_body_bytes) noexcept {
        std::vector<TrailerSpan> spans = std::move(trailer_spans_);
        spans.clear();
        *this = ChunkedDecoder(max_body_bytes, max_trailer_bytes_, max_trailers_);
        trailer_spans_ = std::move(spans);  // keeps its capacity
    }

  private:
    enum class State : std::uint8_t {
        size,
        size_ws,
        ext,
        size_lf,
        data,
        data_cr,
        data_lf,
        trailer_start,
        trailer_line,
        final_lf,
        done
    };

    std::uint64_t max_body_;
    std::size_t max_trailer_bytes_;
    std::size_t max_trailers_;
    State state_ = State::size;
    std::size_t read_pos_ = 0;
    std::size_t write_pos_ = 0;
    std::uint64_t discarded_ = 0;  // decoded bytes given away by discard_decoded
    std::uint64_t chunk_left_ = 0;
    int size_digits_ = 0;
    std::size_t line_start_ = 0;
    std::size_t trailer_bytes_ = 0;
    struct TrailerSpan {
        std::size_t name_off, name_len, value_off, value_len;
    };
    std::vector<TrailerSpan> trailer_spans_;
};

}  // namespace keel::http
