#!/usr/bin/env bash
# Big-table benchmark: one table holding most of the data, restored by pgrecover with the table
# split across sessions, against pg_restore (one session per table), same server, same run.
#
#   bench/bigtable_bench.sh [--runs N] [--rows N] [--server default|tuned|both] [--no-pgcopydb]
#                           [--quick]
#
# For each kind of target server (--server, default both; the same two kinds as
# bench/restore_bench.sh: `default` is `pgrecover instance start --durable`, `tuned` adds
# --set shared_buffers=1GB --set max_wal_size=8GB --set checkpoint_timeout=30min
# --set max_parallel_maintenance_workers=2) it starts a fresh server and builds the dataset:
#   readings   --rows rows (default 8,000,000: over 1 GB with its primary key and index), which
#              must hold at least 70% of the database (checked, not with --quick)
#   pgbench    scale 5 with foreign keys (a few small tables)
# dumps it with `pg_dump -Fd -j2`, then alternates, N times (default 3):
#   (a)  pgrecover apply, jobs 2, split_tables_larger_than 256MB (readings is split)
#   (a0) pgrecover apply, jobs 2, split_tables_larger_than 0 (one session, COPY FREEZE): the
#        trade-off the split makes
#   (b)  pg_restore -j2, then vacuumdb -Z -j2 (the same end state: data, indexes, statistics)
#   (c)  pgcopydb clone --split-tables-larger-than 256MB --table-jobs 2 --index-jobs 2 from the
#        live source database (a different comparison: no archive is read; without --no-pgcopydb,
#        installs the Debian package pgcopydb when missing)
# and prints every wall time of every run, the medians and the ratios a/b, a0/b, a/a0, a/c.
#
# Nothing is reported that was not checked: every timed command must exit 0; every restored
# database must have the source's tables, indexes, constraints and exact row counts (and its
# pg_stats rows, for the variants that analyze); the databases of (a), (a0) and (b) of the first
# run must give the same `pg_dump -s` and per-table row checksums. Any failure prints
# "BENCH FAILED: <why>", is written to the results file, and the script exits 1.
#
# --quick: 200,000 rows and split_tables_larger_than 1MB (so the split still happens), 1 run,
# no size checks: to see that the script works, not to measure.
#
# Results: bench/results/bigtable-<UTC time>-<server>.txt, starting with the date, the machine
# (cores, memory), the PostgreSQL version and the server's settings (pg_settings).
#
# Nothing here runs in the test suite.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
export LC_NUMERIC=C

usage() { sed -n '4,5p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2; }
ARGS=("$@")
RUNS=3 ROWS=8000000 SERVERS=both QUICK=0 PGCOPYDB=1 SPLIT=256MB
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --rows) ROWS=$2; shift 2 ;;
    --server) SERVERS=$2; shift 2 ;;
    --no-pgcopydb) PGCOPYDB=0; shift ;;
    --quick) QUICK=1; RUNS=1; ROWS=200000; SPLIT=1MB; shift ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
done
case "$SERVERS" in
  default|tuned) KINDS=("$SERVERS") ;;
  both) KINDS=(default tuned) ;;
  *) echo "--server takes default, tuned or both, got \"$SERVERS\"" >&2; exit 2 ;;
esac
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs takes a positive number" >&2; exit 2; }
[[ "$ROWS" =~ ^[1-9][0-9]*$ ]] || { echo "--rows takes a positive number" >&2; exit 2; }

extra=(time bc jq)
if [ "$PGCOPYDB" = 1 ]; then extra+=(pgcopydb); fi
ensure_packages "${extra[@]}"
build_pgrecover
PGR="$BUILD_DIR/pgrecover"
BIN=$(pg_config --bindir)
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"
WORK=$(mktemp -d /var/tmp/pgrecover-bigtable-XXXXXX)
chmod 0711 "$WORK"

