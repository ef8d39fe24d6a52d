#pragma once
/// Taking over an HTTP/1.1 connection after `101 Switching Protocols` (what WebSockets are built
/// on; Go's http.Hijacker). A handler returns Response::upgrade(fn); once the 101 is sent, `fn`
/// runs on the connection's loop with the raw byte stream. keel/web/websocket.hpp does this for
/// RFC 6455; use it directly only for another protocol.

#include <keel/core/loop.hpp>
#include <keel/core/result.hpp>
#include <keel/core/stop_token.hpp>
#include <keel/core/task.hpp>

#include <functional>
#include <string_view>

namespace keel::http {

class UpgradedStream {
  public:
    virtual ~UpgradedStream() = default;
    /// The next bytes from the client, valid until the next read(); empty once the client has
    /// closed its side. Errc::cancelled once, when a graceful shutdown begins (reading again
    /// goes on: answer it, then read the peer's reply); Errc::closed when the connection is gone.
    virtual Task<Result<std::string_view>> read() = 0;
    /// A pending or later read() ends with Errc::timeout once the loop clock passes `when`
    /// (checked on the server's sweep, every 100 ms); TimePoint{} clears it. Fires once.
    virtual void set_read_deadline(TimePoint when) noexcept = 0;
    /// Queues `bytes` (one write is never interleaved with another) and waits while the
    /// connection's unsent output is above its high-water mark. false once the client is gone.
    virtual Task<bool> write(std::string_view bytes) = 0;
    /// Fires when the client goes away or the server is forced to stop.
    virtual StopToken stop_token() const noexcept = 0;
    /// True once the server is shutting down gracefully.
    virtual bool shutting_down() const noexcept = 0;
    /// Closes the connection now, with nothing more sent (for a peer that does not read, so a
    /// goodbye could not reach it anyway): reads end with Errc::closed, writes return false and
    /// stop_token() fires.
    virtual void abort() noexcept = 0;
    /// Logs `event` (with `detail` and the client's address) through the server's event sink, as
    /// a warning: what the protocol did to a misbehaving peer.
    virtual void report(std::string_view event, std::string_view detail) const = 0;
};

/// Runs the protocol after the 101; when it returns, the connection is closed.
using UpgradeHandler = std::function<Task<void>(UpgradedStream&)>;

}  // namespace keel::http
