#pragma once
/// keel::web::MultipartParser: a push parser for multipart/form-data bodies (RFC 7578 on RFC
/// 2046's framing). Bytes go in as they arrive, in pieces of any size; each part comes out as
/// begin(head), data(bytes)…, end(), with at most one delimiter's length held back between
/// pieces, so a gigabyte upload needs no gigabyte buffer. keel/web/multipart.hpp builds forms
/// from it; use it directly to stream parts somewhere else.

#include <keel/core/result.hpp>
#include <keel/http/problem.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace keel::web {

class MultipartParser {
  public:
    /// What a part's headers said. `filename` is as sent (untrusted: see sanitize_filename).
    struct PartHead {
        std::string name = {};
        std::optional<std::string> filename = {};
        std::string content_type = {};  ///< empty when the part had none (text/plain by default)
    };

    class Sink {
      public:
        virtual ~Sink() = default;
        virtual Result<void, http::Problem> begin(const PartHead& head) = 0;
        virtual Result<void, http::Problem> data(std::string_view bytes) = 0;
        virtual Result<void, http::Problem> end() = 0;
    };

    /// `boundary` without the leading "--". A part's header block may hold `max_header_bytes`.
    explicit MultipartParser(std::string_view boundary, std::size_t max_header_bytes = 8 * 1024);

    /// The boundary parameter of a multipart/form-data Content-Type (1..70 bytes), or nullopt
    /// when the type is something else or the boundary is missing or invalid.
    static std::optional<std::string> boundary_of(std::string_view content_type);

    /// Parses the next piece. A 400 Problem for a malformed body; the sink's own problems pass
    /// through. After an error the parser must not be fed again.
    Result<void, http::Problem> feed(std::string_view bytes, Sink& sink);
    /// The body has ended: a 400 Problem unless the closing delimiter was seen.
    Result<void, http::Problem> finish() const;

  private:
    enum class State { preamble, after_delimiter, headers, body, done };

    Result<void, http::Problem> parse_headers(std::string_view block, Sink& sink);

    std::string delimiter_;  // "\r\n--" + boundary
    std::size_t max_header_bytes_;
    std::string pending_;
    State state_ = State::preamble;
};

/// A client's file name made safe to show or log: the last path component only (after '/' or
/// '\\'), control bytes removed, at most 255 bytes; "" when nothing usable is left ("..").
/// Never use it as a path on the server.
std::string sanitize_filename(std::string_view name);

}  // namespace keel::web
