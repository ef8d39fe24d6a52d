#include "tree.hpp"

#include <algorithm>
#include <cctype>

namespace keel::router::detail {

namespace {

bool valid_name(std::string_view n) {
    if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_')) {
        return false;
    }
    return std::all_of(n.begin(), n.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

std::vector<Segment> parse_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern[0] != '/') {
        setup_error("pattern \"" + std::string(pattern) + "\" must start with '/'");
    }
    std::vector<Segment> segs;
    std::vector<std::string> names;
    std::string_view rest = pattern.substr(1);
    if (rest.empty()) {
        return segs;
    }
    while (true) {
        std::size_t slash = std::string::npos;
        // A regex may contain '/', so find the segment end outside braces.
        int depth = 0;
        for (std::size_t i = 0; i < rest.size(); ++i) {
            if (rest[i] == '{') {
                ++depth;
            } else if (rest[i] == '}') {
                --depth;
            } else if (rest[i] == '/' && depth == 0) {
                slash = i;
                break;
            }
        }
        std::string_view seg = rest.substr(0, slash);
        bool last = slash == std::string::npos;
        if (!segs.empty() && segs.back().kind == Segment::catch_all) {
            setup_error("catch-all must be the last segment in \"" + std::string(pattern) + "\"");
        }
        if (seg.empty() && !last) {
            setup_error("empty segment in \"" + std::string(pattern) + "\"");
        }
        if (!seg.empty() && seg.front() == '{') {
            if (seg.back() != '}') {
                setup_error("parameters must be whole segments in \"" + std::string(pattern) + "\"");
            }
            std::string_view inner = seg.substr(1, seg.size() - 2);
            Segment s{Segment::param, {}, {}};
            std::size_t colon = inner.find(':');
            if (colon != std::string_view::npos) {
                s.text = std::string(inner.substr(0, colon));
                s.regex = std::string(inner.substr(colon + 1));
                if (s.regex.empty()) {
                    setup_error("empty regex in \"" + std::string(pattern) + "\"");
                }
            } else if (inner.size() > 3 && inner.substr(inner.size() - 3) == "...") {
                s.kind = Segment::catch_all;
                s.text = std::string(inner.substr(0, inner.size() - 3));
            } else {
                s.text = std::string(inner);
            }
            if (!valid_name(s.text)) {
                setup_error("invalid parameter name \"" + s.text + "\" in \"" + std::string(pattern) + "\"");
            }
            if (std::find(names.begin(), names.end(), s.text) != names.end()) {
                setup_error("parameter \"" + s.text + "\" appears twice in \"" + std::string(pattern) + "\"");
            }
            names.push_back(s.text);
            segs.push_back(std::move(s));
        } else {
            if (seg.find_first_of("{}") != std::string_view::npos) {
                setup_error("parameters must be whole segments in \"" + std::string(pattern) + "\"");
            }
            segs.push_back({Segment::literal, std::string(seg), {}});
        }
        if (last) {
            break;
        }
        rest = rest.substr(slash + 1);
    }
    return segs;
}

}  // namespace keel::router::detail
