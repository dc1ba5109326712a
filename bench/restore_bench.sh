#!/usr/bin/env bash
# Restore benchmark: pgrecover against pg_restore on the same data, same server, same run.
#
#   bench/restore_bench.sh [--runs N] [--scale S] [--events N] [--with-pgcopydb] [--quick]
#
# Builds a dataset (pgbench scale 20 with foreign keys, extra indexes, and an `events` table of
# 1,000,000 jsonb rows with a GIN index: about 650 MB), dumps it with `pg_dump -Fd -j2`, then
# alternates, N times:
#   (a) pgrecover apply of a full Restore with jobs: 2 (data, indexes, constraints, ANALYZE,
#       sequence checks, verification)
#   (b) pg_restore -j2, then vacuumdb -Z -j2 (the same end state: data, indexes, statistics)
#   (c) (b) with PGOPTIONS='-c maintenance_work_mem=1GB'
#   (d) pgcopydb clone (from the source database) when pgcopydb is installed
# and prints every wall time, the medians and the ratios a/b and a/c, checks that (a) and (b)
# give equal databases, and reports pgrecover's peak memory. Then it measures planning time for
# a 10,000-entry archive and the journal's overhead on 5,000 tiny tables.
# Results also go to bench/out/restore-<time>.txt. Nothing here runs in the test suite.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"

RUNS=3 SCALE=20 EVENTS=1000000 WITH_PGCOPYDB=0 QUICK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --events) EVENTS=$2; shift 2 ;;
    --with-pgcopydb) WITH_PGCOPYDB=1; shift ;;
    --quick) QUICK=1; RUNS=1; SCALE=2; EVENTS=50000; shift ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done

