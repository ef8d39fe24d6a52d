#!/usr/bin/env bash
# linkd started by systemd's own socket activation code (systemd-socket-activate, from the
# systemd package, does what a .socket unit does: it listens, and at the first connection
# starts the service with the socket as $LISTEN_FDS, named "http"). The connection that woke it
# is answered, and so are the next ones; SIGTERM drains and exits 0.
#   socket_activate.sh <linkd binary>
set -euo pipefail
bin=$1
work=$(mktemp -d /tmp/keel-activate-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
: >"$work/linkd.log"
systemd-socket-activate -l "127.0.0.1:$port" --fdname=http \
  "$bin" --db.url "sqlite://$work/linkd.db" --admin.listen "" --server.port 1 --log.access false \
  >"$work/stdout" 2>"$work/linkd.log" &
pid=$!
# Nothing runs linkd yet: the socket exists and listens (this connection starts linkd).
for _ in $(seq 100); do
  if code=$(curl -s -o "$work/body" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/healthz"); then break; fi
  sleep 0.1  # systemd-socket-activate not listening yet; retried until it is
done
[ "$code" = 200 ] || { echo "first request: $code"; cat "$work/linkd.log"; exit 1; }
# The log is written by a thread of its own: wait for the line rather than expect it already.
for _ in $(seq 100); do grep -q '"msg":"listening"' "$work/linkd.log" && break; sleep 0.1; done
grep -q '"inherited_sockets":1' "$work/linkd.log" || { echo "linkd did not take the socket:"; cat "$work/linkd.log"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/readyz")
[ "$code" = 200 ] || { echo "second request: $code"; exit 1; }
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || { echo "exit $rc"; cat "$work/linkd.log"; exit 1; }
echo "socket activation: linkd served on the socket systemd-socket-activate handed it, then exited 0"
