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
