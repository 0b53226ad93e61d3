#!/usr/bin/env bash
# One command for the figures of issue 10: the release sequencerd driven from outside its process,
# each figure next to a ceiling or peer measured in the same run, on the same machine, at each
# store size. Ends with one summary table (figure, ceiling/peer, ratio, p50/p99/p99.9, target).
#
#   bash bench/run.sh                      # sizes 1000 100000 1000000; about 15-25 minutes
#   QUICK=1 bash bench/run.sh              # sizes 1000 100000, shorter phases; about 5 minutes
#   SIZES="1000 100000" bash bench/run.sh  # choose the store sizes
#
# RUNS=3 repeats every size that many times (run 1 of each size, then run 2, ...) and the table
# shows the median of each figure and min / median / max of each ratio.
# Other variables: INFLIGHT (64), ACTION_SECONDS (10; QUICK 5), PG_SECONDS (10; QUICK 5),
# QUEUE_ARGS (queue_scale_bench's flags), BUILD=0 (use the binaries in build/ as they are),
# PG=0 (skip the PostgreSQL peer), QUEUE=0 (skip queue_scale_bench), KEEP=1 (keep the stores),
# OUT (the summary is also written there; default /tmp/sequencer_bench_summary.txt).
#
# What runs, per store size N (bench/load_client.cc is the one client of every gRPC figure; it
# and bench/noop_server.cc say exactly what they measure):
#   1. build/sequencerd --listen=127.0.0.1:0 --auth=dev --clock=manual on a fresh data dir (the port is read
#      from its "listening on" line). load_client setup: a sequence and N recipients in calls of
#      10,000 (first and last call, p50/p99); plus a second sequence of 10,000 for the bulk pause.
#      Ceiling: the no-op server's round trip of an enrollment call of 10,000 (p50 of 3) + one
#      synced RocksDB commit of 10,000 enrollment-sized records (group_commit_bench --batch; the
#      best of 9, timed at three moments of the size's run), as recipients/s (a store of 1,000 is
#      one call of 1,000, compared with that same rate).
#   2. Single actions, closed loop, INFLIGHT in flight (pause/resume of random recipients), on
#      sequencerd, then on build/noop_server with the same client and settings, then RocksDB:
#      INFLIGHT writers making synced commits of one action's size (group_commit_bench
#      --shape=action). Ceiling: min(no-op, RocksDB).
#      Both loops also report CPU per call of the server (--server_pid) and of the client: the
#      summary compares sequencerd's with what the machine's cores allow per call at the target
#      rates (0.7 x the ceiling; 3 x PostgreSQL), after the client's share.
#   3. Open loop at 50% of the closed-loop rate sequencerd reached, on sequencerd and on the no-op
#      server at the same rate; latency from the scheduled send time.
#   4. BulkAction pause of 10,000 (3 rounds of pause+resume; median). Ceiling: the no-op round
#      trip of the same request (median of 3) + one synced commit of 10,000 action-sized records
#      (best of 9, as above).
#   5. Peak RSS (VmHWM) of sequencerd; SIGTERM; `sequencerctl verify` timed (events/s) against a
#      sequential scan parsing every event of the same store (store_scale_bench --scan_dir).
#   6. Restart: time from exec to health SERVING (load_client wait_serving), RSS then.
#   7. PostgreSQL 15 peer (bench/postgres_peer.sh): the same work per transaction with 16 and 64
#      clients, N recipients, synchronous commit.
# Once: build/queue_scale_bench (scheduler and delivery drain against 1 and 64 RocksDB writers).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  SIZES=${SIZES:-"1000 100000"}
  ACTION_SECONDS=${ACTION_SECONDS:-5}
  PG_SECONDS=${PG_SECONDS:-5}
  QUEUE_ARGS=${QUEUE_ARGS:-"--due=10000 --background=10000 --ceiling_seconds=2"}
else
  SIZES=${SIZES:-"1000 100000 1000000"}
  ACTION_SECONDS=${ACTION_SECONDS:-10}
  PG_SECONDS=${PG_SECONDS:-10}
  QUEUE_ARGS=${QUEUE_ARGS:-"--due=10000,100000 --background=100000"}
