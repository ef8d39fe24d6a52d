#pragma once
/// keel::jobs: durable background work in the service's own database (SQLite or PostgreSQL).
/// A job is a row: enqueued in the caller's transaction (it exists if and only if that
/// transaction commits), claimed by one process at a time under a lease that heartbeats keep
/// alive, retried with back-off when its handler fails, and kept after its last attempt as
/// `discarded` for inspection.
///
/// Delivery is **at least once**: a process that dies mid-job (SIGKILL, lost connection) has
/// its jobs run again by another once their lease expires, so a handler may run twice for one
/// job. Make side effects idempotent with `Job::id` (the same across every attempt and restart).
///
///     struct SendMail { std::string to; std::string subject; };
///     KEEL_JSON(SendMail, to, subject)
///
///     co_await store.enqueue(jobs::make("mail.send", SendMail{"a@b.c", "hi"}));  // Result<Enqueued>
///
/// This file: what a job is (NewJob to enqueue, Job as a handler gets it) and its states.

#include <keel/core/loop.hpp>
#include <keel/core/result.hpp>
#include <keel/json/describe.hpp>
#include <keel/json/parse.hpp>
#include <keel/json/writer.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keel::jobs {

/// Milliseconds since the Unix epoch: how jobs' times are stored (one clock for every process).
using UnixMillis = std::int64_t;
/// The wall clock the stores and runners read; tests inject their own.
using WallClock = UnixMillis (*)();
UnixMillis system_clock_millis() noexcept;

/// A job's life: available (waiting for run_at, or a retry) → running (claimed, leased) →
/// completed | available again (retry, snooze, released at shutdown, lease expired) |
/// discarded (its last attempt failed) | cancelled (by its handler or an operator).
enum class State : std::uint8_t { available, running, completed, discarded, cancelled };
std::string_view to_string(State s) noexcept;
std::optional<State> parse_state(std::string_view s) noexcept;

/// What enqueue() takes.
struct NewJob {
    std::string kind;                       ///< selects the handler ("webhook.deliver")
    std::string args = "{}";                ///< JSON text (make() writes it from a KEEL_JSON type)
    std::string queue = "default";          ///< runners work the queues they are configured with
    int priority = 0;                       ///< higher runs first among due jobs of a queue
    std::optional<UnixMillis> run_at = {};  ///< not before (default: now)
    int max_attempts = 20;
    /// A second enqueue with the same kind and key, while the first is kept (and within
    /// unique_for of its enqueue, when set), returns the first instead of adding a job.
    std::optional<std::string> unique_key = {};
    std::optional<Duration> unique_for = {};
    /// The enqueuing request's W3C traceparent, for the job's logs and spans.
    std::string trace_parent = {};
};

/// A NewJob of `kind` whose arguments are `args` (a KEEL_JSON type) written as JSON.
template <class Args>
NewJob make(std::string kind, const Args& args) {
    NewJob job;
    job.kind = std::move(kind);
    job.args.clear();
    json::Writer(job.args).value(args);
    return job;
}

/// What enqueue() answers: the job's id, and whether it already existed (a unique key).
struct Enqueued {
    std::int64_t id = 0;
    bool existed = false;
};

/// A claimed job, as its handler sees it.
struct Job {
    std::int64_t id = 0;
    std::string kind;
    std::string queue;
    std::string args;  ///< JSON text
    int priority = 0;
    int attempt = 0;  ///< 1 on the first run; counts runs that ended (a crash counts, a snooze does not)
    int max_attempts = 0;
    UnixMillis run_at = 0;
    UnixMillis created_at = 0;
    std::string trace_parent;

    /// The arguments read into a KEEL_JSON type; invalid_argument naming the problem otherwise.
    template <class Args>
    Result<Args> args_as() const {
        Args out{};
        json::Errors errors;
        if (!json::parse(args, out, errors) || !errors.empty()) {
            std::string why =
                errors.empty() ? std::string("malformed JSON") : errors.front().pointer + " " + errors.front().reason;
            return Error::with_detail(Errc::invalid_argument,
                                      "job " + std::to_string(id) + " (" + kind + "): arguments: " + why);
        }
        return out;
    }
};
KEEL_JSON(Job, id, kind, queue, args, priority, attempt, max_attempts, run_at, created_at, trace_parent)

}  // namespace keel::jobs
