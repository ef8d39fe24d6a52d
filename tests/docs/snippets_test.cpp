// Every ```cpp block in docs/, and every code example in a public header (the `///     `
// lines after an empty `///` line), must be compiled code: its text appears, in order and
// together, in a source the build compiles (examples/, or tests/docs/snippets/ where fragments
// get the context they need). Whitespace is not compared (so clang-format may break a line of
// the source where the page does not); everything else is, comments included.
#include <support/read_file.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
/// `text` without its whitespace: what is compared.
std::string squeezed(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            out.push_back(c);
        }
    }
    return out;
}

struct Block {
    std::string where;  // "docs/x.md:LINE"
    std::string code;
};

std::vector<Block> cpp_blocks(const fs::path& md, const std::string& name) {
    std::vector<Block> blocks;
    std::istringstream in(keel::test::read_file(md.string()));
    std::string line, code;
    int n = 0, start = 0;
    bool inside = false;
    while (std::getline(in, line)) {
        ++n;
        if (!inside && line == "```cpp") {
            inside = true;
            start = n;
            code.clear();
        } else if (inside && line.rfind("```", 0) == 0) {
            inside = false;
            blocks.push_back({name + ":" + std::to_string(start), code});
        } else if (inside) {
            code += line + "\n";
        }
    }
    return blocks;
}

/// The examples of a header: runs of `///     ` lines that follow an empty `///` line (an
/// indented continuation of prose follows prose, so it is not taken for code).
std::vector<Block> header_examples(const fs::path& hpp, const std::string& name) {
    std::vector<Block> blocks;
    std::istringstream in(keel::test::read_file(hpp.string()));
    std::string line, previous, code;
    int n = 0, start = 0;
    bool inside = false;
    auto example_line = [](const std::string& l) {
        auto at = l.find_first_not_of(' ');
        return at != std::string::npos && l.compare(at, 8, "///     ") == 0;
    };
    auto empty_doc_line = [](const std::string& l) {
        auto at = l.find_first_not_of(' ');
        return at != std::string::npos && l.substr(at) == "///";
    };
    while (std::getline(in, line)) {
        ++n;
        if (inside && !example_line(line)) {
            inside = false;
            blocks.push_back({name + ":" + std::to_string(start), code});
        }
        if (!inside && example_line(line) && empty_doc_line(previous)) {
            inside = true;
            start = n;
            code.clear();
        }
        if (inside) {
            code += line.substr(line.find("///") + 3) + "\n";
        }
        previous = line;
    }
    return blocks;
}

// Every file the build compiles that a documented example may come from.
std::vector<std::string> compiled_sources(const fs::path& root) {
    std::vector<std::string> sources;
    for (const char* dir : {"examples", "tests/docs/snippets"}) {
        for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
            auto ext = e.path().extension();
            if (e.is_regular_file() && (ext == ".cpp" || ext == ".hpp")) {
                sources.push_back(squeezed(keel::test::read_file(e.path().string())));
            }
        }
    }
    return sources;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

TEST(Docs, EveryCppBlockIsCompiledCode) {
    fs::path root = std::getenv("KEEL_SOURCE_DIR");
    std::vector<std::string> sources = compiled_sources(root);
    ASSERT_GT(sources.size(), 5u);
    int checked = 0;
    for (const auto& e : fs::directory_iterator(root / "docs")) {
        if (e.path().extension() != ".md") {
            continue;
        }
        for (const Block& b : cpp_blocks(e.path(), "docs/" + e.path().filename().string())) {
            std::string want = squeezed(b.code);
            ASSERT_FALSE(want.empty()) << b.where << ": an empty block";
            bool found =
                std::any_of(sources.begin(), sources.end(), [&](const std::string& s) { return contains(s, want); });
            EXPECT_TRUE(found) << b.where << ": this block is not in any compiled source (examples/, "
                               << "tests/docs/snippets/); put it there or fix the page:\n"
                               << b.code;
            ++checked;
        }
    }
    EXPECT_GE(checked, 14);  // the pages have at least this many blocks today
}

TEST(Docs, EveryHeaderExampleIsCompiledCode) {
    fs::path root = std::getenv("KEEL_SOURCE_DIR");
    std::vector<std::string> sources = compiled_sources(root);
    int checked = 0;
    for (const auto& e : fs::recursive_directory_iterator(root / "include")) {
        if (e.path().extension() != ".hpp") {
            continue;
        }
        std::string name = fs::relative(e.path(), root).string();
        for (const Block& b : header_examples(e.path(), name)) {
            std::string want = squeezed(b.code);
            bool found =
                std::any_of(sources.begin(), sources.end(), [&](const std::string& s) { return contains(s, want); });
            EXPECT_TRUE(found) << b.where << ": this example is not in any compiled source "
                               << "(tests/docs/snippets/headers.cpp); put it there or fix the header:\n"
                               << b.code;
            ++checked;
        }
    }
    EXPECT_GE(checked, 40);  // the headers have at least this many examples today
}

TEST(Docs, TheCheckCatchesADriftedLine) {
    std::string source = squeezed("int f() {\n    return g(1,\n             2);   // one\n}\n");
    EXPECT_TRUE(contains(source, squeezed("return g(1, 2); // one\n}")));  // broken elsewhere: the same
    EXPECT_FALSE(contains(source, squeezed("return g(1, 3); // one\n}")));
    EXPECT_FALSE(contains(source, squeezed("}\nreturn g(1, 2); // one")));  // order matters
    EXPECT_FALSE(contains(source, squeezed("return g(1, 2); // two")));     // comments too
}

}  // namespace
