#!/usr/bin/env bash
# Restore benchmark: pgrecover against pg_restore on the same data, same server, same run.
#
#   bench/restore_bench.sh [--runs N] [--scale S] [--events N] [--server default|tuned|both]
#                          [--with-pgcopydb] [--quick] [--backup-only]
#
# For each kind of target server (--server, default both):
#   default  pgrecover instance start --durable            (PostgreSQL's defaults, fsync on)
#   tuned    the same with --set shared_buffers=1GB --set max_wal_size=8GB
#            --set checkpoint_timeout=30min --set max_parallel_maintenance_workers=2
# it starts a fresh server, builds a dataset in it (pgbench scale 20 with foreign keys, extra
# indexes, and an `events` table of 1,000,000 jsonb rows with a GIN index: about 560 MB), dumps
# it with `pg_dump -Fd -j2`, then alternates, N times:
#   (a) pgrecover apply of a full Restore with jobs: 2 (data, indexes, constraints, ANALYZE,
#       sequence checks, verification)
#   (b) pg_restore -j2, then vacuumdb -Z -j2 (the same end state: data, indexes, statistics)
#   (c) (b) with PGOPTIONS='-c maintenance_work_mem=1GB'
#   (d) pgcopydb clone from the source database (only with --with-pgcopydb)
# and prints every wall time of every run, the medians, the ratios a/b and a/c (a/d), and
# pgrecover's peak memory. The databases of (a) and (b) of the first run must be equal
# (`pg_dump -s` and per-table row checksums) before any time is printed. Then, N times
# alternated, a BackupPolicy apply against plain `pg_dump -Fd -j2`; then (not with --quick)
# planning time for a 10,000-entry archive and, N times alternated, restores of 5,000 tiny
# tables (the journal's overhead). --backup-only: the dataset and the backup comparison only.
#
# Nothing is reported that was not checked. Every timed command must exit 0, and what it made is
# checked before its time is kept: a restored database must have the source's tables, indexes,
# constraints and exact row counts (and its statistics when the variant analyzes); a backup apply
# must add one backup to the repository, non-empty, with the source's row counts in its manifest;
# a pg_dump must write an archive with the data of every table; a plan must have a step for
# every table. Any failure prints "BENCH FAILED: <why>", is written to the results file too, and
# the script exits 1.
#
# Results: bench/results/restore-<UTC time>-<server>.txt, one file per server kind, starting with
# the date, the machine, the PostgreSQL version and the server's settings as the server reports
# them (pg_settings). Commit the files of the runs that docs/performance.md quotes.
#
# Fault injection, to see the failure path work (the header of the results file says so):
#   BENCH_FAULT_INJECT=differ       change one row of the pg_restore copy before the equality check
#   BENCH_FAULT_INJECT=rows         delete one row of pgrecover's first restore before its check
#   BENCH_FAULT_INJECT=restore      point pgrecover's first restore at a missing archive
#   BENCH_FAULT_INJECT=backup-noop  give the policy a schedule and take a backup before the timed
#                                   rounds, so the timed apply has nothing to do (and exits 0)
#   BENCH_FAULT_INJECT=dump-empty   the first timed pg_dump of the backup comparison dumps the
#                                   schema only
#
# Nothing here runs in the test suite.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
export LC_NUMERIC=C

usage() { sed -n '3,4p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2; }
ARGS=("$@")
RUNS=3 SCALE=20 EVENTS=1000000 WITH_PGCOPYDB=0 QUICK=0 SERVERS=both BACKUP_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    --server) SERVERS=$2; shift 2 ;;
    --with-pgcopydb) WITH_PGCOPYDB=1; shift ;;
    --quick) QUICK=1; RUNS=1; SCALE=2; EVENTS=50000; shift ;;
    --backup-only) BACKUP_ONLY=1; shift ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
