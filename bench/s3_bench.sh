#!/usr/bin/env bash
# S3 benchmark: pgrecover through an S3-compatible server against the local repository, and
# `wal push` against pgBackRest's `archive-push`, on the same data, same server, same run.
#
#   bench/s3_bench.sh [--runs N] [--scale S] [--segments N] [--compression C] [--quick]
#
# It starts a throwaway PostgreSQL server (`pgrecover instance start --durable`, fsync on; its
# archive_command copies every WAL segment into a folder) and s3rver (npm, installed by
# scripts/lib.sh into a cache folder) serving HTTPS on 127.0.0.1 with a self-signed certificate
# made by openssl for this run (pgBackRest's S3 repository speaks TLS only; pgrecover checks the
# certificate through ca_file, pgBackRest with repo1-storage-verify-tls=n). It builds pgbench
# scale S (default 30, about 450 MB) with foreign keys and extra indexes, then alternates, N times
# (default 3):
#   (a) a logical backup (BackupPolicy, directory format, jobs 2, compression C, default none:
#       the largest objects, multipart uploads of 16 MB parts) into the local repository and the
#       same into the S3 repository, and a Restore (jobs 2, full post steps) from each into a new
#       database. Every apply runs under GNU time: its wall time and peak RSS are kept.
#   (b) `pgrecover wal push --compress gzip` of the same K segments (default 32, real WAL of the
#       dataset's build) into the S3 repository, one process per segment as archive_command
#       runs it, and `pgbackrest archive-push` (compress-type gz, level 6, the same as pgrecover's
#       gzip) of those segments into the same s3rver, one process per segment. Segments per second.
# It prints every run, the medians and their ratios, and pgrecover's peak RSS.
#
# Nothing is reported that was not checked: every timed command must exit 0; a backup apply must
# add one backup with the source's exact row counts in its manifest; a restored database must
# have the source's tables, indexes, constraints and exact row counts, and the databases restored
# from the two repositories in run 1 must be equal (pg_dump -s and per-table row checksums); after
# each wal push round both archives must hold exactly K segments, and in run 1 every segment is
# fetched back from both (`pgrecover wal fetch`, `pgbackrest archive-get`) and compared byte for
# byte with the original. Any failure prints "BENCH FAILED: <why>", is written to the results
# file too, and the script exits 1.
#
# Fault injection, to see the failure path work (the header of the results file says so):
#   BENCH_FAULT_INJECT=differ   change one row of the database restored from S3 in round 1 before
#                               the equality check
#   BENCH_FAULT_INJECT=wal      change one byte of the first segment fetched back from the S3 archive
#
# Results: bench/results/s3-<UTC time>.txt, starting with the date, the machine (cores, memory,
# load), the PostgreSQL version, the server's settings and the tools' versions. Nothing here runs
# in the test suite.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
export LC_NUMERIC=C

usage() { sed -n '5p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2; }
ARGS=("$@")
RUNS=3 SCALE=30 SEGMENTS=32 COMPRESSION=none
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --segments) SEGMENTS=$2; shift 2 ;;
    --compression) COMPRESSION=$2; shift 2 ;;
    --quick) RUNS=1; SCALE=2; SEGMENTS=4; shift ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs takes a positive number" >&2; exit 2; }
[[ "$SCALE" =~ ^[1-9][0-9]*$ ]] || { echo "--scale takes a positive number" >&2; exit 2; }
[[ "$SEGMENTS" =~ ^[1-9][0-9]*$ ]] || { echo "--segments takes a positive number" >&2; exit 2; }
FAULT=${BENCH_FAULT_INJECT:-}
case "$FAULT" in
  ""|differ|wal) ;;
  *) echo "unknown BENCH_FAULT_INJECT=$FAULT" >&2; exit 2 ;;
esac

ensure_packages time bc jq openssl pgbackrest
ensure_s3rver
build_pgrecover
PGR="$BUILD_DIR/pgrecover"
BIN=$(pg_config --bindir)
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"
WORK=$(mktemp -d /var/tmp/pgrecover-s3-bench-XXXXXX)
chmod 0711 "$WORK"
OUT="$RESULTS/s3-$(date -u +%Y%m%dT%H%M%SZ).txt"
: > "$OUT"

