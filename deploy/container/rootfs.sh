#!/usr/bin/env bash
# Assembles the runtime file system of linkd's container image, "distroless"-style: the linkd
# binary, exactly the shared libraries it loads (as ldd resolves them), the CA bundle for
# webhooks over HTTPS, a passwd/group naming the unprivileged user 65532, and writable /tmp and
# /var/lib/linkd owned by that user. No shell, no package manager.
#   rootfs.sh <linkd binary> <target directory>
set -euo pipefail
bin=$1
root=$2
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/var/lib/linkd"
# Debug sections go (a third of the size); the symbol table stays, for /debug/pprof.
objcopy --strip-debug "$bin" "$root/usr/local/bin/linkd"
chmod 0755 "$root/usr/local/bin/linkd"
# Every library ldd resolves ("name => /path (addr)"), and the dynamic loader itself.
ldd "$bin" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# The loader is looked up by its canonical path (/lib64/...), which Debian makes a symlink.
if [ -e /lib64/ld-linux-x86-64.so.2 ] && [ ! -e "$root/lib64/ld-linux-x86-64.so.2" ]; then
  mkdir -p "$root/lib64"
  cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
fi
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nlinkd:x:65532:65532:linkd:/var/lib/linkd:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nlinkd:x:65532:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
chown 65532:65532 "$root/var/lib/linkd"
chmod 0700 "$root/var/lib/linkd"
