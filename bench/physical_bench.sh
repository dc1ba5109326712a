#!/usr/bin/env bash
# Physical backup and recovery benchmark: pgrecover against pgBackRest on the same cluster, same run.
#
#   bench/physical_bench.sh [--runs N] [--scale S] [--compression SPEC] [--jobs N] [--quick] [--no-build] [--recovery-only]
#
# Starts a source server (pgrecover instance start --durable, wal_level replica, archive_mode on)
# whose archive_command pushes every WAL segment to both tools: `pgrecover wal push` into a
# pgrecover repository and `pgbackrest archive-push` into a pgBackRest repository (2.45, Debian
# package; its own config file in the work folder: process-max=2, default gz compression,
# start-fast, run as the postgres user). The dataset is pgbench scale S (default 60) plus 2,000
# pgbench transactions. Then, N times (default 3), alternating which tool goes first:
#   backup   (a) pgrecover apply of a physical BackupPolicy (compression SPEC, default zstd:1,
#                jobs N, default 2: pg_basebackup, SHA-256 of every file, manifest)
#            (b) pgbackrest --type=full backup
#            (e) for reference: (a) with compression gzip on one thread (what it was before zstd)
#   recovery (c) pgrecover apply of a PointInTimeRecovery with target {immediate: true} and
#                action promote into a new data directory, until the server accepts writes
#            (d) pgbackrest restore --type=immediate --target-action=promote into a new data
#                directory, pg_ctl start, until the server accepts writes
# Each recovery restores the newest backup of its tool (the one just taken). Every recovered
# cluster must hold the source's rows (per pgbench table: row count, sum of the balance and a
# sum of row hashes) and accept a write, or the bench fails. Every run's figures, pgrecover's
# step times, the medians and the ratios a/b and c/d are printed.
#
# --recovery-only takes one backup with each tool (no gzip reference) and then runs only the N
# recoveries: for working on recovery; its backup figures are one run's and not a result.
#
# Results: bench/results/physical-<UTC time>.txt with the date, machine, PostgreSQL version, the
# source server's settings and the load average at the start and the end.
#
# Fault injection (the header of the results file says so):
#   BENCH_FAULT_INJECT=differ   delete one row of pgBackRest's first recovered cluster before its check
#
# Nothing here runs in the test suite.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
export LC_NUMERIC=C

usage() { sed -n '3,3p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2; }
ARGS=("$@")
RUNS=3 SCALE=60 COMPRESSION=zstd:1 JOBS=2 QUICK=0 BUILD=1 RECOVERY_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --compression) COMPRESSION=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --quick) QUICK=1; RUNS=1; SCALE=2; shift ;;
    --no-build) BUILD=0; shift ;;  # use build/pgrecover as it is
    --recovery-only) RECOVERY_ONLY=1; shift ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs takes a positive number" >&2; exit 2; }
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { echo "--jobs takes a positive number" >&2; exit 2; }
FAULT=${BENCH_FAULT_INJECT:-}
case "$FAULT" in
  ""|differ) ;;
  *) echo "unknown BENCH_FAULT_INJECT=$FAULT" >&2; exit 2 ;;
esac

ensure_packages time bc jq pgbackrest
if [ "$BUILD" = 1 ]; then build_pgrecover; fi
PGR="$BUILD_DIR/pgrecover"
BIN=$(pg_config --bindir)
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"
WORK=$(mktemp -d /var/tmp/pgrecover-physical-bench-XXXXXX)
chmod 0711 "$WORK"
PGUSER_OS=postgres
# The archive_command runs the pgrecover binary as postgres: it must be reachable.
PGR_COPY="$WORK/bin/pgrecover"
mkdir -p "$WORK/bin" && cp "$PGR" "$PGR_COPY" && chmod 0755 "$WORK/bin" "$PGR_COPY"

