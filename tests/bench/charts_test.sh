#!/usr/bin/env bash
# bench/charts draws each committed results table as a PNG: every one is produced, is a PNG,
# and a table with a column missing is refused rather than drawn wrong.
#   charts_test.sh <bench directory>
set -euo pipefail
bench=$1
work=$(mktemp -d /tmp/keel-charts-XXXXXX)
trap 'rm -rf "$work"' EXIT
for md in RESULTS.md LINKD-RESULTS.md CLUSTER-RESULTS.md IDLE-MEMORY.md IO-URING-RESULTS.md TECHEMPOWER-RESULTS.md; do
  cp "$bench/$md" "$work/"
  "$bench/charts" "$work/$md" >/dev/null
  png="$work/${md%.md}.png"
  [ -s "$png" ] || { echo "no chart for $md"; exit 1; }
  [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || { echo "$png is not a PNG"; exit 1; }
done
sed 's/CPU µs\/req/CPU/' "$bench/RESULTS.md" >"$work/RESULTS.md"
rm -f "$work/RESULTS.png"
if out=$("$bench/charts" "$work/RESULTS.md" 2>&1) || [ -e "$work/RESULTS.png" ]; then
  echo "drew a chart from a table without its CPU column: $out"
  exit 1
fi
echo "charts: 6 results tables drawn as PNG"
