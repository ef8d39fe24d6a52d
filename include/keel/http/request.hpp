#pragma once
/// keel::http::Request: one parsed request as a handler sees it. Strings are views into the
/// connection's read buffer, valid until the handler's Response is returned (copy what you
/// keep longer). Path parameters are filled by the router; typed request-scoped values live in
/// context(); stop_token() fires when the client goes away, the deadline passes or the server
/// is forced to stop.

#include <keel/core/loop.hpp>
#include <keel/core/stop_token.hpp>
#include <keel/http/context.hpp>
#include <keel/http/method.hpp>
#include <keel/http/parser.hpp>
#include <keel/net/address.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keel::http {

class TlsInfo;     // keel/http/tls_info.hpp
class BodyStream;  // keel/http/body_stream.hpp

/// A path parameter captured by the router (`{slug}` → name "slug").
struct PathParam {
    std::string_view name = {};
    std::string_view value = {};
};

/// A request-target's path (not decoded; "/" when empty) and query (without '?'). For an
/// absolute-form target the scheme and authority are dropped.
struct TargetParts {
    std::string_view path = {};
    std::string_view query = {};
};
TargetParts split_target(std::string_view target) noexcept;

/// Case-insensitive lookup of the first header named `name`.
std::optional<std::string_view> find_header(const std::vector<Header>& headers, std::string_view name) noexcept;

class Request {
  public:
    Request() = default;
    Request(const Request&) = delete;
    Request& operator=(const Request&) = delete;

    Method method() const noexcept { return method_; }
    std::string_view method_name() const noexcept { return method_name_; }
    /// The raw request-target ("/users/7?x=1").
    std::string_view target() const noexcept { return target_; }
    /// The path part of the target, not percent-decoded ("/users/7").
    std::string_view path() const noexcept { return path_; }
    /// The query without '?' ("x=1"), empty when absent.
    std::string_view query() const noexcept { return query_; }
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    int version_minor() const noexcept { return version_minor_; }
    /// 1, or 2 for a request that came on HTTP/2.
    int version_major() const noexcept { return version_major_; }
    /// "HTTP/1.0", "HTTP/1.1" or "HTTP/2" (for logs and metrics).
    std::string_view protocol() const noexcept {
        return version_major_ == 2 ? "HTTP/2" : version_minor_ == 0 ? "HTTP/1.0" : "HTTP/1.1";
    }

    const std::vector<Header>& headers() const noexcept { return *headers_; }
    std::optional<std::string_view> header(std::string_view name) const noexcept {
        return find_header(*headers_, name);
    }
    std::string_view host() const noexcept { return host_; }

    /// The whole body (Content-Length or de-chunked), empty when there is none (or streamed).
    std::string_view body() const noexcept { return body_; }
    /// The body, piece by piece, when ServerOptions::stream_body chose to stream it; else null.
    BodyStream* body_stream() const noexcept { return body_stream_; }
    /// Trailer fields of a chunked body.
    const std::vector<Header>& trailers() const noexcept { return *trailers_; }

    /// The value of path parameter `name`, or empty when the route has none by that name.
    std::string_view param(std::string_view name) const noexcept;
    std::vector<PathParam>& params() noexcept { return params_; }
    const std::vector<PathParam>& params() const noexcept { return params_; }

    /// The matched route template ("/v1/links/{slug}"), set by the router; empty before.
    std::string_view route() const noexcept { return route_; }
    void set_route(std::string_view route_template) noexcept { route_ = route_template; }

    /// Typed request-scoped values.
    Context& context() noexcept { return context_; }

    /// A per-request buffer reused across requests (the router decodes path segments into it;
    /// views into it stay valid for the request). Cleared by reset().
    std::string& scratch() noexcept { return scratch_; }

    StopToken stop_token() const noexcept { return stop_token_; }
    /// Fires the request's stop token (used by the timeout middleware): every await observing
    /// it is cut short. No effect when the request has no stop source.
    void cancel() {
        if (stop_source_) {
            stop_source_->request_stop();
        }
    }
    const net::Address& remote_address() const noexcept { return remote_; }
    /// The TLS channel the request came on (version, ALPN, SNI, client certificate subject);
    /// null on plain TCP.
    const TlsInfo* tls() const noexcept { return tls_; }
    /// When the first byte of this request arrived (loop clock).
    TimePoint received_at() const noexcept { return received_at_; }
    /// True when the connection may carry another request after this one.
    bool keep_alive() const noexcept { return keep_alive_; }

    // --- set by the server (and by keel::testing) -------------------------------------------
    /// Fills the request from a parsed head. `head.headers` must outlive the request's use.
    void assign(const RequestHead& head, std::string_view body, const std::vector<Header>* trailers);
    void set_body(std::string_view body) noexcept { body_ = body; }
    void set_body_stream(BodyStream* stream) noexcept { body_stream_ = stream; }
    void set_remote(const net::Address& a) noexcept { remote_ = a; }
    void set_tls(const TlsInfo* tls) noexcept { tls_ = tls; }
    void set_stop_source(StopSource* s) noexcept {
        stop_source_ = s;
        stop_token_ = s ? s->token() : StopToken{};
    }
    /// Replaces the path seen by routing (middleware that rewrite it, e.g. strip_slashes).
    /// The view must stay valid for the request (a part of the original, or the scratch buffer).
    void set_path(std::string_view path) noexcept { path_ = path; }
    void set_received_at(TimePoint t) noexcept { received_at_ = t; }
    void set_keep_alive(bool k) noexcept { keep_alive_ = k; }
    /// Forgets the previous request (keeps vector capacity for the next).
    void reset() noexcept;

  private:
    static const std::vector<Header> kNoHeaders;

    Method method_ = Method::get;
    std::string_view method_name_;
    std::string_view target_;
    std::string_view path_;
    std::string_view query_;
    int version_minor_ = 1;
    int version_major_ = 1;
    const std::vector<Header>* headers_ = &kNoHeaders;
    const std::vector<Header>* trailers_ = &kNoHeaders;
    std::string_view host_;
    std::string_view body_;
    BodyStream* body_stream_ = nullptr;
    std::vector<PathParam> params_;
    std::string_view route_;
    std::string scratch_;
    Context context_;
    StopToken stop_token_;
    StopSource* stop_source_ = nullptr;
    net::Address remote_;
    const TlsInfo* tls_ = nullptr;
    TimePoint received_at_{};
    bool keep_alive_ = true;
};

}  // namespace keel::http
