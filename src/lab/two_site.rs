//! [`TwoSiteLab`]: the runbook's situation on one machine. Two sites, each on a
//! private LAN of its own, and a "WAN" between them on which every node has a
//! public (documentation) address. Without ferry's forwarding a target node
//! cannot reach any source LAN address at all ("Network is unreachable"), while
//! the source's public address answers.
//!
//! ```text
//!  controller (root namespace)
//!   │ NAME-br 172.31.X.254/24 (management; the only lab address in the root namespace)
//!   ├── eth0 src-nodeI 172.31.X.(10+I)        eth0 dst-nodeJ 172.31.X.(100+J) ──┤
//!
//!  switch namespace NAME-sw (bridges only; no addresses, no processes)
//!   lan-src: lan0 of src-nodeI 10.X.1.(10+I)/24
//!   lan-dst: lan0 of dst-nodeJ 10.X.2.(10+J)/24
//!   wan:     wan0 of src-nodeI 198.51.100.(10+I)/24, of dst-nodeJ 203.0.113.(10+J)/24,
//!            plus on every node an on-link route to the other site's public /24
//! ```
//!
//! No node has a default route, and every node answers ARP only for the
//! addresses of the interface asked (`arp_ignore = 1`), so a source's LAN address
//! cannot be reached over the WAN even with a route to it: only a forwarding
//! rule gets traffic there. Source node I gets `port_offset` 10000·I (cycling
//! through 10000..50000, so 7300 + offset stays a port), as in the runbook.
//!
//! The hosts are [`Fleet`] hosts like [`SshLab`](super::SshLab)'s: their own
//! sshd, hostname, `/etc` (overlay), `/root`, `/run`, `/tmp`, and with
//! [`TwoSiteLabConfig::tools`] their own `/usr/local/sbin` (the ipvsadm stand-in).
//!
//! With [`TwoSiteLabConfig::ceph`], each site also runs a real Ceph cluster
//! ([`super::ceph::CephCluster`]): [`SOURCE_CLUSTER`] on the first source node
//! and [`TARGET_CLUSTER`] on the first target node, every daemon bound to the
//! node's [`SiteHost::lan_ip`] (the address a real cluster advertises in
//! `mon_host`), conf and admin keyring in that node's private `/etc/ceph`. The
//! lab starts no rbd-mirror: that is the migration's job (`mirror.yml`). The
//! daemons live as long as the lab: its teardown ends every process in its
//! namespaces. Pools and data come from `playbooks/lab/ceph-seed.yml`, run by
//! `ferry lab up` through ferry's own engine.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use super::ceph::{CephCluster, CephClusterSpec, DaemonPid};
use super::error::LabError;
use super::fleet::{self, yaml_string, Fleet, Footprint};
use super::net::{self, addr, cidr};
use super::node::Node;
use super::registry::{self, write_atomic, LabRecord};
use super::LabHost;

/// The source site's public /24 (RFC 5737 TEST-NET-2): never routed on the Internet.
pub const SOURCE_PUBLIC_NET: [u8; 3] = [198, 51, 100];
/// The target site's public /24 (RFC 5737 TEST-NET-3).
pub const TARGET_PUBLIC_NET: [u8; 3] = [203, 0, 113];
/// At most this many nodes per site.
pub const MAX_SITE_NODES: usize = 50;

/// The interface names inside every node.
pub const MGMT_IF: &str = "eth0";
/// The LAN interface of every node.
pub const LAN_IF: &str = "lan0";
/// The WAN interface of every node: it holds the public address.
pub const WAN_IF: &str = "wan0";

/// The source site's Ceph cluster name (`/etc/ceph/site-src.conf` on its first node).
pub const SOURCE_CLUSTER: &str = "site-src";
/// The target site's Ceph cluster name.
pub const TARGET_CLUSTER: &str = "site-dst";

