#!/usr/bin/env bash
# bench/peers.sh - ferry vs Ansible vs pyinfra vs a bare OpenSSH floor, on the same
# N real SSH lab hosts, the same 10-task workload:
#   ferry     : ferry play bench/peers-workload.yml -f N            (release build)
#   ansible   : ansible-playbook bench/peers-workload.yml (the SAME file), forks = N,
#               pipelining on, ControlMaster/ControlPersist=60s as Ansible's defaults
#   pyinfra   : pyinfra inventory.py bench/peers_pyinfra.py --parallel N -y
#   ssh-floor : the same 10 commands as shell one-liners, one ssh invocation each,
#               over one multiplexed ControlMaster connection per host, hosts in parallel
# Each tool runs "first" (on reset hosts: changes) then "second" (no changes);
# R repetitions in alternation (ferry ansible pyinfra floor, ferry ansible ...),
# hosts reset with ferry (bench/peers-reset.yml, untimed) before every first run.
# Per run: wall, controller CPU (user+sys of the tool's process tree, plus any
# ssh ControlMaster it daemonized), controller RSS (largest single process, and
# the sum over the tree sampled every 0.2 s), target CPU (utime+stime+cutime+cstime
# of every process in the lab hosts' network namespaces, after - before).
# Prints one table of medians. Needs root.
#
#   bench/peers.sh                                  N in 10 50 200, R = 3
#   BENCH_COUNTS="10 50" BENCH_RUNS=5 bench/peers.sh
#   BENCH_TOOLS="ferry ansible" FERRY=target/release/ferry bench/peers.sh
#   PEERS_VENV=/work/scratch/ansible-venv  (reused only if its pinned versions match)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
COUNTS=${BENCH_COUNTS:-"10 50 200"}
RUNS=${BENCH_RUNS:-3}
TOOLS=${BENCH_TOOLS:-"ferry ansible pyinfra floor"}
NET=${BENCH_NET:-172.31.237}
NAME=${BENCH_NAME:-peers}
FERRY=${FERRY:-}
ANSIBLE_VERSION=2.17.14
PYINFRA_VERSION=3.10.0
VENV=${PEERS_VENV:-/tmp/ferry-peers-venv}
PY=/usr/bin/python3

BENCH_TAG=peers
. bench/lib.sh

require_root
[ -x "$PY" ] || die "$PY missing (the venv and Ansible's targets use it)"

# --- tools -------------------------------------------------------------------
release_ferry
FERRY=$(realpath "$FERRY")

venv_ok() {
  [ -x "$1/bin/ansible-playbook" ] && [ -x "$1/bin/pyinfra" ] &&
    "$1/bin/python" - "$ANSIBLE_VERSION" "$PYINFRA_VERSION" <<'PYEOF'
import sys
from importlib.metadata import version
sys.exit(0 if (version("ansible-core"), version("pyinfra")) == (sys.argv[1], sys.argv[2]) else 1)
PYEOF
}
if ! venv_ok "$VENV" 2>/dev/null; then
  [ "$VENV" = /tmp/ferry-peers-venv ] || die "$VENV lacks ansible-core==$ANSIBLE_VERSION and pyinfra==$PYINFRA_VERSION"
  log "creating $VENV (ansible-core==$ANSIBLE_VERSION pyinfra==$PYINFRA_VERSION)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q "ansible-core==$ANSIBLE_VERSION" "pyinfra==$PYINFRA_VERSION" >&2
  venv_ok "$VENV" || die "venv $VENV: wrong versions after install"
fi
VERSIONS="ferry $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+dirty') ($FERRY); ansible-core $ANSIBLE_VERSION; pyinfra $PYINFRA_VERSION; $("$VENV/bin/python" -c 'import paramiko; print("paramiko", paramiko.__version__)'); $("$PY" --version); $(ssh -V 2>&1)"

