#include <keel/web/hub.hpp>

#include <algorithm>

namespace keel::web {
namespace {

// Holds the WebSocket (and the text) until the send is done, on the WebSocket's loop.
Task<void> deliver(std::shared_ptr<WebSocket> ws, std::shared_ptr<const std::string> text) {
    co_await ws->send_text(*text);
}

}  // namespace

void Hub::join(const std::shared_ptr<WebSocket>& ws) {
    std::lock_guard lock(mutex_);
    members_.push_back({ws, ws.get(), &ws->loop()});
}

void Hub::leave(const WebSocket& ws) {
    std::lock_guard lock(mutex_);
    std::erase_if(members_, [&](const Member& m) { return m.id == &ws; });
}

std::size_t Hub::broadcast(std::string text) {
    auto shared = std::make_shared<const std::string>(std::move(text));
    std::vector<Member> members;
    {
        std::lock_guard lock(mutex_);
        std::erase_if(members_, [](const Member& m) { return m.ws.expired(); });
        members = members_;
    }
    for (const Member& m : members) {
        // lock() happens on the member's loop: the WebSocket is only touched there.
        m.loop->post([weak = m.ws, shared] {
            if (auto ws = weak.lock()) {
                spawn(deliver(std::move(ws), shared), [](std::exception_ptr) {});
            }
        });
    }
    return members.size();
}

std::size_t Hub::size() const {
    std::lock_guard lock(mutex_);
    return members_.size();
}

}  // namespace keel::web
