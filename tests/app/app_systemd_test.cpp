// keel::App deployed, as real processes: socket activation ($LISTEN_FDS: the listening sockets
// come from the parent, which keeps them, so a restart refuses no connection), the watchdog
// ($WATCHDOG_USEC: "WATCHDOG=1" while every loop ticks, silence when one is stuck), and the
// in-place upgrade (SIGUSR2: a new process on the same sockets, then the old one drains). The
// test stands in for systemd: it binds the sockets and receives the notifications.
#include <keel/testing/test_server.hpp>

#include <support/eventually.hpp>
#include <support/process.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using keel::test::Process;
using keel::testing::RawClient;

namespace {

std::string get(std::string_view path) {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

/// A listening socket on 127.0.0.1 and a free port, as a socket unit's ListenStream= makes.
struct Listener {
    int fd = -1;
    int port = 0;
    Listener() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            ADD_FAILURE() << "cannot listen: " << std::strerror(errno);
        }
        port = ntohs(a.sin_port);
    }
    ~Listener() { ::close(fd); }
};

/// Starts slow_app as systemd would with `fds` passed: $LISTEN_PID must be the service's own
/// pid, which only the child knows, so a shell sets it and execs the program.
std::unique_ptr<Process> activate(const std::vector<int>& fds, const std::string& names,
                                  std::vector<std::string> flags = {}) {
    std::vector<std::string> args = {
        "/bin/sh", "-c", "export LISTEN_PID=$$; exec \"$0\" \"$@\"", KEEL_SLOW_APP_BINARY, "--server.threads", "2"};
    args.insert(args.end(), flags.begin(), flags.end());
    ::setenv("LISTEN_FDS", std::to_string(fds.size()).c_str(), 1);
    ::setenv("LISTEN_FDNAMES", names.c_str(), 1);
    auto p = std::make_unique<Process>(args, fds);
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    return p;
}

/// A datagram socket standing in for systemd's $NOTIFY_SOCKET.
class NotifySocket {
  public:
    NotifySocket() {
        path_ = ::testing::TempDir() + "/keel-notify-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
        ::unlink(path_.c_str());
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    }
    ~NotifySocket() {
        ::close(fd_);
        ::unlink(path_.c_str());
    }
    const std::string& path() const { return path_; }
    /// The next message, or "" when none comes within `wait`.
    std::string next(std::chrono::milliseconds wait) {
        pollfd pfd{fd_, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(wait.count())) != 1) {
            return "";
        }
        char buf[512];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    }
    /// Waits up to `wait` for a message equal to `text`; the ones before it are dropped.
    bool wait_for(const std::string& text, std::chrono::milliseconds wait) {
        auto deadline = std::chrono::steady_clock::now() + wait;
        while (std::chrono::steady_clock::now() < deadline) {
            if (next(10ms) == text) {
                return true;
            }
        }
        return false;
    }
    void drain() {
        while (!next(0ms).empty()) {
        }
    }

  private:
    static inline int counter_ = 0;
    std::string path_;
    int fd_ = -1;
};

}  // namespace

TEST(AppSystemd, ServesOnTheSocketsItIsHandedAndARestartRefusesNoConnection) {
    Listener main, admin;
    auto first = activate({main.fd, admin.fd}, "http:admin", {"--server.port", "1"});
    ASSERT_EQ(first->wait_port(), main.port) << first->stderr_text();  // its own port setting is not used
    {
        RawClient c(static_cast<std::uint16_t>(main.port));
        auto r = c.exchange(get("/hello"));
        ASSERT_TRUE(r) << first->stderr_text();
        EXPECT_EQ(r->body, "hello");
        RawClient a(static_cast<std::uint16_t>(admin.port));
        auto live = a.exchange(get("/livez"));
        ASSERT_TRUE(live);
        EXPECT_EQ(live->status, 200);  // the socket named "admin" serves the admin endpoints
        EXPECT_NE(first->stderr_text().find("\"inherited_sockets\":1"), std::string::npos) << first->stderr_text();
    }
    first->signal(SIGTERM);
    ASSERT_EQ(first->wait(10s), 0) << first->stderr_text();

    // Between the two processes the socket stays open (here, as in systemd's socket unit): a
    // client connects and sends, and the kernel queues it for whoever accepts next.
    RawClient waiting(static_cast<std::uint16_t>(main.port), 10000ms);
    ASSERT_TRUE(waiting.connected());
    ASSERT_TRUE(waiting.send(get("/hello")));
    auto second = activate({main.fd, admin.fd}, "http:admin");
    auto r = waiting.read_response();
    ASSERT_TRUE(r) << second->stderr_text();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
    second->signal(SIGTERM);
    EXPECT_EQ(second->wait(10s), 0) << second->stderr_text();
}

