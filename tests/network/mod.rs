//! The two-site lab for the network tests: `Sites::start` brings up a
//! [`TwoSiteLab`] (3 source + 3 target nodes) on a free management subnet, runs the
//! project's own `playbooks/network*.yml` against its inventory, and looks at the
//! nodes from inside (iptables-save, ufw, routes, real TCP connections).
//!
//! ```ignore
//! let sites = Sites::start("tra");
//! sites.play("network.yml", &[]).assert_exit(0);
//! assert_eq!(sites.probe("dst-node1", sites.lan_ip("src-node1"), 3300), Ok(...));
//! ```

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use ferry::lab::{LabError, Site, SiteHost, TwoSiteLab, TwoSiteLabConfig};

use super::common::{fixture, tests_root, Ferry, Run, TestDir};

/// Management subnets the harness may use (shared with the SSH lab tests through
/// the lab's subnet locks).
const NET_SLOTS: std::ops::RangeInclusive<u8> = 200..=239;

/// `playbooks/NAME` in the source tree.
pub fn playbook(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks").join(name)
}

/// The network tests need root: without it they fail, saying why (never skip).
fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)) == Some("0");
    assert!(root, "ferry's network tests build network namespaces and need root. They fail rather than skip.");
    for prog in ["/usr/sbin/sshd", "/usr/sbin/ufw", "/usr/sbin/iptables-save", "/usr/bin/python3"] {
        assert!(Path::new(prog).exists(), "ferry's network tests need {prog} (see .ci/run). They fail rather than skip.");
    }
}

/// Once per test process: remove labs that crashed runs left under the test root.
fn sweep_stale_labs() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if Path::new("/run/ferry-lab").exists() {
            if let Err(e) = ferry::lab::SshLab::teardown_stale_under(&tests_root()) {
                eprintln!("harness: cleaning up labs of earlier runs: {e}");
            }
        }
    });
}

/// A two-site lab for one test. Dropping it tears the lab down, also on panic.
pub struct Sites {
    lab: Option<TwoSiteLab>,
    // Declared after `lab` so the lab is down before its dir goes.
    dir: TestDir,
}

impl Sites {
    /// 3 source and 3 target nodes, with the ipvsadm stand-in on every node's PATH.
    pub fn start(hint: &str) -> Sites {
        Sites::start_with(hint, 3, 3)
    }

