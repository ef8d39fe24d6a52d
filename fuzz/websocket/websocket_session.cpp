// The coroutine half of websocket_fuzz: a WebSocket fed from a string on a private Loop, echoing
// each message; aborts on a message over the limit or text that is not UTF-8.
#include <keel/core/loop.hpp>
#include <keel/json/reader.hpp>
#include <keel/web/websocket.hpp>

#include <cstdlib>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t kMaxMessage = 4096;

class FeedStream final : public keel::http::UpgradedStream {
  public:
    FeedStream(std::string_view input, std::size_t piece) : input_(input), piece_(piece) {}
    keel::Task<keel::Result<std::string_view>> read() override {
        std::string_view next = input_.substr(0, piece_);
        input_.remove_prefix(next.size());
        co_return next;  // empty once the input is used up: the client closed
    }
    keel::Task<bool> write(std::string_view bytes) override {
        written.append(bytes);
        co_return true;
    }
    keel::StopToken stop_token() const noexcept override { return {}; }
    bool shutting_down() const noexcept override { return false; }
    void set_read_deadline(keel::TimePoint) noexcept override {}
    void abort() noexcept override { input_ = {}; }
    void report(std::string_view, std::string_view) const override {}

    std::string written;

  private:
    std::string_view input_;
    std::size_t piece_;
};

keel::Task<void> session(FeedStream& stream) {
    keel::web::WebSocketOptions options;
    options.max_message_bytes = kMaxMessage;
    options.compress_min_bytes = 16;
    auto ws = std::make_shared<keel::web::WebSocket>(stream, options, "", true, false);
    for (;;) {
        auto m = co_await ws->receive();
        if (!m) {
            break;
        }
        if (m->data.size() > kMaxMessage) {
            std::abort();
        }
        if (m->type == keel::web::MessageType::text && !keel::json::is_valid_utf8(m->data)) {
            std::abort();
        }
        co_await ws->send(*m);  // echo: exercises the compressor too
    }
    co_await ws->finish(false);
}

}  // namespace

std::string run_websocket_session(std::string_view input, std::size_t piece) {
    FeedStream stream(input, piece);
    keel::Loop loop;
    loop.defer([&] { keel::spawn(session(stream), [&](std::exception_ptr) { loop.stop(); }); });
    loop.run();
    return std::move(stream.written);
}