done
case "$SERVERS" in
  default|tuned) KINDS=("$SERVERS") ;;
  both) KINDS=(default tuned) ;;
  *) echo "--server takes default, tuned or both, got \"$SERVERS\"" >&2; exit 2 ;;
esac
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs takes a positive number" >&2; exit 2; }
FAULT=${BENCH_FAULT_INJECT:-}
case "$FAULT" in
  ""|differ|rows|restore|backup-noop|dump-empty) ;;
  *) echo "unknown BENCH_FAULT_INJECT=$FAULT" >&2; exit 2 ;;
esac

extra=(time bc jq)
if [ "$WITH_PGCOPYDB" = 1 ]; then extra+=(pgcopydb); fi
ensure_packages "${extra[@]}"
build_pgrecover
PGR="$BUILD_DIR/pgrecover"
BIN=$(pg_config --bindir)
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"
WORK=$(mktemp -d /var/tmp/pgrecover-bench-XXXXXX)
chmod 0711 "$WORK"

# --- reporting and failure ---------------------------------------------------------------------
OUT="" INSTANCE="" FAILED=0 LAST_ERR="" FILES=()
log() { if [ -n "$OUT" ]; then printf '%s\n' "$*" | tee -a "$OUT"; else printf '%s\n' "$*"; fi; }
die() {  # why: recorded in the results file, then exit 1
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
  if [ -n "$INSTANCE" ]; then "$PGR" instance stop "$INSTANCE" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap finish EXIT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# What a database holds: every user table with its exact row count, and the number of indexes and
# constraints. A restore is good when this equals the source's.
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
  [ "$(grep -c '^table ' "$WORK/sig-$1")" -gt 0 ] || die "$2: database $1 has no tables"
  if [ -n "${4:-}" ]; then
    local stats; stats=$(q -d "$1" -c "$STATS_SQL")
    [ "$stats" = "$4" ] || die "$2: database $1 has $stats pg_stats rows, the source $4 (statistics missing)"
  fi
}

check_dump() {  # archive folder, label, expected signature file
  [ -s "$1/toc.dat" ] || die "$2: no archive (no $1/toc.dat)"
  local bytes tables data
  bytes=$(du -sb "$1" | cut -f1)
  tables=$(grep -c '^table ' "$3")
  data=$("$BIN/pg_restore" -l "$1" | grep -c ' TABLE DATA ' || true)
  [ "$data" = "$tables" ] || die "$2: the archive has data for $data tables, the database has $tables"
  [ "$bytes" -gt 0 ] || die "$2: the archive is empty"
}

restore_doc() {  # name, database, archive, [extra spec line]
  {
    printf '%s\n' "apiVersion: pgrecover/v1" "kind: Restore" "metadata: {name: $1}" "spec:" \
      "  from: {archive: \"$3\"}" "  to: {conninfo: \"$CONNINFO\", database: $2, create: true}" "  jobs: 2"
    if [ -n "${4:-}" ]; then printf '%s\n' "$4"; fi
  } > "$SWORK/$1.yaml"
  echo "$SWORK/$1.yaml"
}

pgr_apply() {  # output file, document; pgrecover apply with JSON output
  "$PGR" --config "$SWORK/pgrecover.toml" --json --log-level warn apply --auto-approve "$2" > "$1" 2> "$1.err"
}
check_summary() {  # apply output file, label: the run's summary must say ok
  local status
  status=$(tail -n 1 "$1" | jq -r 'select(.event == "summary") | .status' 2>/dev/null || true)
  [ "$status" = ok ] || die "$2: the apply's summary does not say ok (${status:-no summary}):
$(tail -n 5 "$1" "$1.err" | indent)"
}