/// Files the lab writes into its dir besides the client files.
const TOPOLOGY_FILE: &str = "two-site.json";
const INVENTORY_FILE: &str = "inventory.yml";

/// What two-site lab to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoSiteLabConfig {
    /// Short lab id (1-5 of `a-z0-9`, starting with a letter); prefixes every
    /// machine-wide name: bridge `NAME-br`, netns `NAME-s01`/`NAME-t01`/`NAME-sw`,
    /// veths `NAME-vs01`/`NAME-vt01`.
    pub name: String,
    /// State dir: keys, known_hosts, ssh_config, inventory.yml, one dir per host.
    pub dir: PathBuf,
    /// The management /24 `A.B.X` (RFC 1918, not routed by anything else here).
    /// Its third octet also names the LANs: 10.X.1.0/24 and 10.X.2.0/24.
    pub net: [u8; 3],
    /// Source nodes, 1..=50 (`src-node1`...).
    pub sources: usize,
    /// Target nodes, 1..=50 (`dst-node1`...).
    pub targets: usize,
    /// Programs copied into every host's private `/usr/local/sbin`, e.g. the
    /// ipvsadm stand-in `tests/fixtures/bin/ipvsadm` (this kernel has no IP_VS).
    pub tools: Vec<PathBuf>,
    /// Real Ceph on both sites: [`SOURCE_CLUSTER`] on `src-node1` and
    /// [`TARGET_CLUSTER`] on `dst-node1` (mon, mgr, one memstore OSD each; about
    /// 1.3 GiB of memory for the pair). Needs Debian's ceph packages.
    pub ceph: bool,
}

impl TwoSiteLabConfig {
    /// The lab of `ferry lab up` (and of `inventories/lab.yml`): `lab`, 3 + 3 nodes,
    /// management 172.31.250.0/24, LANs 10.250.1.0/24 and 10.250.2.0/24, dir
    /// `/tmp/ferry-lab`, Ceph on both sites.
    pub fn default_lab() -> TwoSiteLabConfig {
        TwoSiteLabConfig { name: "lab".into(), dir: "/tmp/ferry-lab".into(), net: [172, 31, 250], sources: 3, targets: 3, tools: Vec::new(), ceph: true }
    }

    /// The Ansible YAML inventory of the lab this config builds (what `up` writes to
    /// `DIR/inventory.yml`; `inventories/lab.yml` is the default lab's): groups `source`, `target`,
    /// `source_mons` (every source node), `source_admin` and `target_admin` (the
    /// first node of each site); per host `ansible_host`, `site`, `lan_ip`,
    /// `public_ip` and, on sources, `port_offset`; on targets
    /// `source_lan_route_dev` (the lab has no default route, see
    /// `playbooks/network.yml`); for all `ssh_allowed_from` (the management net)
    /// and, with Ceph, `source_cluster` and `target_cluster`.
    pub fn inventory_yaml(&self) -> String {
        let hosts = plan_hosts(self);
        let site = |s: Site| hosts.iter().filter(|h| h.site == s).collect::<Vec<&SiteHost>>();
        let key = yaml_string(&self.dir.join("id_ed25519").to_string_lossy());
        let mut y = format!(
            "# ferry two-site lab {name}: written by TwoSiteLab (ferry lab up); see inventories/example-two-site.yml\n\
             all:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: {key}\n    \
             # ferry's SSH comes from here: allowed before ufw is enabled\n    ssh_allowed_from: {mgmt}\n    \
             forward_method: iptables\n",
            name = self.name,
            mgmt = cidr(self.net),
        );
        if self.ceph {
            y.push_str(&format!(
                "    # the lab's Ceph clusters: {SOURCE_CLUSTER} on the first source node, {TARGET_CLUSTER} on the first target node\n    \
                 source_cluster: {SOURCE_CLUSTER}\n    target_cluster: {TARGET_CLUSTER}\n    \
                 # the nodes have no init system of their own: ferry runs rbd-mirror as a tracked process\n    \
                 rbd_mirror_manager: process\n"
            ));
        }
        y.push_str("  children:\n");
        for s in [Site::Source, Site::Target] {
            y.push_str(&format!("    {}:\n      hosts:\n", s.as_str()));
            for h in site(s) {
                y.push_str(&format!(
                    "        {}:\n          ansible_host: {}\n          site: {}\n          lan_ip: {}\n          public_ip: {}\n",
                    h.host.name,
                    h.host.ip,
                    s.as_str(),
                    h.lan_ip,
                    h.public_ip
                ));
                match h.port_offset {
                    Some(o) => y.push_str(&format!("          port_offset: {o}\n")),
                    None => y.push_str(&format!("          source_lan_route_dev: {WAN_IF}\n")),
                }
            }
        }
        let group = |y: &mut String, name: &str, members: &[&SiteHost]| {
            y.push_str(&format!("    {name}:\n      hosts:\n"));
            for h in members {
                y.push_str(&format!("        {}: {{}}\n", h.host.name));
            }
        };
        let sources = site(Site::Source);
        let targets = site(Site::Target);
        group(&mut y, "source_mons", &sources);
        group(&mut y, "source_admin", &sources[..sources.len().min(1)]);
        group(&mut y, "target_admin", &targets[..targets.len().min(1)]);
        y
    }
}

