#include <keel/web/websocket.hpp>

#include <keel/json/reader.hpp>

#include "deflate.hpp"

#include <openssl/evp.h>

#include <strings.h>
#include <algorithm>

namespace keel::web {
namespace {

constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

/// Calls fn(item) for each comma-separated item of a header value, trimmed.
template <class F>
void for_each_item(std::string_view list, F fn) {
    while (!list.empty()) {
        std::size_t comma = list.find(',');
        std::string_view item = trim(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (!item.empty()) {
            fn(item);
        }
    }
}

bool has_token(std::string_view list, std::string_view token) {
    bool found = false;
    for_each_item(list, [&](std::string_view item) { found = found || iequals(item, token); });
    return found;
}

std::string accept_key(std::string_view key) {
    std::string input = std::string(key) + std::string(kAcceptGuid);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr);
    std::string out(4 * ((len + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, static_cast<int>(len));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

bool valid_key(std::string_view key) {
    // base64 of 16 bytes: 22 characters and "==".
    if (key.size() != 24 || !key.ends_with("==")) {
        return false;
    }
    unsigned char decoded[18];
    return EVP_DecodeBlock(decoded, reinterpret_cast<const unsigned char*>(key.data()), 24) == 18;
}

/// The origin's host[:port] ("https://a.example:8443" → "a.example:8443").
std::string_view origin_authority(std::string_view origin) {
    std::size_t scheme = origin.find("://");
    return scheme == std::string_view::npos ? origin : origin.substr(scheme + 3);
}

bool origin_allowed(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed) {
    for (const std::string& a : allowed) {
        if (a == "*" || iequals(a, origin)) {
            return true;
        }
    }
    return iequals(origin_authority(origin), host);
}

struct DeflateOffer {
    bool accepted = false;
    bool client_resets = false;
    bool server_window_asked = false;
};

/// The first permessage-deflate offer we can take (RFC 7692 §7): our compressor's window is
/// 2^10, so any server_max_window_bits from 10 up is fine; our decompressor takes any client window.
DeflateOffer negotiate_deflate(std::string_view extensions) {
    DeflateOffer result;
    for_each_item(extensions, [&](std::string_view offer) {
        if (result.accepted) {
            return;
        }
        std::size_t semi = offer.find(';');
        if (!iequals(trim(offer.substr(0, semi)), "permessage-deflate")) {
            return;
        }
        DeflateOffer o{.accepted = true};
        std::string_view params = semi == std::string_view::npos ? std::string_view{} : offer.substr(semi + 1);
        while (!params.empty() && o.accepted) {
            std::size_t next = params.find(';');
            std::string_view p = trim(params.substr(0, next));
            params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
            std::size_t eq = p.find('=');
            std::string_view name = trim(p.substr(0, eq));
            std::string_view value = eq == std::string_view::npos ? std::string_view{} : trim(p.substr(eq + 1));
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
                value = value.substr(1, value.size() - 2);
            }
            if (iequals(name, "server_no_context_takeover")) {
                continue;  // we never keep context anyway
            }
            if (iequals(name, "client_no_context_takeover")) {
                o.client_resets = true;
            } else if (iequals(name, "server_max_window_bits")) {
                int bits = value.empty() ? 0 : std::atoi(std::string(value).c_str());
                o.accepted = bits >= 10 && bits <= 15;
                o.server_window_asked = true;
            } else if (iequals(name, "client_max_window_bits")) {
                int bits = value.empty() ? 15 : std::atoi(std::string(value).c_str());
                o.accepted = bits >= 8 && bits <= 15;
            } else if (!name.empty()) {
                o.accepted = false;  // a parameter we do not know: decline this offer
            }
        }
        if (o.accepted) {
            result = o;
        }
    });
    return result;
}

http::Problem handshake_problem(int status, std::string detail) {
    http::Problem p{.status = status, .detail = std::move(detail)};
    if (status == 426) {
        p.headers = {{"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"}};
    }
    return p;
}

}  // namespace

// ---- the handshake -------------------------------------------------------------------------

http::ProblemOr accept_websocket(http::Request& req, WebSocketHandler handler, const WebSocketOptions& options) {
    if (req.version_major() != 1 || req.version_minor() != 1) {
        return handshake_problem(400, "a WebSocket handshake needs HTTP/1.1");
    }
    if (req.method() != http::Method::get) {
        return handshake_problem(400, "a WebSocket handshake is a GET");
    }
    if (!has_token(req.header("Upgrade").value_or(""), "websocket") ||
        !has_token(req.header("Connection").value_or(""), "upgrade")) {
        return handshake_problem(426, "this resource speaks WebSocket only (Upgrade: websocket)");
    }
    if (req.header("Sec-WebSocket-Version").value_or("") != "13") {
        return handshake_problem(426, "Sec-WebSocket-Version must be 13");
    }
    std::string_view key = trim(req.header("Sec-WebSocket-Key").value_or(""));
    if (!valid_key(key)) {
        return handshake_problem(400, "Sec-WebSocket-Key must be 16 bytes in base64");
    }
    if (std::count_if(req.headers().begin(), req.headers().end(),
                      [](const http::Header& h) { return iequals(h.name, "Sec-WebSocket-Key"); }) > 1) {
        return handshake_problem(400, "Sec-WebSocket-Key must be sent once");  // RFC 6455 §11.3.1
    }
    if (auto origin = req.header("Origin"); origin && !origin_allowed(*origin, req.host(), options.allowed_origins)) {
        return handshake_problem(403, "this origin may not open a WebSocket here");
    }

    std::string subprotocol;
    if (auto offered = req.header("Sec-WebSocket-Protocol")) {
        for (const std::string& ours : options.subprotocols) {
            if (subprotocol.empty() && has_token(*offered, ours)) {
                subprotocol = ours;
            }
        }
    }
    DeflateOffer deflate;
    if (options.compression) {
        deflate = negotiate_deflate(req.header("Sec-WebSocket-Extensions").value_or(""));
    }

    auto run = [handler = std::move(handler), options, subprotocol, deflate](http::UpgradedStream& io) -> Task<void> {
        auto ws = std::make_shared<WebSocket>(io, options, subprotocol, deflate.accepted, deflate.client_resets);
        bool failed = false;
        try {
            co_await handler(*ws);
        } catch (...) {
            failed = true;
        }
        co_await ws->finish(failed);
    };
    http::Response res = http::Response::upgrade(std::move(run));
    res.header("Upgrade", "websocket");  // the server adds Connection: Upgrade
    res.header("Sec-WebSocket-Accept", accept_key(key));
    if (!subprotocol.empty()) {
        res.header("Sec-WebSocket-Protocol", subprotocol);
    }
    if (deflate.accepted) {
        std::string ext = "permessage-deflate; server_no_context_takeover";
        if (deflate.client_resets) {
            ext += "; client_no_context_takeover";
        }
        if (deflate.server_window_asked) {
            ext += "; server_max_window_bits=10";
        }
        res.header("Sec-WebSocket-Extensions", ext);
    }
    return res;
}

// ---- the connection ------------------------------------------------------------------------

/// Waits for this coroutine's turn to write (sends go out whole and in order).
struct WebSocket::SendTurn {
    WebSocket& ws;
    bool await_ready() noexcept {
        if (!ws.sending_) {
            ws.sending_ = true;
            return true;
        }
        return false;
    }
    void await_suspend(std::coroutine_handle<> h) { ws.send_queue_.push_back(h); }
    void await_resume() const noexcept {}
};

WebSocket::WebSocket(http::UpgradedStream& io, const WebSocketOptions& options, std::string subprotocol, bool deflate,
                     bool client_resets_context)
    : io_(&io), loop_(*Loop::current()), options_(options), subprotocol_(std::move(subprotocol)) {
    if (deflate) {
        deflate_ = std::make_unique<detail::MessageDeflate>(client_resets_context);
    }
}

WebSocket::~WebSocket() = default;

void WebSocket::release_turn() noexcept {
    if (send_queue_.empty()) {
        sending_ = false;
        return;
    }
    std::coroutine_handle<> next = send_queue_.front();  // the turn passes on: sending_ stays true
    send_queue_.pop_front();
    loop_.defer([next] { next.resume(); });
}

void WebSocket::count(WebSocketStats::Reason r) const noexcept {
    if (options_.stats) {
        options_.stats->count(r);
    }
}

void WebSocket::drop(std::uint16_t code, std::string reason, WebSocketStats::Reason counted) {
    if (closed_ || detached_) {
        return;
    }
    closed_ = close_sent_ = true;
    count(counted);
    io_->report("websocket dropped", reason);
    status_ = CloseStatus{code, std::move(reason)};
    io_->abort();  // the queued sends fail in turn, releasing what they hold
}

Task<bool> WebSocket::send_frame(Opcode opcode, std::string_view payload, bool compress) {
    if (detached_) {
        co_return false;
    }
    bool data = opcode == Opcode::text || opcode == Opcode::binary;
    if (data && queued_bytes_ > 0 && queued_bytes_ + payload.size() > options_.max_queued_bytes) {
        drop(1008, "the client reads too slowly", WebSocketStats::Reason::too_slow);
        co_return false;
    }
    struct Queued {
        std::size_t& total;
        std::size_t n;
        ~Queued() { total -= n; }
    } queued{queued_bytes_, payload.size()};
    queued_bytes_ += payload.size();
    co_await SendTurn{*this};
    if (detached_ || (close_sent_ && opcode != Opcode::close) || io_->stop_token().stop_requested()) {
        release_turn();
        co_return false;
    }
    std::string frame;
    bool compressed = false;
    if (compress && deflate_ && payload.size() >= options_.compress_min_bytes) {
        std::string z;
        if (deflate_->compress(payload, z)) {
            append_frame_header(frame, opcode, z.size(), true, true);
            frame += z;
            compressed = true;
        }
    }
    if (!compressed) {
        frame.reserve(payload.size() + 10);
        append_frame_header(frame, opcode, payload.size());
        frame.append(payload);
    }
    bool ok = co_await io_->write(frame);
    release_turn();
    co_return ok;
}

Task<bool> WebSocket::send(const Message& message) {
    return send_frame(message.type == MessageType::text ? Opcode::text : Opcode::binary, message.data, true);
}
Task<bool> WebSocket::send_text(std::string_view text) {
    return send_frame(Opcode::text, text, true);
}
Task<bool> WebSocket::send_binary(std::string_view bytes) {
    return send_frame(Opcode::binary, bytes, true);
}

Task<void> WebSocket::send_close(std::uint16_t code, std::string_view reason) {
    if (close_sent_ || detached_) {
        co_return;
    }
    close_sent_ = true;  // from here on only the close frame goes out
    close_deadline_ = loop_.now() + options_.close_timeout;
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xFF);
    std::size_t keep = std::min<std::size_t>(reason.size(), 123);
    while (keep > 0 && keep < reason.size() && (static_cast<unsigned char>(reason[keep]) & 0xC0) == 0x80) {
        --keep;  // a control frame holds 125 bytes: cut the reason on a character boundary
    }
    payload.append(reason.substr(0, keep));
    co_await send_frame(Opcode::close, payload, false);
}

Task<Result<Message, CloseStatus>> WebSocket::fail(std::uint16_t code, std::string reason,
                                                   WebSocketStats::Reason counted) {
    count(counted);
    co_await send_close(code, reason);
    closed_ = true;
    status_ = CloseStatus{code, std::move(reason)};
    co_return status_;
}

Task<Result<Message, CloseStatus>> WebSocket::receive() {
    for (;;) {
        if (closed_ || detached_) {
            co_return status_;
        }
        FrameHeader h;
        std::string_view unread = std::string_view(in_).substr(in_pos_);
        FrameParse parsed = parse_frame_header(unread, h);
        if (parsed == FrameParse::invalid) {
            co_return co_await fail(1002, "a frame's length has its top bit set");
        }
        if (parsed == FrameParse::complete) {
            bool control = h.opcode >= 8;
            if (!h.masked) {
                co_return co_await fail(1002, "client frames must be masked");
            }
            if (h.rsv2 || h.rsv3) {
                co_return co_await fail(1002, "a reserved bit is set");
            }
            if ((h.opcode > 2 && h.opcode < 8) || h.opcode > 10) {
                co_return co_await fail(1002, "reserved opcode " + std::to_string(h.opcode));
            }
            if (control && (!h.fin || h.length > 125)) {
                co_return co_await fail(1002, "a control frame must be one frame of at most 125 bytes");
            }
            if (h.rsv1 && (!deflate_ || control || h.opcode == 0)) {
                co_return co_await fail(1002, "RSV1 is set outside a compressed message's first frame");
            }
            if (!control && message_.size() + h.length > options_.max_message_bytes) {
                co_return co_await fail(
                    1009, "a message is larger than " + std::to_string(options_.max_message_bytes) + " bytes",
                    WebSocketStats::Reason::too_big);
            }
            if (unread.size() - h.header_bytes >= h.length) {
                std::string payload(unread.substr(h.header_bytes, static_cast<std::size_t>(h.length)));
                in_pos_ += h.header_bytes + static_cast<std::size_t>(h.length);
                unmask(payload.data(), payload.size(), h.mask);
                auto opcode = static_cast<Opcode>(h.opcode);
                if (opcode == Opcode::ping) {
                    co_await send_frame(Opcode::pong, payload, false);
                    continue;
                }
                if (opcode == Opcode::pong) {
                    continue;
                }
                if (opcode == Opcode::close) {
                    CloseStatus peer{1005, {}};
                    if (payload.size() == 1) {
                        co_return co_await fail(1002, "a close frame's code must be 2 bytes");
                    }
                    if (payload.size() >= 2) {
                        peer.code = static_cast<std::uint16_t>(static_cast<std::uint8_t>(payload[0]) << 8 |
                                                               static_cast<std::uint8_t>(payload[1]));
                        peer.reason = payload.substr(2);
                        if (!is_valid_close_code(peer.code)) {
                            co_return co_await fail(1002, "invalid close code " + std::to_string(peer.code));
                        }
                        if (!json::is_valid_utf8(peer.reason)) {
                            co_return co_await fail(1007, "the close reason is not UTF-8");
                        }
                    }
                    co_await send_close(peer.code == 1005 ? 1000 : peer.code,
                                        std::string_view{});  // the reply, unless ours went first
                    closed_ = true;
                    status_ = std::move(peer);
                    co_return status_;
                }
                if (opcode == Opcode::continuation) {
                    if (!in_message_) {
                        co_return co_await fail(1002, "a continuation frame without a message to continue");
                    }
                    message_ += payload;
                } else {
                    if (in_message_) {
                        co_return co_await fail(1002, "a new message began before the last one ended");
                    }
                    in_message_ = true;
                    message_type_ = opcode == Opcode::text ? MessageType::text : MessageType::binary;
                    message_compressed_ = h.rsv1;
                    message_ = std::move(payload);
                }
                if (!h.fin) {
                    continue;
                }
                in_message_ = false;
                Message m{message_type_, std::move(message_)};
                message_.clear();
                if (message_compressed_) {
                    // At most the bucket's allowance is inflated: the work a small upload can buy.
                    std::size_t limit = options_.max_message_bytes;
                    bool rate_bound = false;
                    if (options_.max_inflate_bytes_per_second > 0) {
                        double allowance = inflate_allowance();
                        if (allowance < static_cast<double>(limit)) {
                            limit = static_cast<std::size_t>(allowance);
                            rate_bound = true;
                        }
                    }
                    std::string inflated;
                    switch (deflate_->decompress(m.data, limit, inflated)) {
                        case detail::MessageDeflate::Inflated::ok:
                            inflate_credit_ -= static_cast<double>(inflated.size());
                            m.data = std::move(inflated);
                            break;
                        case detail::MessageDeflate::Inflated::too_large:
                            if (rate_bound) {
                                co_return co_await fail(1008,
                                                        "compressed messages inflate to more than " +
                                                            std::to_string(options_.max_inflate_bytes_per_second) +
                                                            " bytes a second",
                                                        WebSocketStats::Reason::inflate_rate);
                            }
                            co_return co_await fail(
                                1009,
                                "a message is larger than " + std::to_string(options_.max_message_bytes) + " bytes",
                                WebSocketStats::Reason::too_big);
                        case detail::MessageDeflate::Inflated::corrupt:
                            co_return co_await fail(1007, "a compressed message does not inflate");
                    }
                }
                if (m.type == MessageType::text && !json::is_valid_utf8(m.data)) {
                    co_return co_await fail(1007, "a text message is not UTF-8");
                }
                co_return m;
            }
        }
        // More bytes are needed. The deadline: the peer's close reply, or the keep-alive ping.
        io_->set_read_deadline(close_sent_ ? close_deadline_ : loop_.now() + options_.ping_interval);
        auto got = co_await io_->read();
        if (closed_) {
            co_return status_;  // dropped while waiting
        }
        if (!got) {
            if (got.error().code() == Errc::cancelled) {
                co_await send_close(1001, "the server is shutting down");
                continue;  // and read the reply
            }
            if (got.error().code() == Errc::timeout && !close_sent_ && !ping_outstanding_) {
                ping_outstanding_ = true;
                co_await send_frame(Opcode::ping, std::string_view{}, false);
                continue;
            }
            closed_ = true;
            status_ = CloseStatus{1006, got.error().code() == Errc::timeout
                                            ? (close_sent_ ? "no close reply in time" : "no answer to a ping")
                                            : "the connection closed"};
            co_return status_;
        }
        if (got->empty()) {
            closed_ = true;
            status_ = CloseStatus{1006, "the connection closed without a close frame"};
            co_return status_;
        }
        ping_outstanding_ = false;  // anything at all shows the peer is alive
        in_.erase(0, in_pos_);
        in_pos_ = 0;
        in_.append(*got);
    }
}

double WebSocket::inflate_allowance() noexcept {
    // A token bucket of bytes: full at max_message_bytes, refilled at the configured rate.
    auto burst = static_cast<double>(options_.max_message_bytes);
    TimePoint now = loop_.now();
    if (inflate_credit_ < 0) {
        inflate_credit_ = burst;
    } else {
        double seconds = std::chrono::duration<double>(now - inflate_refilled_).count();
        inflate_credit_ =
            std::min(burst, inflate_credit_ + seconds * static_cast<double>(options_.max_inflate_bytes_per_second));
    }
    inflate_refilled_ = now;
    return std::max(0.0, inflate_credit_);
}

Task<void> WebSocket::close(std::uint16_t code, std::string_view reason) {
    co_await send_close(code, reason);
    while (!closed_ && !detached_) {
        (void)co_await receive();  // messages still in flight are dropped; the reply ends it
    }
}

Task<void> WebSocket::finish(bool handler_failed) {
    if (!closed_) {
        if (handler_failed) {
            co_await close(1011, "the server hit an error");
        } else {
            co_await close(1000, std::string_view{});
        }
    }
    io_->set_read_deadline({});
    detached_ = true;
    // Queued sends get their turn (and fail) before the connection goes away.
    co_await SendTurn{*this};
    release_turn();
    io_ = nullptr;
}

metrics::Collector WebSocketStats::collector(const std::shared_ptr<WebSocketStats>& stats) {
    return [weak = std::weak_ptr<WebSocketStats>(stats)](std::vector<metrics::SampledFamily>& out) {
        auto self = weak.lock();
        if (!self) {
            return;
        }
        metrics::SampledFamily f{.name = "keel_websocket_server_closes_total",
                                 .help = "WebSockets the server ended because of the peer, by reason",
                                 .type = "counter"};
        static constexpr std::array<const char*, static_cast<std::size_t>(Reason::count)> kNames{
            "too_slow", "inflate_rate", "too_big", "protocol"};
        for (std::size_t i = 0; i < kNames.size(); ++i) {
            f.samples.push_back({.labels = {{"reason", kNames[i]}},
                                 .value = static_cast<double>(self->closes(static_cast<Reason>(i)))});
        }
        out.push_back(std::move(f));
    };
}

}  // namespace keel::web
