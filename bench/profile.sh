#!/usr/bin/env bash
# bench/profile.sh - where ferry's controller spends its time on the engine
# workload (issue 5): `ferry play bench/ten-tasks.yml`, second run (nothing to
# change), on N lab hosts (default 50). Counted in instructions (valgrind's
# callgrind), which a busy machine does not distort, and in controller CPU
# seconds (user + sys from GNU time, median of R runs), which it does a little.
#
# A one-task playbook (`command: "true"`) runs the same way, so that
#   per task-host      = ten-task run / (10 tasks x N hosts)   (connections included)
#   warm task overhead = (ten-task run - one-task run) / (9 x N) (connections open)
# Prints the figures, the top inclusive costs (named functions) and the self
# costs by area, as Markdown. Needs root (the lab builds network namespaces).
#
#   bench/profile.sh                     build ferry (release + debug symbols), N = 50
#   PROF_COUNT=200 PROF_RUNS=5 bench/profile.sh
#   FERRY=/tmp/ferry-prof-target/release/ferry PROF_NET=172.31.228 bench/profile.sh
#
# The build goes to its own target dir (PROF_TARGET_DIR, default
# /tmp/ferry-prof-target) with full debug info, so the shared target/ is left
# alone. The lab comes from `ferry lab hosts up|down` under its own name and
# subnet and is torn down at exit. KEEP_WORK=1 keeps the callgrind files.
set -euo pipefail

cd "$(dirname "$0")/.."
COUNT=${PROF_COUNT:-50}
RUNS=${PROF_RUNS:-3}
NET=${PROF_NET:-172.31.229}
NAME=${PROF_NAME:-prf}
TARGET_DIR=${PROF_TARGET_DIR:-/tmp/ferry-prof-target}
FERRY=${FERRY:-}

BENCH_TAG=profile
. bench/lib.sh

require_root
for tool in valgrind:valgrind time:/usr/bin/time; do
  if ! command -v "${tool#*:}" >/dev/null; then
    log "installing ${tool%%:*}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${tool%%:*}" >&2
  fi
done
command -v python3 >/dev/null || die "python3 is needed for the summary"
if [ -z "$FERRY" ]; then
  log "building ferry (release, debug symbols) in $TARGET_DIR"
  CARGO_PROFILE_RELEASE_DEBUG=true CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked --bin ferry >&2
  FERRY=$TARGET_DIR/release/ferry
fi
[ -x "$FERRY" ] || die "$FERRY is not an executable"
FERRY=$(realpath "$FERRY")

WORK=$(mktemp -d /tmp/ferry-prof.XXXXXX)
LAB=$WORK/lab
LAB_UP=0
cleanup() {
  if [ "$LAB_UP" = 1 ]; then
    "$FERRY" lab hosts down --name "$NAME" --dir "$LAB" >&2 || log "lab teardown failed; run: $FERRY lab hosts down --name $NAME --dir $LAB"
  fi
  if [ -n "${KEEP_WORK:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$WORK/one-task.yml" <<'YML'
- name: one task
  hosts: lab
  gather_facts: false
  tasks:
    - name: true one
      command: "true"
      changed_when: false
YML

log "lab of $COUNT hosts on $NET.0/24"
LAB_UP=1
"$FERRY" lab hosts up --name "$NAME" --count "$COUNT" --dir "$LAB" --net "$NET" >&2

play() { # playbook, then extra arguments
  "$@" play "$PLAYBOOK" -i "$LAB/inventory.yml" --known-hosts "$LAB/known_hosts" --format json -f "$COUNT"
}
check() { # events file, label: exit status was 0; every host ok, nothing changed or failed
  local changed failed
  changed=$(grep '"event":"recap"' "$1" | grep -o '"changed":[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }')
  failed=$(grep '"event":"recap"' "$1" | grep -o '"\(failed\|unreachable\)":[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }')
  [ "$changed" = 0 ] && [ "$failed" = 0 ] || die "$2: changed $changed, failed/unreachable $failed (a second run must change nothing)"
}

PLAYBOOK=bench/ten-tasks.yml
log "first run (puts the hosts in the state the second run finds)"
play "$FERRY" >"$WORK/first.jsonl" || die "first run failed: $(tail -3 "$WORK/first.jsonl")"

for pb in ten:bench/ten-tasks.yml one:"$WORK/one-task.yml"; do
  label=${pb%%:*}
  PLAYBOOK=${pb#*:}
  for r in $(seq 1 "$RUNS"); do
    play /usr/bin/time -v -o "$WORK/time-$label-$r.txt" "$FERRY" >"$WORK/$label-$r.jsonl" || die "$label run $r failed"
    check "$WORK/$label-$r.jsonl" "$label run $r"
  done
  log "$label: callgrind run"
  play valgrind --tool=callgrind --callgrind-out-file="$WORK/cg-$label.out" "$FERRY" >"$WORK/$label-cg.jsonl" 2>"$WORK/cg-$label.log" ||
    die "$label under callgrind failed: $(tail -3 "$WORK/cg-$label.log")"
  check "$WORK/$label-cg.jsonl" "$label under callgrind"
done

MACHINE="$(date -u '+%Y-%m-%d %H:%M UTC'); nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg)"
VERSION="ferry $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo '+dirty') ($FERRY)"

python3 - "$WORK" "$COUNT" "$RUNS" "$MACHINE" "$VERSION" <<'PYEOF'
import re, statistics, sys
from collections import defaultdict

work, n, runs, machine, version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
TASKS = 10

def parse(path):
    """Self cost per function and inclusive cost per call edge (callgrind's format)."""
    names, selfc, edges = {}, defaultdict(int), defaultdict(int)
    fn = cfn = None
    in_call = False
    total = 0
    def name(v):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?$", v)
        if not m:
            return v
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), v)
    with open(path) as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[-1]) if len(parts) > 1 else 0
                if in_call:
                    edges[(fn, cfn)] += cost
                    in_call = False
                else:
                    selfc[fn] += cost
            elif line.startswith("fn="):
                fn = name(line[3:].strip())
            elif line.startswith("cfn="):
                cfn = name(line[4:].strip())
            elif line.startswith("calls="):
                in_call = True
            elif line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    incl = defaultdict(int)
    for f_, c_ in selfc.items():
        incl[f_] += c_
    for (a, b), c_ in edges.items():
        if a != b:
            incl[a] += c_
    return total or sum(selfc.values()), selfc, incl, edges

