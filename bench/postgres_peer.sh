#!/usr/bin/env bash
# The PostgreSQL peer of bench/run.sh: what Debian's PostgreSQL 15 does with the same work per
# transaction as one sequencer pause/resume, on this machine, now.
#
# Creates a temporary cluster (initdb into a temp dir owned by the postgres user, which the server
# runs as when this runs as root), listening only on 127.0.0.1 on a free port this script finds,
# synchronous_commit=on and fsync=on (the defaults, set explicitly). Schema: an event table whose
# primary key (stream_id, version) is the per-stream version constraint, and a projection table
# with one status row per recipient, both filled with RECIPIENTS enrolled recipients (one
# 'Enrolled' event each). Each pgbench transaction is one statement (one round trip, its own
# synchronously committed transaction): lock the recipient's projection row, insert its next event
# with version = current + 1 (a conflict on the key would abort it), and update the projection
# row's status and version. Pause and resume alternate per recipient, as in bench/load_client.
# Each client works on its own recipients (client_id + k * clients), so no two transactions touch
# one recipient at once (the load client does the same).
#
# For each number of clients (CLIENTS, default "16 64"): pgbench -n -M prepared -c N -j 2 -T
# PG_SECONDS --log; prints tps and p50/p99/p99.9 of the per-transaction latency from the log, and one
# machine line "RESULT pg clients=N tps=... avg_ms=... p50_ms=... p99_ms=... p999_ms=...".
#
#   RECIPIENTS=100000 PG_SECONDS=10 CLIENTS="16 64" bash bench/postgres_peer.sh  (the defaults)
#   (SECONDS is bash's own variable, hence PG_SECONDS)
#
# Needs postgresql-15 (bash deploy/install-deps.sh --bench). The cluster is removed at the end.
set -euo pipefail

RECIPIENTS=${RECIPIENTS:-100000}
SECONDS_EACH=${PG_SECONDS:-10}
CLIENTS=${CLIENTS:-"16 64"}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

if [ ! -x "$PGBIN/pgbench" ]; then
  echo "postgres_peer: $PGBIN/pgbench not found; run: bash deploy/install-deps.sh --bench" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/sequencer_pgpeer.XXXXXX)
chmod 755 "$dir"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$dir"
  as_pg=(runuser -u postgres --)
fi

# A free port: one nothing answers on.
port=""
for _ in $(seq 1 100); do
  candidate=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
    port=$candidate
    break
  fi
done
[ -n "$port" ] || { echo "postgres_peer: no free port found" >&2; exit 1; }

stop() {
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as_pg[@]}" "$PGBIN/initdb" -D "$dir/data" -A trust -U bench --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
  "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir \
   -c synchronous_commit=on -c fsync=on -c max_connections=200 -c shared_buffers=256MB" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

psql_cmd=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U bench -d postgres)
"${psql_cmd[@]}" <<SQL
CREATE TABLE events (
  stream_id text NOT NULL,
  version bigint NOT NULL,
  type text NOT NULL,
  payload bytea NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream_id, version));
CREATE TABLE recipients (
  stream_id text PRIMARY KEY,
  version bigint NOT NULL,
  status text NOT NULL,
  updated_at timestamptz NOT NULL);
INSERT INTO recipients
  SELECT 'r' || i, 1, 'IN_PROGRESS', now() FROM generate_series(0, $RECIPIENTS - 1) AS i;
INSERT INTO events (stream_id, version, type, payload)
  SELECT 'r' || i, 1, 'Enrolled', convert_to(repeat('e', 160), 'UTF8')
  FROM generate_series(0, $RECIPIENTS - 1) AS i;
VACUUM ANALYZE;
CHECKPOINT;
SQL

cat >"$dir/action.sql" <<'SQL'
\set k random(0, (:recipients - 1 - :client_id) / :clients)
\set r :client_id + :k * :clients
WITH cur AS (
  SELECT stream_id, version, status FROM recipients WHERE stream_id = 'r' || :r FOR UPDATE),
ev AS (
  INSERT INTO events (stream_id, version, type, payload)
  SELECT stream_id, version + 1,
         CASE status WHEN 'PAUSED' THEN 'Resumed' ELSE 'Paused' END,
         convert_to(repeat('p', 160), 'UTF8')
  FROM cur RETURNING stream_id, version)
UPDATE recipients AS p
SET version = ev.version,
    status = CASE p.status WHEN 'PAUSED' THEN 'IN_PROGRESS' ELSE 'PAUSED' END,
    updated_at = now()
FROM ev WHERE p.stream_id = ev.stream_id;
SQL

count_events() { "${psql_cmd[@]}" -t -A -c "SELECT count(*) FROM events"; }

for clients in $CLIENTS; do
  before=$(count_events)
  logdir="$dir/log-$clients"
  mkdir -p "$logdir"
  out=$(cd "$logdir" && "$PGBIN/pgbench" -n -M prepared -h 127.0.0.1 -p "$port" -U bench \
          -c "$clients" -j 2 -T "$SECONDS_EACH" -D recipients="$RECIPIENTS" \
          -D clients="$clients" --log -f "$dir/action.sql" postgres 2>&1) \
    || { echo "$out" >&2; exit 1; }
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
  avg=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' | head -1)
  failed=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' | head -1)
  # Log lines: client_id transaction_no time(us) script_no epoch_s epoch_us.
  read -r n p50 p99 p999 < <(cat "$logdir"/pgbench_log.* | awk '{print $3}' | sort -n | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print 0, 0, 0, 0; exit }
      i50 = int(0.5 * NR) + 1; i99 = int(0.99 * NR) + 1; i999 = int(0.999 * NR) + 1;
      if (i99 > NR) i99 = NR; if (i999 > NR) i999 = NR;
      printf "%d %.3f %.3f %.3f\n", NR, v[i50] / 1000, v[i99] / 1000, v[i999] / 1000
    }')
  # Every transaction must have written its event (a check that the statement did its work).
  written=$(( $(count_events) - before ))
  echo "postgres peer: $clients clients, $RECIPIENTS recipients: $tps tps ($n transactions," \
       "${failed:-0} failed, $written events written); latency avg $avg ms, p50 $p50 ms," \
       "p99 $p99 ms, p99.9 $p999 ms"
  if [ "$written" -ne "$n" ]; then
    echo "postgres_peer: $n transactions logged but $written events written" >&2
    exit 1
  fi
  echo "RESULT pg clients=$clients tps=$tps avg_ms=$avg p50_ms=$p50 p99_ms=$p99" \
       "p999_ms=$p999 transactions=$n failed=${failed:-0} events_written=$written"
done
