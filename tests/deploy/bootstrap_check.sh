#!/usr/bin/env bash
# scripts/bootstrap installs per job: the packages `make run` pulls in (its lists and everything
# they depend on, by Debian's own metadata) must hold no browser, Go toolchain, clang, database
# or Redis server, Prometheus or test framework — those are the tests' (issue 25 #11).
set -euo pipefail
src="$1"
lists=$(sed -n '/^build=(/,/^)/p;/^libraries=(/,/^)/p' "$src/scripts/bootstrap")
run_packages=$(bash -c "$lists"$'\n''echo "${build[@]}" "${libraries[@]}" nodejs npm')
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
            --no-enhances $run_packages 2>/dev/null | grep -v '^ ' | sort -u)
count=$(echo "$closure" | wc -l)
[ "$count" -gt 100 ] || { echo "bootstrap_check: the closure has only $count packages (apt lists missing?)"; exit 1; }
bad=$(echo "$closure" | grep -E '^(chromium|golang-go$|golang-1|clang|llvm|prometheus|postgresql|redis-server|nginx|libgtest|googletest|testssl)' || true)
if [ -n "$bad" ]; then
  echo "bootstrap_check: make run would install test or bench packages:"
  echo "$bad"
  exit 1
fi
# And the test job really has them (a list edited wrongly would fail here, not in CI later).
for p in chromium golang-go clang-14 postgresql libgtest-dev; do
  job=test
  [ "$p" = clang-14 ] && job=fuzz
  grep -q -- "$p" <(sed -n "/^${job}s\\?=(/,/^)/p" "$src/scripts/bootstrap") ||
    { echo "bootstrap_check: $p is not in the $job list"; exit 1; }
done
echo "bootstrap_check: make run installs $count packages (with dependencies), none of the tests' or benchmarks'"
