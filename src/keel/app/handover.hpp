#pragma once
// Internal to the app module: handing the listening sockets to a new process (SIGUSR2), so an
// upgraded binary starts serving on the same ports while this one drains. The successor gets
// them the way systemd passes sockets ($LISTEN_FDS from descriptor 3, $LISTEN_PID, names in
// $LISTEN_FDNAMES) and reports readiness the way it reports to systemd (READY=1 on
// $NOTIFY_SOCKET, here a private socket of this process).

#include <keel/core/loop.hpp>
#include <keel/core/result.hpp>

#include <sys/types.h>

#include <string>
#include <vector>

namespace keel::detail {

struct PassedSocket {
    int fd;
    std::string name;  ///< "http" or "admin" ($LISTEN_FDNAMES)
};

/// The path of this process's executable, read at start: after an upgrade replaced the file,
/// the path names the new binary (which is the point).
std::string executable_path();

/// Starts `exe` with `args` (args[0] included) and `sockets`, and waits up to `timeout` for it
/// to report READY=1. Gives its pid once ready; an error when it exits first or stays silent
/// (then it is killed): the caller keeps serving.
Result<pid_t> start_successor(const std::string& exe, const std::vector<std::string>& args,
                              const std::vector<PassedSocket>& sockets, Duration timeout);

}  // namespace keel::detail
