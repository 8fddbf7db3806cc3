#!/usr/bin/env bash
# bench/demo.sh - the rehearsal migration of `ferry lab demo`, timed phase by
# phase on a fresh lab (3 + 3 nodes, real Ceph site-src and site-dst, 4 images:
# images/base, volumes/vol-clone, volumes/vol-grandchild, volumes/vol-plain):
#
#   - wall time of each phase of playbooks/site.yml (run one tag at a time, as an
#     operator would; each run also pays site.yml's ~1 s "where does it stand"
#     play and its SSH connections), and of the whole file;
#   - SSH round trips: the commands ferry ran per phase (the JSON recap's
#     `commands`, summed over hosts), and per image;
#   - the sync wait's overhead: from the moment Ceph reports the last image in
#     sync (found by an independent poller reading `rbd mirror image status`
#     every ~0.3 s on the target with the same rule) to the moment ferry's wait
#     task returns (target: under 2 s).
#
#   bench/demo.sh                       build release ferry, then run
#   FERRY=target/release/ferry BENCH_NET=172.31.246 bench/demo.sh
#
# Needs root. The lab gets its own name and subnet and is torn down at exit;
# nothing outside its namespaces is touched. Prints a table on stdout; raw
# events stay in the work dir it names.
set -euo pipefail

cd "$(dirname "$0")/.."
NET=${BENCH_NET:-172.31.246}
NAME=${BENCH_NAME:-bdm}
FERRY=${FERRY:-}

BENCH_TAG=bench
. bench/lib.sh

require_root
release_ferry

