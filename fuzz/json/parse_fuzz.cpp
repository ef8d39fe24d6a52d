// libFuzzer target for keel::json::parse: arbitrary bytes into a struct with every supported
// member kind. No crash, leak or UB; errors always carry a reason; a clean parse writes JSON
// that parses back to the same value.
#include <keel/json/parse.hpp>

#include <cstdlib>

namespace fz {
enum class Mode { fast, safe };
KEEL_JSON_ENUM(Mode, fast, safe)
struct Inner {
    std::int16_t n = 0;
    std::optional<double> x;
};
KEEL_JSON(Inner, n, x)
struct Doc {
    std::string s;
    std::uint32_t u = 0;
    bool b = false;
    Mode mode = Mode::fast;
    std::optional<std::vector<Inner>> items;
    std::vector<std::optional<std::string>> names;
};
KEEL_JSON(Doc, s, u, b, mode, items, names)
}  // namespace fz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view json(reinterpret_cast<const char*>(data), size);
    fz::Doc doc;
    keel::json::Errors errors;
    keel::json::parse(json, doc, errors);
    for (const auto& e : errors) {
        if (e.reason.empty()) {
            std::abort();
        }
    }
    if (errors.empty()) {
        std::string out;
        keel::json::write(out, doc);
        fz::Doc again;
        keel::json::Errors errors2;
        keel::json::parse(out, again, errors2);
        std::string out2;
        keel::json::write(out2, again);
        if (!errors2.empty() || out != out2) {
            std::abort();  // what we write must read back identically
        }
    }
    return 0;
}
