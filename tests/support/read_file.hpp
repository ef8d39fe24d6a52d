#pragma once
// A whole file as a string (empty when it cannot be read): logs, captured output, sources.

#include <fstream>
#include <sstream>
#include <string>

namespace keel::test {

inline std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace keel::test