def cpu(label):
    secs = []
    for r in range(1, runs + 1):
        t = {}
        for line in open(f"{work}/time-{label}-{r}.txt"):
            k, _, v = line.strip().partition(": ")
            t[k] = v
        secs.append(float(t["User time (seconds)"]) + float(t["System time (seconds)"]))
    return statistics.median(secs), secs

ten_i, ten_self, ten_incl, ten_edges = parse(f"{work}/cg-ten.out")
one_i, _, one_incl, _ = parse(f"{work}/cg-one.out")
ten_s, ten_all = cpu("ten")
one_s, one_all = cpu("one")
th = TASKS * n

print(f"## Controller profile: bench/ten-tasks.yml, second run, {n} hosts, forks {n}")
print()
print(f"{machine}")
print(f"{version}")
print()
print("| run | instructions | per task-host | CPU s (user+sys, median of %d) | per task-host |" % runs)
print("|---|---|---|---|---|")
print(f"| 10 tasks | {ten_i / 1e6:,.0f} M | {ten_i / th / 1e6:.2f} M | {ten_s:.2f} ({', '.join(f'{s:.2f}' for s in ten_all)}) | {ten_s / th * 1e3:.2f} ms |")
print(f"| 1 task | {one_i / 1e6:,.0f} M | {one_i / n / 1e6:.2f} M | {one_s:.2f} ({', '.join(f'{s:.2f}' for s in one_all)}) | {one_s / n * 1e3:.2f} ms |")
warm_i = (ten_i - one_i) / ((TASKS - 1) * n)
warm_s = (ten_s - one_s) / ((TASKS - 1) * n)
print(f"| warm task (10 - 1) / (9 x {n}) | | {warm_i / 1e6:.2f} M | | {warm_s * 1e3:.2f} ms |")
print()
print(f"Target (issue 5): one host's task overhead under 5 ms controller CPU (warm connection): "
      f"{'MET' if warm_s < 0.005 else 'NOT MET'} ({warm_s * 1e3:.2f} ms).")
print()

