#pragma once
/// keel::web::Hub: a set of WebSockets to broadcast to, whatever loop each lives on (a chat
/// room, live updates). Each send runs on its WebSocket's own loop, in order with its other
/// sends; a member that closed is dropped at the next broadcast.
///
///     room->join(ws.share());
///     while (auto message = co_await ws.receive()) {
///         room->broadcast(message->data);
///     }
///     room->leave(ws);

#include <keel/core/loop.hpp>
#include <keel/web/websocket.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace keel::web {

class Hub {
  public:
    void join(const std::shared_ptr<WebSocket>& ws);
    void leave(const WebSocket& ws);
    /// Queues `text` to every member (on each member's loop); returns how many it went to.
    std::size_t broadcast(std::string text);
    std::size_t size() const;

  private:
    struct Member {
        std::weak_ptr<WebSocket> ws;
        const WebSocket* id;
        Loop* loop;
    };
    mutable std::mutex mutex_;
    std::vector<Member> members_;
};

}  // namespace keel::web