# --- reporting and failure (as in restore_bench.sh) --------------------------------------------
OUT="" INSTANCE="" FAILED=0 LAST_ERR="" FILES=()
log() { if [ -n "$OUT" ]; then printf '%s\n' "$*" | tee -a "$OUT"; else printf '%s\n' "$*"; fi; }
die() { FAILED=1; log "BENCH FAILED: $*"; exit 1; }
trap 'LAST_ERR="line $LINENO: $BASH_COMMAND (exit status $?)"' ERR
finish() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$FAILED" = 0 ]; then
    log "BENCH FAILED: a command failed unexpectedly: ${LAST_ERR:-exit status $rc}"
  fi
  if [ "$rc" -ne 0 ] && [ -n "$OUT" ]; then echo "the failure is recorded in $OUT" >&2; fi
  if [ -n "$INSTANCE" ]; then "$PGR" instance stop "$INSTANCE" >/dev/null 2>&1 || true; fi
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
signature() { q -d "$1" -c "$SIG_SQL" | LC_ALL=C sort; }
check_db() {  # database, label, expected signature file, [expected pg_stats rows]
  signature "$1" > "$WORK/sig-$1"
  cmp -s "$3" "$WORK/sig-$1" || die "$2: database $1 does not match the source (tables, indexes, constraints, exact row counts):
$(diff "$3" "$WORK/sig-$1" | head -n 20 | indent)"
  if [ -n "${4:-}" ]; then
    local stats; stats=$(q -d "$1" -c "$STATS_SQL")
    [ "$stats" = "$4" ] || die "$2: database $1 has $stats pg_stats rows, the source $4 (statistics missing)"
  fi
}
dump_schema() { "$BIN/pg_dump" -s "$1" | grep -v '^\\\(un\)\?restrict'; }
checksums() {
  q -d "$1" -c "select format('%I.%I', schemaname, relname) from pg_stat_user_tables order by 1" |
    while read -r tbl; do q -d "$1" -c "select '$tbl', count(*), sum(hashtext(x::text)::bigint) from $tbl x"; done
}
check_equal() {  # label, database, reference database
  dump_schema "$2" > "$SWORK/schema-x"; dump_schema "$3" > "$SWORK/schema-ref"
  cmp -s "$SWORK/schema-x" "$SWORK/schema-ref" || die "$1: pg_dump -s of $2 and $3 differ:
$(diff "$SWORK/schema-x" "$SWORK/schema-ref" | head -n 20 | indent)"
  checksums "$2" > "$SWORK/sums-x"; checksums "$3" > "$SWORK/sums-ref"
  cmp -s "$SWORK/sums-x" "$SWORK/sums-ref" || die "$1: per-table row checksums of $2 and $3 differ:
$(diff "$SWORK/sums-x" "$SWORK/sums-ref" | head -n 20 | indent)"
}

restore_doc() {  # name, database, split threshold
  printf '%s\n' "apiVersion: pgrecover/v1" "kind: Restore" "metadata: {name: $1}" "spec:" \
    "  from: {archive: \"$DUMP\"}" "  to: {conninfo: \"$CONNINFO\", database: $2, create: true}" "  jobs: 2" \
    "  split_tables_larger_than: $3" > "$SWORK/$1.yaml"
  echo "$SWORK/$1.yaml"
}
run_apply() {  # label, database, split threshold; sets LAST (wall time) and LAST_CPU (core-seconds)
  local doc t rc=0 el status cpu0
  doc=$(restore_doc "$(echo "$2" | tr _ -)" "$2" "$3")
  q -c CHECKPOINT
  t=$(now); cpu0=$(cpu_ticks)
  "$PGR" --config "$SWORK/pgrecover.toml" --json --log-level info apply --auto-approve "$doc" \
    > "$SWORK/$2.out" 2> "$SWORK/$2.err" || rc=$?
  el=$(elapsed "$t"); LAST_CPU=$(cpu_seconds_since "$cpu0")
  expect_ok "$rc" "$1" "$SWORK/$2.err"
  status=$(tail -n 1 "$SWORK/$2.out" | jq -r 'select(.event == "summary") | .status' 2>/dev/null || true)
  [ "$status" = ok ] || die "$1: the apply's summary does not say ok (${status:-no summary})"
  check_db "$2" "$1" "$EXPECT" "$EXPECT_STATS"
  LAST=$el
}

header() {  # kind, --set flags
  local dirty=""
  [ -z "$(git -C "$ROOT" status --porcelain -- . ':!bench/results' 2>/dev/null)" ] || dirty=" (with uncommitted changes)"
  log "pgrecover big-table benchmark"
  log "date:          $(date -u +%FT%TZ)"
  log "command:       bench/bigtable_bench.sh ${ARGS[*]}"
  log "pgrecover:     commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty, $BUILD_TYPE_LABEL build"
  log "machine:       $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory (MemTotal), kernel $(uname -r)"
  log "load average:  $(cut -d' ' -f1-3 /proc/loadavg) at the start (variants are alternated)"
  log "PostgreSQL:    $(q -c 'select version()')"
  log "client tools:  $("$BIN/pg_dump" --version), $("$BIN/pg_restore" --version)$([ "$PGCOPYDB" = 1 ] && echo ", $(pgcopydb --version 2>&1 | sed -n 1p)")"
  log "server:        $1: pgrecover instance start --durable${2:+ $2}"
  log "scheduling:    $(bench_priority "$INSTANCE")"
  log "server settings (from pg_settings: name, value, source):"
  q -c "select format('  %-34s %-18s %s', name, current_setting(name), source) from pg_settings
         where name in ('shared_buffers', 'maintenance_work_mem', 'work_mem', 'max_wal_size', 'checkpoint_timeout',
                        'wal_level', 'fsync', 'synchronous_commit', 'full_page_writes',
                        'max_parallel_maintenance_workers', 'max_parallel_workers', 'max_worker_processes',
                        'autovacuum', 'max_connections')
         order by name" | tee -a "$OUT"
  log "dataset:       readings ($ROWS rows) + pgbench scale 5 with foreign keys; split_tables_larger_than $SPLIT; runs: $RUNS, alternated"
  log ""
}

