#!/usr/bin/env bash
# Live clone benchmark: moving a database between two servers, the same data, the same run.
#
#   bench/live_clone_bench.sh [--runs N] [--scale S] [--events N] [--quick] [--no-pgcopydb]
#                             [--bigtable [--rows N]]
#
# Starts two servers with PostgreSQL's defaults (pgrecover instance start --durable), a source and
# a target, builds the restore bench's dataset in the source (pgbench scale 20 with foreign keys,
# extra indexes, and an `events` table of 1,000,000 jsonb rows with a GIN index), then alternates,
# N times (default 3):
#   (a) pgrecover apply of a Restore from: {live: ...} with jobs: 2 (one snapshot, COPY to COPY,
#       indexes and constraints in parallel, ANALYZE, sequence checks, verification)
#   (b) pg_dump -h source | psql -h target, then vacuumdb -Z -j2 (the same end state)
#   (c) pgcopydb clone --table-jobs 2 --index-jobs 2 (Debian's pgcopydb; not with --no-pgcopydb)
# and prints every wall time of every run, the medians, the ratios a/b and a/c, and pgrecover's
# peak memory. Every target database must match the source (tables, indexes, constraints, exact
# row counts); (a) and (b) of run 1 must be equal (pg_dump -s and per-table row checksums)
# before any time is printed. Both servers share this machine's cores.
#
# Results: bench/results/live-clone-<UTC time>.txt, with the date, the machine, the load average
# at the start and the end, and the PostgreSQL version. Commit the files docs/performance.md quotes.
#
# --bigtable: bench/bigtable_bench.sh's dataset instead (readings, --rows rows, default 8,000,000,
# with a primary key and an index on (sensor, at): one table holding most of the data; plus
# pgbench scale 5 with foreign keys). pgrecover loads each table in one session (a live source
# splits only when the document sets split_tables_larger_than); pgcopydb gets
# --split-tables-larger-than 256MB.
#
# Each run's line also says how busy the machine's CPU was during each variant (/proc/stat: all
# cores, both servers and the tools; 100% means no core was ever idle).
#
# BENCH_KEEP_EVENTS=DIR keeps each (a) run's --json events as DIR/live-clone-a-N.jsonl.
#
# Nothing here runs in the test suite. Run it under `flock /work/bench.lock` on a shared machine.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
export LC_NUMERIC=C

usage() { sed -n '4,5p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2; }
ARGS=("$@")
RUNS=3 SCALE=20 EVENTS=1000000 WITH_PGCOPYDB=1 BIGTABLE=0 ROWS=8000000
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    --no-pgcopydb) WITH_PGCOPYDB=0; shift ;;
    --quick) RUNS=1; SCALE=2; EVENTS=50000; ROWS=200000; shift ;;
    --bigtable) BIGTABLE=1; shift ;;
    --rows) ROWS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs takes a positive number" >&2; exit 2; }

extra=(time bc jq)
if [ "$WITH_PGCOPYDB" = 1 ]; then extra+=(pgcopydb); fi
ensure_packages "${extra[@]}"
build_pgrecover
PGR="$BUILD_DIR/pgrecover"
BUILD_TYPE_LABEL=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
BIN=$(pg_config --bindir)
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"
WORK=$(mktemp -d /var/tmp/pgrecover-live-bench-XXXXXX)
chmod 0711 "$WORK"

OUT="" SRC_INSTANCE="" DST_INSTANCE="" FAILED=0 LAST_ERR=""
log() { if [ -n "$OUT" ]; then printf '%s\n' "$*" | tee -a "$OUT"; else printf '%s\n' "$*"; fi; }
die() {
  FAILED=1
  log "BENCH FAILED: $*"
  exit 1
}
trap 'LAST_ERR="line $LINENO: $BASH_COMMAND (exit status $?)"' ERR
finish() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$FAILED" = 0 ]; then
    log "BENCH FAILED: a command failed unexpectedly: ${LAST_ERR:-exit status $rc}"
  fi
  if [ "$rc" -ne 0 ] && [ -n "$OUT" ]; then echo "the failure is recorded in $OUT" >&2; fi
  for i in "$SRC_INSTANCE" "$DST_INSTANCE"; do
    if [ -n "$i" ]; then "$PGR" instance stop "$i" >/dev/null 2>&1 || true; fi
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap finish EXIT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

SIG_SQL="
select format('table %s.%s rows %s', schemaname, relname,
              (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I', schemaname, relname),
                                                   false, true, '')))[1]::text)
  from pg_stat_user_tables
