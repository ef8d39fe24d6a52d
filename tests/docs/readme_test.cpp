// The README's code sample must be the compiled example, byte for byte, so it cannot rot.
#include <support/read_file.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

using keel::test::read_file;

TEST(Readme, SampleIsTheCompiledExample) {
    std::string root = std::getenv("KEEL_SOURCE_DIR");
    std::string readme = read_file(root + "/README.md");
    std::string example = read_file(root + "/examples/readme/main.cpp");
    ASSERT_FALSE(example.empty());
    std::size_t start = readme.find("```cpp\n");
    ASSERT_NE(start, std::string::npos);
    start += 7;
    std::size_t end = readme.find("```", start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_EQ(readme.substr(start, end - start), example);
    EXPECT_NE(readme.find("make run"), std::string::npos);
    EXPECT_NE(readme.find("make test"), std::string::npos);
}
