#!/usr/bin/env bash
# bench/network.sh - wall time of `ferry play playbooks/network.yml` on a two-site
# lab (default 3 source + 3 target nodes): the first run (every node gets its DNAT
# rules - 501 OSD ports per source node, so 1509 rules on each target node and
# 503 on each source node - its route(s) and its ufw rules, and ufw is enabled),
# the second run (changes nothing; target: under 2 s), and the teardown. Needs
# root. Prints a table on stdout.
#
#   bench/network.sh                          build release ferry, 3 + 3 nodes
#   BENCH_SOURCES=5 BENCH_TARGETS=5 bench/network.sh
#   FERRY=target/release/ferry BENCH_NET=172.31.238 bench/network.sh
#
# The lab comes from `ferry lab up|down` (src/lab/two_site.rs) under its own name
# and subnet, torn down at exit; nothing outside its namespaces is touched.
set -euo pipefail

cd "$(dirname "$0")/.."
SOURCES=${BENCH_SOURCES:-3}
TARGETS=${BENCH_TARGETS:-3}
NET=${BENCH_NET:-172.31.238}
NAME=${BENCH_NAME:-bnet}
FERRY=${FERRY:-}

BENCH_TAG=bench
. bench/lib.sh

require_root
need_gnu_time
release_ferry

WORK=$(mktemp -d /tmp/ferry-bench-net.XXXXXX)
cleanup() {
  "$FERRY" lab down --name "$NAME" >&2 || log "lab teardown failed; run: $FERRY lab down --name $NAME"
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
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

log "two-site lab $NAME: $SOURCES source + $TARGETS target nodes, management $NET.0/24"
t=$(date +%s.%N)
"$FERRY" lab up --name "$NAME" --dir "$WORK/lab" --net "$NET" --sources "$SOURCES" --targets "$TARGETS" >&2
UP=$(since "$t")
INV=$WORK/lab/inventory.yml
KH=$WORK/lab/known_hosts

ROWS=()
FAILED=0
play() { # $1 row label, $2 playbook
  local events=$WORK/events-$1.jsonl timing=$WORK/time-$1.txt rc
  set +e
  /usr/bin/time -v -o "$timing" "$FERRY" play "$2" -i "$INV" --known-hosts "$KH" --format json >"$events" 2>"$WORK/stderr-$1.txt"
  rc=$?
  set -e
  if [ "$rc" != 0 ]; then
    FAILED=1
    log "$1 exited $rc: $(tail -3 "$WORK/stderr-$1.txt")"
  fi
  ROWS+=("$(printf '%-10s %-8s %9s %12s %6s %8s %6s %5s' "$1" "$SOURCES+$TARGETS" \
    "$(wall_seconds "$timing")" "$(field "$timing" 'Maximum resident set size')" \
    "$(field "$timing" 'Percent of CPU this job got')" \
    "$(recap_sum "$events" changed)" "$(recap_sum "$events" failed)" "$rc")")
}

play first playbooks/network.yml
# Rules really there: tagged DNAT rules on the first target node.
rules=$(ssh -F "$WORK/lab/ssh_config" dst-node1 "iptables-save -t nat | grep -c 'ferry:network'" || true)
log "dst-node1 has $rules DNAT rules tagged ferry:network"
play second playbooks/network.yml
play teardown playbooks/network-teardown.yml

t=$(date +%s.%N)
"$FERRY" lab down --name "$NAME" >&2
DOWN=$(since "$t")

printf '%-10s %-8s %9s %12s %6s %8s %6s %5s\n' run nodes wall_s max_rss_kb cpu changed failed exit
printf '%s\n' "${ROWS[@]}"
printf '%-10s %-8s %9s\n' lab-up "$SOURCES+$TARGETS" "$UP"
printf '%-10s %-8s %9s\n' lab-down "$SOURCES+$TARGETS" "$DOWN"
[ "$FAILED" = 0 ] || die "some runs failed (exit column)"