# --- reporting and failure ---------------------------------------------------------------------
INSTANCE="" S3PID="" FAILED=0 LAST_ERR=""
log() { printf '%s\n' "$*" | tee -a "$OUT"; }
die() { FAILED=1; log "BENCH FAILED: $*"; exit 1; }
trap 'LAST_ERR="line $LINENO: $BASH_COMMAND (exit status $?)"' ERR
finish() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$FAILED" = 0 ]; then log "BENCH FAILED: a command failed unexpectedly: ${LAST_ERR:-exit status $rc}"; fi
  if [ "$rc" -ne 0 ]; then echo "the failure is recorded in $OUT" >&2; fi
  if [ -n "$INSTANCE" ]; then "$PGR" instance stop "$INSTANCE" >/dev/null 2>&1 || true; fi
  if [ -n "$S3PID" ]; then kill "$S3PID" 2>/dev/null || true; wait "$S3PID" 2>/dev/null || true; fi
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
signature() { q -d "$1" -c "$SIG_SQL" | LC_ALL=C sort; }
check_db() {  # database, label
  signature "$1" > "$WORK/sig-$1"
  cmp -s "$WORK/expect-src" "$WORK/sig-$1" || die "$2: database $1 does not match the source (tables, indexes, constraints, exact row counts):
$(diff "$WORK/expect-src" "$WORK/sig-$1" | head -n 20 | indent)"
}
dump_schema() { "$BIN/pg_dump" -s "$1" | grep -v '^\\\(un\)\?restrict'; }
checksums() {
  q -d "$1" -c "select format('%I.%I', schemaname, relname) from pg_stat_user_tables order by 1" |
    while read -r tbl; do q -d "$1" -c "select '$tbl', count(*), sum(hashtext(x::text)::bigint) from $tbl x"; done
}
check_equal() {  # two databases
  dump_schema "$1" > "$WORK/schema-1"; dump_schema "$2" > "$WORK/schema-2"
  cmp -s "$WORK/schema-1" "$WORK/schema-2" || die "$1 and $2 differ: pg_dump -s:
$(diff "$WORK/schema-1" "$WORK/schema-2" | head -n 20 | indent)"
  checksums "$1" > "$WORK/sums-1"; checksums "$2" > "$WORK/sums-2"
  cmp -s "$WORK/sums-1" "$WORK/sums-2" || die "$1 and $2 differ: per-table row checksums:
$(diff "$WORK/sums-1" "$WORK/sums-2" | head -n 20 | indent)"
}

# --- the servers -------------------------------------------------------------------------------
mkdir -p "$WORK/walsrc" "$WORK/s3data" "$WORK/repo" "$WORK/tls" "$WORK/pgbr/log" "$WORK/pgbr/lock"
chmod 0700 "$WORK/repo"
chown postgres "$WORK/walsrc" 2>/dev/null || true   # archive_command runs as the server's user
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" -days 2 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" > "$WORK/tls/openssl.log" 2>&1 ||
  die "openssl could not make a self-signed certificate: $(tail -n 3 "$WORK/tls/openssl.log")"

"$PGR" --json instance start --durable --base-dir "$WORK" --set archive_mode=on \
  --set "archive_command='cp %p $WORK/walsrc/%f'" > "$WORK/instance.json"
INSTANCE=$(jq -r .folder "$WORK/instance.json")
PORT=$(jq -r .port "$WORK/instance.json")
export PGHOST="$INSTANCE" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres
CONNINFO="host=$INSTANCE port=$PORT user=postgres dbname=postgres"

S3PORT=$(free_port)
NODE_OPTIONS=--openssl-legacy-provider "$PGRECOVER_S3RVER" -d "$WORK/s3data" -a 127.0.0.1 -p "$S3PORT" -s \
  --key "$WORK/tls/key.pem" --cert "$WORK/tls/cert.pem" --configure-bucket bench > "$WORK/s3rver.log" 2>&1 &
S3PID=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null --cacert "$WORK/tls/cert.pem" "https://127.0.0.1:$S3PORT/bench" && break
  sleep 0.1
done
curl -s -o /dev/null --cacert "$WORK/tls/cert.pem" "https://127.0.0.1:$S3PORT/bench" || die "s3rver did not start: $(tail -n 5 "$WORK/s3rver.log")"