# --- reporting and failure ---------------------------------------------------------------------
OUT="$RESULTS/physical-$(date -u +%Y%m%dT%H%M%SZ).txt"
: > "$OUT"
INSTANCE="" FAILED=0 LAST_ERR="" RECOVERED=()
log() { printf '%s\n' "$*" | tee -a "$OUT"; }
die() { FAILED=1; log "BENCH FAILED: $*"; exit 1; }
trap 'LAST_ERR="line $LINENO: $BASH_COMMAND (exit status $?)"' ERR
as_pg() { runuser -u "$PGUSER_OS" -- "$@"; }
stop_recovered() {  # data directory
  if [ -f "$1/postmaster.pid" ]; then as_pg "$BIN/pg_ctl" -D "$1" -m immediate -w stop > /dev/null 2>&1 || true; fi
}
finish() {
  local rc=$? d
  if [ "$rc" -ne 0 ] && [ "$FAILED" = 0 ]; then
    log "BENCH FAILED: a command failed unexpectedly: ${LAST_ERR:-exit status $rc}"
  fi
  if [ "$rc" -ne 0 ]; then echo "the failure is recorded in $OUT" >&2; fi
  for d in "${RECOVERED[@]}"; do stop_recovered "$d"; done
  if [ -n "$INSTANCE" ]; then "$PGR" instance stop "$INSTANCE" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap finish EXIT

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# --- the source server, archiving to both tools ------------------------------------------------
PGR_REPO="$WORK/pgr-repo" PGBR="$WORK/pgbackrest"
mkdir -p "$PGR_REPO" "$PGBR/repo" "$PGBR/log" "$PGBR/lock" "$PGBR/spool" "$WORK/state" "$WORK/src"
chmod 0700 "$PGR_REPO" "$PGBR/repo"
chmod 0711 "$WORK/src"
TOML="$WORK/pgrecover.toml" PGBR_CONF="$PGBR/pgbackrest.conf"
SRC_PORT=$(free_port)
{
  printf 'state_dir = "%s"\n\n[repositories.bench]\npath = "%s"\n' "$WORK/state" "$PGR_REPO"
} > "$TOML"
ARCHIVE_CMD="$PGR_COPY --config $TOML --log-level warn wal push %p --repository bench --cluster bench && pgbackrest --config=$PGBR_CONF --stanza=bench archive-push %p"
"$PGR" --json instance start --durable --base-dir "$WORK/src" --port "$SRC_PORT" \
  --set wal_level=replica --set archive_mode=on --set max_wal_senders=4 \
  --set "archive_command='$ARCHIVE_CMD'" > "$WORK/instance.json"
INSTANCE=$(jq -r .folder "$WORK/instance.json")
SRC_DATA=$(jq -r '.data_dir // empty' "$WORK/instance.json")
[ -n "$SRC_DATA" ] || SRC_DATA="$INSTANCE/data"
export PGHOST="$INSTANCE" PGPORT="$SRC_PORT" PGUSER=postgres PGDATABASE=postgres
SRC_SOCKET=$(q -c "select current_setting('unix_socket_directories')")
SRC_DATA=$(q -c "select current_setting('data_directory')")
CONNINFO="host=$SRC_SOCKET port=$SRC_PORT user=postgres dbname=postgres"
printf '\n[connections.src]\nconninfo = "%s"\n' "$CONNINFO" >> "$TOML"
cat > "$PGBR_CONF" <<CONF
[global]
repo1-path=$PGBR/repo
repo1-retention-full=100
log-path=$PGBR/log
lock-path=$PGBR/lock
spool-path=$PGBR/spool
log-level-console=warn
log-level-file=off
process-max=2
start-fast=y

[bench]
pg1-path=$SRC_DATA
pg1-port=$SRC_PORT
pg1-socket-path=$SRC_SOCKET
pg1-user=postgres
CONF
chown -R "$PGUSER_OS:" "$PGR_REPO" "$PGBR" "$WORK/state"
chmod 0644 "$TOML" "$PGBR_CONF"
as_pg pgbackrest --config="$PGBR_CONF" --stanza=bench stanza-create > "$WORK/stanza.log" 2>&1 ||
  die "pgbackrest stanza-create failed: $(tail -n 5 "$WORK/stanza.log")"
as_pg pgbackrest --config="$PGBR_CONF" --stanza=bench check > "$WORK/check.log" 2>&1 ||
  die "pgbackrest check failed (archiving to pgBackRest does not work): $(tail -n 5 "$WORK/check.log")"

dirty=""
[ -z "$(git -C "$ROOT" status --porcelain -- . ':!bench/results' 2>/dev/null)" ] || dirty=" (with uncommitted changes)"
log "pgrecover physical backup and recovery benchmark (against pgBackRest)"
log "date:          $(date -u +%FT%TZ)"
log "command:       bench/physical_bench.sh ${ARGS[*]}"
if [ -n "$FAULT" ]; then log "FAULT INJECTION: BENCH_FAULT_INJECT=$FAULT (this run is expected to fail)"; fi
log "pgrecover:     commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty, $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt") build"
log "machine:       $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory (MemTotal), kernel $(uname -r), $(df -h --output=fstype "$WORK" | tail -n 1 | tr -d ' ') file system"
log "load average:  $(cut -d' ' -f1-3 /proc/loadavg) at the start (other work on the machine adds noise; variants are alternated)"
log "PostgreSQL:    $(q -c 'select version()')"
log "tools:         $("$BIN/pg_basebackup" --version), $(pgbackrest version)"
log "pgBackRest:    $(grep -v '^\(\[\|$\|repo1-path\|log-path\|lock-path\|spool-path\|pg1-\)' "$PGBR_CONF" | tr '\n' ' ')(compress-type default gz, level 6)"
log "pgrecover:     BackupPolicy method physical, compression $COMPRESSION, jobs $JOBS; PointInTimeRecovery target {immediate: true}, action promote"
log "source server: pgrecover instance start --durable, archive_command = '$ARCHIVE_CMD'"
log "server settings (from pg_settings: name, value, source):"
q -c "select format('  %-34s %-18s %s', name, current_setting(name), source) from pg_settings
       where name in ('shared_buffers', 'maintenance_work_mem', 'work_mem', 'max_wal_size', 'min_wal_size',
                      'checkpoint_timeout', 'wal_level', 'wal_compression', 'fsync', 'synchronous_commit',
                      'full_page_writes', 'archive_mode', 'max_wal_senders', 'wal_segment_size',
                      'recovery_init_sync_method', 'data_checksums', 'huge_pages')
       order by name" | tee -a "$OUT"

