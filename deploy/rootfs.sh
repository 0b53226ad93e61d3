#!/usr/bin/env bash
# Builds the container's runtime tree without a container engine: into DIR, the files of the
# Debian packages in deploy/runtime-packages.txt as installed on this machine (the same list the
# Dockerfile's runtime stage installs; documentation left out), sequencerd and sequencerctl in
# /usr/local/bin, and an unprivileged user 10001 owning /var/lib/sequencer.
# Usage: rootfs.sh DIR PATH/TO/sequencerd PATH/TO/sequencerctl
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$1"; sequencerd="$2"; sequencerctl="$3"
mkdir -p "$root"
# Debian 12 is merged-/usr: /lib, /lib64, /bin and /sbin are links into /usr.
for link in lib lib64 bin sbin; do
  mkdir -p "$root/usr/$link"
  [ -e "$root/$link" ] || ln -s "usr/$link" "$root/$link"
done
missing=()
list="$(mktemp)"
trap 'rm -f "$list"' EXIT
while read -r package; do
  [ -z "$package" ] && continue
  if ! dpkg-query -L "$package" >> "$list" 2>/dev/null; then missing+=("$package"); fi
done < "$here/runtime-packages.txt"
if [ "${#missing[@]}" -gt 0 ]; then
  echo "rootfs: not installed here: ${missing[*]} (apt-get install them first)" >&2
  exit 1
fi
# Files and links only (directories come with them), without documentation.
while read -r file; do
  case "$file" in /usr/share/doc/*|/usr/share/man/*|/usr/share/lintian/*) continue ;; esac
  if [ -L "$file" ] || [ -f "$file" ]; then
    case "$file" in /lib|/lib64|/bin|/sbin) continue ;; esac
    echo "${file#/}"
  fi
done < "$list" | sort -u | tar -C / -cf - --no-recursion -T - \
  | tar -C "$root" -xf - --keep-directory-symlink
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/var/lib/sequencer"
chmod 1777 "$root/tmp"
install -m 755 "$sequencerd" "$sequencerctl" "$root/usr/local/bin/"
echo "root:x:0:0:root:/root:/usr/sbin/nologin" > "$root/etc/passwd"
echo "sequencer:x:10001:10001::/var/lib/sequencer:/usr/sbin/nologin" >> "$root/etc/passwd"
printf 'root:x:0:\nsequencer:x:10001:\n' > "$root/etc/group"
chown 10001:10001 "$root/var/lib/sequencer"
echo "rootfs: $(du -sh "$root" | cut -f1) in $root"
