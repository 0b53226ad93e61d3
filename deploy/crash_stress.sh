#!/usr/bin/env bash
# The long run of the crash test: kills the real sequencerd with SIGKILL under
# 16 concurrent clients CYCLES times (default 500) and checks every restart
# against the test's record of acknowledged calls
# (tests/server/crash_stress_test.cc). CI runs 3 cycles through ctest.
#
#   bash deploy/crash_stress.sh [CYCLES] [SEED]
#
# THREADS (default 16) sets the number of clients. The last line printed sums
# up the run; a failure names the seed to replay with.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-500}"
bash deploy/build.sh >/dev/null
args=(--gtest_filter=CrashStressTest.*)
export SEQ_CRASH_CYCLES="$cycles" SEQ_CRASH_THREADS="${THREADS:-16}"
if [ -n "${2:-}" ]; then export SEQ_CRASH_SEED="$2"; fi
exec build/server_tests "${args[@]}"
