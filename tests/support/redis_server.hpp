#pragma once
// A throw-away redis-server for tests: 127.0.0.1, a free port, no persistence, its own temp
// dir; killed (by its PID) on destruction. Installs nothing (scripts/bootstrap installs
// redis-server). stop() / start() keep the port, for outage tests.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <support/free_port.hpp>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace keel::test {

class RedisServer {
  public:
    /// `password` set: the server requires it (requirepass), as a production Redis does.
    explicit RedisServer(std::string password = {}) : password_(std::move(password)) {
        char tmpl[] = "/tmp/keel-redis-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        dir_ = tmpl;
        port_ = free_port();
        start();
    }
    ~RedisServer() {
        stop();
        std::filesystem::remove_all(dir_);
    }
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    int port() const noexcept { return port_; }

    void start() {
        if (pid_ > 0) {
            return;
        }
        std::vector<std::string> args = {"/usr/bin/redis-server",
                                         "--port",
                                         std::to_string(port_),
                                         "--bind",
                                         "127.0.0.1",
                                         "--save",
                                         "",
                                         "--appendonly",
                                         "no",
                                         "--dir",
                                         dir_,
                                         "--logfile",
                                         dir_ + "/redis.log",
                                         "--daemonize",
                                         "no"};
        if (!password_.empty()) {
            args.insert(args.end(), {"--requirepass", password_});
        }
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
            pid_ = -1;
            throw std::runtime_error("cannot start redis-server: run scripts/bootstrap (installs redis-server)");
        }
        for (int i = 0; i < 300; ++i) {  // until it accepts connections
            int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(static_cast<std::uint16_t>(port_));
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
            ::close(fd);
            if (up) {
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        throw std::runtime_error("redis-server did not start");
    }

    /// As abrupt as a crash.
    void stop() {
        if (pid_ <= 0) {
            return;
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

  private:
    std::string password_;
    std::string dir_;
    int port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace keel::test
