#include <keel/http/problem.hpp>
#include <keel/jobs/observe.hpp>
#include <keel/json/writer.hpp>

#include <charconv>

namespace keel::jobs {
namespace {

std::optional<std::int64_t> job_id(const http::Request& req) {
    std::string_view text = req.param("id");
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc{} || end != text.data() + text.size() || id <= 0) {
        return std::nullopt;
    }
    return id;
}

// POST /debug/jobs/{id}/<action>: `act(id)` says whether the job changed.
template <class Act>
Task<http::Response> job_action(http::Request& req, Store& store, std::string_view done, Act act) {
    std::optional<std::int64_t> id = job_id(req);
    if (!id) {
        co_return http::problem(400, "the job id must be a positive integer", req.path());
    }
    auto changed = co_await act(*id);
    if (!changed) {
        co_return http::problem_for(http::to_problem(changed.error()), req.path());
    }
    if (!*changed) {
        auto found = co_await store.find(*id);
        if (found && !*found) {
            co_return http::problem(404, "no job " + std::to_string(*id), req.path());
        }
        co_return http::problem(409, "job " + std::to_string(*id) + " cannot be " + std::string(done) + " in its state",
                                req.path());
    }
    std::string body;
    json::Writer(body).begin_object().key("id").value(*id).key(done).value(true).end_object();
    co_return http::Response::json(body);
}

}  // namespace

metrics::Collector collector(const Runner& runner) {
    return [&runner](std::vector<metrics::SampledFamily>& out) {
        RunnerStats s = runner.stats();
        metrics::SampledFamily jobs{"keel_jobs", "Jobs in the store by queue and state (as last counted).", "gauge"};
        for (const Count& c : runner.counts()) {
            jobs.samples.push_back(
                {{{"queue", c.queue}, {"state", std::string(to_string(c.state))}}, static_cast<double>(c.jobs)});
        }
        out.push_back(std::move(jobs));
        out.push_back({"keel_jobs_running", "Jobs this process runs now.", "gauge", {{{}, double(s.running)}}});
        auto counter = [&](const char* name, const char* help, double v) {
            out.push_back({name, help, "counter", {{{}, v}}});
        };
        counter("keel_jobs_enqueued_total", "Jobs this process enqueued (rolled-back transactions' included).",
                double(runner.store().enqueued()));
        counter("keel_jobs_claimed_total", "Jobs this process claimed (each run counts).", double(s.claimed));
        counter("keel_jobs_completed_total", "Runs that completed their job.", double(s.completed));
        counter("keel_jobs_retried_total", "Runs that failed and left their job to a retry.", double(s.retried));
        counter("keel_jobs_discarded_total", "Jobs discarded after their last attempt.", double(s.discarded));
        counter("keel_jobs_cancelled_total", "Jobs cancelled by their handler.", double(s.cancelled));
        counter("keel_jobs_snoozed_total", "Runs that snoozed their job.", double(s.snoozed));
        counter("keel_jobs_released_total", "Running jobs given back at shutdown.", double(s.released));
        counter("keel_jobs_wait_seconds_total", "Summed time from a job's run_at to its claim.",
                double(s.wait_ms) / 1000);
        counter("keel_jobs_run_seconds_total", "Summed time handlers ran.", double(s.run_ms) / 1000);
    };
}

http::Handler debug_page(Store& store, const Runner* runner, int failures) {
    return [&store, runner, failures](http::Request& req) -> Task<http::Response> {
        auto counts = co_await store.counts();
        auto latest = co_await store.failures(failures);
        if (!counts || !latest) {
            co_return http::problem_for(http::to_problem(counts ? latest.error() : counts.error()), req.path());
        }
        std::string body;
        json::Writer w(body);
        w.begin_object();
        if (runner != nullptr) {
            RunnerStats s = runner->stats();
            w.key("worker").value(runner->worker_id());
            // One key and its value per line:
            // clang-format off
            w.key("runner").begin_object()
                .key("running").value(s.running)
                .key("claimed").value(s.claimed)
                .key("completed").value(s.completed)
                .key("retried").value(s.retried)
                .key("discarded").value(s.discarded)
                .key("cancelled").value(s.cancelled)
                .key("snoozed").value(s.snoozed)
                .key("released").value(s.released)
                .end_object();
            // clang-format on
        }
        w.key("counts").begin_array();
        for (const Count& c : *counts) {
            w.begin_object().key("queue").value(c.queue).key("state").value(to_string(c.state));
            w.key("jobs").value(c.jobs).end_object();
        }
        w.end_array().key("failures").begin_array();
        for (const Failure& f : *latest) {
            // clang-format off
            w.begin_object()
                .key("id").value(f.id)
                .key("kind").value(f.kind)
                .key("queue").value(f.queue)
                .key("state").value(to_string(f.state))
                .key("attempt").value(f.attempt)
                .key("max_attempts").value(f.max_attempts)
                .key("at").value(f.at)
                .key("error").value(f.error)
                .end_object();
            // clang-format on
        }
        w.end_array().end_object();
        co_return http::Response::json(body);
    };
}

http::Handler retry_action(Store& store, WallClock clock) {
    return [&store, clock](http::Request& req) -> Task<http::Response> {
        return job_action(req, store, "retried", [&store, clock](std::int64_t id) { return store.retry(id, clock()); });
    };
}

http::Handler discard_action(Store& store, WallClock clock) {
    return [&store, clock](http::Request& req) -> Task<http::Response> {
        return job_action(req, store, "discarded",
                          [&store, clock](std::int64_t id) { return store.discard(id, clock()); });
    };
}

}  // namespace keel::jobs
