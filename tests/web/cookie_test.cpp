// Cookies: parsing Cookie headers, building Set-Cookie (and refusing what browsers would
// misread), signed cookies that cannot be forged, swapped between names or outlive a key.
#include <keel/testing/recorder.hpp>
#include <keel/web/cookie.hpp>
#include <keel/web/signed_cookie.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

using keel::web::CookieSigner;
using keel::web::SameSite;
using keel::web::SetCookie;

TEST(Cookie, ParsesPairsAndSkipsMalformedOnes) {
    auto cookies = keel::web::parse_cookies(R"(a=1; b="two";  c = 3 ;noequals; =x; d=; e=x=y)");
    ASSERT_EQ(cookies.size(), 5u);
    EXPECT_EQ(cookies[0].name, "a");
    EXPECT_EQ(cookies[0].value, "1");
    EXPECT_EQ(cookies[1].value, "two");  // quotes removed
    EXPECT_EQ(cookies[2].name, "c");
    EXPECT_EQ(cookies[2].value, "3");
    EXPECT_EQ(cookies[3].name, "d");
    EXPECT_EQ(cookies[3].value, "");
    EXPECT_EQ(cookies[4].value, "x=y");  // only the first '=' splits
    EXPECT_TRUE(keel::web::parse_cookies("").empty());
}

TEST(Cookie, ARequestsCookieIsFoundInAnyCookieHeader) {
    keel::http::Handler h = [](keel::http::Request& req) {
        return keel::http::Response::text(std::string(keel::web::cookie(req, "theme").value_or("none")) + "/" +
                                          std::string(keel::web::cookie(req, "lang").value_or("none")));
    };
    auto r = keel::testing::call(h, keel::testing::TestRequest{"GET", "/"}
                                        .with_header("Cookie", "sid=1; theme=dark")
                                        .with_header("cookie", "lang=fr"));  // HTTP/2 splits them
    EXPECT_EQ(r.body, "dark/fr");
    EXPECT_EQ(keel::testing::call(h, keel::testing::TestRequest{"GET", "/"}).body, "none/none");
}

TEST(Cookie, SetCookieWritesSafeDefaultsAndEveryAttribute) {
    EXPECT_EQ(keel::web::format_set_cookie({.name = "theme", .value = "dark"}),
              "theme=dark; Path=/; HttpOnly; SameSite=Lax");
    EXPECT_EQ(keel::web::format_set_cookie({.name = "sid",
                                            .value = "abc",
                                            .path = "/app",
                                            .domain = "example.com",
                                            .max_age = std::chrono::hours(1),
                                            .secure = true,
                                            .http_only = true,
                                            .same_site = SameSite::none,
                                            .partitioned = true}),
              "sid=abc; Path=/app; Domain=example.com; Max-Age=3600; Secure; HttpOnly; SameSite=None; Partitioned");
    EXPECT_EQ(keel::web::format_set_cookie(
                  {.name = "x", .value = "1", .path = "", .http_only = false, .same_site = SameSite::unset}),
              "x=1");
    keel::http::Response res;
    keel::web::clear_cookie(res, "sid");
    EXPECT_EQ(res.header_value("Set-Cookie"), "sid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
}

TEST(Cookie, SetCookieRefusesWhatABrowserWouldMisread) {
    auto rejects = [](SetCookie c) {
        EXPECT_THROW(keel::web::format_set_cookie(c), std::invalid_argument) << c.name << "=" << c.value;
    };
    rejects({.name = "", .value = "x"});
    rejects({.name = "a b", .value = "x"});
    rejects({.name = "a;b", .value = "x"});
    rejects({.name = "a", .value = "x y"});
    rejects({.name = "a", .value = "x;y"});
    rejects({.name = "a", .value = "x,y"});
    rejects({.name = "a", .value = "\"x\""});
    rejects({.name = "a", .value = "x\r\nSet-Cookie: admin=1"});
    rejects({.name = "a", .value = "caf\xc3\xa9"});
    rejects({.name = "a", .value = "1", .path = "/; Domain=evil.com"});
    rejects({.name = "a", .value = "1", .same_site = SameSite::none});  // SameSite=None needs Secure
    rejects({.name = "a", .value = "1", .secure = false, .partitioned = true});
    try {
        keel::web::format_set_cookie({.name = "a", .value = "x y"});
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "Set-Cookie: cookie \"a\" has a byte RFC 6265 forbids in a value (0x20)");
    }
}

TEST(SignedCookie, RoundTripsAnyBytes) {
    CookieSigner signer({std::string(32, 'k')});
    for (std::string value : {std::string(), std::string("42"), std::string("user:7;admin=false, \"x\""),
                              std::string("\0\xff\n", 3), std::string(1000, 'z')}) {
        std::string cookie = signer.sign("session", value);
        EXPECT_NO_THROW(keel::web::format_set_cookie({.name = "session", .value = cookie})) << cookie;
        EXPECT_EQ(signer.verify("session", cookie), value);
    }
}

TEST(SignedCookie, RefusesForgedSwappedTruncatedAndUnknownKeyValues) {
    CookieSigner signer({std::string(32, 'k')});
    std::string cookie = signer.sign("role", "user");
    std::string payload = cookie.substr(0, cookie.find('.'));
    std::string tag = cookie.substr(cookie.find('.') + 1);

    EXPECT_EQ(signer.verify("session", cookie), std::nullopt);  // signed for another name
    EXPECT_EQ(signer.verify("role", std::nullopt), std::nullopt);
    EXPECT_EQ(signer.verify("role", ""), std::nullopt);
    EXPECT_EQ(signer.verify("role", payload), std::nullopt);  // no tag
    EXPECT_EQ(signer.verify("role", payload + "." + tag.substr(0, tag.size() - 2)), std::nullopt);
    std::string flipped = tag;
    flipped[3] = flipped[3] == 'A' ? 'B' : 'A';
    EXPECT_EQ(signer.verify("role", payload + "." + flipped), std::nullopt);
    // A different value with the old tag.
    std::string admin = CookieSigner({std::string(32, 'x')}).sign("role", "admin");
    EXPECT_EQ(signer.verify("role", admin.substr(0, admin.find('.')) + "." + tag), std::nullopt);
    EXPECT_EQ(signer.verify("role", admin), std::nullopt);  // another key
    EXPECT_EQ(signer.verify("role", payload + "=." + tag), std::nullopt);
}

TEST(SignedCookie, KeysRotate) {
    std::string old_key(32, 'o'), new_key(40, 'n');
    std::string issued_before = CookieSigner({old_key}).sign("sid", "7");
    CookieSigner rotated({new_key, old_key});
    EXPECT_EQ(rotated.verify("sid", issued_before), "7");
    std::string issued_now = rotated.sign("sid", "8");
    EXPECT_EQ(CookieSigner({new_key}).verify("sid", issued_now), "8");
    EXPECT_EQ(CookieSigner({old_key}).verify("sid", issued_now), std::nullopt);
    EXPECT_THROW(CookieSigner({}), std::invalid_argument);
    EXPECT_THROW(CookieSigner({std::string(31, 'k')}), std::invalid_argument);
}
