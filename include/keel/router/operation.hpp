#pragma once
/// What a route documents about itself, next to its handler, for the OpenAPI document that
/// keel/openapi/openapi.hpp derives from the router:
///
///     r.post("/echo", echo).doc({.summary = "Echo a message",
///                                .tags = {"demo"},
///                                .request = keel::router::body<EchoRequest>(),
///                                .responses = {{200, keel::router::json<EchoRequest>("the echo")},
///                                              {400, keel::router::problem("invalid body")}}});
///
/// Path parameters come from the pattern, bodies and responses from KEEL_JSON types
/// (keel/json/schema.hpp); a response without a type and a status from 400 up is problem+json.

#include <keel/json/schema.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace keel::router {

/// Writes a type's schema into the document's set and returns the reference to it.
using SchemaFn = std::function<std::string(json::SchemaSet&)>;

/// One query parameter of an operation.
struct QueryParam {
    std::string name;
    std::string schema;  ///< JSON text
    bool required = false;
};
using QueryFn = std::function<std::vector<QueryParam>(json::SchemaSet&)>;

/// A request header an operation reads (an `in: header` parameter).
struct HeaderParam {
    std::string name;
    std::string description = {};
    std::string schema = R"({"type":"string"})";  ///< JSON text
    bool required = false;
};

struct ResponseDoc {
    std::string description;
    SchemaFn schema = {};  ///< none: no body (or problem+json from 400 up)
    std::string content_type = "application/json";
};

struct Operation {
    std::string summary = {};
    std::string description = {};
    std::vector<std::string> tags = {};
    std::string operation_id = {};
    SchemaFn request = {};  ///< an application/json body
    QueryFn query = {};     ///< the parameters of a query bound with web::bind_query<T>
    std::vector<HeaderParam> headers = {};
    std::map<int, ResponseDoc> responses = {};
    std::vector<std::string> security = {};  ///< names of the document's security schemes
};

template <class T>
SchemaFn schema() {
    return [](json::SchemaSet& s) { return s.of<T>(); };
}

/// An application/json request body of type T.
template <class T>
SchemaFn body() {
    return schema<T>();
}

/// A JSON response of type T.
template <class T>
ResponseDoc json(std::string description) {
    return ResponseDoc{.description = std::move(description), .schema = schema<T>()};
}

/// A problem+json response.
inline ResponseDoc problem(std::string description) {
    return ResponseDoc{.description = std::move(description), .content_type = "application/problem+json"};
}

/// The query parameters of T's members (what web::bind_query<T> reads).
template <class T>
QueryFn query() {
    return [](json::SchemaSet& s) {
        std::vector<QueryParam> params;
        std::apply(
            [&](const auto&... m) {
                (([&] {
                     using M = typename std::decay_t<decltype(m)>::type;
                     params.push_back(
                         {m.name, s.of<M>(), !json::detail::may_be_absent<M> && !json::detail::vector_of<M>::value});
                 }()),
                 ...);
            },
            describe::members<T>());
        return params;
    };
}

/// A registered route as the documentation sees it.
struct RouteInfo {
    std::string method;                          ///< "GET", …, or "*"
    std::string pattern;                         ///< the full pattern ("/v1/links/{slug}")
    std::shared_ptr<const Operation> operation;  ///< null when the route has no doc()
};

}  // namespace keel::router