export BENCH_S3_KEY=S3RVER BENCH_S3_SECRET=S3RVER   # s3rver's built-in account
CONFIG="$WORK/pgrecover.toml"
cat > "$CONFIG" <<EOF
state_dir = "$WORK/state"

[repositories.local]
path = "$WORK/repo"

[repositories.s3]
type = "s3"
endpoint = "https://127.0.0.1:$S3PORT"
bucket = "bench"
prefix = "pgrecover"
region = "us-east-1"
uri_style = "path"
access_key_env = "BENCH_S3_KEY"
secret_key_env = "BENCH_S3_SECRET"
ca_file = "$WORK/tls/cert.pem"
staging_dir = "$WORK"
EOF
pgr() { "$PGR" --config "$CONFIG" "$@"; }

# pgBackRest: credentials from its environment variables, never in its configuration file.
export PGBACKREST_REPO1_S3_KEY=S3RVER PGBACKREST_REPO1_S3_KEY_SECRET=S3RVER
pgbr_conf() {  # repository path
  cat > "$WORK/pgbr/pgbackrest.conf" <<EOF
[global]
repo1-type=s3
repo1-s3-endpoint=127.0.0.1
repo1-s3-port=$S3PORT
repo1-s3-bucket=bench
repo1-s3-region=us-east-1
repo1-s3-uri-style=path
repo1-storage-verify-tls=n
repo1-path=$1
compress-type=gz
compress-level=6
log-level-console=warn
log-level-file=off
lock-path=$WORK/pgbr/lock
log-path=$WORK/pgbr/log

[bench]
pg1-path=$INSTANCE/data
pg1-socket-path=$INSTANCE
pg1-port=$PORT
pg1-user=postgres
EOF
}
pgbr() { pgbackrest --config="$WORK/pgbr/pgbackrest.conf" --stanza=bench "$@"; }

# --- header ------------------------------------------------------------------------------------
dirty=""
[ -z "$(git -C "$ROOT" status --porcelain -- . ':!bench/results' 2>/dev/null)" ] || dirty=" (with uncommitted changes)"
log "pgrecover S3 benchmark"
log "date:          $(date -u +%FT%TZ)"
log "command:       bench/s3_bench.sh ${ARGS[*]}"
if [ -n "$FAULT" ]; then log "FAULT INJECTION: BENCH_FAULT_INJECT=$FAULT (this run is expected to fail)"; fi
log "pgrecover:     commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty, $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt") build"
log "machine:       $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory (MemTotal), kernel $(uname -r)"
log "load average:  $(cut -d' ' -f1-3 /proc/loadavg) at the start (the machine may be shared: other work adds noise; variants are alternated)"
log "PostgreSQL:    $(q -c 'select version()')"
log "S3 server:     s3rver $("$PGRECOVER_S3RVER" --version) (Node.js $(node --version)) over HTTPS on 127.0.0.1 (self-signed certificate), storage folder on $(df -P "$WORK" | awk 'NR == 2 {print $1}')"
log "pgBackRest:    $(pgbackrest version)"
log "server:        pgrecover instance start --durable, archive_mode on (archive_command copies segments into a folder)"
log "server settings (from pg_settings: name, value, source):"
q -c "select format('  %-34s %-18s %s', name, current_setting(name), source) from pg_settings
       where name in ('shared_buffers', 'maintenance_work_mem', 'work_mem', 'max_wal_size', 'checkpoint_timeout',
                      'wal_level', 'wal_compression', 'fsync', 'synchronous_commit', 'full_page_writes',
                      'max_parallel_maintenance_workers', 'max_worker_processes', 'archive_mode', 'wal_segment_size')
       order by name" | tee -a "$OUT"
log "dataset:       pgbench scale $SCALE with foreign keys and 3 extra indexes; runs: $RUNS, alternated"
log ""