# --- dataset -----------------------------------------------------------------------------------
"$BIN/pgbench" -q -i -s "$SCALE" postgres > "$WORK/pgbench.log" 2>&1 || die "pgbench -i failed: $(tail -n 3 "$WORK/pgbench.log")"
"$BIN/pgbench" -n -t 1000 -c 2 postgres > "$WORK/pgbench.log" 2>&1 || die "pgbench failed: $(tail -n 3 "$WORK/pgbench.log")"
q -c "VACUUM ANALYZE" -c CHECKPOINT

# What the recovered clusters must hold: per pgbench table, rows, sum of the balance, sum of row hashes.
ROWS_SQL="select 'accounts', count(*), sum(abalance), sum(hashtext(x::text)::bigint) from pgbench_accounts x
union all select 'branches', count(*), sum(bbalance), sum(hashtext(x::text)::bigint) from pgbench_branches x
union all select 'tellers', count(*), sum(tbalance), sum(hashtext(x::text)::bigint) from pgbench_tellers x
union all select 'history', count(*), sum(delta), sum(hashtext(x::text)::bigint) from pgbench_history x"
q -c "$ROWS_SQL" > "$WORK/expect-rows"
log "dataset:       pgbench scale $SCALE + 1,000 x 2 transactions, cluster $(q -c "select pg_size_pretty(sum(pg_database_size(oid))) from pg_database"); runs: $RUNS, alternated"
sed 's/^/  /' "$WORK/expect-rows" | tee -a "$OUT"
log ""

