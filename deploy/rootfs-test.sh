#!/usr/bin/env bash
# The container's runtime tree starts the daemon: builds it with deploy/rootfs.sh in a temporary
# directory, runs sequencerd chrooted into it as the unprivileged user 10001 (nothing of this
# machine visible but the tree), asks it for its health with the tree's own sequencerctl, stops it
# with SIGTERM and expects exit status 0 and a data directory owned by 10001.
# Usage: rootfs-test.sh PATH/TO/sequencerd PATH/TO/sequencerctl   (as root: chroot)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$(id -u)" -ne 0 ]; then echo "rootfs-test: needs root (chroot)"; exit 77; fi
libraries="$(ldd "$1")"  # whole, then grep: grep -q would cut ldd short (pipefail)
if grep -qE "libasan|libtsan|libubsan" <<< "$libraries"; then
  echo "rootfs-test: a sanitizer build; the runtime tree holds the release binary's libraries"
  exit 77
fi
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
root="$work/root"
bash "$here/rootfs.sh" "$root" "$1" "$2"

mkfifo "$work/out"
chroot --userspec=10001:10001 "$root" /usr/local/bin/sequencerd \
  --data_dir=/var/lib/sequencer --listen=127.0.0.1:0 --auth=dev > "$work/out" 2>&1 &
pid=$!
exec 3< "$work/out"
address=""
while IFS= read -r -t 30 line <&3; do
  echo "sequencerd: $line"
  if [[ "$line" == "sequencerd listening on "* ]]; then
    address="${line#sequencerd listening on }"; address="${address%% *}"; break
  fi
done
[ -n "$address" ] || { echo "no listening line within 30 s"; exit 1; }
cat <&3 &  # the rest of its output, so that it never blocks on the pipe
health="$(chroot --userspec=10001:10001 "$root" /usr/local/bin/sequencerctl health \
  --server="$address" --timeout=10s)"
echo "health: $health"
[[ "$health" == *SERVING* && "$health" != *NOT_SERVING* ]] || exit 1
kill -TERM "$pid"
status=0; wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || { echo "sequencerd exited with $status"; exit 1; }
[ -f "$root/var/lib/sequencer/CURRENT" ] || { echo "no store written"; exit 1; }
owner="$(stat -c %u "$root/var/lib/sequencer/CURRENT")"
[ "$owner" = 10001 ] || { echo "store owned by $owner, not 10001"; exit 1; }
echo "rootfs-test: sequencerd started, served and stopped cleanly in the runtime tree"
