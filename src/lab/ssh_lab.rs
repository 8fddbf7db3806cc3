//! [`SshLab`]: many real OpenSSH hosts on one machine, one network namespace each.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use super::error::LabError;
use super::net::{self, addr, cidr, Net24};
use super::node::{self, lock, Node};
use super::process::{run, PATH};
use super::registry::{self, write_atomic, LabRecord};

/// What lab to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshLabConfig {
    /// Short lab id (1-5 of `a-z0-9`, starting with a letter); prefixes every
    /// machine-wide name: netns `NAME-h01`, bridge `NAME-br`, veth `NAME-v01`.
    pub name: String,
    /// State dir: keys, known_hosts, ssh_config, one dir per host, the lab record.
    /// Created (and then removed again by `down`) when missing.
    pub dir: PathBuf,
    /// The hosts' /24: host N is `net.N`, the bridge `net.254`. Must be RFC 1918
    /// and not routed by anything else on the machine.
    pub net: [u8; 3],
    /// Number of hosts, 1..=250 (`node01`...).
    pub hosts: usize,
    /// Adds `inner01`, reachable only through `node01` (ProxyJump) on its own /24
    /// (`net` with the top bit of the third octet flipped: 172.31.210 -> 172.31.82).
    pub bastion: bool,
}

/// One host of the lab, as a controller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabHost {
    /// Inventory name and hostname: `node01`, ..., or `inner01`.
    pub name: String,
    /// The network namespace it lives in.
    pub netns: String,
    /// The address its sshd listens on (port 22).
    pub ip: Ipv4Addr,
}

/// A running lab. Dropping it tears everything down (best effort); [`SshLab::down`]
/// does the same and reports problems.
#[derive(Debug)]
pub struct SshLab {
    cfg: SshLabConfig,
    hosts: Vec<LabHost>,
    inner: Option<LabHost>,
    /// Every host, the inner one last.
    nodes: Vec<Node>,
    record: Mutex<LabRecord>,
    /// Name and subnet locks, held for the lab's life.
    locks: Vec<registry::LabLock>,
    finished: bool,
    keep_files: bool,
}

/// Inventory name of host `i` (1-based).
fn node_name(i: usize) -> String {
    format!("node{i:02}")
}

const INNER_NAME: &str = "inner01";

/// The bastion subnet: the lab's /24 with the top bit of its third octet flipped, so
/// labs on distinct nets get distinct inner nets (200..239 -> 72..111).
fn inner_net(net: Net24) -> Net24 {
    [net[0], net[1], net[2] ^ 0x80]
}

