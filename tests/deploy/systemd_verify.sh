#!/usr/bin/env bash
# deploy/systemd/linkd.service passes `systemd-analyze verify` (with ExecStart pointing at the
# linkd just built, since verify checks that the program exists), and its exposure as rated by
# `systemd-analyze security --offline` is printed.
#   systemd_verify.sh <linkd binary> <unit file>
set -euo pipefail
bin=$1
unit=$2
work=$(mktemp -d /tmp/keel-systemd-XXXXXX)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/linkd|$bin|" "$unit" >"$work/linkd.service"
if ! out=$(systemd-analyze verify "$work/linkd.service" 2>&1); then
  echo "systemd-analyze verify failed:"$'\n'"$out" >&2
  exit 1
fi
if echo "$out" | grep -q "linkd.service"; then
  echo "systemd-analyze verify warns about the unit:"$'\n'"$out" >&2
  exit 1
fi
systemd-analyze security --offline=yes "$work/linkd.service" 2>/dev/null | tail -n 1 || true
echo "systemd: linkd.service verified"
