#!/usr/bin/env bash
# Configures and builds everything into ./build (2 parallel jobs: the machines have 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
# ccache, when installed, makes rebuilds in other checkouts of the same tree cheap.
if command -v ccache >/dev/null; then export CMAKE_CXX_COMPILER_LAUNCHER=ccache; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" >/dev/null
cmake --build build -j"${JOBS:-2}"
