//! [`SshLab`]: many real OpenSSH hosts on one machine, one network namespace each.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Output;

use super::error::LabError;
use super::fleet::{self, yaml_string, Fleet, Footprint};
use super::net::{self, addr, cidr, Net24};
use super::node::Node;
use super::registry::{self, write_atomic};

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
    /// Every host (the inner one last), its processes and its teardown.
    fleet: Fleet,
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
        fleet::prerequisites()?;
        let nets: Vec<Net24> = if cfg.bastion { vec![cfg.net, inner_net(cfg.net)] } else { vec![cfg.net] };
        let claim = fleet::claim(&cfg.name, &cfg.dir, &nets)?;
        let cfg = SshLabConfig { dir: claim.dir.clone(), ..cfg };

        let name = &cfg.name;
        let bridge = format!("{name}-br");
        let hosts: Vec<LabHost> =
            (1..=cfg.hosts).map(|i| LabHost { name: node_name(i), netns: format!("{name}-h{i:02}"), ip: addr(cfg.net, i as u8) }).collect();
        let inner = cfg.bastion.then(|| LabHost { name: INNER_NAME.to_string(), netns: format!("{name}-in01"), ip: addr(inner_net(cfg.net), 2) });
        let links: Vec<String> = (1..=cfg.hosts).map(|i| format!("{name}-v{i:02}")).collect();
        let netns: Vec<String> = hosts.iter().chain(inner.iter()).map(|h| h.netns.clone()).collect();
        let mut root_links = links.clone();
        root_links.push(bridge.clone());
        fleet::ensure_unused(&netns, &root_links, &nets)?;

        let hosts_dir = Fleet::hosts_dir(&cfg.dir);
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
        let footprint = Footprint {
            bridge: Some(bridge.clone()),
            unreachable_route: inner.as_ref().map(|_| cidr(inner_net(cfg.net))),
            netns,
            links: links.clone(),
            files: Vec::new(),
        };
        let fleet = Fleet::begin(claim, name, footprint, nodes)?;
        let lab = SshLab { cfg, hosts, inner, fleet };
        // From here on, an early return drops `lab`, which tears down what exists.
        lab.create_network(&bridge, &links)?;
        lab.fleet.start_hosts()?;
        let jumps: Vec<(&str, &str)> = lab.inner.iter().map(|i| (i.name.as_str(), lab.hosts[0].name.as_str())).collect();
        lab.fleet.write_client_files(&jumps)?;
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
        self.fleet.nodes.iter().map(|n| &n.host).find(|h| h.name == name)
    }

    fn node(&self, name: &str) -> Result<&Node, LabError> {
        self.fleet.node(name)
    }

    /// The ed25519 private key that logs in as root on every host.
    pub fn client_key(&self) -> PathBuf {
        self.fleet.client_key()
    }

    /// known_hosts with `ip,name key` for every host (the inner one included).
    pub fn known_hosts(&self) -> PathBuf {
        self.fleet.known_hosts()
    }

    /// OpenSSH client config: `ssh -F <this> node01` works, and `inner01` goes
    /// through `node01` by ProxyJump.
    pub fn ssh_config(&self) -> PathBuf {
        self.fleet.ssh_config()
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
        self.fleet.save_pids()
    }

    /// Gives the host a new host key and restarts its sshd. known_hosts is NOT
    /// updated: clients that trust it now see a mismatch.
    pub fn regenerate_host_key(&self, host: &str) -> Result<(), LabError> {
        self.node(host)?.regenerate_host_key()?;
        self.fleet.save_pids()
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
        self.fleet.keep_files(keep);
    }

    /// Leaves the lab running after this value is gone (for `ferry lab hosts up`);
    /// [`SshLab::down_named`] removes it later. Returns the lab's dir.
    pub fn persist(mut self) -> PathBuf {
        self.fleet.persist()
    }

    /// Stops every process and removes the namespaces, links, routes and files the
    /// lab made.
    pub fn down(mut self) -> Result<(), LabError> {
        self.fleet.teardown()
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

fn validate(cfg: &SshLabConfig) -> Result<(), LabError> {
    fleet::validate_name(&cfg.name)?;
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

fn is_plain_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
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
}
