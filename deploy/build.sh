#!/usr/bin/env bash
# Configures and builds everything into ./build (2 parallel jobs: the machines have 2 cores).
# PRESET picks the configure preset (CMakePresets.json): release (default) or ci (-Werror; what
# deploy/test.sh uses). Both build into ./build; release leaves SEQUENCER_WERROR as the cache has
# it, so switching between them does not rebuild everything. Extra arguments go to cmake's
# configure step (e.g. -DSEQUENCER_BUILD_BENCHMARKS=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
# ccache, when installed, makes rebuilds in other checkouts of the same tree cheap.
if command -v ccache >/dev/null; then export CMAKE_CXX_COMPILER_LAUNCHER=ccache; fi
cmake --preset "${PRESET:-release}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" >/dev/null
cmake --build build -j"${JOBS:-2}"