# Inclusive costs of named functions (they nest: a row includes the rows under it).
ROWS = [
    ("one task on one host (executor)", r"Executor>::run_on_host::\{\{closure\}\}$", 0),
    ("variables per host per task (task_vars)", r"Executor>::task_vars$", 1),
    ("nested-template scan of vars", r"Executor>::resolve_nested_templates$", 2),
    ("render contexts (vars to template values)", r"Executor>::context_for$", 1),
    ("module run (observe, plan, apply)", r"^ferry::modules::ModuleCall::run::\{\{closure\}\}$", 1),
    ("remote commands (channel, exec, output)", r"^ferry::modules::ModuleContext::run_for::\{\{closure\}\}$", 2),
    ("task argument rendering (render_value)", r"^ferry::template::Templates::render_value$", 1),
    ("results and events (finish)", r"Executor>::finish$", 1),
    ("SSH session task: incoming packets", r"^russh::client::reply::\{\{closure\}\}$", 0),
    ("key exchange (curve25519, host key)", r"^russh::client::kex::ClientKex::step$", 1),
    ("user auth signature (ed25519)", r"client_send_signature$", 1),
    ("SSH session task: outgoing packets", r"^russh::client::Session::flush$", 0),
    ("connection prep (ssh config, known_hosts, key files)", r"^ferry::transport::ssh::prepare$", 0),
    ("TCP connect and handshake driving", r"^ferry::transport::ssh_link::Link::open::\{\{closure\}\}$", 0),
    ("JSON event output (reporter)", r"^ferry::report::json::JsonReporter::emit$", 0),
    ("inventory load", r"^ferry::inventory::source::load$", 0),
    ("playbook load and preflight", r"^ferry::playbook::parse::load_playbook$|^ferry::executor::preflight::check$", 0),
]
def row(incl, pattern):
    hits = [(v, k) for k, v in incl.items() if re.search(pattern, k)]
    if "|" in pattern:
        return sum(v for v, _ in hits)
    return max(hits)[0] if hits else 0
print(f"### Top inclusive costs (10-task run; nested rows are part of the row above)")
print()
print("| area | instructions | share | per task-host | 1-task run |")
print("|---|---|---|---|---|")
for label, pattern, depth in ROWS:
    v, o = row(ten_incl, pattern), row(one_incl, pattern)
    print(f"| {'&nbsp;&nbsp;' * depth}{label} | {v / 1e6:,.1f} M | {100 * v / ten_i:.1f} % | {v / th / 1e3:,.1f} k | {o / 1e6:,.1f} M |")
print()

AREAS = [
    ("SSH crypto (curve25519, ed25519, sha2, chacha20-poly1305)",
     r"curve25519|ed25519|x25519|sha2::|ring_core|^ring::|chacha|poly1305|subtle::|aes|ghash|digest::|hmac|signature::|ssh_key|ssh_encoding|elliptic_curve|rsa::|num_bigint|crypto_bigint|bcrypt|blowfish"),
    ("russh protocol (packets, channels)", r"russh"),
    ("allocator and memcpy/memcmp (libc)", r"^(_int_malloc|_int_free|_int_realloc|malloc|free|calloc|realloc|malloc_consolidate|unlink_chunk|alloc_perturb|sysmalloc|tcache|__memcpy|__memmove|__memset|__memcmp|__rustc::__r|__rdl_)"),
    ("templates (minijinja, ferry::template)", r"minijinja|ferry::template"),
    ("JSON (serde_json) and event output", r"serde_json|serde_core|ferry::report"),
    ("executor and variables (ferry::executor, maps, hashing)", r"ferry::executor|indexmap|hashbrown|core::hash|sip::"),
    ("inventory, YAML, regex", r"ferry::inventory|regex|yaml|ferry::playbook"),
    ("async runtime (tokio, futures)", r"tokio|futures|mio::|std::sync|std::thread|parking"),
    ("other ferry (modules, transport)", r"ferry::"),
]
area = defaultdict(int)
for k, v in ten_self.items():
    base = re.sub(r"'\d+$", "", k or "")
    for label, pattern in AREAS:
        if re.search(pattern, base):
            area[label] += v
            break
    else:
        area["std generic code (clones, string search, collect, drop)"] += v
print("### Self cost by area (10-task run; every instruction counted once)")
print()
print("| area | instructions | share | per task-host |")
print("|---|---|---|---|")
for label, v in sorted(area.items(), key=lambda x: -x[1]):
    print(f"| {label} | {v / 1e6:,.1f} M | {100 * v / ten_i:.1f} % | {v / th / 1e3:,.1f} k |")
print()
selfn = defaultdict(int)
for k, v in ten_self.items():
    selfn[re.sub(r"'\d+$", "", k or "")] += v
print("### Top 15 functions by self cost (10-task run)")
print()
print("| function | instructions | share |")
print("|---|---|---|")
for k, v in sorted(selfn.items(), key=lambda x: -x[1])[:15]:
    short = k if len(k) <= 110 else k[:107] + "..."
    print(f"| `{short}` | {v / 1e6:,.1f} M | {100 * v / ten_i:.1f} % |")
PYEOF