# --- the four variants -------------------------------------------------------------------------
cat > "$WORK/policy.yaml" <<YAML
apiVersion: pgrecover/v1
kind: BackupPolicy
metadata: {name: bench-physical}
spec:
  source: {connection: src}
  method: physical
  compression: "$COMPRESSION"
  jobs: $JOBS
  repository: bench
  cluster: bench
YAML
[ "$JOBS" != 1 ] || sed -i '/^  jobs: /d' "$WORK/policy.yaml"
# (e), for reference only: the same policy with gzip on one thread, what a physical policy took before
sed -e 's/bench-physical/bench-gzip/' -e 's/compression: .*/compression: gzip/' -e '/^  jobs: /d' "$WORK/policy.yaml" > "$WORK/policy-gzip.yaml"

pgr() { "$PGR" --config "$TOML" --json --log-level warn "$@"; }
summary_ok() {  # apply output, label
  local status
  status=$(tail -n 1 "$1" | jq -r 'select(.event == "summary") | .status' 2>/dev/null || true)
  [ "$status" = ok ] || die "$2: the apply's summary does not say ok (${status:-no summary}):
$(tail -n 5 "$1" "$1.err" | indent)"
}
step_times() {  # apply output: "kind=seconds" of each finished step (and what the extract step measured inside)
  jq -r 'select(.event == "step-done") | "\(.kind)=\(.ms / 1000)s"' "$1" | tr '\n' ' '
  jq -r 'select(.event == "step-done" and .kind == "extract") | .message' "$1" | sed -n 's/.*(\(extract [^)]*\)).*/(inside extract: \1)/p'
}
run_seconds() {  # apply output: the run's own seconds (the apply's wall time less this is planning and start-up)
  tail -n 1 "$1" | jq -r '.seconds // 0'
}
timeline() {  # server log, t0: the server's milestones as seconds after t0
  python3 "$ROOT/bench/server_log_timeline.py" "$1" "$2" 2>&1 || true
}
pgbr_count() { as_pg pgbackrest --config="$PGBR_CONF" --stanza=bench --output=json info | jq '[.[0].backup[]?] | length'; }
pgr_count() { pgr backups list | jq '[.backups[] | select(.policy == "bench-physical")] | length'; }

# Until the server in data dir $1 (socket there, port $2) is out of recovery and takes a write.
# The probe is PostgreSQL's own psql binary, not Debian's /usr/bin/psql (a Perl wrapper that
# picks the version: about 0.13 s a call on a quiet machine, 0.3 s on a busy one, which the
# figures of both tools carried before).
PSQL_BIN="$BIN/psql"
wait_writable() {
  local i
  for i in $(seq 1 1200); do
    if [ "$("$PSQL_BIN" -XAtq -h "$1" -p "$2" -U postgres -d postgres -c 'select pg_is_in_recovery()' 2>/dev/null)" = f ] &&
       "$PSQL_BIN" -XAtq -h "$1" -p "$2" -U postgres -d postgres -c 'create table bench_write_probe (i int); drop table bench_write_probe' > /dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}
check_rows() {  # data dir, port, label
  psql -XAtq -h "$1" -p "$2" -U postgres -d postgres -c "$ROWS_SQL" > "$WORK/rows-check" ||
    die "$3: cannot read the recovered cluster's rows"
  cmp -s "$WORK/expect-rows" "$WORK/rows-check" || die "$3: the recovered cluster's rows differ from the source's:
$(diff "$WORK/expect-rows" "$WORK/rows-check" | indent)"
}
new_data_dir() {  # name: a fresh parent the postgres user can reach, and data/ below it
  mkdir -p "$WORK/$1" && chmod 0711 "$WORK/$1"
  echo "$WORK/$1/data"
}

