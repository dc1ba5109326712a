# Helpers shared by the bench/ scripts (sourced, never run). Each script defines its own die and
# log, which these call.
indent() { sed 's/^/    /'; }
expect_ok() {  # status, what, file with its output
  [ "$1" -eq 0 ] || die "$2 exited with status $1; the end of its output:
$(tail -n 15 "$3" | indent)"
}
now() { date +%s.%N; }
elapsed() { printf '%.3f' "$(echo "$(now) - $1" | bc)"; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) printf "%.3f\n", a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { printf '%.3f' "$(echo "scale=6; $1 / $2" | bc)"; }
q() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# With the kernel's autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled = 1) every
# session competes as one group, so `nice` on other sessions' builds does not give a benchmark
# the CPU first. BENCH_AUTOGROUP_NICE=N (e.g. -10; root only) sets the autogroup nice of this
# script's session and of the server's (the postmaster runs in a session of its own): prints what
# it did, for the results file's header. Unset: nothing changes.
bench_priority() {  # instance folder
  [ -n "${BENCH_AUTOGROUP_NICE:-}" ] || { echo "none (autogroup $(cut -d' ' -f3 /proc/self/autogroup 2>/dev/null || echo '?'))"; return; }
  local pm; pm=$(head -n 1 "$1/data/postmaster.pid")
  echo "$BENCH_AUTOGROUP_NICE" > /proc/$$/autogroup
  echo "$BENCH_AUTOGROUP_NICE" > "/proc/$pm/autogroup"
  echo "autogroup nice $BENCH_AUTOGROUP_NICE for this script's session and the server's (BENCH_AUTOGROUP_NICE)"
}
# The big-table dataset's table (bench/bigtable_bench.sh, bench/live_clone_bench.sh --bigtable):
# readings, N rows with a primary key and an index on (sensor, at); prints the SQL.
readings_sql() {  # rows
  cat <<SQL
CREATE TABLE readings (id bigint PRIMARY KEY, sensor int NOT NULL, at timestamptz NOT NULL,
                       value double precision, status text, note text);
INSERT INTO readings
  SELECT g, g % 5000, timestamptz '2026-01-01' + g * interval '1 second', random() * 1000,
         (ARRAY['ok','warn','fail'])[1 + g % 3], md5(g::text) || ' ' || left(md5((g * 3)::text), (g % 20) + 5)
  FROM generate_series(1, $1) g;
CREATE INDEX ON readings (sensor, at);
VACUUM ANALYZE;
SQL
}
# The machine's CPU time so far, "busy idle" in ticks (/proc/stat's first line: busy is user,
# nice, system, irq, softirq and steal; idle is idle and iowait), and the percentage of it that
# was busy since such a snapshot: how much of the cores a variant left unused.
cpu_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit}' /proc/stat; }
cpu_busy_since() {  # "busy idle" from cpu_ticks
  local b0 i0 b1 i1
  read -r b0 i0 <<< "$1"
  read -r b1 i1 < <(cpu_ticks)
  echo $(( 100 * (b1 - b0) / (b1 - b0 + i1 - i0 + 1) ))
}
cpu_seconds_since() {  # "busy idle" from cpu_ticks: the busy core-seconds since, all cores
  local b0 i0 b1 i1
  read -r b0 i0 <<< "$1"
  read -r b1 i1 < <(cpu_ticks)
  printf '%.1f' "$(echo "($b1 - $b0) / $(getconf CLK_TCK)" | bc -l)"
}