union all
select 'indexes ' || count(*) from pg_indexes where schemaname not in ('pg_catalog', 'information_schema')
union all
select 'constraints ' || count(*) from pg_constraint c join pg_namespace n on n.oid = c.connamespace
 where n.nspname not in ('pg_catalog', 'information_schema')
order by 1"
STATS_SQL="select count(*) from pg_stats where schemaname not in ('pg_catalog', 'information_schema')"
on_src() { PGHOST=$SRC_HOST PGPORT=$SRC_PORT "$@"; }
on_dst() { PGHOST=$DST_HOST PGPORT=$DST_PORT "$@"; }
signature() { "$1" q -d "$2" -c "$SIG_SQL" | LC_ALL=C sort; }

check_db() {  # database on the target, label, [expected pg_stats rows]
  signature on_dst "$1" > "$WORK/sig-$1"
  cmp -s "$WORK/expect" "$WORK/sig-$1" || die "$2: database $1 does not match the source (tables, indexes, constraints, exact row counts):
$(diff "$WORK/expect" "$WORK/sig-$1" | head -n 20 | indent)"
  if [ -n "${3:-}" ]; then
    local stats; stats=$(on_dst q -d "$1" -c "$STATS_SQL")
    [ "$stats" = "$3" ] || die "$2: database $1 has $stats pg_stats rows, the source $3 (statistics missing)"
  fi
}
dump_schema() { on_dst "$BIN/pg_dump" -s "$1" | grep -v '^\\\(un\)\?restrict'; }
checksums() {
  on_dst q -d "$1" -c "select format('%I.%I', schemaname, relname) from pg_stat_user_tables order by 1" |
    while read -r tbl; do on_dst q -d "$1" -c "select '$tbl', count(*), sum(hashtext(x::text)::bigint) from $tbl x"; done
}
check_equal() {
  dump_schema "$1" > "$WORK/schema-a"; dump_schema "$2" > "$WORK/schema-b"
  cmp -s "$WORK/schema-a" "$WORK/schema-b" || die "(a) and (b) differ: pg_dump -s of $1 and $2:
$(diff "$WORK/schema-a" "$WORK/schema-b" | head -n 20 | indent)"
  checksums "$1" > "$WORK/sums-a"; checksums "$2" > "$WORK/sums-b"
  cmp -s "$WORK/sums-a" "$WORK/sums-b" || die "(a) and (b) differ: per-table row checksums of $1 and $2:
$(diff "$WORK/sums-a" "$WORK/sums-b" | head -n 20 | indent)"
}

start_server() {  # name -> prints folder and port
  mkdir -p "$WORK/$1" && chmod 0711 "$WORK/$1"
  "$PGR" --json instance start --durable --base-dir "$WORK/$1" > "$WORK/$1/instance.json"
  jq -r '.folder + " " + (.port | tostring)' "$WORK/$1/instance.json"
}
read -r SRC_HOST SRC_PORT < <(start_server src)
SRC_INSTANCE=$SRC_HOST
read -r DST_HOST DST_PORT < <(start_server dst)
DST_INSTANCE=$DST_HOST
export PGUSER=postgres PGDATABASE=postgres
SRC="host=$SRC_HOST port=$SRC_PORT user=postgres"
DST="host=$DST_HOST port=$DST_PORT user=postgres"
printf 'state_dir = "%s"\n' "$WORK/state" > "$WORK/pgrecover.toml"

OUT="$RESULTS/live-clone-$(date -u +%Y%m%dT%H%M%SZ)$([ "$BIGTABLE" = 1 ] && echo -bigtable || true).txt"
: > "$OUT"
dirty=""
[ -z "$(git -C "$ROOT" status --porcelain -- . ':!bench/results' 2>/dev/null)" ] || dirty=" (with uncommitted changes)"
log "pgrecover live clone benchmark"
log "date:          $(date -u +%FT%TZ)"
log "command:       bench/live_clone_bench.sh ${ARGS[*]}"
log "pgrecover:     commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty, $BUILD_TYPE_LABEL build"
log "machine:       $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory, kernel $(uname -r)"
log "load average:  $(cut -d' ' -f1-3 /proc/loadavg) at the start (variants are alternated)"
log "PostgreSQL:    $(on_src q -c 'select version()')"
log "servers:       source and target on this machine, each: pgrecover instance start --durable (defaults)"
log "pgcopydb:      $( [ "$WITH_PGCOPYDB" = 1 ] && pgcopydb --version 2>&1 | sed -n 1p || echo "not run")"
if [ "$BIGTABLE" = 1 ]; then
  log "dataset:       readings ($ROWS rows) + pgbench scale 5 with foreign keys (bench/bigtable_bench.sh's); runs: $RUNS, alternated"