extra=(time bc)
[ "$WITH_PGCOPYDB" = 1 ] && extra+=(pgcopydb)
ensure_packages "${extra[@]}"
build_pgrecover
PGR="$BUILD_DIR/pgrecover"
BIN=$(pg_config --bindir)
mkdir -p "$ROOT/bench/out"
OUT="$ROOT/bench/out/restore-$(date -u +%Y%m%dT%H%M%SZ).txt"
WORK=$(mktemp -d /var/tmp/pgrecover-bench-XXXXXX)
chmod 0711 "$WORK"
INSTANCE=""
cleanup() {
  [ -n "$INSTANCE" ] && "$PGR" instance stop "$INSTANCE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '%s\n' "$*" | tee -a "$OUT"; }

# One durable server for every variant: realistic settings for a restore target.
"$PGR" --json instance start --durable --base-dir "$WORK" \
  --set shared_buffers=1GB --set max_wal_size=8GB --set checkpoint_timeout=30min \
  --set max_parallel_maintenance_workers=2 > "$WORK/instance.json"
INSTANCE=$(sed -E 's/.*"folder":"([^"]*)".*/\1/' "$WORK/instance.json")
PORT=$(sed -E 's/.*"port":([0-9]+).*/\1/' "$WORK/instance.json")
export PGHOST="$INSTANCE" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres
CONNINFO="host=$INSTANCE port=$PORT user=postgres dbname=postgres"
printf 'state_dir = "%s"\n' "$WORK/state" > "$WORK/pgrecover.toml"

log "pgrecover restore benchmark, $(date -u +%FT%TZ), $(nproc) cores, PostgreSQL $("$BIN/postgres" --version | awk '{print $3}')"
log "dataset: pgbench scale $SCALE with foreign keys + events ($EVENTS rows); $RUNS alternated runs"

# --- dataset -----------------------------------------------------------------------------------
createdb bench_src
"$BIN/pgbench" -q -i -s "$SCALE" --foreign-keys bench_src >/dev/null 2>&1
"$BIN/pgbench" -n -t 2000 -c 2 bench_src >/dev/null 2>&1   # some pgbench_history rows
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
log "source database: $(psql -XAt -c "select pg_size_pretty(pg_database_size('bench_src'))")"
DUMP="$WORK/bench.dir"
t0=$(date +%s.%N)
"$BIN/pg_dump" -Fd -j2 -f "$DUMP" bench_src
log "pg_dump -Fd -j2: $(echo "$(date +%s.%N) - $t0" | bc) s, archive $(du -sh "$DUMP" | cut -f1)"

restore_doc() {  # name database
  cat > "$WORK/$1.yaml" <<EOF
apiVersion: pgrecover/v1
kind: Restore
metadata: {name: $1}
spec:
  from: {archive: "$DUMP"}
  to: {conninfo: "$CONNINFO", database: $2, create: true}
  jobs: 2
EOF
  echo "$WORK/$1.yaml"
}

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

A=(); B=(); C=(); D=()
PEAK_RSS=0
for i in $(seq 1 "$RUNS"); do
  psql -XAqt -c CHECKPOINT
  doc=$(restore_doc "bench-a-$i" "bench_a_$i")
  t=$(now)
  /usr/bin/time -f '%M' -o "$WORK/rss" "$PGR" --config "$WORK/pgrecover.toml" --log-level warn apply --auto-approve "$doc" > "$WORK/a-$i.log"
  A+=("$(elapsed "$t")")
  rss=$(cat "$WORK/rss"); [ "$rss" -gt "$PEAK_RSS" ] && PEAK_RSS=$rss

  psql -XAqt -c CHECKPOINT
  createdb "bench_b_$i"
  t=$(now)
  "$BIN/pg_restore" -j2 -d "bench_b_$i" "$DUMP"
  "$BIN/vacuumdb" -q -Z -j2 -d "bench_b_$i"
  B+=("$(elapsed "$t")")

  psql -XAqt -c CHECKPOINT
  createdb "bench_c_$i"
  t=$(now)
  PGOPTIONS='-c maintenance_work_mem=1GB' "$BIN/pg_restore" -j2 -d "bench_c_$i" "$DUMP"
  PGOPTIONS='-c maintenance_work_mem=1GB' "$BIN/vacuumdb" -q -Z -j2 -d "bench_c_$i"
  C+=("$(elapsed "$t")")

  if command -v pgcopydb >/dev/null; then
    psql -XAqt -c CHECKPOINT
    createdb "bench_d_$i"
    t=$(now)
    pgcopydb clone --source "$CONNINFO dbname=bench_src" --target "$CONNINFO dbname=bench_d_$i" \
      --table-jobs 2 --index-jobs 2 --dir "$WORK/pgcopydb-$i" --no-owner >/dev/null 2>"$WORK/pgcopydb-$i.log" \
      && D+=("$(elapsed "$t")") || log "pgcopydb clone failed: $(tail -3 "$WORK/pgcopydb-$i.log")"
    [ "$i" -gt 1 ] && dropdb "bench_d_$i" || true
  fi
  log "run $i: (a) pgrecover ${A[-1]} s   (b) pg_restore+vacuumdb ${B[-1]} s   (c) same, mwm=1GB ${C[-1]} s$( [ ${#D[@]} -gt 0 ] && echo "   (d) pgcopydb ${D[-1]} s")"
  if [ "$i" -gt 1 ]; then dropdb "bench_a_$i"; dropdb "bench_b_$i"; fi
  dropdb "bench_c_$i"
done

ma=$(printf '%s\n' "${A[@]}" | median)
mb=$(printf '%s\n' "${B[@]}" | median)
mc=$(printf '%s\n' "${C[@]}" | median)
log ""
log "median wall time: (a) pgrecover $ma s, (b) pg_restore -j2 + vacuumdb -Z -j2 $mb s, (c) with maintenance_work_mem=1GB $mc s"
[ ${#D[@]} -gt 0 ] && log "median pgcopydb clone: $(printf '%s\n' "${D[@]}" | median) s"
log "ratio a/b = $(echo "scale=3; $ma / $mb" | bc)   ratio a/c = $(echo "scale=3; $ma / $mc" | bc)"
log "pgrecover peak RSS: $((PEAK_RSS / 1024)) MB"

# --- equality of (a) and (b) -------------------------------------------------------------------
dump_schema() { "$BIN/pg_dump" -s "$1" | grep -v '^\\\(un\)\?restrict'; }
checksums() {
  psql -XAt -d "$1" -c "select format('%I.%I', schemaname, relname) from pg_stat_user_tables order by 1" |
    while read -r t; do psql -XAt -d "$1" -c "select '$t', count(*), sum(hashtext(x::text)::bigint) from $t x"; done
}
if [ "$(dump_schema bench_a_1 | md5sum)" = "$(dump_schema bench_b_1 | md5sum)" ] &&
   [ "$(checksums bench_a_1 | md5sum)" = "$(checksums bench_b_1 | md5sum)" ]; then
  log "equal: pg_dump -s and per-table row checksums of (a) and (b) are identical"
else
  log "NOT EQUAL: (a) and (b) differ"; diff <(dump_schema bench_a_1) <(dump_schema bench_b_1) | head -20 | tee -a "$OUT"
fi
log "statistics: (a) $(psql -XAt -d bench_a_1 -c "select count(*) from pg_stats where schemaname='public'") pg_stats rows, (b) $(psql -XAt -d bench_b_1 -c "select count(*) from pg_stats where schemaname='public'")"
dropdb bench_a_1; dropdb bench_b_1

# --- a logical backup through a BackupPolicy vs plain pg_dump -Fd -j2 ---------------------------
mkdir -p "$WORK/repo" && chmod 0700 "$WORK/repo"
printf '\n[connections.bench]\nconninfo = "%s"\n\n[repositories.bench]\npath = "%s"\n' "$CONNINFO" "$WORK/repo" >> "$WORK/pgrecover.toml"
printf '%s\n' "apiVersion: pgrecover/v1" "kind: BackupPolicy" "metadata: {name: bench-backup}" "spec:" \
  "  source: {connection: bench}" "  database: bench_src" "  format: directory" "  compression: gzip" \
  "  jobs: 2" "  repository: bench" > "$WORK/policy.yaml"
BK_A=() BK_B=()
for i in 1 2 3; do
  t=$(now); "$PGR" --config "$WORK/pgrecover.toml" --log-level warn apply --auto-approve "$WORK/policy.yaml" > /dev/null; BK_A+=("$(elapsed "$t")")
  rm -rf "$WORK/plain.dir"
  t=$(now); "$BIN/pg_dump" -Fd -j2 -f "$WORK/plain.dir" bench_src; BK_B+=("$(elapsed "$t")")
  rm -rf "$WORK/repo/backups"
done
ka=$(printf '%s\n' "${BK_A[@]}" | median); kb=$(printf '%s\n' "${BK_B[@]}" | median)
log "logical backup: BackupPolicy apply (pg_dump -Fd -j2, globals, exact row counts, SHA-256 of every file, manifest) median $ka s; plain pg_dump -Fd -j2 median $kb s; ratio $(echo "scale=3; $ka / $kb" | bc) (goal: at most 1.2)"

# --- planning time for a 10,000-entry archive --------------------------------------------------
if [ "$QUICK" = 0 ]; then
  createdb bench_toc
  for b in $(seq 0 9); do  # 250 tables per transaction: one DO block for all runs out of lock slots
    psql -X -q -d bench_toc -c "DO \$\$ BEGIN FOR i IN $((b * 250 + 1))..$((b * 250 + 250)) LOOP
      EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i);
      EXECUTE format('CREATE INDEX ON t%s (v)', i); END LOOP; END \$\$"
  done
  "$BIN/pg_dump" -Fc -f "$WORK/toc.dump" bench_toc
  entries=$("$PGR" --json inspect "$WORK/toc.dump" | grep -o '"id":' | wc -l)
  doc=$(restore_doc bench-toc bench_toc_copy)
  sed -i "s|$DUMP|$WORK/toc.dump|" "$doc"
  P=()
  for i in 1 2 3; do
    t=$(now); "$PGR" --config "$WORK/pgrecover.toml" plan "$doc" > /dev/null; P+=("$(elapsed "$t")")
  done
  log "planning a $entries-entry archive: median $(printf '%s\n' "${P[@]}" | median) s (goal: under 2 s)"

  # --- journal overhead: 5,000 tiny tables ---------------------------------------------------
  createdb bench_tiny
  for b in $(seq 0 19); do
    psql -X -q -d bench_tiny -c "DO \$\$ BEGIN FOR i IN $((b * 250 + 1))..$((b * 250 + 250)) LOOP
      EXECUTE format('CREATE TABLE tiny%s (id int)', i); EXECUTE format('INSERT INTO tiny%s VALUES (1)', i); END LOOP; END \$\$"
  done
  "$BIN/pg_dump" -Fd -j2 -f "$WORK/tiny.dir" bench_tiny
  doc=$(restore_doc bench-tiny bench_tiny_a)
  sed -i "s|$DUMP|$WORK/tiny.dir|" "$doc"
  t=$(now); "$PGR" --config "$WORK/pgrecover.toml" --log-level warn apply --auto-approve "$doc" > /dev/null; ta=$(elapsed "$t")
  doc=$(restore_doc bench-tiny-bare bench_tiny_c)
  sed -i "s|$DUMP|$WORK/tiny.dir|" "$doc"
  echo "  post: {analyze: false, fix_sequences: false, verify: {row_counts: false}}" >> "$doc"
  t=$(now); "$PGR" --config "$WORK/pgrecover.toml" --log-level warn apply --auto-approve "$doc" > /dev/null; tc=$(elapsed "$t")
  createdb bench_tiny_b
  t=$(now); "$BIN/pg_restore" -j2 -d bench_tiny_b "$WORK/tiny.dir"; tb=$(elapsed "$t")
  log "5,000 tiny tables: pg_restore -j2 $tb s; pgrecover $ta s with ANALYZE and verification (ratio $(echo "scale=3; $ta / $tb" | bc)), $tc s without them: the journal and executor overhead (ratio $(echo "scale=3; $tc / $tb" | bc))"
fi
log "results written to $OUT"
