#!/usr/bin/env bash
# deploy/systemd/linkd.service and linkd.socket pass `systemd-analyze verify` together (with
# ExecStart pointing at the linkd just built, since verify checks that the program exists), and
# the service's exposure as rated by `systemd-analyze security --offline` is printed.
#   systemd_verify.sh <linkd binary> <deploy/systemd directory>
set -euo pipefail
bin=$1
dir=$2
work=$(mktemp -d /tmp/keel-systemd-XXXXXX)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/linkd|$bin|" "$dir/linkd.service" >"$work/linkd.service"
cp "$dir/linkd.socket" "$work/linkd.socket"
if ! out=$(systemd-analyze verify "$work/linkd.socket" "$work/linkd.service" 2>&1); then
  echo "systemd-analyze verify failed:"$'\n'"$out" >&2
  exit 1
fi
if echo "$out" | grep -q "linkd\.\(service\|socket\)"; then
  echo "systemd-analyze verify warns about the units:"$'\n'"$out" >&2
  exit 1
fi
grep -q '^FileDescriptorName=http$' "$work/linkd.socket" || { echo "linkd.socket: the socket must be named http" >&2; exit 1; }
grep -q '^WatchdogSec=' "$work/linkd.service" || { echo "linkd.service: no WatchdogSec" >&2; exit 1; }
systemd-analyze security --offline=yes "$work/linkd.service" 2>/dev/null | tail -n 1 || true
echo "systemd: linkd.socket and linkd.service verified"
