#!/usr/bin/env python3
"""The TechEmpower app passes bench/techempower/verify on SQLite and on a real PostgreSQL
(started here in a temp dir, as deploy/local/cluster does), /updates included, and so do the
Go peers (go-chi and fasthttp on pgx v4); the verifier is no rubber stamp: examples/hello,
which has no database routes, fails it.

    techempower_test.py <techempower binary> <hello binary>
"""

import importlib.machinery
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERIFY = os.path.join(ROOT, "bench", "techempower", "verify")
_loader = importlib.machinery.SourceFileLoader("cluster", os.path.join(ROOT, "deploy", "local", "cluster"))
_spec = importlib.util.spec_from_loader("cluster", _loader)
cluster = importlib.util.module_from_spec(_spec)
_loader.exec_module(cluster)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(cmd, port):
    if "-server" in cmd:  # a Go peer
        args = ["-addr", f"127.0.0.1:{port}"]
    else:
        args = ["--server.port", str(port), "--server.threads", "2", "--log.level", "warn"]
    proc = subprocess.Popen(cmd + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{cmd[0]} exited: {proc.stderr.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{cmd[0]} did not listen")


def build_go_peers(work):
    """bench/techempower/peers, built from Debian's Go packages (GOPATH mode, no network)."""
    out = os.path.join(work, "techempower-go")
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode",
               GOCACHE=os.environ.get("GOCACHE", os.path.join(tempfile.gettempdir(), "keel-go-cache")))
    subprocess.run(["go", "build", "-o", out, "main.go"], cwd=os.path.join(ROOT, "bench", "techempower", "peers"),
                   env=env, check=True)
    return out


def verified(cmd, *db):
    """Starts cmd on a free port, runs the verifier against it (with the database, if given)."""
    port = free_port()
    proc = serve(cmd, port)
    try:
        r = subprocess.run([sys.executable, VERIFY, f"http://127.0.0.1:{port}", *db], capture_output=True, text=True)
        print(" ".join(os.path.basename(c) for c in cmd[:3]), *db, "->", r.returncode, r.stdout.strip(), r.stderr.strip())
        return r
    finally:
        proc.terminate()
        proc.wait(30)


def main():
    app, hello = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="keel-te-")
    os.chmod(work, 0o755)  # PostgreSQL runs as its own user under it
    pg = cluster.Postgres({"dir": os.path.join(work, "pg"), "port": free_port()})
    failed = []
    try:
        db = os.path.join(work, "te.db")
        if verified([app, "--te.database", "sqlite:" + db], "--sqlite", db).returncode != 0:
            failed.append("the app on SQLite")
        pg.init()
        if verified([app, "--te.database", pg.url, "--te.pool", "8"], "--postgres", pg.url).returncode != 0:
            failed.append("the app on PostgreSQL")
        # The peers, on the tables the app created.
        peers = build_go_peers(work)
        for name in ("chi", "fasthttp"):
            if verified([peers, "-server", name, "-db", pg.url, "-pool", "8"], "--postgres", pg.url).returncode != 0:
                failed.append(f"the Go {name} peer")

        r = verified([hello])
        if r.returncode == 0 or "FAIL db:" not in r.stdout or "FAIL fortunes:" not in r.stdout:
            failed.append("the verifier passed hello, which has no /db or /fortunes")
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("FAILED:", "; ".join(failed))
        return 1
    print("techempower: the verifier passes the app on SQLite and PostgreSQL and the Go peers, and fails hello")
    return 0


if __name__ == "__main__":
    sys.exit(main())