TEST(AppSystemd, UnnamedSocketsAllServeTheMainHandler) {
    Listener one, two;
    auto p = activate({one.fd, two.fd}, "", {"--admin.listen", ""});
    ASSERT_GT(p->wait_port(), 0) << p->stderr_text();
    for (int port : {one.port, two.port}) {
        RawClient c(static_cast<std::uint16_t>(port));
        auto r = c.exchange(get("/hello"));
        ASSERT_TRUE(r) << "port " << port << ": " << p->stderr_text();
        EXPECT_EQ(r->body, "hello");
    }
    p->signal(SIGTERM);
    EXPECT_EQ(p->wait(10s), 0);
}

TEST(AppSystemd, SocketsMeantForAnotherProcessAreLeftAlone) {
    // A parent's $LISTEN_PID passed on to a child that is not the service: the child binds its
    // own port as configured.
    ::setenv("LISTEN_PID", "1", 1);
    ::setenv("LISTEN_FDS", "1", 1);
    Process p({KEEL_SLOW_APP_BINARY, "--server.port", "0"});
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    EXPECT_NE(p.stderr_text().find("\"inherited_sockets\":0"), std::string::npos) << p.stderr_text();
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(10s), 0);
}

TEST(AppSystemd, MalformedOrWrongDescriptorsExitWith2Or1) {
    ::setenv("LISTEN_FDS", "two", 1);
    auto p = std::make_unique<Process>(
        std::vector<std::string>{"/bin/sh", "-c", "export LISTEN_PID=$$; exec \"$0\"", KEEL_SLOW_APP_BINARY});
    ::unsetenv("LISTEN_FDS");
    EXPECT_EQ(p->wait(10s), 2);
    EXPECT_NE(p->stderr_text().find("socket activation: LISTEN_FDS = \"two\": not a count of descriptors"),
              std::string::npos)
        << p->stderr_text();

    // A descriptor that is not a listening socket is refused, and the process exits 1.
    int dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    auto q = activate({dev_null}, "http");
    ::close(dev_null);
    EXPECT_EQ(q->wait(10s), 1);
    EXPECT_NE(q->stderr_text().find("inherited descriptor"), std::string::npos) << q->stderr_text();
}

TEST(AppSystemd, FeedsTheWatchdogOnlyWhileEveryLoopTicks) {
    NotifySocket notify;
    ::setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
    ::setenv("WATCHDOG_USEC", "400000", 1);  // WatchdogSec=400ms: a ping every 200 ms
    Process p({KEEL_SLOW_APP_BINARY, "--server.port", "0", "--server.threads", "1", "--admin.listen", ""});
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    int port = p.wait_port();
    ASSERT_GT(port, 0) << p.stderr_text();
    EXPECT_TRUE(notify.wait_for("WATCHDOG=1", 5s));
    EXPECT_TRUE(notify.wait_for("WATCHDOG=1", 5s));

    // The only loop blocks for 3 s: the pings stop within about a second and the reason is
    // logged; once it runs again, so do they.
    std::thread blocker([port] {
        RawClient c(static_cast<std::uint16_t>(port), 10000ms);
        c.exchange(get("/block?ms=3000"));
    });
    ASSERT_TRUE(keel::test::eventually(
        [&] { return p.stderr_text().find("a loop thread stopped ticking") != std::string::npos; }, 10s))
        << p.stderr_text();
    notify.drain();
    EXPECT_EQ(notify.next(400ms), "") << "a ping while the loop is stuck";
    blocker.join();
    EXPECT_TRUE(notify.wait_for("WATCHDOG=1", 5s));
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(10s), 0);
}

