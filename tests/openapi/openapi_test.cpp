// OpenAPI from code: JSON Schemas derived from KEEL_JSON types and their keel_validate rules,
// and a router's document (paths and parameters from patterns, operations from doc()).
#include <keel/json/schema.hpp>
#include <keel/openapi/openapi.hpp>
#include <keel/testing/recorder.hpp>

#include <gtest/gtest.h>

namespace shelf {

enum class Genre { fiction, science };
KEEL_JSON_ENUM(Genre, fiction, science)

struct Author {
    std::string name;
    std::optional<std::int32_t> born;
};
KEEL_JSON(Author, name, born)

struct Book {
    std::string isbn;
    std::string title;
    Author author;
    std::vector<std::string> tags;
    Genre genre = Genre::fiction;
    keel::json::Nullable<std::string> subtitle;
    std::optional<std::uint8_t> rating;
    std::optional<std::string> shelf;
};
KEEL_JSON(Book, isbn, title, author, tags, genre, subtitle, rating, shelf)

inline void keel_validate(const Book& b, keel::json::Validator& v) {
    static const keel::json::Pattern isbn("[0-9]{13}");
    v.pattern("/isbn", b.isbn, isbn, "13 digits");
    v.length("/title", b.title, 1, 200);
    if (b.rating) {
        v.range("/rating", *b.rating, std::uint8_t{1}, std::uint8_t{5});  // recorded: optionals are present
    }
    if (b.shelf) {
        v.check(!b.shelf->empty(), "/shelf", "must not be empty");  // logic of its own: not shown
    }
}

struct Node {
    std::string name;
    std::vector<Node> children;
};
KEEL_JSON(Node, name, children)

struct ListQuery {
    std::optional<int> limit;
    std::vector<std::string> tag;
    Genre genre = Genre::fiction;
};
KEEL_JSON(ListQuery, limit, tag, genre)

}  // namespace shelf

TEST(JsonSchema, StructsBecomeComponentsWithTheirRules) {
    keel::json::SchemaSet set;
    EXPECT_EQ(set.of<shelf::Book>(), R"({"$ref":"#/components/schemas/Book"})");
    ASSERT_EQ(set.components().size(), 2u);  // Book and the Author inside it
    EXPECT_EQ(set.components().at("Book"),
              R"({"type":"object","properties":{)"
              R"("isbn":{"type":"string","pattern":"^(?:[0-9]{13})$"},)"
              R"("title":{"type":"string","minLength":1,"maxLength":200},)"
              R"("author":{"$ref":"#/components/schemas/Author"},)"
              R"("tags":{"type":"array","items":{"type":"string"}},)"
              R"("genre":{"type":"string","enum":["fiction","science"]},)"
              R"("subtitle":{"anyOf":[{"type":"string"},{"type":"null"}]},)"
              R"("rating":{"type":"integer","minimum":1,"maximum":5},)"
              R"("shelf":{"type":"string"}},)"
              R"("required":["isbn","title","author","tags","genre"],"additionalProperties":false})");
    EXPECT_EQ(set.components().at("Author"),
              R"({"type":"object","properties":{"name":{"type":"string"},)"
              R"("born":{"type":"integer","format":"int32","minimum":-2147483648,"maximum":2147483647}},)"
              R"("required":["name"],"additionalProperties":false})");
}

TEST(JsonSchema, ARecursiveTypeRefersToItself) {
    keel::json::SchemaSet set;
    EXPECT_EQ(set.of<std::vector<shelf::Node>>(), R"({"type":"array","items":{"$ref":"#/components/schemas/Node"}})");
    EXPECT_EQ(set.components().at("Node"),
              R"({"type":"object","properties":{"name":{"type":"string"},)"
              R"("children":{"type":"array","items":{"$ref":"#/components/schemas/Node"}}},)"
              R"("required":["name","children"],"additionalProperties":false})");
}

TEST(OpenApi, TheDocumentFollowsTheRoutesAndTheirDocs) {
    keel::router::Router r;
    r.get("/books/{isbn:[0-9]{13}}", [](keel::http::Request&) { return keel::http::Response(200); })
        .doc({.summary = "A book",
              .tags = {"books"},
              .responses = {{200, keel::router::json<shelf::Book>("the book")},
                            {404, keel::router::problem("no such book")}}});
    r.get("/books", [](keel::http::Request&) {
         return keel::http::Response(200);
     }).doc({.operation_id = "listBooks", .query = keel::router::query<shelf::ListQuery>(), .security = {"bearer"}});
    keel::router::Router files;
    files.get("/{path...}", [](keel::http::Request&) { return keel::http::Response(200); }).doc({.summary = "A file"});
    r.mount("/files", std::move(files));
    r.post("/undocumented", [](keel::http::Request&) { return keel::http::Response(204); });
    keel::openapi::serve(r, {.title = "shelf",
                             .version = "2.0.0",
                             .security_schemes = {{"bearer", R"({"type":"http","scheme":"bearer"})"}}});
    ASSERT_EQ(r.routes().size(), 5u);

    std::string doc = keel::testing::call(r.handler(), keel::testing::TestRequest{"GET", "/openapi.json"}).body;
    auto has = [&](const std::string& part) { return doc.find(part) != std::string::npos; };
    EXPECT_TRUE(doc.starts_with(R"({"openapi":"3.1.0","info":{"title":"shelf","version":"2.0.0","license":)")) << doc;
    EXPECT_TRUE(has(R"("servers":[{"url":"/","description":"this server"}])")) << doc;
    EXPECT_TRUE(has(
        R"("/books/{isbn}":{"get":{"summary":"A book","operationId":"getBooksByIsbn","tags":["books"],)"
        R"("parameters":[{"name":"isbn","in":"path","required":true,"schema":{"type":"string","pattern":"^(?:[0-9]{13})$"}}],)"
        R"("security":[],)"
        R"("responses":{"200":{"description":"the book","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Book"}}}},)"
        R"("404":{"description":"no such book","content":{"application/problem+json":{"schema":{"$ref":"#/components/schemas/Problem"}}}}}}})"))
        << doc;
    EXPECT_TRUE(has(R"({"name":"limit","in":"query","required":false,"schema":{"type":"integer","format":"int32",)"))
        << doc;
    EXPECT_TRUE(
        has(R"({"name":"tag","in":"query","required":false,"schema":{"type":"array","items":{"type":"string"}}})"))
        << doc;
    EXPECT_TRUE(has(R"({"name":"genre","in":"query","required":true,)")) << doc;
    EXPECT_TRUE(has(R"("operationId":"listBooks")")) << doc;
    EXPECT_TRUE(has(R"("security":[{"bearer":[]}])")) << doc;
    EXPECT_TRUE(has(R"("/files/{path}":{"get":{"summary":"A file","operationId":"getFilesByPath",)"))
        << doc;  // kept through mount
    EXPECT_TRUE(has(R"("/undocumented":{"post":{"operationId":"postUndocumented","security":[],)"
                    R"("responses":{"default":{"description":"not documented"}}}})"))
        << doc;
    EXPECT_TRUE(has(R"("/openapi.json":{"get":{"summary":"This API's OpenAPI document")")) << doc;
    EXPECT_TRUE(has(R"("securitySchemes":{"bearer":{"type":"http","scheme":"bearer"}})")) << doc;
    EXPECT_TRUE(has(R"("Problem":{"type":"object","description":"RFC 9457 problem details")")) << doc;

    keel::router::Router empty;
    EXPECT_THROW(empty.doc({}), std::invalid_argument);
}
