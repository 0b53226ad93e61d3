#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, ASan and UBSan into
# ./build-fuzz and runs each for FUZZ_SECONDS (default 25) from its seed corpus
# in fuzz/corpus/<target>/. A crash, a sanitizer report or a failed check
# stops the run with a non-zero exit and leaves the input in
# build-fuzz/artifacts/.
#
#   bash deploy/fuzz.sh                        # CI: 25 s per target
#   FUZZ_SECONDS=3600 bash deploy/fuzz.sh      # the long run
#   FUZZ_SECONDS=600 MERGE=1 bash deploy/fuzz.sh   # and keep what it found
#   bash deploy/fuzz.sh domain                 # one target
#
# Only our code is instrumented: gRPC, protobuf, abseil and RocksDB are
# Debian's GCC builds, linked as they are (clang uses the same libstdc++).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh --fuzz
seconds="${FUZZ_SECONDS:-25}"
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then targets=(stored_event commit_record request domain); fi

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# The fuzz preset (CMakePresets.json): clang++-14, RelWithDebInfo, SEQUENCER_SANITIZE=address
# (ASan + UBSan, -fno-sanitize-recover=all) and SEQUENCER_FUZZ=ON (-fsanitize=fuzzer-no-link).
cmake --preset fuzz "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j"${JOBS:-2}" --target "${targets[@]/%/_fuzzer}" \
  >build-fuzz/build.log 2>&1 || { tail -n 40 build-fuzz/build.log; exit 1; }

export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
mkdir -p build-fuzz/artifacts
for target in "${targets[@]}"; do
  work="build-fuzz/corpus/$target"
  mkdir -p "$work" "fuzz/corpus/$target"
  # New inputs go to the work corpus; the seeds in the repository stay as they are.
  build-fuzz/"${target}_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="build-fuzz/artifacts/${target}-" "$work" "fuzz/corpus/$target" \
    >"build-fuzz/$target.log" 2>&1 || {
    tail -n 60 "build-fuzz/$target.log"
    echo "fuzz: $target FAILED (input in build-fuzz/artifacts/)" >&2
    exit 1
  }
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/$target.log" | grep -o '[0-9]*$' || true)
  echo "fuzz: $target ok, $runs runs in ${seconds}s"
  if [ "${MERGE:-0}" = 1 ]; then
    build-fuzz/"${target}_fuzzer" -merge=1 "fuzz/corpus/$target" "$work" >/dev/null 2>&1
  fi
done