namespace {

/// A copy of slow_app at a path of the test's own, so the test can "upgrade" it: replace the
/// file, as `install` does (a new file renamed over the old name).
std::string install_copy(const std::string& from, const std::string& to) {
    std::string tmp = to + ".new";
    std::filesystem::copy_file(from, tmp, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(tmp, std::filesystem::perms::owner_all);
    std::filesystem::rename(tmp, to);
    return to;
}

/// Requests on fresh connections, and on one keep-alive connection, from two threads until
/// stopped; counts the answers, the failures and which process answered (/pid).
struct PidLoad {
    explicit PidLoad(int port) {
        for (int t = 0; t < 2; ++t) {
            threads.emplace_back([this, port, t] {
                std::unique_ptr<RawClient> kept;
                while (!stop) {
                    std::unique_ptr<RawClient> fresh;
                    RawClient* c = nullptr;
                    if (t == 0) {
                        fresh = std::make_unique<RawClient>(static_cast<std::uint16_t>(port), 5000ms);
                        c = fresh.get();
                    } else {
                        if (!kept || !kept->connected()) {
                            kept = std::make_unique<RawClient>(static_cast<std::uint16_t>(port), 5000ms);
                        }
                        c = kept.get();
                    }
                    auto started = std::chrono::steady_clock::now();
                    auto r = c->exchange(get("/pid"));
                    if (!r || r->status != 200) {
                        failed++;
                        std::lock_guard lock(mu);
                        if (first_failure.empty()) {  // what failed, for the assertion's message
                            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - started);
                            first_failure = std::string(t == 0 ? "a new connection" : "a kept connection") +
                                            (r ? " got status " + std::to_string(r->status) : " got no answer") +
                                            " after " + std::to_string(ms.count()) + " ms, " +
                                            std::to_string(answered.load()) + " answered before";
                        }
                        kept.reset();
                        continue;
                    }
                    if (r->header("connection") == "close") {
                        kept.reset();  // a draining server's last answer on this connection
                    }
                    std::lock_guard lock(mu);
                    answered_by[std::atoi(r->body.c_str())]++;
                    answered++;
                }
            });
        }
    }
    ~PidLoad() { finish(); }
    void finish() {
        stop = true;
        for (auto& t : threads) {
            if (t.joinable()) {
                t.join();
            }
        }
    }
    int by(pid_t pid) {
        std::lock_guard lock(mu);
        return answered_by[pid];
    }
    std::atomic<bool> stop{false};
    std::atomic<int> answered{0}, failed{0};
    std::mutex mu;
    std::map<pid_t, int> answered_by;
    std::string first_failure;
    std::vector<std::thread> threads;
};

pid_t successor_of(Process& p) {
    std::regex re("\"msg\":\"handed over[^\\n]*\"pid\":(\\d+)");
    pid_t pid = 0;
    keel::test::eventually(
        [&] {
            std::smatch m;
            std::string text = p.stderr_text();
            if (std::regex_search(text, m, re)) {
                pid = std::stoi(m[1]);
            }
            return pid != 0;
        },
        10s);
    return pid;
}

}  // namespace

TEST(AppHandover, Sigusr2UpgradesInPlaceWithoutFailingARequest) {
    // The successor is the old process's child; when the old one exits it comes to us.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    std::string exe =
        install_copy(KEEL_SLOW_APP_BINARY, ::testing::TempDir() + "/keel-handover-app-" + std::to_string(::getpid()));
    Process old({exe, "--server.port", "0", "--server.threads", "2", "--admin.listen", "127.0.0.1:0"});
    int port = old.wait_port();
    int admin = old.wait_admin_port();
    ASSERT_GT(port, 0) << old.stderr_text();
    ASSERT_GT(admin, 0) << old.stderr_text();
    PidLoad load(port);
    ASSERT_TRUE(keel::test::eventually([&] { return load.by(old.pid()) >= 50; }, 10s));

    install_copy(KEEL_SLOW_APP_BINARY, exe);  // the upgrade: a new file at the same path
    old.signal(SIGUSR2);
    pid_t next = successor_of(old);
    ASSERT_GT(next, 0) << old.stderr_text();
    EXPECT_EQ(old.wait(20s), 0) << old.stderr_text();
    ASSERT_TRUE(keel::test::eventually([&] { return load.by(next) >= 50; }, 10s)) << old.stderr_text();
    load.finish();
    EXPECT_EQ(load.failed.load(), 0) << load.answered.load() << " answered; first failure: " << load.first_failure;
    EXPECT_NE(old.stderr_text().find("\"inherited_sockets\":2"), std::string::npos)  // both loops' sockets
        << old.stderr_text();
    RawClient a(static_cast<std::uint16_t>(admin));
    auto live = a.exchange(get("/livez"));  // the admin socket was handed over too
    ASSERT_TRUE(live);
    EXPECT_EQ(live->status, 200);

    ::kill(next, SIGTERM);
    int status = 0;
    ASSERT_EQ(::waitpid(next, &status, 0), next);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST(AppHandover, AFailedUpgradeLeavesTheOldProcessServing) {
    std::string exe = install_copy(KEEL_SLOW_APP_BINARY,
                                   ::testing::TempDir() + "/keel-handover-broken-" + std::to_string(::getpid()));
    Process old({exe, "--server.port", "0", "--admin.listen", ""});
    int port = old.wait_port();
    ASSERT_GT(port, 0) << old.stderr_text();
    {
        std::ofstream broken(exe + ".new");
        broken << "#!/bin/sh\necho 'this build is broken' >&2\nexit 3\n";
    }
    std::filesystem::permissions(exe + ".new", std::filesystem::perms::owner_all);
    std::filesystem::rename(exe + ".new", exe);
    old.signal(SIGUSR2);
    ASSERT_TRUE(keel::test::eventually(
        [&] { return old.stderr_text().find("handover failed; this process serves on") != std::string::npos; }, 10s))
        << old.stderr_text();
    EXPECT_NE(old.stderr_text().find("the new process exited with 3 before it was ready"), std::string::npos);
    RawClient c(static_cast<std::uint16_t>(port));
    auto r = c.exchange(get("/pid"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, std::to_string(old.pid()));
    old.signal(SIGTERM);
    EXPECT_EQ(old.wait(10s), 0);
}