/// Which side of the migration a node is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// The cluster the volumes leave.
    Source,
    /// The cluster they move to (it runs rbd-mirror).
    Target,
}

impl Site {
    /// `source` or `target`, as in the inventory.
    pub fn as_str(self) -> &'static str {
        match self {
            Site::Source => "source",
            Site::Target => "target",
        }
    }
}

/// One node of a two-site lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteHost {
    /// Inventory name (`src-node1`, `dst-node2`), namespace and management address.
    pub host: LabHost,
    /// Its site.
    pub site: Site,
    /// 1-based position within its site.
    pub index: usize,
    /// Its address on its site's LAN (what Ceph advertises).
    pub lan_ip: Ipv4Addr,
    /// Its address on the WAN.
    pub public_ip: Ipv4Addr,
    /// Source nodes: how far their ports are shifted on the public address.
    pub port_offset: Option<u32>,
}

/// A running two-site lab. Dropping it tears everything down (best effort);
/// [`TwoSiteLab::down`] does the same and reports problems.
#[derive(Debug)]
pub struct TwoSiteLab {
    cfg: TwoSiteLabConfig,
    hosts: Vec<SiteHost>,
    switch_netns: String,
    fleet: Fleet,
    /// The Ceph clusters started with the lab (empty without [`TwoSiteLabConfig::ceph`]).
    clusters: Vec<LabCluster>,
}

/// A Ceph cluster the lab started; its daemons run until the lab goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabCluster {
    /// Cluster name and where it runs.
    pub spec: CephClusterSpec,
    /// Its fsid.
    pub fsid: String,
    /// Its daemons when it came up.
    pub daemons: Vec<DaemonPid>,
}

/// 10000, 20000, ... 50000, then again: 7300 + offset stays below 65536, and nodes
/// have distinct public addresses, so a repeated offset cannot collide.
fn port_offset(index: usize) -> u32 {
    10_000 * (((index - 1) % 5) as u32 + 1)
}

/// The hosts of a lab built from `cfg`, sources first.
fn plan_hosts(cfg: &TwoSiteLabConfig) -> Vec<SiteHost> {
    let x = cfg.net[2];
    let name = &cfg.name;
    let mut hosts = Vec::new();
    for i in 1..=cfg.sources {
        let last = 10 + i as u8;
        hosts.push(SiteHost {
            host: LabHost { name: format!("src-node{i}"), netns: format!("{name}-s{i:02}"), ip: addr(cfg.net, last) },
            site: Site::Source,
            index: i,
            lan_ip: addr([10, x, 1], last),
            public_ip: addr(SOURCE_PUBLIC_NET, last),
            port_offset: Some(port_offset(i)),
        });
    }
    for j in 1..=cfg.targets {
        let last = 10 + j as u8;
        hosts.push(SiteHost {
            host: LabHost { name: format!("dst-node{j}"), netns: format!("{name}-t{j:02}"), ip: addr(cfg.net, 100 + j as u8) },
            site: Site::Target,
            index: j,
            lan_ip: addr([10, x, 2], last),
            public_ip: addr(TARGET_PUBLIC_NET, last),
            port_offset: None,
        });
    }
    hosts
}

