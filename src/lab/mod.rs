//! The local rehearsal lab: real OpenSSH hosts, one network namespace each, on one
//! Linux machine (root needed).
//!
//! [`SshLab::up`] builds `node01..nodeNN` on a bridge `NAME-br` (`net.254`), each
//! in namespace `NAME-hNN` at `net.N` with no default route, its own sshd, hostname,
//! `/etc` (overlay: private writes over the machine's), `/root` (Debian's stock dot
//! files), `/run` and `/tmp`. With `bastion: true`, `inner01` sits on a second
//! subnet that only `node01` reaches. Everything made is recorded in
//! `/run/ferry-lab/NAME.json` first, so a crashed run is cleaned up by the next
//! `up` of that name, by [`SshLab::teardown_stale_under`] or by
//! `ferry lab hosts down` ([`hosts_command`]).
//!
//! [`TwoSiteLab::up`] builds the runbook's two sites (source and target nodes on
//! LANs of their own, a WAN with public addresses between them) out of the same
//! hosts; `ferry lab up|down|status` drive it.
//!
//! ```no_run
//! # fn main() -> Result<(), ferry::lab::LabError> {
//! use ferry::lab::{SshLab, SshLabConfig};
//! let lab = SshLab::up(SshLabConfig {
//!     name: "demo".into(),
//!     dir: "/tmp/ferry-demo".into(),
//!     net: [172, 31, 220],
//!     hosts: 3,
//!     bastion: false,
//! })?;
//! let out = lab.exec("node02", &["hostname"])?;
//! assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "node02");
//! lab.down()?;
//! # Ok(()) }
//! ```

pub mod ceph;
pub mod cli;
mod demo;
mod error;
mod fleet;
mod net;
mod node;
mod process;
mod registry;
mod ssh_lab;
mod two_site;

pub use cli::{hosts_command, HOSTS_USAGE, USAGE};
pub use error::LabError;
pub use ssh_lab::{LabHost, SshLab, SshLabConfig};
pub use two_site::{
    status, LabCluster, LabStatus, Site, SiteHost, TwoSiteLab, TwoSiteLabConfig, LAN_IF, MGMT_IF, SOURCE_CLUSTER, SOURCE_PUBLIC_NET, TARGET_CLUSTER,
    TARGET_PUBLIC_NET, WAN_IF,
};
