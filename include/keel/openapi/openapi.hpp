#pragma once
/// The OpenAPI 3.1 document of a router, derived from its routes: paths and path parameters
/// from the patterns ({id:[0-9]+} becomes a parameter with that pattern), everything else from
/// each route's doc() (keel/router/operation.hpp), schemas from KEEL_JSON types
/// (keel/json/schema.hpp), errors as RFC 9457 problem+json:
///
///     keel::openapi::serve(r, {.title = "hello", .version = "1.0.0"});   // GET /openapi.json
///
/// Routes without doc() are listed with a "default" answer only; "*" routes are left out. An
/// operation without an operationId gets one from its method and path (GET /users/{id} →
/// getUsersById); one without security is marked public (`"security": []`); without servers
/// the document names its own ("/").

#include <keel/router/router.hpp>

#include <map>
#include <string>
#include <vector>

namespace keel::openapi {

struct Info {
    std::string title;
    std::string version;
    std::string description = {};
    std::string license = "MIT";            ///< SPDX identifier ("" leaves the license out)
    std::vector<std::string> servers = {};  ///< none: "/" (the server that serves the document)
    /// name → Security Scheme Object as JSON text: {"bearer", R"({"type":"http","scheme":"bearer"})"}
    std::map<std::string, std::string> security_schemes = {};
};

/// The document (JSON text) of every route registered on `router` so far.
std::string document(const router::Router& router, const Info& info);

/// Registers GET `path` answering with document(router, info) made now (so call it after the
/// other routes; the document includes its own route).
void serve(router::Router& router, const Info& info, const std::string& path = "/openapi.json");

}  // namespace keel::openapi