backup_a() {  # run
  local before t rc el
  before=$(pgr_count)
  t=$(now); rc=0
  pgr apply --auto-approve "$WORK/policy.yaml" > "$WORK/bk-a-$1.out" 2> "$WORK/bk-a-$1.out.err" || rc=$?
  el=$(elapsed "$t")
  expect_ok "$rc" "(a) pgrecover BackupPolicy apply, run $1" "$WORK/bk-a-$1.out.err"
  summary_ok "$WORK/bk-a-$1.out" "(a) pgrecover BackupPolicy apply, run $1"
  [ "$(pgr_count)" -eq $((before + 1)) ] || die "(a) run $1: exited 0 but made no new backup"
  A+=("$el")
  A_STEPS="$(step_times "$WORK/bk-a-$1.out")"
  A_BYTES=$(pgr backups list | jq '[.backups[] | select(.policy == "bench-physical")][-1].bytes')
}
backup_b() {  # run
  local before t rc el
  before=$(pgbr_count)
  t=$(now); rc=0
  as_pg pgbackrest --config="$PGBR_CONF" --stanza=bench --type=full backup > "$WORK/bk-b-$1.log" 2>&1 || rc=$?
  el=$(elapsed "$t")
  expect_ok "$rc" "(b) pgbackrest --type=full backup, run $1" "$WORK/bk-b-$1.log"
  [ "$(pgbr_count)" -eq $((before + 1)) ] || die "(b) run $1: exited 0 but made no new backup"
  B+=("$el")
  B_BYTES=$(as_pg pgbackrest --config="$PGBR_CONF" --stanza=bench --output=json info | jq '.[0].backup[-1].info.repository.delta')
}
backup_e() {  # run
  local t rc el
  t=$(now); rc=0
  pgr apply --auto-approve "$WORK/policy-gzip.yaml" > "$WORK/bk-e-$1.out" 2> "$WORK/bk-e-$1.out.err" || rc=$?
  el=$(elapsed "$t")
  expect_ok "$rc" "(e) pgrecover BackupPolicy apply with gzip, run $1" "$WORK/bk-e-$1.out.err"
  summary_ok "$WORK/bk-e-$1.out" "(e) pgrecover BackupPolicy apply with gzip, run $1"
  E+=("$el")
}
recover_c() {  # run
  local dd port t rc el
  dd=$(new_data_dir "rec-c-$1"); port=$(free_port)
  cat > "$WORK/pitr-$1.yaml" <<YAML
apiVersion: pgrecover/v1
kind: PointInTimeRecovery
metadata: {name: bench-pitr-$1}
spec:
  from: {policy: bench-physical}
  target: {immediate: true}
  action: promote
  to: {data_directory: "$dd", port: $port}
  timeout: 10m
YAML
  RECOVERED+=("$dd")
  sync
  t=$(now); rc=0
  local applied=""
  { pgr apply --auto-approve --only "bench-pitr-$1" "$WORK/policy.yaml" "$WORK/pitr-$1.yaml" > "$WORK/rec-c-$1.out" 2> "$WORK/rec-c-$1.out.err" &&
    applied=$(elapsed "$t") && wait_writable "$dd" "$port"; } || rc=$?
  el=$(elapsed "$t")
  expect_ok "$rc" "(c) pgrecover PointInTimeRecovery apply, run $1" "$WORK/rec-c-$1.out.err"
  summary_ok "$WORK/rec-c-$1.out" "(c) pgrecover PointInTimeRecovery apply, run $1"
  check_rows "$dd" "$port" "(c) pgrecover PointInTimeRecovery, run $1"
  C+=("$el")
  C_STEPS="apply ${applied}s = plan and start-up $(echo "$applied - $(run_seconds "$WORK/rec-c-$1.out")" | bc)s + run $(run_seconds "$WORK/rec-c-$1.out")s; then until writable $(echo "$el - $applied" | bc)s
                 steps: $(step_times "$WORK/rec-c-$1.out")
                 server log: $(timeline "$WORK/rec-c-$1/postgresql.log" "$t")"
  stop_recovered "$dd"; rm -rf "${dd:?}"
}
recover_d() {  # run
  local dd port t rc el
  dd=$(new_data_dir "rec-d-$1"); port=$(free_port)
  mkdir -p "$dd" && chmod 0700 "$dd" && chown "$PGUSER_OS:" "$dd" "$(dirname "$dd")"  # pg_ctl writes its log beside data/
  RECOVERED+=("$dd")
  sync
  t=$(now); rc=0
  local restored=""
  { as_pg pgbackrest --config="$PGBR_CONF" --stanza=bench --pg1-path="$dd" --type=immediate --target-action=promote restore &&
    restored=$(elapsed "$t") && as_pg "$BIN/pg_ctl" -D "$dd" -l "$dd/../server.log" -w -t 600 \
      -o "-c port=$port -c unix_socket_directories='$dd' -c listen_addresses='' -c archive_mode=off" start &&
    wait_writable "$dd" "$port"; } > "$WORK/rec-d-$1.log" 2>&1 || rc=$?
  el=$(elapsed "$t")
  expect_ok "$rc" "(d) pgbackrest restore + start, run $1" "$WORK/rec-d-$1.log"
  if [ "$FAULT" = differ ] && [ "$1" = 1 ]; then
    psql -XAtq -h "$dd" -p "$port" -U postgres -d postgres -c "delete from pgbench_history where ctid = (select min(ctid) from pgbench_history)"
  fi
  check_rows "$dd" "$port" "(d) pgbackrest restore, run $1"
  D+=("$el")
  D_STEPS="restore ${restored}s, then start until writable $(echo "$el - $restored" | bc)s
                 server log: $(timeline "$WORK/rec-d-$1/server.log" "$t")"
  stop_recovered "$dd"; rm -rf "${dd:?}"
}

