//! What every lab shares, whatever its topology: claiming a name and subnets,
//! recording what will be made before making it, starting many hosts at once,
//! the client files (key, known_hosts, ssh_config), and the teardown.
//!
//! [`SshLab`](super::SshLab) (one bridge) and [`TwoSiteLab`](super::TwoSiteLab)
//! (two sites and a WAN) differ only in the links they create; everything else
//! goes through a [`Fleet`].

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use super::error::LabError;
use super::net::{self, cidr, Net24};
use super::node::{self, lock, Node};
use super::process::{run, PATH};
use super::registry::{self, write_atomic, LabLock, LabRecord};

/// Files every lab writes into its dir (removed by teardown when the dir stays).
const CLIENT_FILES: [&str; 5] = ["hosts", "id_ed25519", "id_ed25519.pub", "known_hosts", "ssh_config"];

/// A lab name and dir that this process now owns: the name lock and the subnet
/// locks are held, and whatever a dead process left under that name is gone.
#[derive(Debug)]
pub(crate) struct Claim {
    /// The lab's dir, absolute.
    pub(crate) dir: PathBuf,
    locks: Vec<LabLock>,
}

/// What a lab creates in the root namespace and on disk, by name.
#[derive(Debug, Default)]
pub(crate) struct Footprint {
    /// The root-namespace bridge the controller reaches the hosts on.
    pub(crate) bridge: Option<String>,
    /// A root-namespace `unreachable` route.
    pub(crate) unreachable_route: Option<String>,
    /// Every network namespace, hosts and others.
    pub(crate) netns: Vec<String>,
    /// Root-namespace links (veth ends).
    pub(crate) links: Vec<String>,
    /// Files the lab writes into its dir besides the client files.
    pub(crate) files: Vec<&'static str>,
}

/// The hosts of one lab and everything needed to remove it again. Dropping it
/// tears the lab down (best effort).
#[derive(Debug)]
pub(crate) struct Fleet {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    /// Every host, in inventory order.
    pub(crate) nodes: Vec<Node>,
    record: Mutex<LabRecord>,
    /// Name and subnet locks, held for the lab's life.
    locks: Vec<LabLock>,
    finished: bool,
    keep_files: bool,
}

/// Lab names prefix interface names (at most 15 characters), so they are short.
pub(crate) fn validate_name(name: &str) -> Result<(), LabError> {
    let ok = (1..=5).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(LabError::Config(format!("lab name {name:?}: use 1-5 characters a-z0-9, starting with a letter (it prefixes interface names, max 15 chars)")))
    }
}