# --- one kind of server ------------------------------------------------------------------------
header() {  # kind, --set flags
  local dirty=""
  [ -z "$(git -C "$ROOT" status --porcelain -- . ':!bench/results' 2>/dev/null)" ] || dirty=" (with uncommitted changes)"
  log "pgrecover restore benchmark"
  log "date:          $(date -u +%FT%TZ)"
  log "command:       bench/restore_bench.sh ${ARGS[*]}"
  if [ -n "$FAULT" ]; then log "FAULT INJECTION: BENCH_FAULT_INJECT=$FAULT (this run is expected to fail)"; fi
  log "pgrecover:     commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty, $BUILD_TYPE_LABEL build"
  log "machine:       $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory (MemTotal), kernel $(uname -r)"
  log "load average:  $(cut -d' ' -f1-3 /proc/loadavg) at the start (other work on the machine adds noise; variants are alternated)"
  log "PostgreSQL:    $(q -c 'select version()')"
  log "client tools:  $("$BIN/pg_dump" --version), $("$BIN/pg_restore" --version)"
  log "server:        $1: pgrecover instance start --durable${2:+ $2}"
  log "scheduling:    $(bench_priority "$INSTANCE")"
  log "server settings (from pg_settings: name, value, source):"
  q -c "select format('  %-34s %-18s %s', name, current_setting(name), source) from pg_settings
         where name in ('shared_buffers', 'maintenance_work_mem', 'work_mem', 'max_wal_size', 'min_wal_size',
                        'checkpoint_timeout', 'checkpoint_completion_target', 'wal_buffers', 'wal_level',
                        'wal_compression', 'fsync', 'synchronous_commit', 'full_page_writes',
                        'max_parallel_maintenance_workers', 'max_parallel_workers', 'max_worker_processes',
                        'effective_io_concurrency', 'autovacuum', 'huge_pages', 'max_connections')
         order by name" | tee -a "$OUT"
  log "other settings not at their built-in default:"
  q -c "select format('  %-34s %-18s %s', name, current_setting(name), source) from pg_settings
         where source not in ('default', 'override', 'client', 'session')
           and name not in ('shared_buffers', 'maintenance_work_mem', 'max_wal_size', 'min_wal_size',
                            'checkpoint_timeout', 'fsync', 'max_parallel_maintenance_workers',
                            'max_connections', 'port', 'unix_socket_directories', 'listen_addresses')
         order by name" | tee -a "$OUT"
  log "dataset:       pgbench scale $SCALE with foreign keys + events ($EVENTS rows); runs: $RUNS, alternated"
  log ""
}

