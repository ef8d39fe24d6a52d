#pragma once
// A throw-away PostgreSQL server for tests: initdb + pg_ctl in a temp dir, listening on
// 127.0.0.1 and a free port, removed on destruction. Installs nothing (scripts/bootstrap
// installs the postgresql package). PostgreSQL refuses to run as root, so under root the
// server runs as the `postgres` user the package creates.
//
//     keel::test::PostgresServer pg;                 // starts, or throws with the log
//     std::string url = pg.create_database("t1");    // postgresql://keel@127.0.0.1:PORT/t1
//     pg.stop(); pg.start();                         // fault tests: the same data, same port

#include <unistd.h>
#include <support/free_port.hpp>
#include <support/run_command.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace keel::test {

class PostgresServer {
  public:
    PostgresServer() {
        bin_ = find_bin();
        char tmpl[] = "/tmp/keel-pg-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        dir_ = tmpl;
        as_ = ::geteuid() == 0 ? "runuser -u postgres -- " : "";
        if (!as_.empty()) {
            sh("chown postgres " + dir_);
        }
        port_ = free_port();
        sh(as_ + bin_ + "/initdb -D " + dir_ + "/data -U keel -A trust -E UTF8 --no-sync > " + dir_ +
           "/initdb.log 2>&1");
        start();
    }
    ~PostgresServer() {
        stop();
        std::system(("rm -rf " + dir_).c_str());
    }
    PostgresServer(const PostgresServer&) = delete;
    PostgresServer& operator=(const PostgresServer&) = delete;

    void start() {
        if (running_) {
            return;
        }
        // fsync off: test data need not survive a machine crash, and it is much faster.
        std::string opts = "-p " + std::to_string(port_) + " -k " + dir_ +
                           " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
                           " -c full_page_writes=off -c max_connections=200";
        sh(as_ + bin_ + "/pg_ctl -D " + dir_ + "/data -o '" + opts + "' -l " + dir_ + "/server.log -w -t 60 start > " +
           dir_ + "/pg_ctl.log 2>&1");
        running_ = true;
    }
    /// Fast shutdown: sessions are terminated (clients see their connections drop).
    void stop() {
        if (!running_) {
            return;
        }
        std::system((as_ + bin_ + "/pg_ctl -D " + dir_ + "/data -m fast -w stop > /dev/null 2>&1").c_str());
        running_ = false;
    }

    int port() const noexcept { return port_; }
    std::string url(const std::string& db = "postgres") const {
        return "postgresql://keel@127.0.0.1:" + std::to_string(port_) + "/" + db;
    }
    /// Creates an empty database and returns its URL.
    std::string create_database(const std::string& name) {
        sh(bin_ + "/psql -q -d '" + url() + "' -c 'DROP DATABASE IF EXISTS " + name + "' -c 'CREATE DATABASE " + name +
           "' > /dev/null 2>&1");
        return url(name);
    }
    /// Runs SQL with psql and returns what it printed (unaligned, tuples only).
    std::string psql(const std::string& db, const std::string& sql) const {
        std::string out = run(bin_ + "/psql -X -A -t -q -d '" + url(db) + "' -c \"" + sql + "\" 2>&1");
        while (!out.empty() && out.back() == '\n') {
            out.pop_back();
        }
        return out;
    }

  private:
    static std::string find_bin() {
        for (const char* v : {"17", "16", "15", "14", "13"}) {
            std::string b = std::string("/usr/lib/postgresql/") + v + "/bin";
            if (::access((b + "/initdb").c_str(), X_OK) == 0) {
                return b;
            }
        }
        throw std::runtime_error("PostgreSQL server binaries not found: run scripts/bootstrap (installs postgresql)");
    }
    void sh(const std::string& cmd) const {
        if (std::system(cmd.c_str()) != 0) {
            std::ifstream log1(dir_ + "/initdb.log"), log2(dir_ + "/server.log"), log3(dir_ + "/pg_ctl.log");
            std::stringstream ss;
            ss << "command failed: " << cmd << "\n" << log1.rdbuf() << log2.rdbuf() << log3.rdbuf();
            throw std::runtime_error(ss.str());
        }
    }

    std::string bin_;
    std::string dir_;
    std::string as_;
    int port_ = 0;
    bool running_ = false;
};

}  // namespace keel::test
