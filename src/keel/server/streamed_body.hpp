#pragma once
// The reader of a streamed request body (ServerOptions::stream_body), written once for HTTP/1
// and HTTP/2: the handler's read() loop, its fairness yield and its wait for more bytes. Each
// protocol says only what the next step is (next_step): a piece to hand over, the end, a
// refusal, try again, or wait until the transport wakes the reader (wake_reader).

#include <keel/core/loop.hpp>
#include <keel/http/body_stream.hpp>

#include "drain_awaiter.hpp"

#include <coroutine>
#include <string_view>
#include <utility>

namespace keel::server {

class StreamedBodyReader : public http::BodyStream {
  public:
    Task<Result<std::string_view, http::Problem>> read() final;

  protected:
    struct Step {
        enum class Kind : std::uint8_t { piece, end, refuse, again, wait };
        Kind kind;
        std::string_view piece{};
        http::Problem problem{};

        static Step give(std::string_view p) { return {Kind::piece, p}; }
        static Step end() { return {Kind::end}; }
        static Step refuse(int status, std::string detail) {
            return {Kind::refuse, {}, http::Problem{.status = status, .detail = std::move(detail)}};
        }
        static Step again() { return {Kind::again}; }
        static Step wait() { return {Kind::wait}; }
    };
    /// What read() does next. Called on the loop thread, with no suspension in between.
    virtual Step next_step() = 0;
    virtual Loop& reader_loop() noexcept = 0;
    /// More bytes, the body's end or the exchange's end: a waiting read() looks again.
    void wake_reader(Loop& loop) {
        if (waiter_) {
            auto h = std::exchange(waiter_, {});
            loop.defer([h] { h.resume(); });
        }
    }

    std::coroutine_handle<> waiter_;
    ReadPacing pacing_;  // last: a derived class may place a small member in the tail padding
};

inline Task<Result<std::string_view, http::Problem>> StreamedBodyReader::read() {
    co_await pacing_.next(reader_loop());
    for (;;) {
        Step step = next_step();
        switch (step.kind) {
            case Step::Kind::piece:
                co_return step.piece;
            case Step::Kind::end:
                co_return std::string_view{};
            case Step::Kind::refuse:
                co_return std::move(step.problem);
            case Step::Kind::again:
                continue;
            case Step::Kind::wait:
                pacing_.waited();
                co_await DrainAwaiter{&waiter_};
                continue;
        }
    }
}

}  // namespace keel::server