# --- dataset -----------------------------------------------------------------------------------
createdb bench_src
"$BIN/pgbench" -q -i -s "$SCALE" --foreign-keys bench_src > "$WORK/pgbench.log" 2>&1 || die "pgbench -i failed: $(tail -n 3 "$WORK/pgbench.log")"
"$BIN/pgbench" -n -t 2000 -c 2 bench_src > "$WORK/pgbench.log" 2>&1 || die "pgbench failed: $(tail -n 3 "$WORK/pgbench.log")"
psql -X -q -v ON_ERROR_STOP=1 -d bench_src <<SQL
CREATE INDEX ON pgbench_accounts (bid);
CREATE INDEX ON pgbench_accounts (abalance);
CREATE INDEX ON pgbench_history (aid);
VACUUM ANALYZE;
SQL
signature bench_src > "$WORK/expect-src"
grep '^table ' "$WORK/expect-src" | sed 's/^table //' | LC_ALL=C sort > "$WORK/expect-counts"
log "source database: $(q -c "select pg_size_pretty(pg_database_size('bench_src'))"), $(grep -c '^table ' "$WORK/expect-src") tables, $(sed -n 's/^indexes //p' "$WORK/expect-src") indexes, $(sed -n 's/^constraints //p' "$WORK/expect-src") constraints"
grep '^table ' "$WORK/expect-src" | sed 's/^table /  /' | tee -a "$OUT"
log ""

# --- (a) logical backup and restore: local vs S3 -----------------------------------------------
for repo in local s3; do
  printf '%s\n' "apiVersion: pgrecover/v1" "kind: BackupPolicy" "metadata: {name: bench-$repo}" "spec:" \
    "  source: {conninfo: \"$CONNINFO\"}" "  database: bench_src" "  format: directory" "  compression: $COMPRESSION" \
    "  jobs: 2" "  repository: $repo" > "$WORK/policy-$repo.yaml"
done
restore_doc() {  # repository, database
  printf '%s\n' "apiVersion: pgrecover/v1" "kind: Restore" "metadata: {name: restore-${2//_/-}}" "spec:" \
    "  from: {repository: $1, policy: bench-$1, backup: latest}" \
    "  to: {conninfo: \"$CONNINFO\", database: $2, create: true}" "  jobs: 2" > "$WORK/restore-$1-$2.yaml"
  echo "$WORK/restore-$1-$2.yaml"
}
timed_apply() {  # label, output file, documents...: wall time into $EL, peak RSS (kB) into $RSS
  local label=$1 out=$2 t rc=0
  shift 2
  q -c CHECKPOINT
  t=$(now)
  /usr/bin/time -f '%M' -o "$out.rss" "$PGR" --config "$CONFIG" --json --log-level warn apply --auto-approve "$@" > "$out" 2> "$out.err" || rc=$?
  EL=$(elapsed "$t")
  expect_ok "$rc" "$label" "$out.err"
  local status; status=$(tail -n 1 "$out" | jq -r 'select(.event == "summary") | .status' 2>/dev/null || true)
  [ "$status" = ok ] || die "$label: the apply's summary does not say ok (${status:-no summary}):
$(tail -n 5 "$out" "$out.err" | indent)"
  RSS=$(tail -n 1 "$out.rss")
}
check_backup() {  # repository, label
  pgr --json backups list --repository "$1" > "$WORK/list.json"
  local n id
  n=$(jq --arg p "bench-$1" '[.backups[] | select(.policy == $p)] | length' "$WORK/list.json")
  [ "$n" = 1 ] || die "$2: the repository lists $n backups of bench-$1, expected 1"
  id=$(jq -r --arg p "bench-$1" '[.backups[] | select(.policy == $p)][0].id' "$WORK/list.json")
  pgr --json backups show "$id" --repository "$1" | jq -r '.row_counts | to_entries[] | "\(.key) rows \(.value)"' |
    LC_ALL=C sort > "$WORK/counts-$1"
  cmp -s "$WORK/expect-counts" "$WORK/counts-$1" || die "$2: the row counts in backup $id's manifest differ from the source's:
$(diff "$WORK/expect-counts" "$WORK/counts-$1" | head -n 20 | indent)"
  BYTES=$(jq -r --arg p "bench-$1" '[.backups[] | select(.policy == $p)][0].bytes' "$WORK/list.json")
}
drop_backups() {  # between rounds: each round starts from empty repositories
  rm -rf "$WORK/repo/backups" "$WORK/s3data/bench/pgrecover/backups"
}