    /// `sources` + `targets` nodes; `hint`'s first 3 characters prefix the lab name.
    pub fn start_with(hint: &str, sources: usize, targets: usize) -> Sites {
        require_root();
        sweep_stale_labs();
        let dir = TestDir::new(hint);
        let mut prefix: String = hint.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).take(3).collect();
        if !prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
            prefix.insert(0, 'n');
            prefix.truncate(3);
        }
        let slots = NET_SLOTS.count();
        let start = (std::process::id() as usize).wrapping_mul(13) + hint.len();
        let mut last = String::new();
        for k in 0..slots {
            let slot = (start + k) % slots;
            let cfg = TwoSiteLabConfig {
                name: format!("{prefix}{slot:02}"),
                dir: dir.path().join("lab"),
                net: [172, 31, NET_SLOTS.start() + slot as u8],
                sources,
                targets,
                // The kernel here has no IP_VS: the `ipvs` module runs against this stand-in.
                tools: vec![fixture("bin/ipvsadm")],
                ceph: false,
            };
            match TwoSiteLab::up(cfg) {
                Ok(lab) => return Sites { lab: Some(lab), dir },
                Err(LabError::InUse(why)) => last = why,
                Err(e) => panic!("starting a two-site lab for {hint}: {e}"),
            }
        }
        panic!("no free lab subnet in 172.31.200-239 (last: {last})");
    }

    /// The lab.
    pub fn lab(&self) -> &TwoSiteLab {
        self.lab.as_ref().expect("lab is up until drop")
    }

    /// The test's own dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The inventory the lab wrote.
    pub fn inventory(&self) -> PathBuf {
        self.lab().inventory()
    }

    /// Names of the nodes of `site`.
    pub fn names(&self, site: Site) -> Vec<String> {
        self.lab().site(site).iter().map(|h| h.host.name.clone()).collect()
    }

    /// Every node's name, sources first.
    pub fn all(&self) -> Vec<String> {
        self.lab().hosts().iter().map(|h| h.host.name.clone()).collect()
    }

    /// One node.
    pub fn node(&self, name: &str) -> &SiteHost {
        self.lab().host(name).unwrap_or_else(|| panic!("no node {name}"))
    }

    /// `ferry play playbooks/NAME -i <lab inventory> --known-hosts ... --format json ARGS`.
    pub fn play(&self, name: &str, args: &[&str]) -> Run {
        self.play_with(name, &self.inventory(), args)
    }

    /// Like [`Sites::play`] with another inventory.
    pub fn play_with(&self, name: &str, inventory: &Path, args: &[&str]) -> Run {
        let pb = playbook(name);
        let inv = inventory.to_string_lossy().into_owned();
        let kh = self.lab().known_hosts().to_string_lossy().into_owned();
        Ferry::new("play", &["play", &pb.to_string_lossy(), "-i", &inv, "--known-hosts", &kh, "--format", "json"]).args(args).run()
    }

    /// Runs `argv` inside `host` (not through ferry).
    pub fn exec(&self, host: &str, argv: &[&str]) -> Output {
        self.lab().exec(host, argv).unwrap_or_else(|e| panic!("lab exec on {host} {argv:?}: {e}"))
    }

    /// Runs a shell snippet on `host`; panics unless it exits 0; returns stdout.
    pub fn sh(&self, host: &str, script: &str) -> String {
        let out = self.exec(host, &["sh", "-c", script]);
        assert!(out.status.success(), "on {host}: `{script}` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether `path` exists on `host`.
    pub fn exists(&self, host: &str, path: &str) -> bool {
        self.exec(host, &["test", "-e", path]).status.success()
    }

    /// The firewall and routing state of `host` as text: iptables-save and
    /// ip6tables-save (counters and timestamps removed), ufw's status and rules,
    /// the IPv4 routes, the ipvs table. Equal snapshots mean nothing changed.
    pub fn snapshot(&self, host: &str) -> String {
        self.sh(
            host,
            "for t in iptables-save ip6tables-save; do echo \"== $t\"; $t | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]$//'; done; \
             echo '== ufw'; ufw status verbose; ufw show added; \
             echo '== routes'; ip -4 route show table all; \
             echo '== ipvs'; ipvsadm -S -n",
        )
    }

    /// [`Sites::snapshot`] of every node (sources first), taken in parallel.
    pub fn snapshots(&self) -> Vec<String> {
        self.on_every_node(|host| self.snapshot(host))
    }

    /// Runs a shell snippet on every node at once; panics unless each exits 0.
    pub fn sh_all(&self, script: &str) {
        self.on_every_node(|host| self.sh(host, script));
    }

    /// `f(host)` for every node, on a thread each; results in node order.
    fn on_every_node<T: Send>(&self, f: impl Fn(&str) -> T + Sync) -> Vec<T> {
        let names = self.all();
        std::thread::scope(|s| {
            let handles: Vec<_> = names.iter().map(|h| s.spawn(|| f(h))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        })
    }

    /// `host`'s nat table (counters and timestamps removed).
    pub fn nat(&self, host: &str) -> String {
        self.sh(host, "iptables-save -t nat | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]$//'")
    }

    /// Starts a TCP service on `host` listening on each `(address, port)`, answering
    /// every connection with one line `HOST PORT PEER-ADDRESS`. It runs inside the
    /// host (its own namespace) and is stopped, by its PID, when the value drops.
    pub fn listen(&self, host: &str, at: &[(Ipv4Addr, u16)]) -> Listener<'_> {
        let mut argv: Vec<String> = vec!["python3".into(), "-c".into(), LISTENER.into(), host.into()];
        argv.extend(at.iter().map(|(ip, port)| format!("{ip}:{port}")));
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = self.exec(host, &words);
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let pid: u32 =
            text.parse().unwrap_or_else(|_| panic!("listener on {host} did not start ({}): {text} {}", out.status, String::from_utf8_lossy(&out.stderr)));
        Listener { sites: self, host: host.to_string(), pid }
    }

    /// Connects from `from` to `ip:port` (bash's /dev/tcp, within `secs` seconds)
    /// and reads one line: `Ok(line)`, or `Err(why)` with the error bash printed.
    pub fn probe_within(&self, from: &str, ip: Ipv4Addr, port: u16, secs: u32) -> Result<String, String> {
        let out =
            self.exec(from, &["timeout", &secs.to_string(), "bash", "-c", "exec 3<>\"/dev/tcp/$0/$1\" && head -n 1 <&3", &ip.to_string(), &port.to_string()]);
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !stdout.is_empty() {
            Ok(stdout)
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            Err(if out.status.code() == Some(124) { format!("timed out after {secs} s {stderr}") } else { stderr })
        }
    }

    /// [`Sites::probe_within`] with 5 seconds.
    pub fn probe(&self, from: &str, ip: Ipv4Addr, port: u16) -> Result<String, String> {
        self.probe_within(from, ip, port, 5)
    }

    /// Writes the lab's inventory with `edit` applied to its text; returns the path.
    pub fn edited_inventory(&self, rel: &str, edit: impl Fn(String) -> String) -> PathBuf {
        let text = std::fs::read_to_string(self.inventory()).expect("reading the lab inventory");
        self.dir.write(rel, &edit(text))
    }
}

impl Drop for Sites {
    fn drop(&mut self) {
        if let Some(mut lab) = self.lab.take() {
            lab.keep_files(std::env::var("FERRY_KEEP_TEST_DIRS").is_ok_and(|v| v == "1"));
            if let Err(e) = lab.down() {
                eprintln!("harness: two-site lab teardown: {e}");
            }
        }
    }
}

/// A TCP service a test started inside a lab host.
pub struct Listener<'a> {
    sites: &'a Sites,
    host: String,
    pid: u32,
}

