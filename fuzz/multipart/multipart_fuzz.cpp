// libFuzzer target for multipart/form-data bodies and the other text a form brings: the
// MultipartParser must give the same parts (or the same error) whether a body comes whole or
// in pieces split anywhere, never read past its input, and hold back no more than a delimiter;
// parse_urlencoded and sanitize_filename must keep their promises on any bytes.
//   input: [split byte][body...]; the boundary is fixed ("fz").
#include <keel/web/form.hpp>
#include <keel/web/multipart_parser.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

struct Log final : keel::web::MultipartParser::Sink {
    std::string events;
    std::size_t data_bytes = 0;
    keel::Result<void, keel::http::Problem> begin(const keel::web::MultipartParser::PartHead& h) override {
        events += "[" + h.name + "|" + h.filename.value_or("-") + "|" + h.content_type + "]";
        return {};
    }
    keel::Result<void, keel::http::Problem> data(std::string_view bytes) override {
        events.append(bytes);
        data_bytes += bytes.size();
        return {};
    }
    keel::Result<void, keel::http::Problem> end() override {
        events += "[end]";
        return {};
    }
};

std::string parse(std::string_view body, std::size_t piece) {
    keel::web::MultipartParser parser("fz", 256);
    Log log;
    for (std::size_t at = 0; at < body.size(); at += piece) {
        auto r = parser.feed(body.substr(at, piece), log);
        if (!r) {
            return log.events + "|error: " + r.error().detail;
        }
    }
    auto done = parser.finish();
    return log.events + (done ? "|ok" : "|error: " + done.error().detail);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    std::size_t piece = 1 + data[0] % 17;
    std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

    std::string whole = parse(body, body.size() + 1);
    std::string split = parse(body, piece);
    // The events before an error may differ in where data was cut, never in what it was.
    if (whole != split) {
        std::abort();
    }

    auto fields = keel::web::parse_urlencoded(body);
    if (fields) {
        for (const keel::web::FormField& f : *fields) {
            if (f.name.size() > body.size() || f.value.size() > body.size()) {
                std::abort();
            }
        }
    }
    std::string name = keel::web::sanitize_filename(body);
    if (name.size() > 255 || name.find_first_of("/\\") != std::string::npos || name == "..") {
        std::abort();
    }
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7F) {
            std::abort();
        }
    }
    return 0;
}
