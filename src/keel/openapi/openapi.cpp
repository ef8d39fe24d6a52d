#include <keel/openapi/openapi.hpp>

#include <keel/http/response.hpp>
#include <keel/json/writer.hpp>

#include <algorithm>
#include <memory>

namespace keel::openapi {
namespace {

constexpr std::string_view kProblemSchema =
    R"({"type":"object","description":"RFC 9457 problem details","properties":{"type":{"type":"string"},)"
    R"("title":{"type":"string"},"status":{"type":"integer","minimum":100,"maximum":599},"detail":{"type":"string"},)"
    R"("instance":{"type":"string"},"errors":{"type":"array","items":{"type":"object","properties":{)"
    R"("pointer":{"type":"string"},"reason":{"type":"string"}},"required":["pointer","reason"]}}},)"
    R"("required":["type","title","status"]})";

std::string quoted(std::string_view s) {
    std::string out;
    json::write_string(out, s);
    return out;
}

struct PathParam {
    std::string name;
    std::string schema;
};

/// "/users/{id:[0-9]+}/files/{rest...}" → "/users/{id}/files/{rest}" and its parameters.
std::string openapi_path(std::string_view pattern, std::vector<PathParam>& params) {
    std::string out;
    std::size_t i = 0;
    while (i < pattern.size()) {
        if (pattern[i] != '{') {
            out += pattern[i++];
            continue;
        }
        std::size_t close = pattern.find('}', i);
        // A constrained parameter's regex may hold braces ({id:[0-9]{3}}): find the matching one.
        int depth = 0;
        for (std::size_t j = i; j < pattern.size(); ++j) {
            depth += pattern[j] == '{' ? 1 : pattern[j] == '}' ? -1 : 0;
            if (depth == 0) {
                close = j;
                break;
            }
        }
        std::string_view inside = pattern.substr(i + 1, close - i - 1);
        std::string name, schema = R"({"type":"string"})";
        if (inside.ends_with("...")) {
            name = inside.substr(0, inside.size() - 3);
            schema = R"({"type":"string","description":"the rest of the path, slashes included"})";
        } else if (std::size_t colon = inside.find(':'); colon != std::string_view::npos) {
            name = inside.substr(0, colon);
            schema =
                R"({"type":"string","pattern":)" + quoted("^(?:" + std::string(inside.substr(colon + 1)) + ")$") + "}";
        } else {
            name = inside;
        }
        out += "{" + name + "}";
        params.push_back({name, schema});
        i = close + 1;
    }
    return out;
}

std::string lower(std::string s) {
    for (char& c : s) {
        c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
    return s;
}

/// "getUsersById" for GET /users/{id}: what an operation is called when its doc() names none.
std::string default_operation_id(const std::string& method, std::string_view path) {
    std::string id = lower(method);
    bool upper = true;
    for (std::size_t i = 0; i < path.size(); ++i) {
        char c = path[i];
        if (c == '{') {
            id += "By";
            upper = true;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            id += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
            upper = false;
        } else {
            upper = true;
        }
    }
    return path == "/" ? id + "Root" : id;
}

std::string operation_json(const router::RouteInfo& route, const std::string& path,
                           const std::vector<PathParam>& path_params, json::SchemaSet& schemas, bool& uses_problem) {
    const router::Operation* op = route.operation.get();
    std::string s = "{";
    auto field = [&](std::string_view key, const std::string& json_value) {
        s += s.size() > 1 ? "," : "";
        s += quoted(key) + ":" + json_value;
    };
    if (op && !op->summary.empty()) {
        field("summary", quoted(op->summary));
    }
    if (op && !op->description.empty()) {
        field("description", quoted(op->description));
    }
    field("operationId",
          quoted(op && !op->operation_id.empty() ? op->operation_id : default_operation_id(route.method, path)));
    if (op && !op->tags.empty()) {
        std::string tags;
        for (const std::string& t : op->tags) {
            tags += (tags.empty() ? "" : ",") + quoted(t);
        }
        field("tags", "[" + tags + "]");
    }
    std::string params;
    for (const PathParam& p : path_params) {
        params += (params.empty() ? "" : ",") + std::string(R"({"name":)") + quoted(p.name) +
                  R"(,"in":"path","required":true,"schema":)" + p.schema + "}";
    }
    if (op && op->query) {
        for (const router::QueryParam& q : op->query(schemas)) {
            params += (params.empty() ? "" : ",") + std::string(R"({"name":)") + quoted(q.name) +
                      R"(,"in":"query","required":)" + (q.required ? "true" : "false") + R"(,"schema":)" + q.schema +
                      "}";
        }
    }
    if (op) {
        for (const router::HeaderParam& h : op->headers) {
            params += (params.empty() ? "" : ",") + std::string(R"({"name":)") + quoted(h.name) +
                      R"(,"in":"header","required":)" + (h.required ? "true" : "false") +
                      (h.description.empty() ? "" : R"(,"description":)" + quoted(h.description)) + R"(,"schema":)" +
                      h.schema + "}";
        }
    }
    if (!params.empty()) {
        field("parameters", "[" + params + "]");
    }
    if (op && op->request) {
        field("requestBody",
              R"({"required":true,"content":{"application/json":{"schema":)" + op->request(schemas) + "}}}");
    }
    std::string responses;
    if (op) {
        for (const auto& [status, r] : op->responses) {
            std::string body = R"({"description":)" + quoted(r.description);
            if (r.schema) {
                body += R"(,"content":{)" + quoted(r.content_type) + R"(:{"schema":)" + r.schema(schemas) + "}}";
            } else if (status >= 400) {
                uses_problem = true;
                body += R"(,"content":{"application/problem+json":{"schema":{"$ref":"#/components/schemas/Problem"}}})";
            }
            responses += (responses.empty() ? "" : ",") + quoted(std::to_string(status)) + ":" + body + "}";
        }
    }
    // No security named: the operation is public, and says so (an empty list).
    std::string sec;
    for (const std::string& name : op ? op->security : std::vector<std::string>{}) {
        sec += (sec.empty() ? "" : ",") + std::string("{") + quoted(name) + ":[]}";
    }
    field("security", "[" + sec + "]");
    if (responses.empty()) {
        responses = R"("default":{"description":"not documented"})";
    }
    field("responses", "{" + responses + "}");
    return s + "}";
}

}  // namespace

std::string document(const router::Router& router, const Info& info) {
    json::SchemaSet schemas;
    bool uses_problem = false;
    // Paths in the order their first route was registered; methods in registration order.
    std::vector<std::pair<std::string, std::string>> paths;  // path → its operations (JSON members)
    for (const router::RouteInfo& route : router.routes()) {
        if (route.method == "*") {
            continue;
        }
        std::vector<PathParam> params;
        std::string path = openapi_path(route.pattern, params);
        std::string op = quoted(lower(route.method)) + ":" + operation_json(route, path, params, schemas, uses_problem);
        auto it = std::find_if(paths.begin(), paths.end(), [&](const auto& p) { return p.first == path; });
        if (it == paths.end()) {
            paths.emplace_back(path, op);
        } else {
            it->second += "," + op;
        }
    }
    if (uses_problem) {
        schemas.add_component("Problem", std::string(kProblemSchema));
    }
    std::string doc =
        R"({"openapi":"3.1.0","info":{"title":)" + quoted(info.title) + R"(,"version":)" + quoted(info.version);
    if (!info.description.empty()) {
        doc += R"(,"description":)" + quoted(info.description);
    }
    if (!info.license.empty()) {
        doc += R"(,"license":{"name":)" + quoted(info.license) + R"(,"identifier":)" + quoted(info.license) + "}";
    }
    doc += "}";
    std::string servers;
    for (const std::string& url : info.servers) {
        servers += (servers.empty() ? "" : ",") + std::string(R"({"url":)") + quoted(url) + "}";
    }
    doc += R"(,"servers":[)" + (servers.empty() ? std::string(R"({"url":"/","description":"this server"})") : servers) +
           "]";
    std::string path_json;
    for (const auto& [path, ops] : paths) {
        path_json += (path_json.empty() ? "" : ",") + quoted(path) + ":{" + ops + "}";
    }
    doc += R"(,"paths":{)" + path_json + "}";
    std::string components;
    if (!schemas.components().empty()) {
        std::string list;
        for (const auto& [name, schema] : schemas.components()) {
            list += (list.empty() ? "" : ",") + quoted(name) + ":" + schema;
        }
        components += R"("schemas":{)" + list + "}";
    }
    if (!info.security_schemes.empty()) {
        std::string list;
        for (const auto& [name, scheme] : info.security_schemes) {
            list += (list.empty() ? "" : ",") + quoted(name) + ":" + scheme;
        }
        components += (components.empty() ? "" : ",") + std::string(R"("securitySchemes":{)") + list + "}";
    }
    if (!components.empty()) {
        doc += R"(,"components":{)" + components + "}";
    }
    return doc + "}";
}

void serve(router::Router& router, const Info& info, const std::string& path) {
    // The route is registered first so that the document lists it; the document is made right
    // after, before any request can come.
    auto doc = std::make_shared<std::string>();
    router
        .get(path,
             [doc](http::Request&) {
                 http::Response r(200);
                 r.header("Content-Type", "application/json");
                 r.static_body(*doc);
                 return r;
             })
        .doc({.summary = "This API's OpenAPI document",
              .tags = {"meta"},
              .operation_id = "getOpenApiDocument",
              .responses = {
                  {200, router::ResponseDoc{.description = "OpenAPI 3.1, as JSON", .schema = [](json::SchemaSet&) {
                                                return std::string(R"({"type":"object"})");
                                            }}}}});
    *doc = document(router, info);
}

}  // namespace keel::openapi
