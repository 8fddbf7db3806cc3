//! Real Ceph inside lab hosts: two clusters side by side on one machine, each in its
//! own host and bound to that host's lab address, an RBD image whose bytes come
//! back intact, an rbd-mirror daemon, and a teardown that leaves no daemon behind.
//! Needs root and Debian's ceph packages (.ci/run installs them): without them it
//! FAILS, it never skips.

mod common;

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Instant;

use common::*;
use ferry::lab::ceph::{missing_packages, CephCluster, CephClusterSpec, HostExec, OsdStore};

/// `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rfind(')').is_some_and(|i| !matches!(stat[i + 1..].trim_start().chars().next(), Some('Z' | 'X')))
}

fn net_ns(pid: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).map(|l| l.to_string_lossy().into_owned()).unwrap_or_default()
}

fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    kib / 1024
}

#[track_caller]
fn up<L: HostExec>(lab: L, cluster: &str, host: &str, addr: Ipv4Addr, osd_store: OsdStore) -> CephCluster<L> {
    let spec = CephClusterSpec { osd_store, ..CephClusterSpec::new(cluster, host, addr) };
    CephCluster::up(lab, spec).unwrap_or_else(|e| panic!("Ceph cluster {cluster} on {host}: {e}"))
}

#[test]
fn two_clusters_run_in_their_own_hosts_and_leave_nothing_behind() {
    let missing = missing_packages().expect("asking dpkg which ceph packages are installed");
    assert!(
        missing.is_empty(),
        "the Ceph lab tests need {0}: apt-get install -y --no-install-recommends {0} (.ci/run installs them). They fail rather than skip.",
        missing.join(" ")
    );
    let lab = Lab::start("ceph", 2);
    let ssh = lab.ssh();
    let (ip1, ip2) = (lab.ip("node01"), lab.ip("node02"));

    let started = Instant::now();
    let (a, b) = std::thread::scope(|s| {
        // One of each store: memstore is the default, bluestore survives OSD restarts.
        let a = s.spawn(|| up(ssh, "site-a", "node01", ip1, OsdStore::Memstore));
        let b = s.spawn(|| up(ssh, "site-b", "node02", ip2, OsdStore::Bluestore));
        (a.join(), b.join())
    });
    let (a, b) = (a.expect("bringing up site-a"), b.expect("bringing up site-b"));
    eprintln!("both clusters up in {:.1} s (in parallel)", started.elapsed().as_secs_f64());

    // Each cluster answers inside its own host, healthy, with its one OSD up.
    for (cluster, ip) in [(&a, ip1), (&b, ip2)] {
        let name = &cluster.spec().cluster;
        let status = cluster.status().unwrap_or_else(|e| panic!("{name}: ceph -s: {e}"));
        assert!(matches!(status.health_status(), Some("HEALTH_OK" | "HEALTH_WARN")), "{name}: {:?} {:?}", status.health_status(), status.health_messages());
        let osdmap = status.osdmap.clone().unwrap_or_default();
        assert_eq!((osdmap.num_osds, osdmap.num_up_osds), (Some(1), Some(1)), "{name}: one OSD, up");
        assert_eq!(status.fsid.as_deref(), Some(cluster.fsid()), "{name}: the fsid of its own conf");

        // Every daemon lives in the host's namespace, not the machine's, and
        // listens on the host's lab address only.
        let own = net_ns("self");
        for d in cluster.pids() {
            assert_ne!(net_ns(&d.pid.to_string()), own, "{name} {} must not be in the machine's network namespace", d.name);
        }
        let listeners = cluster.listeners();
        for (daemon, addr) in &listeners {
            assert_eq!(addr.ip(), ip, "{name} {daemon} listens on {addr}");
        }
        for port in [3300, 6789] {
            assert!(listeners.iter().any(|(d, addr)| d == "mon.a" && addr.port() == port), "{name}: mon listens on {port}: {listeners:?}");
        }
    }
    assert_ne!(a.fsid(), b.fsid(), "two clusters, two fsids");

    // The confs, keyrings and data are each host's own, not the machine's.
    assert!(lab.exists("node01", "/etc/ceph/site-a.conf") && lab.exists("node01", "/var/lib/ceph/mon/site-a-a/keyring"));
    assert!(lab.exists("node02", "/var/lib/ceph/osd/site-b-0/block.img"), "site-b's BlueStore file is in node02");
    assert!(!lab.exists("node02", "/etc/ceph/site-a.conf") && !lab.exists("node01", "/etc/ceph/site-b.conf"));
    // (The machine may have files of the same names, e.g. from ceph-pair.sh: only
    // ours must not be there.)
    for (cluster, host) in [(&a, "node01"), (&b, "node02")] {
        let conf = std::fs::read_to_string(cluster.conf_path()).unwrap_or_default();
        assert!(!conf.contains(cluster.fsid()), "{} on the machine is {host}'s", cluster.conf_path());
        let keyring = lab.read(host, &cluster.admin_keyring_path()).expect("the admin keyring in its host");
        assert_ne!(std::fs::read_to_string(cluster.admin_keyring_path()).ok(), Some(keyring), "{host}'s admin keyring is on the machine");
    }
    for path in ["/var/lib/ceph/mon/site-a-a", "/var/lib/ceph/osd/site-b-0", "/var/log/ceph/site-b-mon.a.log", "/run/ceph/site-a-mon.a.asok"] {
        assert!(!Path::new(path).exists(), "{path} is on the machine itself");
    }
    // Another site cannot use site-a: no conf, no keyring there.
    let other = lab.exec("node02", &["ceph", "--cluster", "site-a", "--connect-timeout", "5", "-s"]);
    assert!(!other.status.success(), "node02 reached site-a: {}", String::from_utf8_lossy(&other.stdout));

    // An image's bytes come back as written.
    a.ceph(&["osd", "pool", "create", "rbd", "8", "8"]).expect("creating pool rbd on site-a");
    a.rbd(&["pool", "init", "rbd"]).expect("rbd pool init");
    let written = lab.sh("node01", "head -c 16M /dev/urandom >/tmp/img.bin && sha256sum </tmp/img.bin");
    a.rbd(&["import", "/tmp/img.bin", "rbd/img1"]).expect("rbd import");
    let read = lab.sh("node01", "rbd --cluster site-a export rbd/img1 - 2>/dev/null | sha256sum");
    assert_eq!(read.split_whitespace().next(), written.split_whitespace().next(), "sha256 of rbd/img1 as read back");

    // rbd-mirror runs on site-b, registered with its cluster, logging in its host.
    let mirror = b.start_rbd_mirror("site-b").unwrap_or_else(|e| panic!("rbd-mirror on site-b: {e}"));
    assert!(alive(mirror));
    assert!(b.pids().iter().any(|d| d.name == "rbd-mirror.site-b" && d.pid == mirror));
    assert_eq!(b.start_rbd_mirror("site-b").ok(), Some(mirror), "a running rbd-mirror is left alone");
    assert!(lab.exists("node02", "/var/log/ceph/site-b-client.rbd-mirror.site-b.log"));

    let pids: Vec<u32> = a.pids().iter().chain(b.pids().iter()).map(|d| d.pid).collect();
    let rss: u64 = pids.iter().map(|p| rss_mib(*p)).sum();
    eprintln!("{} daemons, {rss} MiB resident in all", pids.len());

    let stopping = Instant::now();
    b.down().expect("site-b down");
    a.down().expect("site-a down");
    eprintln!("both clusters down in {:.1} s", stopping.elapsed().as_secs_f64());
    let left: Vec<u32> = pids.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "daemons still running after down: {left:?}");
    assert!(!lab.exists("node01", "/etc/ceph/site-a.conf") && !lab.exists("node01", "/var/lib/ceph/mon/site-a-a"), "down removes the cluster's files");
    assert!(lab.exists("node02", "/var/log/ceph/site-b-mon.a.log"), "logs stay until the lab goes");
}