declare -A T M
MED=()
for i in $(seq 1 "$RUNS"); do
  drop_backups
  order=(local s3)
  if [ $((i % 2)) = 0 ]; then order=(s3 local); fi
  line="round $i:"
  for repo in "${order[@]}"; do
    timed_apply "backup into $repo, round $i" "$WORK/bk-$repo-$i.out" "$WORK/policy-$repo.yaml"
    check_backup "$repo" "backup into $repo, round $i"
    T[bk-$repo]+="$EL "; M[bk-$repo]=$(( RSS > ${M[bk-$repo]:-0} ? RSS : ${M[bk-$repo]:-0} ))
    line+="  backup $repo $EL s ($BYTES bytes, $((RSS / 1024)) MB RSS)"
  done
  for repo in "${order[@]}"; do
    timed_apply "restore from $repo, round $i" "$WORK/rs-$repo-$i.out" "$(restore_doc "$repo" "bench_${repo}_$i")"
    check_db "bench_${repo}_$i" "restore from $repo, round $i"
    T[rs-$repo]+="$EL "; M[rs-$repo]=$(( RSS > ${M[rs-$repo]:-0} ? RSS : ${M[rs-$repo]:-0} ))
    line+="  restore $repo $EL s ($((RSS / 1024)) MB RSS)"
  done
  if [ "$i" = 1 ]; then
    if [ "$FAULT" = differ ]; then q -d bench_s3_1 -c "update pgbench_branches set filler = 'fault injected' where bid = 1"; fi
    check_equal bench_local_1 bench_s3_1
  fi
  log "$line"
  dropdb "bench_local_$i"; dropdb "bench_s3_$i"
