#!/usr/bin/env bash
# bench/engine.sh - wall time of `ferry play bench/ten-tasks.yml` on N real SSH lab
# hosts (default N = 10 and 50): a first run (changes files on every host) and a
# second run (changes nothing). Needs root. Prints a table on stdout.
#
#   bench/engine.sh                      build release ferry, N in 10 50
#   BENCH_COUNTS="10 50 100" bench/engine.sh
#   FERRY=target/release/ferry BENCH_NET=172.31.239 BENCH_FORKS=20 bench/engine.sh
#
# The lab comes from `ferry lab hosts up|down` (src/lab): one network namespace,
# sshd, hostname and private /tmp per host on BENCH_NET.0/24, torn down at exit.
set -euo pipefail

cd "$(dirname "$0")/.."
COUNTS=${BENCH_COUNTS:-"10 50"}
NET=${BENCH_NET:-172.31.239}
NAME=${BENCH_NAME:-bench}
FERRY=${FERRY:-}

BENCH_TAG=bench
. bench/lib.sh

require_root
need_gnu_time
release_ferry

WORK=$(mktemp -d /tmp/ferry-bench.XXXXXX)
cleanup() {
  "$FERRY" lab hosts down --name "$NAME" --dir "$WORK/lab" >&2 || log "lab teardown failed; run: $FERRY lab hosts down --name $NAME"
  rm -rf "$WORK"
}
trap cleanup EXIT

# "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.23" -> seconds
wall_seconds() {
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$1"
}
field() { awk -F': ' -v k="$2" '$1 ~ k { print $2 }' "$1" | head -1; }
# sum of one recap counter over all hosts, from the JSON Lines events
recap_sum() {
  grep '"event":"recap"' "$1" | grep -o "\"$2\":[0-9]*" | awk -F: '{ s += $2 } END { print s + 0 }'
}

ROWS=()
FAILED=0
for n in $COUNTS; do
  forks=${BENCH_FORKS:-$n}
  log "lab of $n hosts on $NET.0/24"
  up_start=$(date +%s.%N)
  "$FERRY" lab hosts up --name "$NAME" --count "$n" --dir "$WORK/lab" --net "$NET" >&2
  up_secs=$(awk -v a="$up_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  for run in first second; do
    events=$WORK/events-$n-$run.jsonl
    timing=$WORK/time-$n-$run.txt
    set +e
    /usr/bin/time -v -o "$timing" "$FERRY" play bench/ten-tasks.yml \
      -i "$WORK/lab/inventory.yml" --known-hosts "$WORK/lab/known_hosts" \
      --format json -f "$forks" >"$events" 2>"$WORK/stderr-$n-$run.txt"
    rc=$?
    set -e
    if [ "$rc" != 0 ]; then
      FAILED=1
      log "run $run on $n hosts exited $rc: $(tail -3 "$WORK/stderr-$n-$run.txt")"
    fi
    ROWS+=("$(printf '%-6s %-7s %-6s %9s %12s %9s %8s %6s %5s' "$n" "$run" "$forks" \
      "$(wall_seconds "$timing")" "$(field "$timing" 'Maximum resident set size')" \
      "$(field "$timing" 'Percent of CPU this job got')" \
      "$(recap_sum "$events" changed)" "$(recap_sum "$events" failed)" "$rc")")
  done
  "$FERRY" lab hosts down --name "$NAME" --dir "$WORK/lab" >&2
  ROWS+=("$(printf '%-6s %-7s %-6s %9s' "$n" "lab-up" "-" "$up_secs")")
done

printf '%-6s %-7s %-6s %9s %12s %9s %8s %6s %5s\n' hosts run forks wall_s max_rss_kb cpu changed failed exit
printf '%s\n' "${ROWS[@]}"
[ "$FAILED" = 0 ] || die "some runs failed (exit column)"
