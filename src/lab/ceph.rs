//! Real Ceph clusters inside lab hosts: one mon (`a`), one mgr (`x`) and one OSD
//! (`0`) per cluster, plus rbd-mirror daemons on request, all running in the host's
//! own view (its network namespace and private mounts), the way they would run on a
//! real node.
//!
//! Inside the host a cluster `C` looks like a Debian install: `/etc/ceph/C.conf`,
//! `/etc/ceph/C.client.admin.keyring`, data under `/var/lib/ceph/{mon,mgr,osd}/C-ID`,
//! logs in `/var/log/ceph/C-NAME.log`, admin sockets in `/run/ceph`. `/etc` and `/run`
//! are already the host's own (the keeper's overlay and bind); `/var/lib/ceph` and
//! `/var/log/ceph` are shared with the machine, so [`CephCluster::up`] first binds
//! host-private dirs (`/run/ferrylab-ceph/{lib,log}`, i.e. under the host's own `/run`)
//! over them, inside the host's mount namespace only. So `ceph --cluster C`, `rbd` and
//! `rbd-mirror` find everything by their default search paths (G12, G13), two
//! clusters with the same daemon ids coexist on one machine, and nothing a cluster
//! writes (crash dumps included, G15) lands in the machine's own dirs.
//!
//! Every daemon binds only to [`CephClusterSpec::addr`], an address of that host's
//! namespace; [`CephCluster::up`] refuses an address the host does not have and
//! checks every listening socket before it returns. Daemons run in the foreground
//! (`-f`) under `setsid`; their PIDs (with start times, against PID reuse) are kept
//! in the [`CephCluster`], which stops them (TERM, KILL after 10 s) on
//! [`CephCluster::down`] or drop. If the controlling process dies instead, the
//! lab's own teardown ends them: it stops every process inside its namespaces.
//!
//! ```no_run
//! # fn main() -> Result<(), ferry::lab::LabError> {
//! use ferry::lab::ceph::{CephCluster, CephClusterSpec};
//! use ferry::lab::{SshLab, SshLabConfig};
//! let lab = SshLab::up(SshLabConfig { name: "demo".into(), dir: "/tmp/ferry-demo".into(), net: [172, 31, 220], hosts: 2, bastion: false })?;
//! let a = CephCluster::up(&lab, CephClusterSpec::new("site-a", "node01", lab.hosts()[0].ip))?;
//! let b = CephCluster::up(&lab, CephClusterSpec::new("site-b", "node02", lab.hosts()[1].ip))?;
//! b.start_rbd_mirror("site-b")?;
//! println!("{}", a.ceph(&["health"])?);
//! b.down()?;
//! a.down()?;
//! # Ok(()) }
//! ```

mod cluster;
mod conf;
mod daemon;
mod host_exec;
mod packages;
mod sockets;
mod spec;

pub use cluster::{CephCluster, DaemonPid};
pub use host_exec::HostExec;
pub use packages::{ensure_packages, missing_packages, PACKAGES};
pub use spec::{CephClusterSpec, OsdStore};
