// Every ```cpp block in docs/, and every code example in a public header (the `///     `
// lines after an empty `///` line), must be compiled code: its lines appear, in order and
// together, in a source the build compiles (examples/, or tests/docs/snippets/ where fragments
// get the context they need). Indentation and runs of spaces are not compared; everything
// else is, comments included.
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
using Lines = std::vector<std::string>;

/// The non-empty lines of `text`, trimmed, with runs of blanks made one space.
Lines normalized(const std::string& text) {
    Lines out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::string n;
        for (char c : line) {
            bool blank = c == ' ' || c == '\t' || c == '\r';
            if (!blank) {
                n.push_back(c);
            } else if (!n.empty() && n.back() != ' ') {
                n.push_back(' ');
            }
        }
        while (!n.empty() && n.back() == ' ') {
            n.pop_back();
        }
        if (!n.empty()) {
            out.push_back(std::move(n));
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
std::vector<Lines> compiled_sources(const fs::path& root) {
    std::vector<Lines> sources;
    for (const char* dir : {"examples", "tests/docs/snippets"}) {
        for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
            auto ext = e.path().extension();
            if (e.is_regular_file() && (ext == ".cpp" || ext == ".hpp")) {
                sources.push_back(normalized(keel::test::read_file(e.path().string())));
            }
        }
    }
    return sources;
}

bool contains(const Lines& haystack, const Lines& needle) {
    return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

TEST(Docs, EveryCppBlockIsCompiledCode) {
    fs::path root = std::getenv("KEEL_SOURCE_DIR");
    std::vector<Lines> sources = compiled_sources(root);
    ASSERT_GT(sources.size(), 5u);
    int checked = 0;
    for (const auto& e : fs::directory_iterator(root / "docs")) {
        if (e.path().extension() != ".md") {
            continue;
        }
        for (const Block& b : cpp_blocks(e.path(), "docs/" + e.path().filename().string())) {
            Lines want = normalized(b.code);
            ASSERT_FALSE(want.empty()) << b.where << ": an empty block";
            bool found = std::any_of(sources.begin(), sources.end(), [&](const Lines& s) { return contains(s, want); });
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
    std::vector<Lines> sources = compiled_sources(root);
    int checked = 0;
    for (const auto& e : fs::recursive_directory_iterator(root / "include")) {
        if (e.path().extension() != ".hpp") {
            continue;
        }
        std::string name = fs::relative(e.path(), root).string();
        for (const Block& b : header_examples(e.path(), name)) {
            Lines want = normalized(b.code);
            bool found = std::any_of(sources.begin(), sources.end(), [&](const Lines& s) { return contains(s, want); });
            EXPECT_TRUE(found) << b.where << ": this example is not in any compiled source "
                               << "(tests/docs/snippets/headers.cpp); put it there or fix the header:\n"
                               << b.code;
            ++checked;
        }
    }
    EXPECT_GE(checked, 40);  // the headers have at least this many examples today
}

TEST(Docs, TheCheckCatchesADriftedLine) {
    Lines source = normalized("int f() {\n    return 1;   // one\n}\n");
    EXPECT_TRUE(contains(source, normalized("return 1; // one\n}")));
    EXPECT_FALSE(contains(source, normalized("return 2; // one\n}")));
    EXPECT_FALSE(contains(source, normalized("}\nreturn 1; // one")));  // order matters
}

}  // namespace
