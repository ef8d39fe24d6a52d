#pragma once
// Runs a shell command (curl, mostly) and returns what it printed on stdout.
#include <cstdio>
#include <string>

namespace keel::test {

inline std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
        out.append(buf, n);
    }
    ::pclose(p);
    return out;
}

}  // namespace keel::test