done
drop_backups
log ""
log "logical backup and restore (directory format, jobs 2, compression $COMPRESSION), every round (s) and median:"
for k in bk-local bk-s3 rs-local rs-s3; do
  # shellcheck disable=SC2086
  MED[${#MED[@]}]=$(printf '%s\n' ${T[$k]} | median)
done
log "  backup into the local repository:   ${T[bk-local]}  median ${MED[0]}   peak RSS $((M[bk-local] / 1024)) MB"
log "  backup into S3:                     ${T[bk-s3]}  median ${MED[1]}   peak RSS $((M[bk-s3] / 1024)) MB"
log "  restore from the local repository:  ${T[rs-local]}  median ${MED[2]}   peak RSS $((M[rs-local] / 1024)) MB"
log "  restore from S3:                    ${T[rs-s3]}  median ${MED[3]}   peak RSS $((M[rs-s3] / 1024)) MB"
log "ratio of medians S3/local: backup $(ratio "${MED[1]}" "${MED[0]}")   restore $(ratio "${MED[3]}" "${MED[2]}")"
log "every restored database matched the source (tables, indexes, constraints, exact row counts); every backup's manifest had the source's row counts"
log "equal: pg_dump -s and per-table row checksums of the databases restored from local and from S3 in round 1 are identical"
log ""

# --- (b) wal push: pgrecover vs pgBackRest archive-push -----------------------------------------
last=$(q -c "select pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 300); do
  [ "$(q -c "select coalesce(last_archived_wal >= '$last', false) from pg_stat_archiver")" = t ] && break
  sleep 0.2
done
mapfile -t SEGS < <(find "$WORK/walsrc" -maxdepth 1 -regextype posix-extended -regex ".*/[0-9A-F]{24}" -printf "%f\n" | sort | head -n "$SEGMENTS")
[ "${#SEGS[@]}" = "$SEGMENTS" ] || die "only ${#SEGS[@]} archived WAL segments, --segments asks for $SEGMENTS (use a larger --scale or fewer segments)"
log "wal push: $SEGMENTS segments of the dataset's WAL ($(du -sch "${SEGS[@]/#/$WORK/walsrc/}" | tail -n 1 | cut -f1)), gzip level 6 on both sides, one process per segment (as archive_command)"
push_pgrecover() {  # cluster
  local s
  for s in "${SEGS[@]}"; do pgr --log-level warn wal push "$WORK/walsrc/$s" --repository s3 --cluster "$1" --compress gzip || return 1; done
}
push_pgbackrest() {
  local s
  for s in "${SEGS[@]}"; do pgbr archive-push "$WORK/walsrc/$s" || return 1; done
}
fetch_back() {  # round
  local s
  for s in "${SEGS[@]}"; do
    pgr --log-level warn wal fetch "$s" "$WORK/got" --repository s3 --cluster "bench-$1" > "$WORK/fetch.log" 2>&1 ||
      die "wal fetch of $s from the S3 archive failed: $(tail -n 3 "$WORK/fetch.log")"
    if [ "$FAULT" = wal ] && [ "$s" = "${SEGS[0]}" ]; then printf 'X' | dd of="$WORK/got" bs=1 seek=100 conv=notrunc status=none; fi
    cmp -s "$WORK/got" "$WORK/walsrc/$s" || die "wal fetch of $s from the S3 archive differs from the original"
    rm -f "$WORK/got"
    pgbr archive-get "$s" "$WORK/got" > "$WORK/fetch.log" 2>&1 || die "pgbackrest archive-get of $s failed: $(tail -n 3 "$WORK/fetch.log")"
    cmp -s "$WORK/got" "$WORK/walsrc/$s" || die "pgbackrest archive-get of $s differs from the original"
    rm -f "$WORK/got"
  done
}
WA=() WB=()
for i in $(seq 1 "$RUNS"); do
  pgbr_conf "/pgbackrest-$i"
  pgbr stanza-create > "$WORK/stanza.log" 2>&1 || die "pgbackrest stanza-create failed: $(tail -n 5 "$WORK/stanza.log")"
  order=(pgrecover pgbackrest)
  if [ $((i % 2)) = 0 ]; then order=(pgbackrest pgrecover); fi
  for tool in "${order[@]}"; do
    t=$(now); rc=0
    "push_$tool" "bench-$i" > "$WORK/push-$tool-$i.log" 2>&1 || rc=$?
    el=$(elapsed "$t")
    expect_ok "$rc" "$tool wal push, round $i" "$WORK/push-$tool-$i.log"
    if [ "$tool" = pgrecover ]; then WA+=("$el"); else WB+=("$el"); fi
  done
  n=$(find "$WORK/s3data/bench/pgrecover/wal/bench-$i" -name '*.gz._S3rver_object' | wc -l)
  [ "$n" = "$SEGMENTS" ] || die "pgrecover wal push, round $i: the bucket holds $n segments of cluster bench-$i, expected $SEGMENTS"
  n=$(find "$WORK/s3data/bench/pgbackrest-$i/archive" -name '*.gz._S3rver_object' | wc -l)
  [ "$n" = "$SEGMENTS" ] || die "pgbackrest archive-push, round $i: the bucket holds $n segments, expected $SEGMENTS"
  if [ "$i" = 1 ]; then fetch_back 1; fi
  log "wal round $i: pgrecover $(ratio "$SEGMENTS" "${WA[-1]}") segments/s (${WA[-1]} s)   pgbackrest $(ratio "$SEGMENTS" "${WB[-1]}") segments/s (${WB[-1]} s)"
done
wa=$(printf '%s\n' "${WA[@]}" | median); wb=$(printf '%s\n' "${WB[@]}" | median)
/usr/bin/time -f '%M' -o "$WORK/push.rss" "$PGR" --config "$CONFIG" --log-level warn wal push "$WORK/walsrc/${SEGS[0]}" \
  --repository s3 --cluster bench-rss --compress gzip
log "wal push of $SEGMENTS segments, every round (s) and median:"
log "  pgrecover wal push:        ${WA[*]}   median $wa   = $(ratio "$SEGMENTS" "$wa") segments/s"
log "  pgbackrest archive-push:   ${WB[*]}   median $wb   = $(ratio "$SEGMENTS" "$wb") segments/s"
log "ratio of medians (time) pgrecover/pgbackrest: $(ratio "$wa" "$wb")"
log "pgrecover wal push peak RSS (one segment): $(( $(tail -n 1 "$WORK/push.rss") / 1024 )) MB"
log "every round: both archives hold exactly $SEGMENTS segments; round 1: every segment fetched back from both equals the original"
log ""
log "load average:  $(cut -d' ' -f1-3 /proc/loadavg) at the end"
log "all checks passed; results written to $OUT"