impl SshLab {
    /// Builds the lab: tears down a stale lab of the same name first, then creates
    /// the bridge, one namespace + veth + sshd per host, and the client files.
    /// A failure part-way removes what was made.
    pub fn up(cfg: SshLabConfig) -> Result<SshLab, LabError> {
        validate(&cfg)?;
        prerequisites()?;
        let dir = std::path::absolute(&cfg.dir).map_err(|e| LabError::path("resolving", &cfg.dir, e))?;
        check_path_chars(&dir)?;
        let cfg = SshLabConfig { dir, ..cfg };

        let mut locks = Vec::new();
        let nets: Vec<Net24> = if cfg.bastion { vec![cfg.net, inner_net(cfg.net)] } else { vec![cfg.net] };
        for key in std::iter::once(cfg.name.clone()).chain(nets.iter().map(|n| registry::net_lock_key(*n))) {
            match registry::try_lock(&key)? {
                Some(f) => locks.push(f),
                None => {
                    return Err(LabError::InUse(format!(
                        "lab lock {key} is held by another running process ({}/{key}.lock): pick another name or net",
                        registry::REGISTRY
                    )))
                }
            }
        }
        // Left behind by a process that died (we hold its name lock now), or by an
        // earlier lab in the same dir.
        let in_dir = LabRecord::load(&LabRecord::dir_copy_path(&cfg.dir))?;
        registry::teardown_unlocked(&cfg.name)?;
        if let Some(old) = in_dir {
            let _their_lock = if old.name == cfg.name {
                None
            } else {
                Some(registry::try_lock(&old.name)?.ok_or_else(|| {
                    LabError::InUse(format!("{} belongs to lab {}, which a running process holds: use another dir", cfg.dir.display(), old.name))
                })?)
            };
            registry::teardown(&old, Vec::new(), false)?;
        }

        let name = &cfg.name;
        let bridge = format!("{name}-br");
        let hosts: Vec<LabHost> =
            (1..=cfg.hosts).map(|i| LabHost { name: node_name(i), netns: format!("{name}-h{i:02}"), ip: addr(cfg.net, i as u8) }).collect();
        let inner = cfg.bastion.then(|| LabHost { name: INNER_NAME.to_string(), netns: format!("{name}-in01"), ip: addr(inner_net(cfg.net), 2) });
        let links: Vec<String> = (1..=cfg.hosts).map(|i| format!("{name}-v{i:02}")).collect();
        let netns: Vec<String> = hosts.iter().chain(inner.iter()).map(|h| h.netns.clone()).collect();

        // Names are global to the machine: never adopt one this lab did not create.
        for n in &netns {
            if net::netns_exists(n) {
                return Err(LabError::InUse(format!("network namespace {n} exists but is not this lab's: pick another lab name")));
            }
        }
        for l in links.iter().chain(std::iter::once(&bridge)) {
            if net::link_exists(l) {
                return Err(LabError::InUse(format!("link {l} exists but is not this lab's: pick another lab name")));
            }
        }
        for n in &nets {
            let hits = net::routes_overlapping(*n)?;
            if !hits.is_empty() {
                return Err(LabError::InUse(format!("{} is already routed on this machine ({}): pick another net", cidr(*n), hits.join(", "))));
            }
        }

        let dir_created = !cfg.dir.exists();
        fs::create_dir_all(&cfg.dir).map_err(|e| LabError::path("creating", &cfg.dir, e))?;
        let hosts_dir = cfg.dir.join("hosts");
        let record = LabRecord {
            name: name.clone(),
            dir: cfg.dir.clone(),
            dir_created,
            bridge: Some(bridge.clone()),
            unreachable_route: inner.as_ref().map(|_| cidr(inner_net(cfg.net))),
            netns,
            links: links.clone(),
            paths: ["hosts", "id_ed25519", "id_ed25519.pub", "known_hosts", "ssh_config"].iter().map(|p| cfg.dir.join(p)).collect(),
            pids: Vec::new(),
        };
        // Written before anything exists, so a crash at any later point leaves a
        // record that the next `up` (or `down`) can act on.
        record.save()?;

        let nodes = hosts
            .iter()
            .chain(inner.iter())
            .map(|h| {
                let mut batch = vec!["link set lo up".to_string(), format!("addr add {}/24 dev eth0", h.ip), "link set eth0 up".to_string()];
                if cfg.bastion && h.name == node_name(1) {
                    batch.push(format!("addr add {}/24 dev eth1", addr(inner_net(cfg.net), 1)));
                    batch.push("link set eth1 up".to_string());
                }
                Node::new(h.clone(), hosts_dir.join(&h.name), batch)
            })
            .collect();

        let lab = SshLab { cfg, hosts, inner, nodes, record: Mutex::new(record), locks, finished: false, keep_files: false };
        // From here on, an early return drops `lab`, which tears down what exists.
        lab.create_network(&bridge, &links)?;
        lab.start_hosts()?;
        lab.write_client_files()?;
        lab.save_pids()?;
        Ok(lab)
    }

    /// Bridge, namespaces, veths, the bastion link and its unreachable route: one
    /// `ip -batch` in the root namespace.
    fn create_network(&self, bridge: &str, links: &[String]) -> Result<(), LabError> {
        let mut b = vec![
            format!("link add {bridge} type bridge stp_state 0 forward_delay 0"),
            format!("addr add {}/24 dev {bridge}", addr(self.cfg.net, 254)),
            format!("link set {bridge} up"),
        ];
        for (host, link) in self.hosts.iter().zip(links) {
            b.push(format!("netns add {}", host.netns));
            b.push(format!("link add {link} type veth peer name eth0 netns {}", host.netns));
            b.push(format!("link set {link} master {bridge} up"));
        }
        if let Some(inner) = &self.inner {
            // A veth straight from node01's namespace into the inner one: no end of it
            // is in the root namespace, so the controller has no path there.
            b.push(format!("netns add {}", inner.netns));
            b.push(format!("link add eth1 netns {} type veth peer name eth0 netns {}", self.hosts[0].netns, inner.netns));
            // Without this the root namespace would send packets for the inner subnet
            // out of its default route, off the machine.
            b.push(format!("route add unreachable {}", cidr(inner_net(self.cfg.net))));
        }
        net::ip_batch(&b)
    }

