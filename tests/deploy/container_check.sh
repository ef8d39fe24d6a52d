#!/usr/bin/env bash
# deploy/container: the Containerfile is linted (multi-stage, pinned bases, a scratch runtime run
# as a non-root user, a HEALTHCHECK in exec form, apt lists removed, the build stage's -dev
# packages the same as scripts/bootstrap's libraries), and the runtime file system it would
# ship (deploy/container/rootfs.sh) is proven complete: linkd runs chrooted into it, as user
# 65532, serves with SQLite in /var/lib/linkd, its own `linkd probe` health check passes, and
# SIGTERM exits 0. (No container engine runs on this machine: podman cannot set the limits it
# needs in this sandbox, so the image itself is not built here.)
#   container_check.sh <linkd binary>
set -euo pipefail
bin=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
file=$src/deploy/container/Containerfile
fail() { echo "container: $*" >&2; exit 1; }

# --- lint
froms=$(grep -c '^FROM ' "$file")
[ "$froms" -ge 2 ] || fail "not multi-stage ($froms FROM lines)"
grep -E '^FROM ' "$file" | grep -vE '^FROM scratch$' | while read -r _ image _; do
  [[ $image == *:* && $image != *:latest ]] || fail "base image $image is not pinned to a version"
done
last_from=$(grep -n '^FROM ' "$file" | tail -n1 | cut -d: -f1)
runtime=$(tail -n +"$last_from" "$file")
[ "$(echo "$runtime" | head -n1)" = "FROM scratch" ] || fail "the runtime stage is not FROM scratch"
user=$(echo "$runtime" | awk '/^USER /{print $2}' | tail -n1)
[[ $user =~ ^[1-9][0-9]*(:[1-9][0-9]*)?$ ]] || fail "the runtime stage's USER ($user) is not a numeric non-root user"
echo "$runtime" | grep -qE '^HEALTHCHECK .*' || fail "no HEALTHCHECK"
sed -n '/^HEALTHCHECK/,/^[A-Z]/p' "$file" | grep -qE 'CMD \["/usr/local/bin/linkd", "probe"' ||
  fail "HEALTHCHECK must run linkd probe in exec form (the image has no shell)"
echo "$runtime" | grep -qE '^ENTRYPOINT \[' || fail "ENTRYPOINT is not in exec form (SIGTERM must reach linkd)"
# Every apt-get install skips recommends and removes its lists in the same layer.
tr '\n' ' ' <"$file" | sed 's/ \\ / /g' | grep -oE 'RUN [^A-Z]*apt-get install[^&]*(&&[^&]*)*' | while read -r run; do
  [[ $run == *--no-install-recommends* ]] || fail "apt-get install without --no-install-recommends"
  [[ $run == *"rm -rf /var/lib/apt/lists"* ]] || fail "apt lists left in the layer"
done
# The image builds against the same libraries as the project (scripts/bootstrap's list).
libs=$(sed -n '/^libraries=(/,/^)/p' "$src/scripts/bootstrap" | grep -v '#' | tr ' ' '\n' | grep -- '-dev$' | sort -u)
for lib in $libs; do
  grep -q -- "$lib" "$file" || fail "the build stage lacks $lib (scripts/bootstrap has it)"
done
[ -f "$src/.containerignore" ] && grep -q '^build' "$src/.containerignore" || fail ".containerignore must keep build/ out of the context"
echo "container: Containerfile lint passed ($froms stages, runtime FROM scratch as $user, HEALTHCHECK linkd probe)"

# --- the runtime file system
if [ "$(id -u)" -ne 0 ]; then
  echo "container: not root, cannot chroot: the rootfs run is skipped"
  exit 0
fi
work=$(mktemp -d /tmp/keel-rootfs-XXXXXX)
root=$work/root
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  mountpoint -q "$root/proc" && umount "$root/proc"
  rm -rf "$work"
}
trap cleanup EXIT
"$src/deploy/container/rootfs.sh" "$bin" "$root"
# Anything beyond what rootfs.sh put there would hide a missing file: check it is all there is.
extra=$(cd "$root" && find . -type f | grep -vE '^\./(usr/local/bin/linkd|etc/(passwd|group|ssl/certs/ca-certificates\.crt)|(usr/)?lib(64|/x86_64-linux-gnu)/[^/]+)$' || true)
[ -z "$extra" ] || fail "unexpected files in the rootfs: $extra"
# Sanitizer builds read /proc/self/maps; a container has /proc too.
mkdir -p "$root/proc"
mount -t proc proc "$root/proc"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
: >"$work/linkd.log"
chroot --userspec=65532:65532 "$root" /usr/local/bin/linkd --server.port "$port" --admin.listen "127.0.0.1:$admin" \
  --db.url sqlite:///var/lib/linkd/linkd.db --docs.assets_dir "" >"$work/linkd.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
  grep -q '"msg":"listening"' "$work/linkd.log" && break
  kill -0 "$pid" 2>/dev/null || fail "linkd exited in the rootfs: $(cat "$work/linkd.log")"
  sleep 0.05
done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/readyz")
[ "$code" = 200 ] || fail "/readyz from the rootfs: $code; $(cat "$work/linkd.log")"
chroot --userspec=65532:65532 "$root" /usr/local/bin/linkd probe "http://127.0.0.1:$admin/livez" ||
  fail "the HEALTHCHECK command failed inside the rootfs"
[ -s "$root/var/lib/linkd/linkd.db" ] || fail "no database in /var/lib/linkd"
[ "$(stat -c %u "$root/var/lib/linkd/linkd.db")" = 65532 ] || fail "the database is not owned by 65532"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "exit $rc after SIGTERM: $(cat "$work/linkd.log")"
echo "container: linkd ran from the runtime rootfs ($(du -sh "$root" --exclude=proc | cut -f1), $(find "$root" -path "$root/proc" -prune -o -name '*.so*' -print | wc -l) libraries) as 65532, probe passed, exit 0"
