#!/usr/bin/env bash
# core + net + json + http + router configure and build on a machine without the packages the
# other modules need (issue 26): KEEL_MODULES names the modules, KEEL_IO_URING=OFF leaves the
# io_uring back-end out, and the rest is made unfindable — pkg-config sees no .pc file at all
# (so no liburing, nghttp2, libpq, sqlite3, hiredis, libprofiler, brotli), and CMake may not
# find curl, OpenSSL, zlib, spdlog, fmt, toml++, CLI11, GoogleTest. Then a program of http +
# json is built against that tree; it links neither nghttp2 nor liburing.
#   check_minimal_configure.sh <keel source dir>
set -euo pipefail
src=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/keel-minimal-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "minimal: $*" >&2; exit 1; }

mkdir "$work/no-pc"
disabled=()
for p in CURL OpenSSL ZLIB spdlog fmt tomlplusplus CLI11 GTest benchmark; do
  disabled+=("-DCMAKE_DISABLE_FIND_PACKAGE_$p=ON")
done
# -O0 without -g: quick to build, and ccache hits across runs (no build directory in the hash).
PKG_CONFIG_LIBDIR="$work/no-pc" PKG_CONFIG_PATH="" \
  cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O0 \
        -DKEEL_MODULES="core;net;json;http;router" -DKEEL_IO_URING=OFF "${disabled[@]}" \
        >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configure failed"; }
built=$(sed -n 's/^set(KEEL_MODULES \(.*\))$/\1/p' "$work/build/keel_modules.cmake")
[ "$built" = "core;net;json;http;router" ] || fail "modules configured: $built"
cmake --build "$work/build" --target keel_router >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build failed"; }

libs="$work/build/src/keel"
g++ -std=c++20 -I "$src/include" -o "$work/message" "$src/tests/package/message/main.cpp" \
    "$libs/libkeel_router.a" "$libs/libkeel_http.a" "$libs/libkeel_net.a" "$libs/libkeel_json.a" \
    "$libs/libkeel_core.a" -lsimdjson -pthread || fail "the http + json program does not link"
[ "$("$work/message")" = "/sum 5" ] || fail "the http + json program answered: $("$work/message")"
needed=$(readelf -d "$work/message" | sed -n -E 's/.*NEEDED.*\[(.*)\]/\1/p' | tr '\n' ' ')
if echo "$needed" | grep -E "nghttp2|uring|libpq|sqlite|hiredis|profiler|curl|ssl|crypto"; then
  fail "the http + json program links $needed"
fi
echo "minimal: configured core;net;json;http;router with no pkg-config module and no curl, OpenSSL, zlib, spdlog, fmt, toml++, CLI11 package; built; an http + json program links only: $needed"