A=() B=() C=() D=() E=()
for i in $(seq 1 "$RUNS"); do
  q -c CHECKPOINT
  if [ "$RECOVERY_ONLY" = 0 ] || [ "$i" = 1 ]; then
    if [ $((i % 2)) = 1 ]; then backup_a "$i"; backup_b "$i"; else backup_b "$i"; backup_a "$i"; fi
    if [ "$RECOVERY_ONLY" = 0 ]; then backup_e "$i"; else E+=(0); fi
    log "run $i backup:   (a) pgrecover ${A[-1]} s ($A_BYTES bytes)   (b) pgbackrest ${B[-1]} s ($B_BYTES bytes)   (e) pgrecover with gzip ${E[-1]} s"
    log "               pgrecover steps: $A_STEPS"
  fi
  if [ $((i % 2)) = 1 ]; then recover_c "$i"; recover_d "$i"; else recover_d "$i"; recover_c "$i"; fi
  log "run $i recovery: (c) pgrecover ${C[-1]} s   (d) pgbackrest restore + start ${D[-1]} s"
  log "               pgrecover: $C_STEPS"
  log "               pgbackrest: $D_STEPS"
done

ma=$(printf '%s\n' "${A[@]}" | median); mb=$(printf '%s\n' "${B[@]}" | median)
mc=$(printf '%s\n' "${C[@]}" | median); md=$(printf '%s\n' "${D[@]}" | median)
log ""
log "every run (s) and median:"
log "  (a) pgrecover physical BackupPolicy apply:                 ${A[*]}   median $ma"
log "  (b) pgbackrest --type=full backup:                         ${B[*]}   median $mb"
log "  (e) pgrecover, the same policy with gzip, one thread:     ${E[*]}   median $(printf '%s\n' "${E[@]}" | median)   (reference, not in a ratio)"
log "  (c) pgrecover PointInTimeRecovery (immediate, promote):    ${C[*]}   median $mc"
log "  (d) pgbackrest restore --type=immediate + start:           ${D[*]}   median $md"
log "ratio of medians: backup a/b = $(ratio "$ma" "$mb")   recovery c/d = $(ratio "$mc" "$md")   (goal: at most 0.9 each)"
log "equal: every recovered cluster of both tools held the source's rows (count, balance sum, row-hash sum of each pgbench table) and took a write"
log ""
log "load average:  $(cut -d' ' -f1-3 /proc/loadavg) at the end"
log "all checks passed; results written to $OUT"