impl SiteHost {
    /// `s01` / `t01`: the suffix of its namespace and links.
    fn tag(&self) -> String {
        match self.site {
            Site::Source => format!("s{:02}", self.index),
            Site::Target => format!("t{:02}", self.index),
        }
    }

    /// The root-namespace end of its management veth.
    fn mgmt_link(&self, lab: &str) -> String {
        format!("{lab}-v{}", self.tag())
    }

    /// Interface setup inside the node (`ip -batch` lines, run by its keeper).
    fn net_batch(&self) -> Vec<String> {
        let (own, peer) = match self.site {
            Site::Source => (SOURCE_PUBLIC_NET, TARGET_PUBLIC_NET),
            Site::Target => (TARGET_PUBLIC_NET, SOURCE_PUBLIC_NET),
        };
        let mut b = vec!["link set lo up".to_string()];
        b.push(format!("addr add {}/24 dev {MGMT_IF}", self.host.ip));
        b.push(format!("link set {MGMT_IF} up"));
        b.push(format!("addr add {}/24 dev {LAN_IF}", self.lan_ip));
        b.push(format!("link set {LAN_IF} up"));
        debug_assert_eq!(&self.public_ip.octets()[..3], &own[..]);
        b.push(format!("addr add {}/24 dev {WAN_IF}", self.public_ip));
        b.push(format!("link set {WAN_IF} up"));
        b.push(format!("route add {} dev {WAN_IF} scope link src {}", cidr(peer), self.public_ip));
        b
    }
}

impl TwoSiteLab {
    /// Builds the lab: tears down a stale lab of the same name first, then the
    /// management bridge, the switch namespace with the LAN and WAN bridges, one
    /// namespace + sshd per node, the client files and `DIR/inventory.yml`.
    /// A failure part-way removes what was made.
    pub fn up(cfg: TwoSiteLabConfig) -> Result<TwoSiteLab, LabError> {
        validate(&cfg)?;
        fleet::prerequisites()?;
        for tool in &cfg.tools {
            if !tool.is_file() {
                return Err(LabError::Config(format!("tool {} is not a file", tool.display())));
            }
        }
        // Only the management net is seen from the root namespace; the LANs and the
        // WAN live in the lab's own namespaces, so other labs may reuse them.
        let claim = fleet::claim(&cfg.name, &cfg.dir, &[cfg.net])?;
        let tools: Vec<PathBuf> = cfg.tools.iter().map(|t| std::path::absolute(t).unwrap_or_else(|_| t.clone())).collect();
        let cfg = TwoSiteLabConfig { dir: claim.dir.clone(), tools, ..cfg };

        let hosts = plan_hosts(&cfg);
        let name = &cfg.name;
        let bridge = format!("{name}-br");
        let switch_netns = format!("{name}-sw");
        let links: Vec<String> = hosts.iter().map(|h| h.mgmt_link(name)).collect();
        let mut netns: Vec<String> = hosts.iter().map(|h| h.host.netns.clone()).collect();
        netns.push(switch_netns.clone());
        let mut root_links = links.clone();
        root_links.push(bridge.clone());
        fleet::ensure_unused(&netns, &root_links, &[cfg.net])?;

        let hosts_dir = Fleet::hosts_dir(&cfg.dir);
        let nodes = hosts
            .iter()
            .map(|h| {
                // Answer ARP only for the asked interface's own addresses: a source's LAN
                // address is then as unreachable over the WAN as between real sites.
                Node::new(h.host.clone(), hosts_dir.join(&h.host.name), h.net_batch())
                    .with_sysctls(&[("net.ipv4.conf.all.arp_ignore", "1")])
                    .map(|n| n.with_tools(&cfg.tools))
            })
            .collect::<Result<Vec<Node>, LabError>>()?;
        let footprint = Footprint { bridge: Some(bridge.clone()), unreachable_route: None, netns, links, files: vec![TOPOLOGY_FILE, INVENTORY_FILE] };
        let fleet = Fleet::begin(claim, name, footprint, nodes)?;
        let mut lab = TwoSiteLab { cfg, hosts, switch_netns, fleet, clusters: Vec::new() };
        // From here on, an early return drops `lab`, which tears down what exists.
        lab.create_network(&bridge)?;
        lab.fleet.start_hosts()?;
        if lab.cfg.ceph {
            lab.clusters = lab.start_ceph()?;
        }
        lab.fleet.write_client_files(&[])?;
        write_atomic(&lab.cfg.dir.join(TOPOLOGY_FILE), lab.topology_json().as_bytes())?;
        lab.write_inventory(&lab.cfg.dir.join(INVENTORY_FILE))?;
        Ok(lab)
    }

