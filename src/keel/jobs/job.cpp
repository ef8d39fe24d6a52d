#include <keel/jobs/job.hpp>

#include <array>
#include <chrono>

namespace keel::jobs {

UnixMillis system_clock_millis() noexcept {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {
constexpr std::array<std::string_view, 5> kStateNames = {"available", "running", "completed", "discarded", "cancelled"};
}

std::string_view to_string(State s) noexcept {
    return kStateNames[static_cast<std::size_t>(s)];
}

std::optional<State> parse_state(std::string_view s) noexcept {
    for (std::size_t i = 0; i < kStateNames.size(); ++i) {
        if (kStateNames[i] == s) {
            return static_cast<State>(i);
        }
    }
    return std::nullopt;
}

}  // namespace keel::jobs
