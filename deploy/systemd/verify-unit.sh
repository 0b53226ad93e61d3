#!/usr/bin/env bash
# Checks deploy/systemd/sequencerd.service with systemd-analyze verify, with ExecStart pointing at
# the sequencerd given (the unit names /opt/sequencer/bin/sequencerd, the install location).
# Fails on any complaint, warnings included. Usage: verify-unit.sh PATH/TO/sequencerd
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed "s|/opt/sequencer/bin/sequencerd|$binary|" "$here/sequencerd.service" > "$work/sequencerd.service"
cd "$work"
output="$(systemd-analyze verify ./sequencerd.service 2>&1)" || { echo "$output"; exit 1; }
if [ -n "$output" ]; then
  echo "systemd-analyze verify complained:"; echo "$output"; exit 1
fi
echo "sequencerd.service verifies (systemd-analyze $(systemd-analyze --version | head -1 | cut -d' ' -f2))"
