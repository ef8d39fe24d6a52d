#!/usr/bin/env bash
# The installed package, as another project sees it (issue 10). Installs keel from a build tree
# into a temporary prefix, then builds tests/package/consumer outside keel's tree twice — with
# CMake's find_package(keel 0.3 CONFIG REQUIRED COMPONENTS server router json) and with
# pkg-config — runs each, asks it over HTTP with curl, and checks with readelf that a program
# made of router + json + the server needs none of libpq, libsqlite3, libcurl, libhiredis,
# libprofiler, libbrotli*, libtcmalloc, libssl, libcrypto (TLS is the tls module's); that a program
# of http + json alone links no nghttp2; that each component builds alone (find_package with
# only it, every header, its whole library). Then builds examples/todo the same way and runs
# its tests.
#   check_package.sh <keel build dir> <keel source dir>
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/keel-package-XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "package: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" >/dev/null
[ -f "$work/prefix/include/keel/version.hpp" ] || fail "headers not installed"
ls "$work"/prefix/lib*/cmake/keel/keelConfig.cmake >/dev/null || fail "keelConfig.cmake not installed"

# 1. CMake, as in the README of a consumer.
cmake -S "$src/tests/package/consumer" -B "$work/cmake-build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/cmake-configure.log" 2>&1 || { cat "$work/cmake-configure.log"; fail "configure failed"; }
cmake --build "$work/cmake-build" >"$work/cmake-build.log" 2>&1 || { cat "$work/cmake-build.log"; fail "CMake consumer does not build"; }

# 2. pkg-config.
pc_dir=$(dirname "$(ls "$work"/prefix/lib*/pkgconfig/keel-http.pc)")
flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs keel-router keel-server keel-json) || fail "pkg-config cannot resolve keel-router keel-server keel-json"
# shellcheck disable=SC2086
g++ -std=c++20 -o "$work/pc-consumer" "$src/tests/package/consumer/main.cpp" $flags || fail "pkg-config consumer does not build"

check_binary() {
  local bin=$1 what=$2
  local needed
  needed=$(readelf -d "$bin" | grep NEEDED || true)
  if echo "$needed" | grep -E "libpq|libsqlite3|libcurl|libhiredis|libprofiler|libbrotli|libtcmalloc|libssl|libcrypto"; then
    fail "$what links a library it does not use:"$'\n'"$needed"
  fi
  : >"$work/out"  # exists before the program writes to it: the loop below reads it at once
  "$bin" >"$work/out" 2>"$work/err" &
  pid=$!
  local port=""
  for _ in $(seq 1 200); do
    port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$work/out")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/err"; fail "$what exited"; }
    sleep 0.05
  done
  [ -n "$port" ] || fail "$what did not print its port"
  local body status
  body=$(curl -s -H 'Content-Type: application/json' -d '{"a":2,"b":3}' "http://127.0.0.1:$port/sum")
  [ "$body" = '{"total":5,"keel":"0.3.0"}' ] || fail "$what answered: $body"
  status=$(curl -s -o "$work/problem" -w '%{http_code}' -H 'Content-Type: application/json' -d '{"a":"x"}' "http://127.0.0.1:$port/sum")
  [ "$status" = 400 ] || fail "$what answered a bad body with $status"
  grep -q '"pointer":"/a"' "$work/problem" || fail "$what's 400 does not name /a: $(cat "$work/problem")"
  kill -TERM "$pid"
  wait "$pid" || fail "$what did not exit 0 on SIGTERM"
  pid=""
  echo "package: $what: built, answered, links only: $(echo "$needed" | sed -E 's/.*\[(.*)\]/\1/' | tr '\n' ' ')"
}

check_binary "$work/cmake-build/consumer" "CMake consumer"
check_binary "$work/pc-consumer" "pkg-config consumer"

# 3. The message model alone (http + json, pkg-config): no server, so no nghttp2.
flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs keel-http keel-json) || fail "pkg-config cannot resolve keel-http keel-json"
# shellcheck disable=SC2086
g++ -std=c++20 -o "$work/message" "$src/tests/package/message/main.cpp" $flags || fail "the http + json program does not build"
[ "$("$work/message")" = "/sum 5" ] || fail "the http + json program answered: $("$work/message")"
if readelf -d "$work/message" | grep NEEDED | grep -E "libnghttp2|libssl|libcrypto|libz\.|libpq|libcurl"; then
  fail "the http + json program links a library of a module it does not use"
fi
echo "package: http + json alone: built, ran, links only: $(readelf -d "$work/message" | sed -n -E 's/.*NEEDED.*\[(.*)\]/\1/p' | tr '\n' ' ')"

# 4. Every component alone: find_package(keel COMPONENTS <it>), all its headers compiled, its
#    whole library linked (so the packages that component finds resolve every symbol in it).
modules=$(sed -n 's/^set(KEEL_MODULES \(.*\))$/\1/p' "$work"/prefix/lib*/cmake/keel/keel_modules.cmake | tr ';' ' ')
[ -n "$modules" ] || fail "no module list in keel_modules.cmake"
for m in $modules; do
  b="$work/component-$m"
  cmake -S "$src/tests/package/component" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKEEL_COMPONENT="$m" \
        -DKEEL_INCLUDE_DIR="$work/prefix/include" -DCMAKE_PREFIX_PATH="$work/prefix" >"$b.log" 2>&1 \
    || { cat "$b.log"; fail "component $m: find_package(keel COMPONENTS $m) failed"; }
  cmake --build "$b" >>"$b.log" 2>&1 || { cat "$b.log"; fail "component $m does not build alone"; }
  [ "$("$b/component")" = "$m $(sed -n 's/^#define KEEL_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$work/prefix/include/keel/version.hpp" | paste -sd.)" ] \
    || fail "component $m: the program printed $("$b/component")"
done
echo "package: each component alone ($modules): found, every header compiled, its whole library linked, ran"

# 5. examples/todo, unchanged, as a project of its own: App, SQLite with embedded migrations
#    (keel_embed_migrations from the package), middleware, and its tests.
cmake -S "$src/examples/todo" -B "$work/todo-build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/todo-configure.log" 2>&1 || { cat "$work/todo-configure.log"; fail "todo: configure failed"; }
cmake --build "$work/todo-build" >"$work/todo-build.log" 2>&1 || { cat "$work/todo-build.log"; fail "todo does not build out of tree"; }
"$work/todo-build/todo_test" --gtest_brief=1 >"$work/todo-test.log" 2>&1 || { cat "$work/todo-test.log"; fail "todo's tests fail out of tree"; }
echo "package: examples/todo: built out of tree against the package, its tests pass"
echo "package: ok"