fi
INFLIGHT=${INFLIGHT:-64}
RUNS=${RUNS:-1}
OUT=${OUT:-/tmp/sequencer_bench_summary.txt}
B=$root/build

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
# val "RESULT line" key -> value
val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1" | head -1; }
# calc "awk expression" -> number (integers from 1000 on, else 4 significant digits; n/a when
# awk fails, e.g. on a division by zero)
calc() {
  awk "BEGIN { x = 0; x = ($1); if (x >= 1000 || x <= -1000) printf \"%.0f\", x;
               else printf \"%.4g\", x }" 2>/dev/null || echo "n/a"
}
# min of its arguments
min() { printf '%s\n' "$@" | sort -g | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.3f", a / b }'; }

# ---- build ------------------------------------------------------------------------------------
if [ "${BUILD:-1}" = 1 ]; then
  log "build (release, -j2)"
  bash deploy/install-deps.sh --bench
  if command -v ccache >/dev/null; then export CMAKE_CXX_COMPILER_LAUNCHER=ccache; fi
  cmake --preset release >/dev/null
  cmake --build build -j2 --target sequencerd sequencerctl load_client noop_server \
    group_commit_bench store_scale_bench queue_scale_bench >/dev/null
fi
for bin in sequencerd sequencerctl load_client noop_server group_commit_bench store_scale_bench \
           queue_scale_bench; do
  [ -x "$B/$bin" ] || { echo "run.sh: $B/$bin missing (run without BUILD=0)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/sequencer_bench.XXXXXX)
cleanup() {
  # Only the servers this script started and that still run (its background jobs).
  local running
  running=$(jobs -p)
  if [ -n "$running" ]; then
    # shellcheck disable=SC2086
    kill $running 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 130" INT TERM

# start_server LOGFILE CMD... : starts it, waits for its "listening on host:port" line; sets
# server_pid and server_addr.
start_server() {
  local logfile=$1
  shift
  "$@" >"$logfile" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 6000); do
    server_addr=$(sed -n 's/.*listening on \([0-9.]*:[0-9]*\).*/\1/p' "$logfile" | head -1)
    [ -n "$server_addr" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$logfile" >&2; return 1; }
    sleep 0.01
  done
  echo "run.sh: $* did not start" >&2
  return 1
}
stop_server() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
rss_mib() { awk -v k="$2:" '$1 == k { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

client() { "$B/load_client" --inflight="$INFLIGHT" "$@"; }
# results CMD...: runs it, shows its output on stderr, prints its RESULT lines; stops the run if it
# fails.
results() {
  local f
  f=$(mktemp "$work/out.XXXXXX")
  "$@" >"$f" 2>&1 || { cat "$f" >&2; echo "run.sh: failed: $*" >&2; exit 1; }
  cat "$f" >&2
  grep '^RESULT' "$f" || true
}

start_server "$work/noop.log" "$B/noop_server" --listen=127.0.0.1:0
noop_pid=$server_pid
noop=$server_addr
log "no-op server on $noop"

# row SIZE FIGURE SEQUENCER CEILING RATIO P50 P99 P999 NOTES: one line of the summary, kept as
# tab-separated values with the run's number.
rows=$work/rows.tsv
: >"$rows"
row() { (IFS=$'\t'; echo "$run	$*") >>"$rows"; }

# Run 1 of every size, then run 2, ...
passes=$(for r in $(seq 1 "$RUNS"); do for s in $SIZES; do echo "$r:$s"; done; done)
for pass in $passes; do
  run=${pass%%:*}
  size=${pass#*:}
  log "== run $run of $RUNS: store of $size recipients =="
  data=$work/data-$size-$run
  seq_log=$work/sequencerd-$size-$run.log
  start_server "$seq_log" "$B/sequencerd" --listen=127.0.0.1:0 --data_dir="$data" --auth=dev --clock=manual --log=none
  seq_pid=$server_pid
  seq=$server_addr
  log "sequencerd on $seq (pid $seq_pid)"

  # The single synced batches of 10,000 are timed three times in this size's run (before the
  # enrollment, after the closed loops, after the bulk pause), 3 rounds each; the ceiling is the
  # best, what the disk did at its least loaded moment of the run.
  gc_pre=$(results "$B/group_commit_bench" --threads= --batch=10000 --dir="$work/gc-$size")

  # 1. Enrollment.
  log "enroll $size (calls of 10,000)"
  enroll=$(results client --target="$seq" --mode=setup --recipients="$size")
  client --target="$seq" --mode=setup --sequence=bulk --recipients=10000 >/dev/null
  noop_enroll=$(results client --target="$noop" --mode=setup --recipients=30000)

  # 2. Closed loop on sequencerd, the no-op server, RocksDB.
  state=$work/state-$size-$run
  log "closed loop, $INFLIGHT in flight, ${ACTION_SECONDS}s: sequencerd"
  closed=$(results client --target="$seq" --mode=closed --recipients="$size" \
           --seconds="$ACTION_SECONDS" --state_file="$state" --server_pid="$seq_pid")
  log "closed loop: no-op server"
  noop_closed=$(results client --target="$noop" --mode=closed --recipients="$size" \
                --seconds="$ACTION_SECONDS" --server_pid="$noop_pid")
  log "RocksDB: $INFLIGHT writers of one action's size; one synced batch of 10,000"
  gc=$(results "$B/group_commit_bench" --shape=action --threads="$INFLIGHT" \
       --seconds="$ACTION_SECONDS" --batch=10000 --dir="$work/gc-$size")
  rocks=$(grep "^RESULT writers=$INFLIGHT " <<<"$gc" | tail -1)
  gc_batch=$(grep '^RESULT batch=' <<<"$gc")
  rm -rf "$work/gc-$size"

  # 3. Open loop at 50% of sequencerd's closed-loop rate, on both servers.
  seq_rate=$(val "$closed" rate)
  open_rate=$(calc "$seq_rate / 2")
  log "open loop at $open_rate/s (50% of $seq_rate): sequencerd, then no-op server"
  open=$(results client --target="$seq" --mode=open --recipients="$size" --rate="$open_rate" \
         --seconds="$ACTION_SECONDS" --state_file="$state" --server_pid="$seq_pid")
  noop_open=$(results client --target="$noop" --mode=open --recipients="$size" \
              --rate="$open_rate" --seconds="$ACTION_SECONDS")

  # 4. Bulk pause of 10,000.
  log "bulk pause of 10,000"
  bulk=$(results client --target="$seq" --mode=bulk --sequence=bulk)
  noop_bulk=$(results client --target="$noop" --mode=bulk --sequence=bulk)
  gc_post=$(results "$B/group_commit_bench" --threads= --batch=10000 --dir="$work/gc-$size")
  rm -rf "$work/gc-$size"

  # 5. RSS, stop, verify against the scan ceiling.
  hwm=$(rss_mib "$seq_pid" VmHWM)
  stop_server "$seq_pid"
  log "sequencerctl verify"
  t0=$(date +%s%N)
  verify_out=$("$B/sequencerctl" verify --data_dir="$data" 2>&1) || {
    echo "$verify_out" >&2
    echo "run.sh: verify failed" >&2
    exit 1
  }
  verify_s=$(calc "($(date +%s%N) - $t0) / 1e9")
  events=$(sed -n 's/.*log: \([0-9]*\) events.*/\1/p' <<<"$verify_out" | head -1)
  scan=$(results "$B/store_scale_bench" --scan_dir="$data")

  # 6. Restart to SERVING.
  log "restart to SERVING"
  t0=$(date +%s%N)
  start_server "$seq_log.2" "$B/sequencerd" --listen=127.0.0.1:0 --data_dir="$data" --auth=dev --clock=manual --log=none
  serving=$(results client --target="$server_addr" --mode=wait_serving --t0_ns="$t0")
  restart_rss=$(rss_mib "$server_pid" VmRSS)
  stop_server "$server_pid"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$data"

  # 7. PostgreSQL peer.
  pg16="" pg64=""
  if [ "${PG:-1}" = 1 ]; then
    log "PostgreSQL 15 peer, $size recipients, 16 and 64 clients, ${PG_SECONDS}s each"
    pg=$(results env RECIPIENTS="$size" PG_SECONDS="$PG_SECONDS" CLIENTS="16 64" \
         bash bench/postgres_peer.sh)
    pg16=$(grep '^RESULT pg clients=16 ' <<<"$pg" || true)
    pg64=$(grep '^RESULT pg clients=64 ' <<<"$pg" || true)
  fi

  # ---- this size's rows ----
  batch_enroll_s=$(min "$(val "$gc_pre" enroll_best_s)" "$(val "$gc_batch" enroll_best_s)" \
                       "$(val "$gc_post" enroll_best_s)")
  batch_action_s=$(min "$(val "$gc_pre" action_best_s)" "$(val "$gc_batch" action_best_s)" \
                       "$(val "$gc_post" action_best_s)")
  noop_enroll_s=$(val "$noop_enroll" p50_s)
  enroll_ceiling=$(calc "10000 / ($noop_enroll_s + $batch_enroll_s)")
  first=$(val "$enroll" first_rate)
  last=$(val "$enroll" last_rate)
  row "$size" "enroll, first call (recipients/s)" "$first" "$enroll_ceiling" \
      "$(ratio "$first" "$enroll_ceiling")" "" "" "" ">= 20,000/s, flat"
  row "$size" "enroll, last call (recipients/s)" "$last" "$enroll_ceiling" \
      "$(ratio "$last" "$enroll_ceiling")" "$(val "$enroll" p50_s)s" "$(val "$enroll" p99_s)s" "" \
      "whole: $(val "$enroll" rate)/s"
  noop_rate=$(val "$noop_closed" rate)
  rocks_rate=$(val "$rocks" commits_per_s)
  action_ceiling=$(awk -v a="$noop_rate" -v b="$rocks_rate" 'BEGIN { print (a < b ? a : b) }')
  row "$size" "actions, $INFLIGHT in flight (calls/s)" "$seq_rate" "$action_ceiling" \
      "$(ratio "$seq_rate" "$action_ceiling")" "$(val "$closed" p50_ms)" "$(val "$closed" p99_ms)" \
      "$(val "$closed" p999_ms)" ">= 0.7; refused $(val "$closed" refused), errors $(val "$closed" errors)"
  row "$size" "  ceiling: no-op server, same client" "$noop_rate" "" "" \
      "$(val "$noop_closed" p50_ms)" "$(val "$noop_closed" p99_ms)" "$(val "$noop_closed" p999_ms)" ""
  row "$size" "  ceiling: RocksDB, $INFLIGHT synced writers" "$rocks_rate" "" "" "" "" "" \
      "group size $(val "$rocks" group_size), $(val "$rocks" cpu_us) us of CPU per commit"
  # What a call may cost the server at the target rate: the machine's cores divided by the rate,
  # less what the client spends per call (its cost against the no-op server, the least measured).
  seq_us=$(val "$closed" server_cpu_us)
  noop_us=$(val "$noop_closed" server_cpu_us)
  client_us=$(val "$noop_closed" client_cpu_us)
  budget_07=$(calc "$(nproc) * 1e6 / (0.7 * $action_ceiling) - $client_us")
  row "$size" "server CPU per action (us)" "$seq_us" "$budget_07" "$(ratio "$seq_us" "$budget_07")" \
      "" "" "" "ceiling = budget at 0.7 x ceiling ($(nproc) cores / rate - client ${client_us} us); of it a synced commit takes $(val "$rocks" cpu_us), the no-op server ${noop_us}; client here $(val "$closed" client_cpu_us)"
  if [ -n "$pg64" ]; then
    for pgl in "$pg16" "$pg64"; do
      c=$(val "$pgl" clients)
      t=$(calc "$(val "$pgl" tps)")
      row "$size" "actions vs PostgreSQL, $c clients (tps)" "$seq_rate" "$t" \
          "$(ratio "$seq_rate" "$t")" "$(val "$pgl" p50_ms)" "$(val "$pgl" p99_ms)" \
          "$(val "$pgl" p999_ms)" ">= 3 (latencies: PostgreSQL's)"
    done
    pg_target=$(calc "3 * $(val "$pg64" tps)")
    budget_pg=$(calc "$(nproc) * 1e6 / $pg_target - $client_us")
    row "$size" "  server CPU per action, 3 x PG budget (us)" "$seq_us" "$budget_pg" \
        "$(ratio "$seq_us" "$budget_pg")" "" "" "" \
        "ceiling = budget at $pg_target/s; the no-op server alone takes ${noop_us}"
  fi
  row "$size" "open loop at 50% of max, p99 (ms)" "$(val "$open" p99_ms)" \
      "$(val "$noop_open" p99_ms)" "$(ratio "$(val "$open" p99_ms)" "$(val "$noop_open" p99_ms)")" \
      "$(val "$open" p50_ms)" "$(val "$open" p99_ms)" "$(val "$open" p999_ms)" \
      "<= 5 ms; $open_rate/s; ceiling = no-op p99 (p50 $(val "$noop_open" p50_ms), p99.9 $(val "$noop_open" p999_ms)); server CPU $(val "$open" server_cpu_us) us per call"
  bulk_s=$(val "$bulk" pause_median_s)
  bulk_ceiling=$(calc "$(val "$noop_bulk" pause_median_s) + $batch_action_s")
  row "$size" "bulk pause of 10,000 (s)" "$bulk_s" "$bulk_ceiling" "$(ratio "$bulk_s" "$bulk_ceiling")" \
      "" "" "" "<= 1.3; min $(val "$bulk" pause_min_s) s, affected $(val "$bulk" affected)"
  verify_rate=$(calc "$events / $verify_s")
  scan_rate=$(val "$scan" scan_rate)
  row "$size" "verify (events/s)" "$verify_rate" "$scan_rate" \
      "$(ratio "$verify_rate" "$scan_rate")" "" "" "" ">= 1,000,000/s; $events events in ${verify_s}s"
  row "$size" "restart to SERVING (s)" "$(val "$serving" seconds)" "" "" "" "" "" \
      "<= 10 s; RSS then ${restart_rss} MiB"
  row "$size" "peak RSS after the run (MiB)" "$hwm" "" "" "" "" "" "<= 1024 MiB"
done

stop_server "$noop_pid"

queue_rows=()
if [ "${QUEUE:-1}" = 1 ]; then
  log "queue_scale_bench $QUEUE_ARGS"
  # shellcheck disable=SC2086
  (cd "$work" && "$B/queue_scale_bench" $QUEUE_ARGS >"$work/queue.out" 2>&1) || true
  cat "$work/queue.out" >&2
  queue=$(cat "$work/queue.out")
  while IFS= read -r line; do queue_rows+=("$line"); done < <(grep -E \
    '^(ceiling|scheduler|delivery drain|LeaseSteps)' <<<"$queue" || true)
fi

{
  echo
  echo "== summary: bench/run.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) =="
  echo "ratio = sequencer / ceiling-or-peer of the same run (times: sequencer / ceiling, lower is better)"
  if [ "$RUNS" -gt 1 ]; then
    echo "$RUNS runs: each column is the median over the runs, ratio is min / median / max;" \
         "notes are the last run's"
  fi
  printf '%-9s|%-44s|%12s|%12s|%20s|%9s|%9s|%9s|%s\n' "store" "figure" "sequencer" \
    "ceiling" "ratio" "p50 ms" "p99 ms" "p99.9 ms" "target / notes"
  # One line per (size, figure), in the order first seen.
  awk -F'\t' -v runs="$RUNS" '
    function sorted(list, out,    n, i, j, t) {
      n = split(list, out, " ")
      for (i = 2; i <= n; i++) {
        t = out[i]
        for (j = i - 1; j >= 1 && out[j] + 0 > t + 0; j--) out[j + 1] = out[j]
        out[j + 1] = t
      }
      return n
    }
    function median(list,    a, n) {
      n = sorted(list, a)
      return n == 0 ? "" : a[int((n + 1) / 2)]
    }
    function spread(list,    a, n) {
      n = sorted(list, a)
      if (n == 0) return ""
      if (runs == 1) return a[1]
      return a[1] " / " a[int((n + 1) / 2)] " / " a[n]
    }
    {
      key = $2 SUBSEP $3
      if (!(key in seen)) { seen[key] = 1; order[++keys] = key; size[key] = $2; fig[key] = $3 }
      for (c = 4; c <= 9; c++) if ($c != "" && $c != "n/a") vals[key, c] = vals[key, c] " " $c
      notes[key] = $10
    }
    END {
      for (k = 1; k <= keys; k++) {
        key = order[k]
        printf "%-9s|%-44s|%12s|%12s|%20s|%9s|%9s|%9s|%s\n", size[key], fig[key],
               median(vals[key, 4]), median(vals[key, 5]), spread(vals[key, 6]),
               median(vals[key, 7]), median(vals[key, 8]), median(vals[key, 9]), notes[key]
      }
    }' "$rows"
  if [ "${#queue_rows[@]}" -gt 0 ]; then
    echo
    echo "queue_scale_bench $QUEUE_ARGS (in-process server; ratios to RocksDB writers of the same run):"
    for r in "${queue_rows[@]}"; do echo "  $r"; done
  fi
} | tee "$OUT"