    /// Client key, then every host (files, keeper, sshd) on a few threads, then waits
    /// for all sshd at once.
    fn start_hosts(&self) -> Result<(), LabError> {
        let key = self.client_key();
        if !key.exists() {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C"])
                .arg(format!("ferry-lab-{}", self.cfg.name))
                .arg("-f")
                .arg(&key)
                .env_clear()
                .env("PATH", PATH))?;
        }
        let public = key.with_extension("pub");
        let authorized = fs::read_to_string(&public).map_err(|e| LabError::path("reading", &public, e))?;

        // Starting a host is a dozen short processes; a few threads keep both cores
        // busy while others wait on exec and mounts.
        let workers = thread::available_parallelism().map(|n| n.get() * 3).unwrap_or(6).clamp(1, 16).min(self.nodes.len());
        let next = AtomicUsize::new(0);
        let first_error: Mutex<Option<LabError>> = Mutex::new(None);
        thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    if lock(&first_error).is_some() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(node) = self.nodes.get(i) else {
                        return;
                    };
                    let result = node.prepare(&authorized).and_then(|()| node.start_keeper()).and_then(|()| node.spawn_sshd());
                    if let Err(e) = result {
                        lock(&first_error).get_or_insert(e);
                        return;
                    }
                });
            }
        });
        if let Some(e) = lock(&first_error).take() {
            return Err(e);
        }
        node::wait_all_sshd(&self.nodes)
    }

    /// known_hosts (`ip,name key` per host) and an OpenSSH client config.
    fn write_client_files(&self) -> Result<(), LabError> {
        let mut known = String::new();
        for node in &self.nodes {
            known.push_str(&format!("{},{} {}\n", node.host.ip, node.host.name, lock(&node.host_key)));
        }
        write_atomic(&self.known_hosts(), known.as_bytes())?;

        let mut cfg = format!("# ferry lab {}: ssh -F {} node01\n", self.cfg.name, self.ssh_config().display());
        for host in &self.hosts {
            cfg.push_str(&format!("Host {}\n  HostName {}\n", host.name, host.ip));
        }
        if let Some(inner) = &self.inner {
            cfg.push_str(&format!("Host {}\n  HostName {}\n  ProxyJump {}\n", inner.name, inner.ip, self.hosts[0].name));
        }
        cfg.push_str(&format!(
            "Host *\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
             GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n  \
             ConnectTimeout 10\n  LogLevel ERROR\n",
            self.client_key().display(),
            self.known_hosts().display()
        ));
        write_atomic(&self.ssh_config(), cfg.as_bytes())
    }

    fn save_pids(&self) -> Result<(), LabError> {
        let mut record = lock(&self.record);
        record.pids = self.nodes.iter().flat_map(|n| n.pids()).collect();
        record.save()
    }

    /// The lab's name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// The lab's state dir.
    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    /// The hosts on the bridge (`node01`...), in order; not the bastion target.
    pub fn hosts(&self) -> &[LabHost] {
        &self.hosts
    }

    /// The host behind the bastion (`inner01`), when the lab has one.
    pub fn bastion_target(&self) -> Option<&LabHost> {
        self.inner.as_ref()
    }

    /// Any host by inventory name, the bastion target included.
    pub fn host(&self, name: &str) -> Option<&LabHost> {
        self.nodes.iter().map(|n| &n.host).find(|h| h.name == name)
    }

    fn node(&self, name: &str) -> Result<&Node, LabError> {
        self.nodes.iter().find(|n| n.host.name == name).ok_or_else(|| LabError::UnknownHost(name.to_string()))
    }

    /// The ed25519 private key that logs in as root on every host.
    pub fn client_key(&self) -> PathBuf {
        self.cfg.dir.join("id_ed25519")
    }

    /// known_hosts with `ip,name key` for every host (the inner one included).
    pub fn known_hosts(&self) -> PathBuf {
        self.cfg.dir.join("known_hosts")
    }

    /// OpenSSH client config: `ssh -F <this> node01` works, and `inner01` goes
    /// through `node01` by ProxyJump.
    pub fn ssh_config(&self) -> PathBuf {
        self.cfg.dir.join("ssh_config")
    }

    /// The dir whose subdirs are the host's private `/tmp`, `/root`, `/run` and the
    /// upper layer of its `/etc` (for debugging; tests should use [`SshLab::exec`]).
    pub fn host_dir(&self, host: &str) -> Result<PathBuf, LabError> {
        Ok(self.node(host)?.dir.clone())
    }

    /// Writes an Ansible YAML inventory to `path`: group `lab` with every bridge host
    /// (`ansible_host`, `ansible_user: root`, `ansible_ssh_private_key_file`), group
    /// `behind_bastion` with the inner host (plus `ferry_proxy_jump: root@<node01
    /// ip>`) when there is one, and each `(group, hosts)` of `extra_groups`.
    pub fn write_inventory(&self, path: &Path, extra_groups: &[(&str, &[&str])]) -> Result<PathBuf, LabError> {
        let key = yaml_string(&self.client_key().to_string_lossy());
        let mut y = format!("# ferry lab {}: written by SshLab::write_inventory\nall:\n  children:\n    lab:\n      hosts:\n", self.cfg.name);
        let host_vars = |y: &mut String, h: &LabHost| {
            y.push_str(&format!(
                "        {}:\n          ansible_host: {}\n          ansible_user: root\n          ansible_ssh_private_key_file: {key}\n",
                h.name, h.ip
            ));
        };
        for h in &self.hosts {
            host_vars(&mut y, h);
        }
        if let Some(inner) = &self.inner {
            y.push_str("    behind_bastion:\n      hosts:\n");
            host_vars(&mut y, inner);
            y.push_str(&format!("          ferry_proxy_jump: {}\n", yaml_string(&format!("root@{}", self.hosts[0].ip))));
        }
        for (group, members) in extra_groups {
            if !is_plain_name(group) {
                return Err(LabError::Config(format!("inventory group name {group:?}: use letters, digits and _ only")));
            }
            y.push_str(&format!("    {group}:\n      hosts:\n"));
            for m in *members {
                if self.host(m).is_none() {
                    return Err(LabError::UnknownHost((*m).to_string()));
                }
                y.push_str(&format!("        {m}:\n"));
            }
        }
        write_atomic(path, y.as_bytes())?;
        Ok(path.to_path_buf())
    }

    /// Stops the host's sshd (by its recorded PID); the host keeps its namespaces
    /// and files, so [`SshLab::exec`] still works and `start_sshd` brings it back.
    pub fn stop_sshd(&self, host: &str) -> Result<(), LabError> {
        self.node(host)?.stop_sshd()
    }

    /// Starts the host's sshd again and waits until it listens. No-op when running.
    pub fn start_sshd(&self, host: &str) -> Result<(), LabError> {
        let node = self.node(host)?;
        node.spawn_sshd()?;
        node.wait_sshd()?;
        self.save_pids()
    }

    /// Gives the host a new host key and restarts its sshd. known_hosts is NOT
    /// updated: clients that trust it now see a mismatch.
    pub fn regenerate_host_key(&self, host: &str) -> Result<(), LabError> {
        self.node(host)?.regenerate_host_key()?;
        self.save_pids()
    }

    /// Runs `argv` inside the host's own view: its network namespace, its private
    /// mounts (`/etc`, `/root`, `/run`, `/tmp`) and hostname — what an SSH session
    /// there sees — without going through SSH. A non-zero exit is in the `Output`,
    /// not an error. Works while the host's sshd is stopped.
    pub fn exec(&self, host: &str, argv: &[&str]) -> Result<Output, LabError> {
        self.node(host)?.exec(argv)
    }

    /// Keep (`true`) the lab's files at teardown, for debugging; namespaces,
    /// links and processes are removed all the same.
    pub fn keep_files(&mut self, keep: bool) {
        self.keep_files = keep;
    }

    /// Leaves the lab running after this value is gone (for `ferry lab hosts up`);
    /// [`SshLab::down_named`] removes it later. Returns the lab's dir.
    pub fn persist(mut self) -> PathBuf {
        self.finished = true;
        // The daemons go on without us: drop the handles without waiting on them.
        for node in &self.nodes {
            for p in node.take_procs() {
                drop(p);
            }
        }
        self.cfg.dir.clone()
    }

    /// Stops every process and removes the namespaces, links, routes and files the
    /// lab made.
    pub fn down(mut self) -> Result<(), LabError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), LabError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let procs = self.nodes.iter().flat_map(|n| n.take_procs()).collect();
        let record = lock(&self.record).clone();
        let result = registry::teardown(&record, procs, self.keep_files);
        self.locks.clear();
        result
    }

    /// Tears down the lab recorded under `name` (made by another process, e.g.
    /// `ferry lab hosts up`). `Ok(false)` when there is no such lab; an error when a
    /// live process still holds it.
    pub fn down_named(name: &str) -> Result<bool, LabError> {
        registry::teardown_named(name)
    }

    /// Tears down every recorded lab whose dir lies under `under` and whose owner
    /// process is gone (a crashed test run); returns their names.
    pub fn teardown_stale_under(under: &Path) -> Result<Vec<String>, LabError> {
        registry::teardown_stale_under(under)
    }
}

