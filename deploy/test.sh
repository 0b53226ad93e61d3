#!/usr/bin/env bash
# Builds everything with warnings as errors (the ci preset: what CI builds) and runs every test
# with ctest; the output ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=ci bash deploy/build.sh
cd build
exec ctest --output-on-failure -j"${JOBS:-2}" --timeout 600