bench_server() {  # kind
  local kind=$1 flags=""
  if [ "$kind" = tuned ]; then
    flags="--set shared_buffers=1GB --set max_wal_size=8GB --set checkpoint_timeout=30min --set max_parallel_maintenance_workers=2"
  fi
  SWORK="$WORK/$kind"
  mkdir -p "$SWORK" && chmod 0711 "$SWORK"
  OUT="$RESULTS/bigtable-$(date -u +%Y%m%dT%H%M%SZ)-$kind.txt"
  : > "$OUT"
  FILES+=("$OUT")
  # shellcheck disable=SC2086  # $flags is a list of options
  "$PGR" --json instance start --durable --base-dir "$SWORK" $flags > "$SWORK/instance.json"
  INSTANCE=$(jq -r .folder "$SWORK/instance.json")
  PORT=$(jq -r .port "$SWORK/instance.json")
  export PGHOST="$INSTANCE" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres
  CONNINFO="host=$INSTANCE port=$PORT user=postgres dbname=postgres"
  printf 'state_dir = "%s"\n' "$SWORK/state" > "$SWORK/pgrecover.toml"
  header "$kind" "$flags"

  # --- dataset ---------------------------------------------------------------------------------
  createdb bench_src
  "$BIN/pgbench" -q -i -s 5 --foreign-keys bench_src > "$SWORK/pgbench.log" 2>&1 ||
    die "pgbench -i failed: $(tail -n 3 "$SWORK/pgbench.log")"
  readings_sql "$ROWS" | psql -X -q -v ON_ERROR_STOP=1 -d bench_src
  EXPECT="$SWORK/expect-src"
  signature bench_src > "$EXPECT"
  EXPECT_STATS=$(q -d bench_src -c "$STATS_SQL")
  local big total share
  big=$(q -d bench_src -c "select pg_total_relation_size('readings')")
  total=$(q -d bench_src -c "select sum(pg_total_relation_size(c.oid)) from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r'")
  share=$(echo "scale=3; $big / $total" | bc)
  log "source database: $(q -c "select pg_size_pretty(pg_database_size('bench_src'))"); readings with its indexes: $(q -c "select pg_size_pretty($big::bigint)"), ${share} of the user tables' size"
  grep '^table ' "$EXPECT" | sed 's/^table /  /' | tee -a "$OUT"
  if [ "$QUICK" = 0 ]; then
    [ "$big" -ge $((1024 * 1024 * 1024)) ] || die "readings is smaller than 1 GB: raise --rows"
    [ "$(echo "$share >= 0.70" | bc)" = 1 ] || die "readings holds less than 70% of the data"
  fi
  DUMP="$SWORK/bench.dir"
  local t rc el
  t=$(now); rc=0
  "$BIN/pg_dump" -Fd -j2 -f "$DUMP" bench_src > "$SWORK/dump.log" 2>&1 || rc=$?
  el=$(elapsed "$t")
  expect_ok "$rc" "pg_dump -Fd -j2 of the dataset" "$SWORK/dump.log"
  log "pg_dump -Fd -j2: $el s, archive $(du -sh "$DUMP" | cut -f1)"
  local plan="$SWORK/plan.txt"
  "$PGR" --config "$SWORK/pgrecover.toml" plan "$(restore_doc bench-plan bench_plan "$SPLIT")" > "$plan" 2>&1 ||
    die "plan failed: $(tail -n 5 "$plan")"
  grep -q 'split across' "$plan" || die "the plan does not split readings (split_tables_larger_than $SPLIT)"
  log "plan: $(grep -o 'split across[^)]*)' "$plan" | head -n 1)"
  log ""

  # --- restores, alternated --------------------------------------------------------------------
  local A=() A0=() B=() C=() CA=() CA0=() CB=() i line cpu0
  for i in $(seq 1 "$RUNS"); do
    run_apply "(a) pgrecover apply, split, run $i" "bench_a_$i" "$SPLIT"; A+=("$LAST"); CA+=("$LAST_CPU")
    run_apply "(a0) pgrecover apply, no split, run $i" "bench_a0_$i" 0; A0+=("$LAST"); CA0+=("$LAST_CPU")

    q -c CHECKPOINT
    createdb "bench_b_$i"
    t=$(now); rc=0; cpu0=$(cpu_ticks)
    { "$BIN/pg_restore" -j2 -d "bench_b_$i" "$DUMP" && "$BIN/vacuumdb" -q -Z -j2 -d "bench_b_$i"; } > "$SWORK/b-$i.log" 2>&1 || rc=$?
    el=$(elapsed "$t"); CB+=("$(cpu_seconds_since "$cpu0")")
    expect_ok "$rc" "(b) pg_restore -j2 + vacuumdb -Z -j2, run $i" "$SWORK/b-$i.log"
    check_db "bench_b_$i" "(b) pg_restore -j2 + vacuumdb -Z -j2, run $i" "$EXPECT" "$EXPECT_STATS"
    B+=("$el")
    line="run $i: (a) split ${A[-1]} s (${CA[-1]} core-s)   (a0) no split ${A0[-1]} s (${CA0[-1]} core-s)   (b) pg_restore+vacuumdb ${B[-1]} s (${CB[-1]} core-s)"

    if [ "$PGCOPYDB" = 1 ]; then
      q -c CHECKPOINT
      createdb "bench_c_$i"
      t=$(now); rc=0
      pgcopydb clone --source "$CONNINFO dbname=bench_src" --target "$CONNINFO dbname=bench_c_$i" \
        --table-jobs 2 --index-jobs 2 --split-tables-larger-than "$SPLIT" --dir "$SWORK/pgcopydb-$i" \
        --no-owner > "$SWORK/c-$i.log" 2>&1 || rc=$?
      el=$(elapsed "$t")
      expect_ok "$rc" "(c) pgcopydb clone, run $i" "$SWORK/c-$i.log"
      check_db "bench_c_$i" "(c) pgcopydb clone, run $i" "$EXPECT"
      C+=("$el")
      line+="   (c) pgcopydb ${C[-1]} s"
      dropdb "bench_c_$i"
    fi
    if [ "$i" = 1 ]; then
      check_equal "(a) and (b) of run 1" bench_a_1 bench_b_1
      check_equal "(a0) and (b) of run 1" bench_a0_1 bench_b_1
    fi
    log "$line"
    dropdb "bench_a_$i"; dropdb "bench_a0_$i"; dropdb "bench_b_$i"
  done

  local ma ma0 mb mc=""
  ma=$(printf '%s\n' "${A[@]}" | median)
  ma0=$(printf '%s\n' "${A0[@]}" | median)
  mb=$(printf '%s\n' "${B[@]}" | median)
  log ""
  log "restore wall times, every run (s) and median:"
  log "  (a)  pgrecover apply, jobs 2, split:               ${A[*]}   median $ma"
  log "  (a0) pgrecover apply, jobs 2, no split (FREEZE):   ${A0[*]}   median $ma0"
  log "  (b)  pg_restore -j2 + vacuumdb -Z -j2:             ${B[*]}   median $mb"
  if [ ${#C[@]} -gt 0 ]; then
    mc=$(printf '%s\n' "${C[@]}" | median)
    log "  (c)  pgcopydb clone --split-tables-larger-than:    ${C[*]}   median $mc   (from the live database)"
  fi
  log "ratio of medians: a/b = $(ratio "$ma" "$mb")   a0/b = $(ratio "$ma0" "$mb")   a/a0 = $(ratio "$ma" "$ma0")${mc:+   a/c = $(ratio "$ma" "$mc")}"
  local cb; cb=$(printf '%s\n' "${CB[@]}" | median)
  log "CPU used (busy core-seconds of the whole machine, /proc/stat), medians: (a) $(printf '%s\n' "${CA[@]}" | median)   (a0) $(printf '%s\n' "${CA0[@]}" | median)   (b) $cb"
  log "  (b)'s work alone needs at least $cb / $(nproc) = $(printf '%.3f' "$(echo "$cb / $(nproc)" | bc -l)") s on $(nproc) cores, $(ratio "$(echo "$cb / $(nproc)" | bc -l)" "$mb") x its median wall time"
  log "every restored database matched the source (tables, indexes, constraints, exact row counts; pg_stats rows for a, a0, b); pg_dump -s and per-table row checksums of (a), (a0) and (b) of run 1 are identical"
  log "load average:  $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  log "all checks passed; results written to $OUT"
  "$PGR" instance stop "$INSTANCE" > /dev/null
  INSTANCE=""
  rm -rf "$SWORK"
  OUT=""
}

BUILD_TYPE_LABEL=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
for kind in "${KINDS[@]}"; do bench_server "$kind"; done
echo "results files:"
printf '  %s\n' "${FILES[@]}"