impl Drop for SshLab {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("ferry lab {}: {e}", self.cfg.name);
        }
    }
}

fn validate(cfg: &SshLabConfig) -> Result<(), LabError> {
    let n = &cfg.name;
    let name_ok =
        (1..=5).contains(&n.len()) && n.starts_with(|c: char| c.is_ascii_lowercase()) && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !name_ok {
        return Err(LabError::Config(format!("lab name {n:?}: use 1-5 characters a-z0-9, starting with a letter (it prefixes interface names, max 15 chars)")));
    }
    if !(1..=250).contains(&cfg.hosts) {
        return Err(LabError::Config(format!("hosts = {}: a lab has 1..=250 hosts", cfg.hosts)));
    }
    for net in [cfg.net, inner_net(cfg.net)] {
        if !net::is_private(net) {
            return Err(LabError::Config(format!("net {}: lab links use RFC 1918 space only (e.g. 172.31.210)", cidr(net))));
        }
    }
    Ok(())
}

/// The lab dir ends up in overlay mount options and ssh_config lines, where commas,
/// colons, quotes and spaces would change the meaning.
fn check_path_chars(dir: &Path) -> Result<(), LabError> {
    let text = dir.to_string_lossy();
    if text.chars().any(|c| c.is_whitespace() || c.is_control() || ",:\"'\\#".contains(c)) {
        return Err(LabError::Config(format!("lab dir {text:?}: use a path without spaces, commas, colons, quotes or #")));
    }
    Ok(())
}