bench_server() {  # kind
  local kind=$1 flags=""
  if [ "$kind" = tuned ]; then
    flags="--set shared_buffers=1GB --set max_wal_size=8GB --set checkpoint_timeout=30min --set max_parallel_maintenance_workers=2"
  fi
  SWORK="$WORK/$kind"
  mkdir -p "$SWORK" && chmod 0711 "$SWORK"
  OUT="$RESULTS/restore-$(date -u +%Y%m%dT%H%M%SZ)-$kind.txt"
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
  "$BIN/pgbench" -q -i -s "$SCALE" --foreign-keys bench_src > "$SWORK/pgbench.log" 2>&1 ||
    die "pgbench -i failed: $(tail -n 3 "$SWORK/pgbench.log")"
  "$BIN/pgbench" -n -t 2000 -c 2 bench_src > "$SWORK/pgbench.log" 2>&1 ||   # some pgbench_history rows
    die "pgbench failed: $(tail -n 3 "$SWORK/pgbench.log")"
  psql -X -q -v ON_ERROR_STOP=1 -d bench_src <<SQL
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
  local expect="$SWORK/expect-src" expect_stats
  signature bench_src > "$expect"
  expect_stats=$(q -d bench_src -c "$STATS_SQL")
  log "source database: $(q -c "select pg_size_pretty(pg_database_size('bench_src'))"), $(grep -c '^table ' "$expect") tables, $(sed -n 's/^indexes //p' "$expect") indexes, $(sed -n 's/^constraints //p' "$expect") constraints, $expect_stats pg_stats rows"
  grep '^table ' "$expect" | sed 's/^table /  /' | tee -a "$OUT"
  local dump="$SWORK/bench.dir" t rc el
  t=$(now); rc=0
  "$BIN/pg_dump" -Fd -j2 -f "$dump" bench_src > "$SWORK/dump.log" 2>&1 || rc=$?
  el=$(elapsed "$t")
  expect_ok "$rc" "pg_dump -Fd -j2 of the dataset" "$SWORK/dump.log"
  check_dump "$dump" "pg_dump -Fd -j2 of the dataset" "$expect"
  log "pg_dump -Fd -j2: $el s, archive $(du -sh "$dump" | cut -f1)"
  log ""

  # (a) and (b) of run 1 must be the same database: pg_dump -s and per-table row checksums.
  dump_schema() { "$BIN/pg_dump" -s "$1" | grep -v '^\\\(un\)\?restrict'; }
  checksums() {
    q -d "$1" -c "select format('%I.%I', schemaname, relname) from pg_stat_user_tables order by 1" |
      while read -r tbl; do q -d "$1" -c "select '$tbl', count(*), sum(hashtext(x::text)::bigint) from $tbl x"; done
  }
  check_equal() {  # database of (a), database of (b)
    dump_schema "$1" > "$SWORK/schema-a"; dump_schema "$2" > "$SWORK/schema-b"
    cmp -s "$SWORK/schema-a" "$SWORK/schema-b" || die "(a) and (b) differ: pg_dump -s of $1 and $2:
$(diff "$SWORK/schema-a" "$SWORK/schema-b" | head -n 20 | indent)"
    checksums "$1" > "$SWORK/sums-a"; checksums "$2" > "$SWORK/sums-b"
    cmp -s "$SWORK/sums-a" "$SWORK/sums-b" || die "(a) and (b) differ: per-table row checksums (table|rows|checksum) of $1 and $2:
$(diff "$SWORK/sums-a" "$SWORK/sums-b" | head -n 20 | indent)"
  }

  # --- restores, alternated --------------------------------------------------------------------
  local A=() B=() C=() D=() peak_rss=0 i doc archive rss line
  if [ "$BACKUP_ONLY" = 0 ]; then
  for i in $(seq 1 "$RUNS"); do
    q -c CHECKPOINT
    archive=$dump
    if [ "$FAULT" = restore ] && [ "$i" = 1 ]; then archive="$SWORK/missing.dir"; fi
    doc=$(restore_doc "bench-a-$i" "bench_a_$i" "$archive")
    t=$(now); rc=0
    /usr/bin/time -f '%M' -o "$SWORK/rss" "$PGR" --config "$SWORK/pgrecover.toml" --json --log-level warn \
      apply --auto-approve "$doc" > "$SWORK/a-$i.out" 2> "$SWORK/a-$i.out.err" || rc=$?
    el=$(elapsed "$t")
    expect_ok "$rc" "(a) pgrecover apply, run $i" "$SWORK/a-$i.out.err"
    check_summary "$SWORK/a-$i.out" "(a) pgrecover apply, run $i"
    if [ "$FAULT" = rows ] && [ "$i" = 1 ]; then
      q -d bench_a_1 -c "delete from pgbench_history where ctid = (select ctid from pgbench_history limit 1)"
    fi
    check_db "bench_a_$i" "(a) pgrecover apply, run $i" "$expect" "$expect_stats"
    A+=("$el")
    rss=$(tail -n 1 "$SWORK/rss")
    if [ "$rss" -gt "$peak_rss" ]; then peak_rss=$rss; fi

    q -c CHECKPOINT
    createdb "bench_b_$i"
    t=$(now); rc=0
    { "$BIN/pg_restore" -j2 -d "bench_b_$i" "$dump" && "$BIN/vacuumdb" -q -Z -j2 -d "bench_b_$i"; } > "$SWORK/b-$i.log" 2>&1 || rc=$?
    el=$(elapsed "$t")
    expect_ok "$rc" "(b) pg_restore -j2 + vacuumdb -Z -j2, run $i" "$SWORK/b-$i.log"
    check_db "bench_b_$i" "(b) pg_restore -j2 + vacuumdb -Z -j2, run $i" "$expect" "$expect_stats"
    B+=("$el")

    q -c CHECKPOINT
    createdb "bench_c_$i"
    t=$(now); rc=0
    { PGOPTIONS='-c maintenance_work_mem=1GB' "$BIN/pg_restore" -j2 -d "bench_c_$i" "$dump" &&
      PGOPTIONS='-c maintenance_work_mem=1GB' "$BIN/vacuumdb" -q -Z -j2 -d "bench_c_$i"; } > "$SWORK/c-$i.log" 2>&1 || rc=$?
    el=$(elapsed "$t")
    expect_ok "$rc" "(c) pg_restore + vacuumdb with maintenance_work_mem=1GB, run $i" "$SWORK/c-$i.log"
    check_db "bench_c_$i" "(c) pg_restore + vacuumdb with maintenance_work_mem=1GB, run $i" "$expect" "$expect_stats"
    C+=("$el")
    line="run $i: (a) pgrecover ${A[-1]} s   (b) pg_restore+vacuumdb ${B[-1]} s   (c) same, mwm=1GB ${C[-1]} s"

    if [ "$WITH_PGCOPYDB" = 1 ]; then
      q -c CHECKPOINT
      createdb "bench_d_$i"
      t=$(now); rc=0
      pgcopydb clone --source "$CONNINFO dbname=bench_src" --target "$CONNINFO dbname=bench_d_$i" \
        --table-jobs 2 --index-jobs 2 --dir "$SWORK/pgcopydb-$i" --no-owner > "$SWORK/d-$i.log" 2>&1 || rc=$?
      el=$(elapsed "$t")
      expect_ok "$rc" "(d) pgcopydb clone, run $i" "$SWORK/d-$i.log"
      check_db "bench_d_$i" "(d) pgcopydb clone, run $i" "$expect"
      D+=("$el")
      line+="   (d) pgcopydb ${D[-1]} s"
      dropdb "bench_d_$i"
    fi
    if [ "$i" = 1 ]; then
      if [ "$FAULT" = differ ]; then
        q -d bench_b_1 -c "update pgbench_branches set filler = 'fault injected' where bid = 1"
      fi
      check_equal bench_a_1 bench_b_1
    fi
    log "$line"
    dropdb "bench_a_$i"; dropdb "bench_b_$i"; dropdb "bench_c_$i"
  done

  local ma mb mc md=""
  ma=$(printf '%s\n' "${A[@]}" | median)
  mb=$(printf '%s\n' "${B[@]}" | median)
  mc=$(printf '%s\n' "${C[@]}" | median)
  log ""
  log "restore wall times, every run (s) and median:"
  log "  (a) pgrecover apply, jobs 2:               ${A[*]}   median $ma"
  log "  (b) pg_restore -j2 + vacuumdb -Z -j2:      ${B[*]}   median $mb"
  log "  (c) (b) with maintenance_work_mem=1GB:     ${C[*]}   median $mc"
  if [ ${#D[@]} -gt 0 ]; then
    md=$(printf '%s\n' "${D[@]}" | median)
    log "  (d) pgcopydb clone:                        ${D[*]}   median $md"
  fi
  log "ratio of medians: a/b = $(ratio "$ma" "$mb")   a/c = $(ratio "$ma" "$mc")${md:+   a/d = $(ratio "$ma" "$md")}"
  log "pgrecover peak RSS (GNU time, max over the runs): $((peak_rss / 1024)) MB"
  log "every restored database matched the source: same tables, indexes ($(sed -n 's/^indexes //p' "$expect")), constraints ($(sed -n 's/^constraints //p' "$expect")), exact row counts; (a), (b), (c) have $expect_stats pg_stats rows like the source"
  log "equal: pg_dump -s and per-table row checksums of (a) and (b) of run 1 are identical"
  log ""
  fi

  # --- a logical backup through a BackupPolicy vs plain pg_dump -Fd -j2 -------------------------
  mkdir -p "$SWORK/repo" && chmod 0700 "$SWORK/repo"
  printf '\n[connections.bench]\nconninfo = "%s"\n\n[repositories.bench]\npath = "%s"\n' "$CONNINFO" "$SWORK/repo" >> "$SWORK/pgrecover.toml"
  printf '%s\n' "apiVersion: pgrecover/v1" "kind: BackupPolicy" "metadata: {name: bench-backup}" "spec:" \
    "  source: {connection: bench}" "  database: bench_src" "  format: directory" "  compression: gzip" \
    "  jobs: 2" "  repository: bench" > "$SWORK/policy.yaml"
  if [ "$FAULT" = backup-noop ]; then
    echo "  schedule: {every: 24h}" >> "$SWORK/policy.yaml"
    pgr_apply "$SWORK/bk-warmup.out" "$SWORK/policy.yaml"
  fi
  grep '^table ' "$expect" | sed 's/^table //' | LC_ALL=C sort > "$SWORK/expect-counts"
  local BK_A=() BK_B=() before after newest
  for i in $(seq 1 "$RUNS"); do
    before=$("$PGR" --config "$SWORK/pgrecover.toml" --json backups list | jq '.backups | length')
    t=$(now); rc=0
    "$PGR" --config "$SWORK/pgrecover.toml" --json --log-level info apply --auto-approve "$SWORK/policy.yaml" \
      > "$SWORK/bk-a-$i.out" 2> "$SWORK/bk-a-$i.out.err" || rc=$?
    el=$(elapsed "$t")
    expect_ok "$rc" "BackupPolicy apply, round $i" "$SWORK/bk-a-$i.out.err"
    check_summary "$SWORK/bk-a-$i.out" "BackupPolicy apply, round $i"
    "$PGR" --config "$SWORK/pgrecover.toml" --json backups list > "$SWORK/bk-list-$i.json"
    after=$(jq '.backups | length' "$SWORK/bk-list-$i.json")
    [ "$after" -eq $((before + 1)) ] || die "BackupPolicy apply, round $i: exited 0 but the repository has $after backups, $before before: it made no new backup"
    newest=$(jq -r '.backups[-1].id' "$SWORK/bk-list-$i.json")
    [ "$(jq -r '.backups[-1].database' "$SWORK/bk-list-$i.json")" = bench_src ] ||
      die "BackupPolicy apply, round $i: backup $newest is not of bench_src"
    [ "$(jq -r '.backups[-1].bytes' "$SWORK/bk-list-$i.json")" -gt 0 ] || die "BackupPolicy apply, round $i: backup $newest has 0 bytes"
    "$PGR" --config "$SWORK/pgrecover.toml" --json backups show "$newest" |
      jq -r '.row_counts | to_entries[] | "\(.key) rows \(.value)"' | LC_ALL=C sort > "$SWORK/bk-counts-$i"
    cmp -s "$SWORK/expect-counts" "$SWORK/bk-counts-$i" || die "BackupPolicy apply, round $i: the row counts in backup $newest's manifest differ from the source's:
$(diff "$SWORK/expect-counts" "$SWORK/bk-counts-$i" | head -n 20 | indent)"
    BK_A+=("$el")

    rm -rf "$SWORK/plain.dir"
    local schema_only=()
    if [ "$FAULT" = dump-empty ] && [ "$i" = 1 ]; then schema_only=(--schema-only); fi
    t=$(now); rc=0
    "$BIN/pg_dump" -Fd -j2 "${schema_only[@]}" -f "$SWORK/plain.dir" bench_src > "$SWORK/plain.log" 2>&1 || rc=$?
    el=$(elapsed "$t")
    expect_ok "$rc" "pg_dump -Fd -j2, round $i" "$SWORK/plain.log"
    check_dump "$SWORK/plain.dir" "pg_dump -Fd -j2, round $i" "$expect"
    BK_B+=("$el")
    log "backup round $i: BackupPolicy apply ${BK_A[-1]} s (backup $newest, $(jq -r '.backups[-1].bytes' "$SWORK/bk-list-$i.json") bytes)   plain pg_dump -Fd -j2 ${BK_B[-1]} s ($(du -sb "$SWORK/plain.dir" | cut -f1) bytes)"
    log "  where the apply's time went (its log): $(grep -o '(pg_dump and globals[^)]*)\|checked against its manifest in [0-9.]* s\|[0-9]* tables counted in the dump.s snapshot while pg_dump ran, [0-9]* read from the archive' "$SWORK/bk-a-$i.out.err" | tr '\n' ' ' || true)"
    [ "$FAULT" = backup-noop ] || rm -rf "$SWORK/repo/backups"
  done
  local ka kb
  ka=$(printf '%s\n' "${BK_A[@]}" | median); kb=$(printf '%s\n' "${BK_B[@]}" | median)
  log "logical backup, every round (s) and median:"
  log "  BackupPolicy apply (pg_dump -Fd -j2, globals, exact row counts, SHA-256 of every file, manifest): ${BK_A[*]}   median $ka"
  log "  plain pg_dump -Fd -j2:                                                                          ${BK_B[*]}   median $kb"
  log "ratio of medians: $(ratio "$ka" "$kb") (goal: at most 1.2)"
  rm -rf "$SWORK/repo" "$SWORK/plain.dir"
  log ""

  if [ "$QUICK" = 0 ] && [ "$BACKUP_ONLY" = 0 ]; then
    # --- planning time for a 10,000-entry archive --------------------------------------------
    local b entries steps P=()
    createdb bench_toc
    for b in $(seq 0 9); do  # 250 tables per transaction: one DO block for all runs out of lock slots
      q -d bench_toc -c "DO \$\$ BEGIN FOR i IN $((b * 250 + 1))..$((b * 250 + 250)) LOOP
        EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i);
        EXECUTE format('CREATE INDEX ON t%s (v)', i); END LOOP; END \$\$"
    done
    "$BIN/pg_dump" -Fc -f "$SWORK/toc.dump" bench_toc
    entries=$("$PGR" --json inspect "$SWORK/toc.dump" | jq '.entries | length')
    doc=$(restore_doc bench-toc bench_toc_copy "$SWORK/toc.dump")
    for i in $(seq 1 "$RUNS"); do
      t=$(now); rc=0
      "$PGR" --config "$SWORK/pgrecover.toml" --json plan "$doc" > "$SWORK/plan-$i.json" 2> "$SWORK/plan-$i.err" || rc=$?
      el=$(elapsed "$t")
      expect_ok "$rc" "plan of the $entries-entry archive, round $i" "$SWORK/plan-$i.err"
      steps=$(jq '[.plans[0].steps[] | select(.kind == "table")] | length' "$SWORK/plan-$i.json")
      [ "$steps" = 2500 ] || die "plan of the $entries-entry archive, round $i: $steps table steps, expected 2500"
      P+=("$el")
      log "planning round $i: $el s ($(jq '.plans[0].steps | length' "$SWORK/plan-$i.json") steps)"
    done
    log "planning a $entries-entry archive (plan against an empty target), every round (s): ${P[*]}   median $(printf '%s\n' "${P[@]}" | median) (goal: under 2 s)"
    dropdb bench_toc
    log ""

    # --- journal overhead: 5,000 tiny tables -------------------------------------------------
    createdb bench_tiny
    for b in $(seq 0 19); do
      q -d bench_tiny -c "DO \$\$ BEGIN FOR i IN $((b * 250 + 1))..$((b * 250 + 250)) LOOP
        EXECUTE format('CREATE TABLE tiny%s (id int)', i); EXECUTE format('INSERT INTO tiny%s VALUES (1)', i); END LOOP; END \$\$"
    done
    local expect_tiny="$SWORK/expect-tiny" TA=() TB=() TC=() full bare
    signature bench_tiny > "$expect_tiny"
    "$BIN/pg_dump" -Fd -j2 -f "$SWORK/tiny.dir" bench_tiny
    check_dump "$SWORK/tiny.dir" "pg_dump of the 5,000 tiny tables" "$expect_tiny"
    for i in $(seq 1 "$RUNS"); do
      q -c CHECKPOINT
      full=$(restore_doc "bench-tiny-$i" "bench_tiny_a_$i" "$SWORK/tiny.dir")
      t=$(now); rc=0
      pgr_apply "$SWORK/tiny-a-$i.out" "$full" || rc=$?
      el=$(elapsed "$t")
      expect_ok "$rc" "5,000 tiny tables, pgrecover apply, round $i" "$SWORK/tiny-a-$i.out.err"
      check_summary "$SWORK/tiny-a-$i.out" "5,000 tiny tables, pgrecover apply, round $i"
      check_db "bench_tiny_a_$i" "5,000 tiny tables, pgrecover apply, round $i" "$expect_tiny"
      TA+=("$el")

      q -c CHECKPOINT
      bare=$(restore_doc "bench-tiny-bare-$i" "bench_tiny_c_$i" "$SWORK/tiny.dir" \
        "  post: {analyze: false, fix_sequences: false, verify: {row_counts: false}}")
      t=$(now); rc=0
      pgr_apply "$SWORK/tiny-c-$i.out" "$bare" || rc=$?
      el=$(elapsed "$t")
      expect_ok "$rc" "5,000 tiny tables, pgrecover apply without post steps, round $i" "$SWORK/tiny-c-$i.out.err"
      check_summary "$SWORK/tiny-c-$i.out" "5,000 tiny tables, pgrecover apply without post steps, round $i"
      check_db "bench_tiny_c_$i" "5,000 tiny tables, pgrecover apply without post steps, round $i" "$expect_tiny"
      TC+=("$el")

      q -c CHECKPOINT
      createdb "bench_tiny_b_$i"
      t=$(now); rc=0
      "$BIN/pg_restore" -j2 -d "bench_tiny_b_$i" "$SWORK/tiny.dir" > "$SWORK/tiny-b-$i.log" 2>&1 || rc=$?
      el=$(elapsed "$t")
      expect_ok "$rc" "5,000 tiny tables, pg_restore -j2, round $i" "$SWORK/tiny-b-$i.log"
      check_db "bench_tiny_b_$i" "5,000 tiny tables, pg_restore -j2, round $i" "$expect_tiny"
      TB+=("$el")
      log "tiny round $i: pg_restore -j2 ${TB[-1]} s   pgrecover ${TA[-1]} s   pgrecover without post steps ${TC[-1]} s"
      dropdb "bench_tiny_a_$i"; dropdb "bench_tiny_b_$i"; dropdb "bench_tiny_c_$i"
    done
    local ta tb tc
    ta=$(printf '%s\n' "${TA[@]}" | median); tb=$(printf '%s\n' "${TB[@]}" | median); tc=$(printf '%s\n' "${TC[@]}" | median)
    log "5,000 tiny tables, every round (s) and median:"
    log "  pg_restore -j2:                                              ${TB[*]}   median $tb"
    log "  pgrecover, with ANALYZE and row-count verification:          ${TA[*]}   median $ta   ratio to pg_restore $(ratio "$ta" "$tb")"
    log "  pgrecover without them (journal and executor overhead):      ${TC[*]}   median $tc   ratio to pg_restore $(ratio "$tc" "$tb")"
    dropdb bench_tiny
    log ""
  fi

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
