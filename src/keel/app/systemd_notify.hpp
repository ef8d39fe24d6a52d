#pragma once
// Internal to the app module: systemd's readiness protocol (sd_notify(3)). When the service
// runs under systemd with Type=notify, $NOTIFY_SOCKET names a datagram socket that takes lines
// like "READY=1" and "STOPPING=1". The protocol is a single sendto, documented as stable for
// reimplementation, so keel writes it rather than link libsystemd.

#include <keel/core/loop.hpp>

#include <string_view>

namespace keel::detail {

/// Sends `state` to $NOTIFY_SOCKET; false when there is none or the send failed.
bool systemd_notify(std::string_view state) noexcept;

/// The interval systemd's watchdog expects "WATCHDOG=1" within ($WATCHDOG_USEC, when
/// $WATCHDOG_PID is unset or this process); zero when no watchdog is armed.
Duration systemd_watchdog_interval() noexcept;

}  // namespace keel::detail