impl Listener<'_> {
    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

impl Drop for Listener<'_> {
    fn drop(&mut self) {
        // By its PID, from inside its host: nothing else is signalled. (The lab's
        // teardown would end it too, with everything in the lab's namespaces.)
        if let Some(lab) = &self.sites.lab {
            let _ = lab.exec(&self.host, &["kill", &self.pid.to_string()]);
        }
    }
}

/// The listener: binds every ADDRESS:PORT, then forks; the parent prints the
/// child's PID and exits, the child answers connections until killed.
const LISTENER: &str = r#"
import os, selectors, socket, sys
name, socks = sys.argv[1], []
for spec in sys.argv[2:]:
    host, port = spec.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(64)
    socks.append(s)
pid = os.fork()
if pid:
    print(pid, flush=True)
    os._exit(0)
os.setsid()
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
sel = selectors.DefaultSelector()
for s in socks:
    sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        conn, peer = key.fileobj.accept()
        try:
            conn.sendall(("%s %d %s\n" % (name, key.fileobj.getsockname()[1], peer[0])).encode())
        except OSError:
            pass
        conn.close()
"#;

/// The root namespace's firewall, ufw files and net sysctls, as text: the lab must
/// never change them.
pub fn root_namespace_state() -> String {
    let run = |cmd: &str| -> String {
        let out = Command::new("sh").arg("-c").arg(cmd).output().expect("running sh");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run("for t in iptables-save ip6tables-save; do $t | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]$//'; done; \
         find /etc/ufw /etc/default/ufw -type f -exec sha256sum {} + | sort; \
         ls /usr/local/sbin; \
         sysctl -n net.ipv4.ip_forward net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.route_localnet")
}

/// How many DNAT rules a check-mode or change summary of `iptables_dnat` names:
/// `DNAT tcp A:3300 -> B:13300 (nat OUTPUT)` is one, `(nat OUTPUT, 501 rules)` 501.
pub fn dnat_rules_in(msg: &str) -> usize {
    msg.split("; ")
        .filter(|part| part.trim_start_matches("would ").starts_with("DNAT"))
        .map(|part| {
            let inner = part.rsplit_once('(').map(|(_, r)| r.trim_end_matches(')')).unwrap_or("");
            inner.split(", ").find_map(|w| w.strip_suffix(" rules").and_then(|n| n.parse().ok())).unwrap_or(1)
        })
        .sum()
}