/// Root, sshd and the programs the lab runs.
pub(crate) fn prerequisites() -> Result<(), LabError> {
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

/// The lab dir ends up in overlay mount options and ssh_config lines, where commas,
/// colons, quotes and spaces would change the meaning.
pub(crate) fn check_path_chars(dir: &Path) -> Result<(), LabError> {
    let text = dir.to_string_lossy();
    if text.chars().any(|c| c.is_whitespace() || c.is_control() || ",:\"'\\#".contains(c)) {
        return Err(LabError::Config(format!("lab dir {text:?}: use a path without spaces, commas, colons, quotes or #")));
    }
    Ok(())
}

/// Takes the name lock and one lock per subnet in `nets`, then removes what a dead
/// process left under this name or in this dir.
pub(crate) fn claim(name: &str, dir: &Path, nets: &[Net24]) -> Result<Claim, LabError> {
    let dir = std::path::absolute(dir).map_err(|e| LabError::path("resolving", dir, e))?;
    check_path_chars(&dir)?;
    let mut locks = Vec::new();
    for key in std::iter::once(name.to_string()).chain(nets.iter().map(|n| registry::net_lock_key(*n))) {
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
    let in_dir = LabRecord::load(&LabRecord::dir_copy_path(&dir))?;
    registry::teardown_unlocked(name)?;
    if let Some(old) = in_dir {
        let _their_lock = if old.name == name {
            None
        } else {
            Some(
                registry::try_lock(&old.name)?
                    .ok_or_else(|| LabError::InUse(format!("{} belongs to lab {}, which a running process holds: use another dir", dir.display(), old.name)))?,
            )
        };
        registry::teardown(&old, Vec::new(), false)?;
    }
    Ok(Claim { dir, locks })
}

/// Names are global to the machine: never adopt a namespace or link this lab did not
/// create, nor shadow a subnet something else routes.
pub(crate) fn ensure_unused(netns: &[String], links: &[String], routed: &[Net24]) -> Result<(), LabError> {
    for n in netns {
        if net::netns_exists(n) {
            return Err(LabError::InUse(format!("network namespace {n} exists but is not this lab's: pick another lab name")));
        }
    }
    for l in links {
        if net::link_exists(l) {
            return Err(LabError::InUse(format!("link {l} exists but is not this lab's: pick another lab name")));
        }
    }
    for n in routed {
        let hits = net::routes_overlapping(*n)?;
        if !hits.is_empty() {
            return Err(LabError::InUse(format!("{} is already routed on this machine ({}): pick another net", cidr(*n), hits.join(", "))));
        }
    }
    Ok(())
}

impl Fleet {
    /// Records `footprint` (before any of it exists, so a crash at any later point
    /// leaves a record the next `up` or `down` can act on) and takes charge of
    /// `nodes`. From here on, dropping the fleet removes whatever was made.
    pub(crate) fn begin(claim: Claim, name: &str, footprint: Footprint, nodes: Vec<Node>) -> Result<Fleet, LabError> {
        let Claim { dir, locks } = claim;
        let dir_created = !dir.exists();
        fs::create_dir_all(&dir).map_err(|e| LabError::path("creating", &dir, e))?;
        let record = LabRecord {
            name: name.to_string(),
            dir: dir.clone(),
            dir_created,
            bridge: footprint.bridge,
            unreachable_route: footprint.unreachable_route,
            netns: footprint.netns,
            links: footprint.links,
            paths: CLIENT_FILES.iter().chain(footprint.files.iter()).map(|p| dir.join(p)).collect(),
            pids: Vec::new(),
        };
        record.save()?;
        Ok(Fleet { name: name.to_string(), dir, nodes, record: Mutex::new(record), locks, finished: false, keep_files: false })
    }

    /// `<dir>/hosts`: one dir per host.
    pub(crate) fn hosts_dir(dir: &Path) -> PathBuf {
        dir.join("hosts")
    }

    /// Client key, then every host (files, keeper, sshd) on a few threads, then waits
    /// for all sshd at once.
    pub(crate) fn start_hosts(&self) -> Result<(), LabError> {
        let key = self.client_key();
        if !key.exists() {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C"])
                .arg(format!("ferry-lab-{}", self.name))
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
        node::wait_all_sshd(&self.nodes)?;
        self.save_pids()
    }

    /// known_hosts (`ip,name key` per host) and an OpenSSH client config with a
    /// `Host` entry per host; `jumps` lists `(host, bastion)` pairs for ProxyJump.
    pub(crate) fn write_client_files(&self, jumps: &[(&str, &str)]) -> Result<(), LabError> {
        let mut known = String::new();
        for node in &self.nodes {
            known.push_str(&format!("{},{} {}\n", node.host.ip, node.host.name, lock(&node.host_key)));
        }
        write_atomic(&self.known_hosts(), known.as_bytes())?;

        let mut cfg = format!("# ferry lab {}: ssh -F {} {}\n", self.name, self.ssh_config().display(), self.nodes.first().map_or("HOST", |n| &n.host.name));
        for node in &self.nodes {
            cfg.push_str(&format!("Host {}\n  HostName {}\n", node.host.name, node.host.ip));
            if let Some((_, via)) = jumps.iter().find(|(h, _)| *h == node.host.name) {
                cfg.push_str(&format!("  ProxyJump {via}\n"));
            }
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

    /// Records the keeper and sshd PIDs, so another process can end them.
    pub(crate) fn save_pids(&self) -> Result<(), LabError> {
        let mut record = lock(&self.record);
        record.pids = self.nodes.iter().flat_map(|n| n.pids()).collect();
        record.save()
    }

    pub(crate) fn node(&self, name: &str) -> Result<&Node, LabError> {
        self.nodes.iter().find(|n| n.host.name == name).ok_or_else(|| LabError::UnknownHost(name.to_string()))
    }

    /// Runs `argv` inside host `name` (see [`Node::exec`]).
    pub(crate) fn exec(&self, name: &str, argv: &[&str]) -> Result<Output, LabError> {
        self.node(name)?.exec(argv)
    }

    pub(crate) fn client_key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    pub(crate) fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    pub(crate) fn ssh_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    pub(crate) fn keep_files(&mut self, keep: bool) {
        self.keep_files = keep;
    }

    /// Leaves the lab running after this value is gone; `down_named` removes it later.
    pub(crate) fn persist(&mut self) -> PathBuf {
        self.finished = true;
        // The daemons go on without us: drop the handles without waiting on them.
        for node in &self.nodes {
            for p in node.take_procs() {
                drop(p);
            }
        }
        self.dir.clone()
    }

    /// Stops every process and removes the namespaces, links, routes and files the
    /// lab made (once; later calls do nothing).
    pub(crate) fn teardown(&mut self) -> Result<(), LabError> {
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
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("ferry lab {}: {e}", self.name);
        }
    }
}

/// A YAML double-quoted scalar; JSON's string syntax is a subset of it.
pub(crate) fn yaml_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_fit_interface_names() {
        assert!(validate_name("t3a").is_ok());
        assert!(validate_name("toolong").is_err());
        assert!(validate_name("T3").is_err());
        assert!(validate_name("3a").is_err());
    }

    #[test]
    fn odd_dirs_are_refused() {
        assert!(check_path_chars(Path::new("/tmp/ferry-tests/p1-a")).is_ok());
        assert!(check_path_chars(Path::new("/tmp/a,b")).is_err());
        assert!(check_path_chars(Path::new("/tmp/a b")).is_err());
    }
}