fn prerequisites() -> Result<(), LabError> {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Err(LabError::Prerequisite("network namespaces and mounts need root; run as root".into()));
    }
    if !Path::new("/usr/sbin/sshd").exists() {
        return Err(LabError::Prerequisite("/usr/sbin/sshd is missing: apt-get install openssh-server".into()));
    }
    for (prog, package) in [
        ("ip", "iproute2"),
        ("ssh-keygen", "openssh-client"),
        ("unshare", "util-linux"),
        ("nsenter", "util-linux"),
        ("mount", "mount"),
        ("hostname", "hostname"),
        ("sleep", "coreutils"),
    ] {
        let found = PATH.split(':').any(|d| Path::new(d).join(prog).exists());
        if !found {
            return Err(LabError::Prerequisite(format!("`{prog}` is missing: apt-get install {package}")));
        }
    }
    Ok(())
}

fn is_plain_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A YAML double-quoted scalar; JSON's string syntax is a subset of it.
fn yaml_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(name: &str, hosts: usize, net: [u8; 3]) -> SshLabConfig {
        SshLabConfig { name: name.into(), dir: "/tmp/x".into(), net, hosts, bastion: true }
    }

    #[test]
    fn names_must_fit_interface_names() {
        assert!(validate(&cfg("t3a", 5, [172, 31, 210])).is_ok());
        assert!(validate(&cfg("toolong", 5, [172, 31, 210])).is_err());
        assert!(validate(&cfg("T3", 5, [172, 31, 210])).is_err());
        assert!(validate(&cfg("3a", 5, [172, 31, 210])).is_err());
    }

    #[test]
    fn host_counts_and_nets_are_bounded() {
        assert!(validate(&cfg("a", 0, [172, 31, 210])).is_err());
        assert!(validate(&cfg("a", 251, [172, 31, 210])).is_err());
        assert!(validate(&cfg("a", 250, [172, 31, 210])).is_ok());
        assert!(validate(&cfg("a", 5, [8, 8, 8])).is_err());
    }

    #[test]
    fn the_inner_net_differs_from_every_outer_net_in_the_test_range() {
        for x in 200..=239u8 {
            let inner = inner_net([172, 31, x]);
            assert!(!(200..=255).contains(&inner[2]));
        }
    }

    #[test]
    fn odd_dirs_are_refused() {
        assert!(check_path_chars(Path::new("/tmp/ferry-tests/p1-a")).is_ok());
        assert!(check_path_chars(Path::new("/tmp/a,b")).is_err());
        assert!(check_path_chars(Path::new("/tmp/a b")).is_err());
    }
}
