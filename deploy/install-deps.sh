#!/usr/bin/env bash
# Installs the Debian 12 packages sequencer needs, only those that are missing.
# Runs apt-get update first when anything has to be installed (a fresh machine has no lists).
# With --fuzz, also clang and its sanitizer runtimes (libFuzzer) for deploy/fuzz.sh.
# With --bench, also PostgreSQL 15 (server and client, pgbench), the peer of bench/run.sh.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librocksdb-dev libgtest-dev grpc-proto libssl-dev openssl
  libsystemd-dev systemd prometheus-cpp-dev python3-kubernetes python3-yaml
)
for arg in "$@"; do
  case "$arg" in
    --fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
    --bench) packages+=(postgresql-15 postgresql-client-15) ;;
    *) echo "install-deps: unknown flag $arg (--fuzz, --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}" >&2
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
