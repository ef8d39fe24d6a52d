#pragma once
// Internal to the app module: listening sockets handed to this process (sd_listen_fds(3)).
// systemd's socket units pass them from descriptor 3 on, with $LISTEN_PID (this process),
// $LISTEN_FDS (how many) and $LISTEN_FDNAMES (colon-separated names, FileDescriptorName=).
// The protocol is a few environment variables, documented as stable for reimplementation, so
// keel reads them rather than link libsystemd.

#include <string>
#include <vector>

namespace keel::detail {

struct InheritedSockets {
    std::vector<int> main;   ///< the service's port(s): every name but "admin"
    std::vector<int> admin;  ///< named "admin": the admin listener
    std::string error;       ///< set when the variables are malformed (nothing is taken then)
};

/// Takes the sockets passed to this process (none when $LISTEN_PID names another process),
/// marks them close-on-exec and removes the variables, so a child does not take them too.
InheritedSockets take_inherited_sockets();

}  // namespace keel::detail