WORK=$(mktemp -d /tmp/ferry-bench-demo.XXXXXX)
LAB_DIR=$WORK/lab
POLLER_PID=
cleanup() {
  [ -n "$POLLER_PID" ] && kill "$POLLER_PID" 2>/dev/null || true
  "$FERRY" lab down --name "$NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

now() { date +%s.%N; }
# Each JSON event line prefixed with the time it arrived.
stamp() { python3 -c 'import sys,time
for line in sys.stdin:
    sys.stdout.write(f"{time.time():.3f}\t{line}"); sys.stdout.flush()'; }

log "lab up ($NAME on $NET.0/24, work dir $WORK)"
t0=$(now)
"$FERRY" lab up --name "$NAME" --net "$NET" --dir "$LAB_DIR" >"$WORK/lab-up.log" 2>&1 || { cat "$WORK/lab-up.log" >&2; die "ferry lab up failed"; }
t1=$(now)
UP_SECS=$(python3 -c "print(f'{$t1 - $t0:.1f}')")

PLAY=("$FERRY" play playbooks/site.yml -i "$LAB_DIR/inventory.yml" --known-hosts "$LAB_DIR/known_hosts" -e @inventories/lab-migration.yml --format json)
SSH=(ssh -F "$LAB_DIR/ssh_config" -o BatchMode=yes)

# The independent poller: the time each image first shows in sync on the target,
# by the runbook's rule (up+replaying, 0 entries behind, 0 B/s, positions equal)
# from a status written after the poller started.
poller() {
  python3 - "$LAB_DIR/ssh_config" >"$WORK/poll.tsv" <<'PY'
import json, subprocess, sys, time
cfg = sys.argv[1]
images = ["images/base", "volumes/vol-clone", "volumes/vol-grandchild", "volumes/vol-plain"]
first_update, synced = {}, {}
script = "; ".join(f"rbd --cluster site-dst mirror image status --format json {i} 2>/dev/null || echo '{{}}'" for i in images)
while len(synced) < len(images):
    out = subprocess.run(["ssh", "-F", cfg, "-o", "BatchMode=yes", "dst-node1", script], capture_output=True, text=True).stdout
    seen = time.time()
    for image, line in zip(images, [l for l in out.splitlines() if l.startswith("{")]):
        st = json.loads(line)
        upd = st.get("last_update")
        first_update.setdefault(image, upd)
        if image in synced or upd is None or upd == first_update[image] or st.get("state") != "up+replaying":
            continue
        desc = st.get("description", "")
        try:
            d = json.loads(desc[desc.index("{"):])
        except ValueError:
            continue
        if d.get("entries_behind_primary") == 0 and d.get("bytes_per_second") == 0 and d.get("primary_position") == d.get("non_primary_position"):
            synced[image] = seen
            print(f"{image}\t{seen:.3f}", flush=True)
    time.sleep(0.3)
PY
}

declare -A WALL CMDS
PHASES=(network mirror sync cutover cleanup replace)
for phase in "${PHASES[@]}"; do
  if [ "$phase" = sync ]; then
    poller & POLLER_PID=$!
  fi
  log "phase $phase"
  s=$(now)
  "${PLAY[@]}" --tags "$phase" 2>"$WORK/$phase.err" | stamp >"$WORK/$phase.jsonl" || { tail -5 "$WORK/$phase.jsonl" >&2; die "phase $phase failed"; }
  e=$(now)
  WALL[$phase]=$(python3 -c "print(f'{$e - $s:.1f}')")
  CMDS[$phase]=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    ev = json.loads(line.split("\t", 1)[1])
    if ev.get("event") == "recap":
        print(sum(h.get("commands", 0) for h in ev["hosts"].values()))' "$WORK/$phase.jsonl")
  if [ "$phase" = sync ]; then
    wait "$POLLER_PID" 2>/dev/null || true
    POLLER_PID=
  fi
done

# The second run of the whole file: a finished migration, nothing to do.
s=$(now)
"${PLAY[@]}" 2>"$WORK/again.err" | stamp >"$WORK/again.jsonl"
e=$(now)
AGAIN=$(python3 -c "print(f'{$e - $s:.1f}')")

"$FERRY" lab verify --name "$NAME" >"$WORK/verify.log" 2>&1 || { cat "$WORK/verify.log" >&2; die "ferry lab verify failed"; }

OVERHEAD=$(python3 - "$WORK/sync.jsonl" "$WORK/poll.tsv" <<'PY'
import json, sys
done = None
for line in open(sys.argv[1]):
    t, ev = line.split("\t", 1)
    ev = json.loads(ev)
    if ev.get("event") == "task_result" and ev.get("task") == "every image is on the target and caught up":
        done = float(t)
ceph = [float(l.split("\t")[1]) for l in open(sys.argv[2]) if "\t" in l]
if done is None or len(ceph) < 4:
    print("n/a")
else:
    print(f"{done - max(ceph):.1f}")
PY
)

TOTAL=0
for phase in "${PHASES[@]}"; do TOTAL=$(python3 -c "print(f'{$TOTAL + ${WALL[$phase]}:.1f}')"); done
ALL_CMDS=0
for phase in "${PHASES[@]}"; do ALL_CMDS=$((ALL_CMDS + CMDS[$phase])); done

echo "ferry lab demo, phase by phase ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r))"
printf '%-34s %9s %10s %12s\n' "step" "wall s" "commands" "per image"
printf '%-34s %9s %10s %12s\n' "lab up (hosts, 2 clusters, seed)" "$UP_SECS" "-" "-"
for phase in "${PHASES[@]}"; do
  printf '%-34s %9s %10s %12s\n' "site.yml --tags $phase" "${WALL[$phase]}" "${CMDS[$phase]}" "$(python3 -c "print(f'{${CMDS[$phase]} / 4:.1f}')")"
done
printf '%-34s %9s %10s %12s\n' "all phases" "$TOTAL" "$ALL_CMDS" "$(python3 -c "print(f'{$ALL_CMDS / 4:.1f}')")"
printf '%-34s %9s\n' "site.yml again (finished: no-op)" "$AGAIN"
echo "sync wait overhead (Ceph shows the last image in sync -> ferry's wait returns): $OVERHEAD s"
echo "raw events: $WORK"