WORK=$(mktemp -d /tmp/ferry-peers.XXXXXX)
LAB=$WORK/lab
LAB_UP=0
cleanup() {
  set +e
  for cp in "$WORK"/acp/* "$WORK"/fcp/*; do
    [ -S "$cp" ] && ssh -o ControlPath="$cp" -O exit x >/dev/null 2>&1
  done
  if [ "$LAB_UP" = 1 ]; then
    "$FERRY" lab hosts down --name "$NAME" --dir "$LAB" >&2 || log "lab teardown failed; run: $FERRY lab hosts down --name $NAME --dir $LAB"
  fi
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the measuring wrapper ---------------------------------------------------
# measure.py OUT_JSON LABNAME DAEMON_PATTERN -- CMD...
cat >"$WORK/measure.py" <<'PYEOF'
import json, os, resource, subprocess, sys, time
out, lab, pattern = sys.argv[1:4]
cmd = sys.argv[5:]
PAGE = os.sysconf("SC_PAGE_SIZE")
TCK = os.sysconf("SC_CLK_TCK")

def lab_inodes():
    s = set()
    for n in os.listdir("/run/netns"):
        if n.startswith(lab):
            try: s.add(os.stat("/run/netns/" + n).st_ino)
            except OSError: pass
    return s

def procs():
    """pid -> (ppid, cpu ticks incl. reaped children, rss pages)."""
    r = {}
    for p in os.listdir("/proc"):
        if not p.isdigit(): continue
        try:
            with open(f"/proc/{p}/stat") as f: s = f.read()
        except OSError: continue
        f = s[s.rfind(")") + 2:].split()
        r[int(p)] = (int(f[1]), int(f[11]) + int(f[12]) + int(f[13]) + int(f[14]), int(f[21]))
    return r

def netns_cpu(inodes):
    t = 0
    for pid, (_, cpu, _) in procs().items():
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino in inodes: t += cpu
        except OSError: pass
    return t / TCK

def daemons():
    """ssh ControlMasters the tool daemonized (reparented away from its tree)."""
    d = {}
    if not pattern: return d
    for pid, v in procs().items():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f: c = f.read()
        except OSError: continue
        if pattern.encode() in c: d[pid] = v
    return d

inodes = lab_inodes()
tgt0 = netns_cpu(inodes)
d0 = daemons()
t0 = time.monotonic()
with open(out + ".stdout", "wb") as so, open(out + ".stderr", "wb") as se:
    p = subprocess.Popen(cmd, stdout=so, stderr=se)
    peak_sum = peak_one = 0
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid: break
        ps = procs()
        kids = {}
        for q, v in ps.items(): kids.setdefault(v[0], []).append(q)
        tree, todo = [], [p.pid]
        while todo:
            q = todo.pop(); tree.append(q); todo.extend(kids.get(q, []))
        dm = set(daemons()) if pattern else set()
        rss = [ps[q][2] * PAGE for q in set(tree) | dm if q in ps]
        peak_sum = max(peak_sum, sum(rss)); peak_one = max(peak_one, max(rss, default=0))
        time.sleep(0.2)
wall = time.monotonic() - t0
d1 = daemons()
# CPU of the daemonized masters: now minus before (new ones count from zero).
dcpu = sum(v[1] - d0.get(pid, (0, 0, 0))[1] for pid, v in d1.items()) / TCK
tgt1 = netns_cpu(inodes)
rc = os.waitstatus_to_exitcode(status)
json.dump({"wall": wall, "rc": rc,
           "cpu": ru.ru_utime + ru.ru_stime + dcpu, "daemon_cpu": dcpu,
           "rss_one_kib": max(ru.ru_maxrss, peak_one // 1024, max((v[2] * PAGE // 1024 for v in d1.values()), default=0)),
           "rss_sum_kib": peak_sum // 1024, "target_cpu": tgt1 - tgt0}, open(out, "w"))
PYEOF

# --- per-N setup ---------------------------------------------------------------
write_ansible_cfg() { # N
  mkdir -p "$WORK/acp" "$WORK/ansible-local"
  cat >"$WORK/ansible.cfg" <<CFG
[defaults]
inventory = $LAB/inventory.yml
forks = $1
host_key_checking = True
interpreter_python = /usr/bin/python3
local_tmp = $WORK/ansible-local
retry_files_enabled = False

[ssh_connection]
pipelining = True
# Ansible's default ssh_args, plus the lab's known_hosts
ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=$LAB/known_hosts
control_path_dir = $WORK/acp
CFG
}

write_pyinfra_inventory() {
  "$PY" - "$LAB/inventory.yml" "$LAB" >"$WORK/pyinfra_inventory.py" <<'PYEOF'
import re, sys
inv, lab = sys.argv[1:3]
hosts, name = [], None
for line in open(inv):
    m = re.match(r"^ {8}(\S+):\s*$", line)
    if m: name = m.group(1); continue
    m = re.match(r"^ {10}ansible_host:\s*(\S+)", line)
    if m and name: hosts.append((name, m.group(1)))
print("lab = [")
for n, a in hosts:
    print(f"    ({n!r}, {{'ssh_hostname': {a!r}, 'ssh_user': 'root', 'ssh_key': {lab + '/id_ed25519'!r}, "
          f"'ssh_known_hosts_file': {lab + '/known_hosts'!r}, 'ssh_strict_host_key_checking': 'yes', "
          f"'ssh_allow_agent': False, 'ssh_look_for_keys': False}}),")
print("]")
open(lab + "/../hosts.txt", "w").write("".join(f"{n} {a}\n" for n, a in hosts))
PYEOF
  [ "$(grep -c ssh_hostname "$WORK/pyinfra_inventory.py")" = "$1" ] && [ "$(wc -l <"$WORK/hosts.txt")" = "$1" ] || die "pyinfra inventory: expected $1 hosts"
}

# The floor: one host's 10 commands, each its own ssh invocation over the host's
# ControlMaster (the first one opens it), closed at the end of the run.
cat >"$WORK/floor-host.sh" <<'SH'
#!/bin/bash
set -e
h=$1 addr=$2
s() { ssh -F "$CFG" -o ControlMaster=auto -o ControlPath="$FCP/%C" -o ControlPersist=60 "$h" "$1"; }
s 'mkdir -p /tmp/ferry-peers && chmod 0755 /tmp/ferry-peers' >/dev/null
s 'true'
s 'echo one' >/dev/null
s 'true'
s 'echo two' >/dev/null
s "echo done on $h" >/dev/null
s "printf '# rendered by bench/peers.sh (ferry, Ansible and pyinfra render the same file)\nname=%s\naddress=%s\n' $h $addr > /tmp/ferry-peers/host.conf.new && cmp -s /tmp/ferry-peers/host.conf.new /tmp/ferry-peers/host.conf && rm /tmp/ferry-peers/host.conf.new || { chmod 0644 /tmp/ferry-peers/host.conf.new; mv /tmp/ferry-peers/host.conf.new /tmp/ferry-peers/host.conf; }"
s "printf 'Welcome to %s (%s), managed by the peers benchmark.\n' $h $addr > /tmp/ferry-peers/motd.new && cmp -s /tmp/ferry-peers/motd.new /tmp/ferry-peers/motd && rm /tmp/ferry-peers/motd.new || { chmod 0644 /tmp/ferry-peers/motd.new; mv /tmp/ferry-peers/motd.new /tmp/ferry-peers/motd; }"
s "grep -qxF 'bench_host=$h' /tmp/ferry-peers/settings 2>/dev/null || echo 'bench_host=$h' >> /tmp/ferry-peers/settings"
s 'iptables -C INPUT -s 198.51.100.7/32 -p tcp -m tcp --dport 9999 -j ACCEPT 2>/dev/null || iptables -A INPUT -s 198.51.100.7/32 -p tcp -m tcp --dport 9999 -j ACCEPT'
SH
cat >"$WORK/floor.sh" <<'SH'
#!/bin/bash
# all hosts in parallel; the masters stay up until peers.sh closes them after measuring
xargs -P "$N" -n 2 "$WORK/floor-host.sh" <"$WORK/hosts.txt"
SH
chmod +x "$WORK/floor-host.sh" "$WORK/floor.sh"
mkdir -p "$WORK/fcp"

close_masters() { # dir
  local cp
  for cp in "$1"/*; do
    [ -S "$cp" ] && ssh -o ControlPath="$cp" -O exit x >/dev/null 2>&1 || true
  done
}

reset_hosts() {
  "$FERRY" play bench/peers-reset.yml -i "$LAB/inventory.yml" --known-hosts "$LAB/known_hosts" \
    -f "$1" >"$WORK/reset.log" 2>&1 || { tail -20 "$WORK/reset.log" >&2; die "reset failed"; }
}

run_tool() { # tool n run rep
  local tool=$1 n=$2 run=$3 rep=$4 out=$WORK/r-$1-$2-$3-$4.json pattern=""
  case $tool in
    ferry) cmd=("$FERRY" play bench/peers-workload.yml -i "$LAB/inventory.yml" --known-hosts "$LAB/known_hosts" -f "$n" --format json) ;;
    ansible) cmd=(env ANSIBLE_CONFIG="$WORK/ansible.cfg" "$VENV/bin/ansible-playbook" bench/peers-workload.yml); pattern=$WORK/acp ;;
    pyinfra) cmd=("$VENV/bin/pyinfra" "$WORK/pyinfra_inventory.py" bench/peers_pyinfra.py --parallel "$n" -y) ;;
    floor) cmd=(env CFG="$LAB/ssh_config" FCP="$WORK/fcp" LAB="$LAB" N="$n" WORK="$WORK" "$WORK/floor.sh"); pattern=$WORK/fcp ;;
  esac
  "$PY" "$WORK/measure.py" "$out" "$NAME" "$pattern" -- "${cmd[@]}"
  [ "$tool" = floor ] && close_masters "$WORK/fcp"
  local changed="-"
  case $tool in
    ferry) changed=$(grep '"event":"recap"' "$out.stdout" | grep -o '"changed":[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }') ;;
    ansible) changed=$(grep -o 'changed=[0-9]*' "$out.stdout" | awk -F= '{ s += $2 } END { print s + 0 }') ;;
  esac
  "$PY" - "$out" "$tool" "$n" "$run" "$rep" "$changed" >>"$WORK/results.tsv" <<'PYEOF'
import json, sys
out, tool, n, run, rep, changed = sys.argv[1:]
r = json.load(open(out))
print("\t".join([tool, n, run, rep, "%.3f" % r["wall"], "%.3f" % r["cpu"], str(r["rss_one_kib"]),
                 str(r["rss_sum_kib"]), "%.2f" % r["target_cpu"], str(r["rc"]), changed]))
PYEOF
  local rc
  rc=$(tail -1 "$WORK/results.tsv" | cut -f10)
  log "$(tail -1 "$WORK/results.tsv" | tr '\t' ' ')"
  if [ "$rc" != 0 ]; then
    log "$tool $run N=$n exited $rc; last lines:"
    tail -n 15 "$out.stdout" "$out.stderr" | cut -c1-400 >&2
    cp "$out.stdout" "$out.stderr" /tmp/ 2>/dev/null || true
  fi
}

# --- runs ------------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date -u '+%Y-%m-%d %H:%M UTC')
: >"$WORK/results.tsv"
for n in $COUNTS; do
  log "lab of $n hosts on $NET.0/24"
  LAB_UP=1
  "$FERRY" lab hosts up --name "$NAME" --count "$n" --dir "$LAB" --net "$NET" >&2
  write_ansible_cfg "$n"
  write_pyinfra_inventory "$n"
  for rep in $(seq 1 "$RUNS"); do
    for tool in $TOOLS; do
      reset_hosts "$n"
      [ "$tool" = ansible ] && close_masters "$WORK/acp"   # first run opens its own connections
      for run in first second; do
        run_tool "$tool" "$n" "$run" "$rep"
      done
    done
  done
  close_masters "$WORK/acp"
  "$FERRY" lab hosts down --name "$NAME" --dir "$LAB" >&2
  LAB_UP=0
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- table -------------------------------------------------------------------------
"$PY" - "$WORK/results.tsv" "$RUNS" <<'PYEOF'
import statistics, sys
from collections import defaultdict
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
g = defaultdict(list)
for t, n, run, rep, wall, cpu, one, sm, tgt, rc, ch in rows:
    g[(t, int(n), run)].append((float(wall), float(cpu), int(one), int(sm), float(tgt), int(rc), ch))
med = lambda xs: statistics.median(xs)
order = ["ferry", "ansible", "pyinfra", "floor"]
print(f"medians of {sys.argv[2]} runs; ratio = peer / ferry (>1: ferry better)")
print("| N | run | tool | wall s | ctl CPU s | ctl RSS max-proc MiB | ctl RSS sum-at-peak MiB | target CPU s | wall ratio | ctl CPU ratio | changed | exit codes |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
M = {}
for n in sorted({k[1] for k in g}):
    for run in ("first", "second"):
        f = g.get(("ferry", n, run))
        fw = med([x[0] for x in f]) if f else None
        fc = med([x[1] for x in f]) if f else None
        for t in order:
            xs = g.get((t, n, run))
            if not xs: continue
            w, c = med([x[0] for x in xs]), med([x[1] for x in xs])
            one, sm = med([x[2] for x in xs]) / 1024, med([x[3] for x in xs]) / 1024
            tg = med([x[4] for x in xs])
            M[(t, n, run)] = (w, c, one, sm)
            wr = f"{w / fw:.2f}" if fw else "-"
            cr = f"{c / fc:.2f}" if fc else "-"
            print(f"| {n} | {run} | {t} | {w:.2f} | {c:.2f} | {one:.1f} | {sm:.1f} | {tg:.2f} | {wr} | {cr} | "
                  f"{'/'.join(sorted(set(x[6] for x in xs)))} | {','.join(str(x[5]) for x in xs)} |")
print()
def check(label, ok):
    print(f"- {label}: {'MET' if ok else 'NOT MET' if ok is not None else 'not measured'}")
def get(t, n, run, i):
    return M[(t, n, run)][i] if (t, n, run) in M else None
fa, aa, pa, sa = (get(t, 50, "second", 0) for t in order)
check(f"N=50 second: ferry >= 10x faster than Ansible ({aa / fa:.2f}x)" if fa and aa else "N=50 second vs Ansible", (aa / fa >= 10) if fa and aa else None)
check(f"N=50 second: ferry >= 2x faster than pyinfra ({pa / fa:.2f}x)" if fa and pa else "N=50 second vs pyinfra", (pa / fa >= 2) if fa and pa else None)
check(f"N=50 second: ferry within 1.3x of the OpenSSH floor (ferry/floor = {fa / sa:.2f})" if fa and sa else "N=50 second vs floor", (fa / sa <= 1.3) if fa and sa else None)
r200 = [get("ferry", 200, run, 2) for run in ("first", "second") if get("ferry", 200, run, 2) is not None]
check(f"N=200: ferry controller peak RSS < 150 MiB ({max(r200):.1f} MiB)" if r200 else "N=200 ferry RSS", (max(r200) < 150) if r200 else None)
PYEOF
printf '\nstarted %s; nproc %s; load average before %s, after %s\n%s\n' "$START" "$(nproc)" "$LOAD_BEFORE" "$LOAD_AFTER" "$VERSIONS"
cp "$WORK/results.tsv" "/tmp/ferry-peers-results-$(date +%s).tsv"
log "raw rows copied to /tmp/ferry-peers-results-*.tsv"