else
  log "dataset:       pgbench scale $SCALE with foreign keys + events ($EVENTS rows); runs: $RUNS, alternated"
fi

on_src createdb bench_src
if [ "$BIGTABLE" = 1 ]; then
  on_src "$BIN/pgbench" -q -i -s 5 --foreign-keys bench_src > "$WORK/pgbench.log" 2>&1 || die "pgbench -i failed"
  readings_sql "$ROWS" | on_src psql -X -q -v ON_ERROR_STOP=1 -d bench_src
else
on_src "$BIN/pgbench" -q -i -s "$SCALE" --foreign-keys bench_src > "$WORK/pgbench.log" 2>&1 || die "pgbench -i failed"
on_src "$BIN/pgbench" -n -t 2000 -c 2 bench_src > "$WORK/pgbench.log" 2>&1 || die "pgbench failed"
on_src psql -X -q -v ON_ERROR_STOP=1 -d bench_src <<SQL
CREATE INDEX ON pgbench_accounts (bid);
CREATE INDEX ON pgbench_accounts (abalance);
CREATE INDEX ON pgbench_history (aid);
CREATE TABLE events (id bigserial PRIMARY KEY, account int REFERENCES pgbench_accounts(aid), payload jsonb, created timestamptz);
INSERT INTO events (account, payload, created)
  SELECT 1 + (g % ($SCALE * 100000)),
         jsonb_build_object('kind', (ARRAY['click','view','buy'])[1 + g % 3], 'n', g,
                            'tags', jsonb_build_array('t' || (g % 100), 'u' || (g % 37))),
         now() - g * interval '1 second'
  FROM generate_series(1, $EVENTS) g;
CREATE INDEX ON events (account);
CREATE INDEX ON events USING gin (payload);
VACUUM ANALYZE;
SQL
fi
signature on_src bench_src > "$WORK/expect"
EXPECT_STATS=$(on_src q -d bench_src -c "$STATS_SQL")
log "source database: $(on_src q -c "select pg_size_pretty(pg_database_size('bench_src'))"), $(grep -c '^table ' "$WORK/expect") tables, $EXPECT_STATS pg_stats rows"
log ""

