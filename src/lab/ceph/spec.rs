//! [`CephClusterSpec`]: what cluster to run on which lab host.

use std::net::Ipv4Addr;

use crate::lab::LabError;

/// Where the OSD keeps its objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OsdStore {
    /// In RAM (4 GiB device): fastest, nothing on disk, but everything is lost if
    /// the OSD restarts (G14), and its RSS grows with the data written.
    #[default]
    Memstore,
    /// BlueStore on a sparse 8 GiB file in the host's private dirs: survives OSD
    /// restarts, about 300 MiB RSS.
    Bluestore,
}

impl OsdStore {
    /// The `osd_objectstore` value.
    pub fn as_str(self) -> &'static str {
        match self {
            OsdStore::Memstore => "memstore",
            OsdStore::Bluestore => "bluestore",
        }
    }
}

/// One single-node cluster: mon `a`, mgr `x` and OSD `0` on one lab host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CephClusterSpec {
    /// Cluster name, e.g. `site-a`: the conf is `/etc/ceph/<cluster>.conf` and
    /// every command takes `--cluster <cluster>`. Letters, digits, `-` and `_`.
    pub cluster: String,
    /// The lab host where the daemons run.
    pub host: String,
    /// The address every daemon binds to and advertises (`public_addr`,
    /// `cluster_addr`, `mon_host`). Must be an address of `host`; on the two-site
    /// lab, the node's LAN address.
    pub addr: Ipv4Addr,
    /// The OSD's object store.
    pub osd_store: OsdStore,
    /// rbd-mirror refresh intervals of 5 s instead of 30 s (G3): new pools, peers
    /// and images, and failed bootstraps, are picked up sooner.
    pub fast_mirror: bool,
}

impl CephClusterSpec {
    /// A memstore cluster with the fast rbd-mirror intervals.
    pub fn new(cluster: &str, host: &str, addr: Ipv4Addr) -> CephClusterSpec {
        CephClusterSpec { cluster: cluster.to_string(), host: host.to_string(), addr, osd_store: OsdStore::Memstore, fast_mirror: true }
    }

    /// The mon address vector, as in `mon_host` and in a bootstrap token.
    pub fn mon_host(&self) -> String {
        format!("[v2:{0}:3300,v1:{0}:6789]", self.addr)
    }

    pub(crate) fn validate(&self) -> Result<(), LabError> {
        if !is_name(&self.cluster, 32) {
            return Err(LabError::Config(format!(
                "Ceph cluster name {:?}: use 1-32 letters, digits, '-' or '_', starting with a letter or digit (it names /etc/ceph/<cluster>.conf)",
                self.cluster
            )));
        }
        let a = self.addr;
        if a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast() {
            return Err(LabError::Config(format!("Ceph cluster {}: {a} cannot be a daemon address; give the host's lab address", self.cluster)));
        }
        Ok(())
    }
}

/// `text` is 1..=max of `[A-Za-z0-9_-]`, not starting with `-` or `_`: safe as a
/// file name part and as one argv word.
pub(crate) fn is_name(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_words() {
        assert!(is_name("site-a", 32));
        assert!(is_name("b_2", 32));
        assert!(!is_name("", 32));
        assert!(!is_name("-a", 32));
        assert!(!is_name("a/b", 32));
        assert!(!is_name("a.b", 32));
        assert!(!is_name("a b", 32));
    }

    #[test]
    fn loopback_and_wildcard_addresses_are_refused() {
        let spec = |ip: [u8; 4]| CephClusterSpec::new("site-a", "node01", Ipv4Addr::from(ip));
        assert!(spec([10, 1, 1, 11]).validate().is_ok());
        assert!(spec([0, 0, 0, 0]).validate().is_err());
        assert!(spec([127, 0, 1, 1]).validate().is_err());
        assert!(CephClusterSpec::new("site/a", "node01", Ipv4Addr::new(10, 1, 1, 11)).validate().is_err());
    }

    #[test]
    fn the_mon_host_lists_both_protocols() {
        assert_eq!(CephClusterSpec::new("a", "n", Ipv4Addr::new(10, 9, 1, 11)).mon_host(), "[v2:10.9.1.11:3300,v1:10.9.1.11:6789]");
    }
}
