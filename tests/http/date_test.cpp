// HTTP dates: the one formatter the server's Date header and linkd's Last-Modified share.
#include <keel/http/date.hpp>

#include <gtest/gtest.h>

using keel::http::format_http_date;
using keel::http::parse_http_date;

TEST(HttpDate, FormatsAndParsesImfFixdate) {
    EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    EXPECT_EQ(format_http_date(1795953600), "Sun, 29 Nov 2026 12:00:00 GMT");
    EXPECT_EQ(format_http_date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
    EXPECT_EQ(parse_http_date("Sun, 29 Nov 2026 12:00:00 GMT"), 1795953600);
    for (std::int64_t t : {std::int64_t{0}, std::int64_t{86399}, std::int64_t{1700000000}, std::int64_t{4102444799}}) {
        EXPECT_EQ(parse_http_date(format_http_date(t)), t);
    }
}

TEST(HttpDate, RefusesEverythingButImfFixdate) {
    for (const char* bad :
         {"Sunday, 29-Nov-26 12:00:00 GMT",  // RFC 850
          "Sun Nov 29 12:00:00 2026",        // asctime
          "Sun, 29 Nov 2026 12:00:00 UTC", "Sun, 29 Xyz 2026 12:00:00 GMT", "Sun, 32 Nov 2026 12:00:00 GMT",
          "Sun, 29 Nov 2026 25:00:00 GMT", "Sun, 29 Nov 1969 12:00:00 GMT", ""}) {
        EXPECT_EQ(parse_http_date(bad), std::nullopt) << bad;
    }
}

TEST(HttpDate, FormatsIntoABufferWithoutAllocating) {
    char out[keel::http::kHttpDateSize];
    format_http_date(1795953600, out);
    EXPECT_EQ(std::string_view(out, sizeof out), "Sun, 29 Nov 2026 12:00:00 GMT");
}