A=() B=() C=() PEAK=0 TIMES=()
PGCOPYDB_SPLIT=()
if [ "$BIGTABLE" = 1 ]; then PGCOPYDB_SPLIT=(--split-tables-larger-than 256MB); fi
for i in $(seq 1 "$RUNS"); do
  on_src q -c CHECKPOINT; on_dst q -c CHECKPOINT
  printf '%s\n' "apiVersion: pgrecover/v1" "kind: Restore" "metadata: {name: live-$i}" "spec:" \
    "  from: {live: {conninfo: \"$SRC dbname=postgres\", database: bench_src}}" \
    "  to: {conninfo: \"$DST dbname=postgres\", database: clone_a_$i, create: true}" "  jobs: 2" > "$WORK/a-$i.yaml"
  t=$(now); rc=0; cpu0=$(cpu_ticks)
  /usr/bin/time -f '%M' -o "$WORK/rss" "$PGR" --config "$WORK/pgrecover.toml" --json --log-level warn \
    apply --auto-approve "$WORK/a-$i.yaml" > "$WORK/a-$i.out" 2> "$WORK/a-$i.err" || rc=$?
  el=$(elapsed "$t")
  BUSY_A=$(cpu_busy_since "$cpu0")
  expect_ok "$rc" "(a) pgrecover live clone, run $i" "$WORK/a-$i.err"
  check_db "clone_a_$i" "(a) pgrecover live clone, run $i" "$EXPECT_STATS"
  A+=("$el")
  rss=$(tail -n 1 "$WORK/rss"); if [ "$rss" -gt "$PEAK" ]; then PEAK=$rss; fi
  # Where (a)'s time goes: when the last step of each kind ended, and the slowest steps.
  phases=$(jq -r 'select(.event == "step-done") | "\(.kind) \(.elapsed_s)"' "$WORK/a-$i.out" |
    awk '{ if (!($1 in end)) order[n++] = $1; end[$1] = $2 } END { for (i = 0; i < n; i++) printf "%s%s %.1f", (i ? ", " : ""), order[i], end[order[i]] }')
  slowest=$(jq -r 'select(.event == "summary") | .slowest[:6][] | "\(.ms / 1000)s \(.kind) \(.object)"' "$WORK/a-$i.out" |
    paste -sd ';' - | sed 's/;/; /g')
  TIMES+=("run $i (a): last step of each kind ended at (s): $phases" "run $i (a): slowest steps: $slowest")
  if [ -n "${BENCH_KEEP_EVENTS:-}" ]; then cp "$WORK/a-$i.out" "$BENCH_KEEP_EVENTS/live-clone-a-$i.jsonl"; fi

  on_src q -c CHECKPOINT; on_dst q -c CHECKPOINT
  on_dst createdb "clone_b_$i"
  t=$(now); rc=0; cpu0=$(cpu_ticks)
  { set -o pipefail
    on_src "$BIN/pg_dump" bench_src | on_dst psql -X -q -v ON_ERROR_STOP=1 -d "clone_b_$i" &&
      on_dst "$BIN/vacuumdb" -q -Z -j2 -d "clone_b_$i"; } > "$WORK/b-$i.log" 2>&1 || rc=$?
  el=$(elapsed "$t")
  busy=$(cpu_busy_since "$cpu0")
  expect_ok "$rc" "(b) pg_dump | psql + vacuumdb -Z, run $i" "$WORK/b-$i.log"
  check_db "clone_b_$i" "(b) pg_dump | psql + vacuumdb -Z, run $i" "$EXPECT_STATS"
  B+=("$el")
  line="run $i: (a) pgrecover live clone ${A[-1]} s (CPU ${BUSY_A}% busy)   (b) pg_dump|psql+vacuumdb ${B[-1]} s (CPU ${busy}% busy)"

  if [ "$WITH_PGCOPYDB" = 1 ]; then
    on_src q -c CHECKPOINT; on_dst q -c CHECKPOINT
    on_dst createdb "clone_c_$i"
    t=$(now); rc=0; cpu0=$(cpu_ticks)
    pgcopydb clone --source "$SRC dbname=bench_src" --target "$DST dbname=clone_c_$i" \
      --table-jobs 2 --index-jobs 2 "${PGCOPYDB_SPLIT[@]}" --dir "$WORK/pgcopydb-$i" > "$WORK/c-$i.log" 2>&1 || rc=$?
    el=$(elapsed "$t")
    busy=$(cpu_busy_since "$cpu0")
    expect_ok "$rc" "(c) pgcopydb clone, run $i" "$WORK/c-$i.log"
    check_db "clone_c_$i" "(c) pgcopydb clone, run $i"
    C+=("$el")
    line+="   (c) pgcopydb clone ${C[-1]} s (CPU ${busy}% busy)"
    on_dst dropdb "clone_c_$i"
  fi
  if [ "$i" = 1 ]; then check_equal clone_a_1 clone_b_1; fi
  log "$line"
  on_dst dropdb "clone_a_$i"; on_dst dropdb "clone_b_$i"
done

ma=$(printf '%s\n' "${A[@]}" | median)
mb=$(printf '%s\n' "${B[@]}" | median)
log ""
log "clone wall times, every run (s) and median:"
log "  (a) pgrecover live clone, jobs 2:        ${A[*]}   median $ma"
log "  (b) pg_dump | psql + vacuumdb -Z -j2:    ${B[*]}   median $mb"
mc=""
if [ ${#C[@]} -gt 0 ]; then
  mc=$(printf '%s\n' "${C[@]}" | median)
  log "  (c) pgcopydb clone (2 table + 2 index jobs): ${C[*]}   median $mc"
fi
log "ratio of medians: a/b = $(ratio "$ma" "$mb") (goal <= 0.75)${mc:+   a/c = $(ratio "$ma" "$mc") (goal <= 0.9)}"
log "pgrecover peak RSS (GNU time, max over the runs): $((PEAK / 1024)) MB"
log "where (a)'s time goes (from its --json events):"
for l in "${TIMES[@]}"; do log "  $l"; done
log "every clone matched the source: same tables, indexes, constraints, exact row counts; (a) and (b) have $EXPECT_STATS pg_stats rows like the source"
log "equal: pg_dump -s and per-table row checksums of (a) and (b) of run 1 are identical"
log "load average:  $(cut -d' ' -f1-3 /proc/loadavg) at the end"
