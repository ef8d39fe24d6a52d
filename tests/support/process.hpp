#pragma once
// Runs a program as a child process for tests (the App and linkd as real processes).

#include <support/read_file.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace keel::test {

using namespace std::chrono_literals;

/// A child process with its stdout and stderr captured to files.
class Process {
  public:
    /// `pass_fds` become the child's descriptors 3, 4, ... (as systemd passes sockets).
    explicit Process(std::vector<std::string> args, const std::vector<int>& pass_fds = {}) {
        static std::atomic<int> counter{0};
        std::string base =
            ::testing::TempDir() + "/keel_process_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
        err_path_ = base + ".err";
        out_path_ = base + ".out";
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        // Each through a descriptor above the targets first, so that neither a source equal to
        // its target (dup2 would not clear close-on-exec) nor a source overwritten early occurs.
        for (std::size_t i = 0; i < pass_fds.size(); ++i) {
            posix_spawn_file_actions_adddup2(&fa, pass_fds[i], static_cast<int>(100 + i));
        }
        for (std::size_t i = 0; i < pass_fds.size(); ++i) {
            posix_spawn_file_actions_adddup2(&fa, static_cast<int>(100 + i), static_cast<int>(3 + i));
            posix_spawn_file_actions_addclose(&fa, static_cast<int>(100 + i));
        }
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
            pid_ = -1;
        }
        posix_spawn_file_actions_destroy(&fa);
    }
    ~Process() {
        if (pid_ > 0 && !exited_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    void signal(int sig) { ::kill(pid_, sig); }
    // Exit code, or -1 if still running after `timeout`.
    int wait(std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            int status;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                exited_ = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(10ms);
        }
        return -1;
    }
    std::string stderr_text() const { return read_file(err_path_); }
    std::string stdout_text() const { return read_file(out_path_); }
    pid_t pid() const noexcept { return pid_; }
    // Waits for the "listening" log line and returns the port.
    int wait_port(std::chrono::milliseconds timeout = 10s) { return wait_listening("listening", timeout); }
    // Waits for the "admin listening" log line and returns the admin port.
    int wait_admin_port(std::chrono::milliseconds timeout = 10s) { return wait_listening("admin listening", timeout); }

  private:
    int wait_listening(const std::string& msg, std::chrono::milliseconds timeout) {
        std::regex re("\"msg\":\"" + msg + "\".*\"addr\":\"127\\.0\\.0\\.1:(\\d+)\"");
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            std::smatch m;
            std::string text = stderr_text();
            if (std::regex_search(text, m, re)) {
                return std::stoi(m[1]);
            }
            std::this_thread::sleep_for(20ms);
        }
        return -1;
    }

    pid_t pid_ = -1;
    bool exited_ = false;
    std::string err_path_;
    std::string out_path_;
};

}  // namespace keel::test