    /// Starts both sites' clusters at once (each takes tens of seconds, mostly
    /// waiting), on the first node of each site. Their daemons are left to the
    /// lab: its teardown ends them with every other process in its namespaces.
    fn start_ceph(&self) -> Result<Vec<LabCluster>, LabError> {
        let first = |site: Site| self.hosts.iter().find(|h| h.site == site).ok_or_else(|| LabError::Config(format!("the lab has no {} node", site.as_str())));
        let specs = [
            CephClusterSpec::new(SOURCE_CLUSTER, &first(Site::Source)?.host.name, first(Site::Source)?.lan_ip),
            CephClusterSpec::new(TARGET_CLUSTER, &first(Site::Target)?.host.name, first(Site::Target)?.lan_ip),
        ];
        let started: Vec<Result<LabCluster, LabError>> = std::thread::scope(|scope| {
            let runs: Vec<_> = specs
                .into_iter()
                .map(|spec| {
                    scope.spawn(move || {
                        let cluster = CephCluster::up(self, spec)?;
                        let (spec, fsid) = (cluster.spec().clone(), cluster.fsid().to_string());
                        Ok(LabCluster { spec, fsid, daemons: cluster.persist() })
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap_or_else(|_| Err(LabError::Config("starting a Ceph cluster panicked".into())))).collect()
        });
        started.into_iter().collect()
    }

    /// The Ceph clusters the lab runs.
    pub fn clusters(&self) -> &[LabCluster] {
        &self.clusters
    }

    /// The management bridge and veths in the root namespace, the node and switch
    /// namespaces with the LAN and WAN veth pairs between them (one `ip -batch`),
    /// then the bridges inside the switch namespace (a second one there).
    fn create_network(&self, bridge: &str) -> Result<(), LabError> {
        let mut root = vec![
            format!("link add {bridge} type bridge stp_state 0 forward_delay 0"),
            format!("addr add {}/24 dev {bridge}", addr(self.cfg.net, 254)),
            format!("link set {bridge} up"),
            format!("netns add {}", self.switch_netns),
        ];
        let mut switch = vec!["link set lo up".to_string()];
        for br in ["lan-src", "lan-dst", "wan"] {
            switch.push(format!("link add {br} type bridge stp_state 0 forward_delay 0"));
            switch.push(format!("link set {br} up"));
        }
        for h in &self.hosts {
            let ns = &h.host.netns;
            let link = h.mgmt_link(&self.cfg.name);
            let tag = h.tag();
            root.push(format!("netns add {ns}"));
            root.push(format!("link add {link} type veth peer name {MGMT_IF} netns {ns}"));
            root.push(format!("link set {link} master {bridge} up"));
            // Both ends are created straight inside the lab's namespaces: no end of a
            // LAN or WAN link is ever in the root namespace.
            root.push(format!("link add {LAN_IF} netns {ns} type veth peer name {tag}-lan netns {}", self.switch_netns));
            root.push(format!("link add {WAN_IF} netns {ns} type veth peer name {tag}-wan netns {}", self.switch_netns));
            let lan_bridge = match h.site {
                Site::Source => "lan-src",
                Site::Target => "lan-dst",
            };
            switch.push(format!("link set {tag}-lan master {lan_bridge} up"));
            switch.push(format!("link set {tag}-wan master wan up"));
        }
        net::ip_batch(&root)?;
        net::ip_batch_in(&self.switch_netns, &switch)
    }

    /// The lab's name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// The lab's state dir.
    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    /// Every node, sources first.
    pub fn hosts(&self) -> &[SiteHost] {
        &self.hosts
    }

    /// The nodes of one site, in order.
    pub fn site(&self, site: Site) -> Vec<&SiteHost> {
        self.hosts.iter().filter(|h| h.site == site).collect()
    }

    /// A node by inventory name.
    pub fn host(&self, name: &str) -> Option<&SiteHost> {
        self.hosts.iter().find(|h| h.host.name == name)
    }

    /// The management /24 (`172.31.X.0/24`): where the controller's SSH comes from.
    pub fn management_net(&self) -> String {
        cidr(self.cfg.net)
    }

    /// The switch namespace holding the LAN and WAN bridges.
    pub fn switch_netns(&self) -> &str {
        &self.switch_netns
    }

    /// The ed25519 private key that logs in as root on every node.
    pub fn client_key(&self) -> PathBuf {
        self.fleet.client_key()
    }

    /// known_hosts with `ip,name key` for every node.
    pub fn known_hosts(&self) -> PathBuf {
        self.fleet.known_hosts()
    }

    /// OpenSSH client config: `ssh -F <this> src-node1` works.
    pub fn ssh_config(&self) -> PathBuf {
        self.fleet.ssh_config()
    }

    /// `DIR/inventory.yml`, written by `up`.
    pub fn inventory(&self) -> PathBuf {
        self.cfg.dir.join(INVENTORY_FILE)
    }

    /// Runs `argv` inside the node's own view (network namespace, private mounts,
    /// hostname) without SSH. A non-zero exit is in the `Output`, not an error.
    pub fn exec(&self, host: &str, argv: &[&str]) -> Result<Output, LabError> {
        self.fleet.exec(host, argv)
    }

    /// The Ansible YAML inventory of this lab (see [`TwoSiteLabConfig::inventory_yaml`]).
    pub fn inventory_yaml(&self) -> String {
        self.cfg.inventory_yaml()
    }

    /// Writes [`TwoSiteLab::inventory_yaml`] to `path`.
    pub fn write_inventory(&self, path: &Path) -> Result<PathBuf, LabError> {
        write_atomic(path, self.inventory_yaml().as_bytes())?;
        Ok(path.to_path_buf())
    }

    /// The nodes as JSON (`DIR/two-site.json`), for `ferry lab status`.
    fn topology_json(&self) -> String {
        let hosts: Vec<serde_json::Value> = self
            .hosts
            .iter()
            .map(|h| {
                serde_json::json!({
                    "name": h.host.name,
                    "site": h.site.as_str(),
                    "netns": h.host.netns,
                    "management_ip": h.host.ip.to_string(),
                    "lan_ip": h.lan_ip.to_string(),
                    "public_ip": h.public_ip.to_string(),
                    "port_offset": h.port_offset,
                })
            })
            .collect();
        let clusters: Vec<serde_json::Value> = self
            .clusters
            .iter()
            .map(|c| {
                let daemons: Vec<serde_json::Value> = c.daemons.iter().map(|d| serde_json::json!({"name": d.name, "pid": d.pid})).collect();
                serde_json::json!({"cluster": c.spec.cluster, "host": c.spec.host, "addr": c.spec.addr.to_string(), "fsid": c.fsid, "daemons": daemons})
            })
            .collect();
        let doc = serde_json::json!({ "name": self.cfg.name, "management_net": cidr(self.cfg.net), "hosts": hosts, "ceph": clusters });
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// Keep (`true`) the lab's files at teardown, for debugging.
    pub fn keep_files(&mut self, keep: bool) {
        self.fleet.keep_files(keep);
    }

    /// Leaves the lab running after this value is gone (`ferry lab up`);
    /// [`TwoSiteLab::down_named`] removes it later. Returns the lab's dir.
    pub fn persist(mut self) -> PathBuf {
        self.fleet.persist()
    }

    /// Stops every process and removes the namespaces, links and files the lab made.
    pub fn down(mut self) -> Result<(), LabError> {
        self.fleet.teardown()
    }

    /// Tears down the lab recorded under `name`. `Ok(false)` when there is none.
    pub fn down_named(name: &str) -> Result<bool, LabError> {
        registry::teardown_named(name)
    }
}

/// What `ferry lab status` reports about a recorded lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabStatus {
    /// The lab's name.
    pub name: String,
    /// Its dir.
    pub dir: PathBuf,
    /// A live process holds the lab (it is being built or torn down, or a test owns it).
    pub held: bool,
    /// Recorded namespaces that exist / all recorded.
    pub netns_present: (usize, usize),
    /// One line per node: name, site, addresses, and whether its sshd answers.
    pub hosts: Vec<String>,
    /// One line per Ceph cluster: name, node, address, and which daemons run.
    pub clusters: Vec<String>,
}

/// The state of the lab recorded as `name`, if any.
pub fn status(name: &str) -> Result<Option<LabStatus>, LabError> {
    fleet::validate_name(name)?;
    let Some(record) = LabRecord::load(&LabRecord::registry_path(name))? else {
        return Ok(None);
    };
    let held = registry::try_lock(name)?.is_none();
    let present = record.netns.iter().filter(|n| net::netns_exists(n)).count();
    let mut hosts = Vec::new();
    let topology = std::fs::read_to_string(record.dir.join(TOPOLOGY_FILE)).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    for h in topology.as_ref().and_then(|t| t["hosts"].as_array()).into_iter().flatten() {
        let field = |k: &str| h[k].as_str().unwrap_or("-").to_string();
        let answers = field("management_ip")
            .parse::<Ipv4Addr>()
            .is_ok_and(|ip| TcpStream::connect_timeout(&SocketAddr::from((ip, 22)), Duration::from_millis(500)).is_ok());
        let offset = h["port_offset"].as_u64().map(|o| format!("  port_offset {o}")).unwrap_or_default();
        hosts.push(format!(
            "{:<10} {:<6} mgmt {:<15} lan {:<13} public {:<15} sshd {}{offset}",
            field("name"),
            field("site"),
            field("management_ip"),
            field("lan_ip"),
            field("public_ip"),
            if answers { "up" } else { "DOWN" }
        ));
    }
    let mut clusters = Vec::new();
    for c in topology.as_ref().and_then(|t| t["ceph"].as_array()).into_iter().flatten() {
        let field = |k: &str| c[k].as_str().unwrap_or("-").to_string();
        let daemons: Vec<String> = c["daemons"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                let name = d["name"].as_str().unwrap_or("?");
                // The pid is only ours while its process is still a ceph daemon.
                let alive =
                    d["pid"].as_u64().and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()).is_some_and(|comm| comm.starts_with("ceph-"));
                format!("{name} {}", if alive { "running" } else { "GONE" })
            })
            .collect();
        clusters.push(format!("{:<10} on {:<10} {:<13} {}", field("cluster"), field("host"), field("addr"), daemons.join(", ")));
    }
    Ok(Some(LabStatus { name: record.name, dir: record.dir, held, netns_present: (present, record.netns.len()), hosts, clusters }))
}

fn validate(cfg: &TwoSiteLabConfig) -> Result<(), LabError> {
    fleet::validate_name(&cfg.name)?;
    for (what, n) in [("sources", cfg.sources), ("targets", cfg.targets)] {
        if !(1..=MAX_SITE_NODES).contains(&n) {
            return Err(LabError::Config(format!("{what} = {n}: a site has 1..={MAX_SITE_NODES} nodes")));
        }
    }
    if !net::is_private(cfg.net) {
        return Err(LabError::Config(format!("net {}: the management net must be RFC 1918 space (e.g. 172.31.250)", cidr(cfg.net))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(sources: usize, targets: usize) -> TwoSiteLabConfig {
        TwoSiteLabConfig { sources, targets, ..TwoSiteLabConfig::default_lab() }
    }

    #[test]
    fn a_ceph_lab_names_its_clusters_in_the_inventory() {
        let with = cfg(1, 1).inventory_yaml();
        assert!(with.contains("source_cluster: site-src\n") && with.contains("target_cluster: site-dst\n"), "{with}");
        let without = TwoSiteLabConfig { ceph: false, ..cfg(1, 1) }.inventory_yaml();
        assert!(!without.contains("source_cluster"), "{without}");
    }

    #[test]
    fn addresses_follow_the_plan() {
        let hosts = plan_hosts(&cfg(3, 2));
        let names: Vec<&str> = hosts.iter().map(|h| h.host.name.as_str()).collect();
        assert_eq!(names, ["src-node1", "src-node2", "src-node3", "dst-node1", "dst-node2"]);
        let s2 = &hosts[1];
        assert_eq!((s2.host.ip, s2.lan_ip, s2.public_ip), ("172.31.250.12".parse().unwrap(), "10.250.1.12".parse().unwrap(), "198.51.100.12".parse().unwrap()));
        assert_eq!(s2.port_offset, Some(20000));
        let d1 = &hosts[3];
        assert_eq!((d1.host.ip, d1.lan_ip, d1.public_ip), ("172.31.250.101".parse().unwrap(), "10.250.2.11".parse().unwrap(), "203.0.113.11".parse().unwrap()));
        assert_eq!((d1.host.netns.as_str(), d1.port_offset), ("lab-t01", None));
    }

    #[test]
    fn offsets_keep_every_osd_port_a_port() {
        for i in 1..=MAX_SITE_NODES {
            assert!(7300 + port_offset(i) <= 65535, "node {i}");
        }
        assert_eq!((port_offset(1), port_offset(5), port_offset(6)), (10000, 50000, 10000));
    }

    #[test]
    fn names_fit_interface_names() {
        let hosts = plan_hosts(&cfg(MAX_SITE_NODES, MAX_SITE_NODES));
        for h in &hosts {
            assert!(h.mgmt_link("abcde").len() <= 15);
            assert!(format!("{}-lan", h.tag()).len() <= 15);
        }
    }

    #[test]
    fn the_batch_gives_no_default_route() {
        for h in plan_hosts(&cfg(2, 2)) {
            let batch = h.net_batch().join("\n");
            assert!(!batch.contains("default"), "{batch}");
            assert!(batch.contains("route add 203.0.113.0/24 dev wan0 scope link") || batch.contains("route add 198.51.100.0/24 dev wan0 scope link"));
        }
    }

    #[test]
    fn sizes_and_nets_are_bounded() {
        assert!(validate(&cfg(3, 3)).is_ok());
        assert!(validate(&cfg(0, 3)).is_err());
        assert!(validate(&cfg(3, 51)).is_err());
        assert!(validate(&TwoSiteLabConfig { net: [8, 8, 8], ..cfg(1, 1) }).is_err());
    }
}
