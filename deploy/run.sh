#!/usr/bin/env bash
# Builds sequencerd and starts it on 127.0.0.1:50051 with the embedded RocksDB data directory ./data.
# Development mode (--auth=dev: NO AUTHENTICATION, headers as given) for local use and grpcurl;
# extra arguments go to sequencerd (see `build/sequencerd --help`), e.g. --auth=principals
# --principals_file=... to try authentication (the last --auth wins).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/build.sh
exec build/sequencerd --listen=127.0.0.1:50051 --data_dir=data --auth=dev "$@"
