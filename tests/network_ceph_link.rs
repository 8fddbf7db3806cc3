//! The runbook's whole network chapter against a real Ceph cluster: `site-src` runs
//! on src-node1, bound to its LAN address. Before `playbooks/network.yml` the target
//! site cannot reach it by name; after `-e source_cluster=site-src` every target node
//! runs `ceph --cluster site-src mon stat` and `rbd --cluster site-src ls` through
//! the conf and the read-only user's keyring that ferry installed, the forwarding and
//! the firewall (mon and OSD ports both); the key never shows in ferry's output; and
//! `playbooks/network-teardown.yml` takes the conf, the keyring and the link away
//! again, the user only when asked.

mod common;
mod network;

use std::time::Instant;

use ferry::lab::ceph::{missing_packages, CephCluster, CephClusterSpec};
use ferry::lab::Site;
use network::*;

const CLUSTER: &str = "site-src";
const USER: &str = "client.ferry-link";
const CONF: &str = "/etc/ceph/site-src.conf";
const KEYRING: &str = "/etc/ceph/site-src.client.ferry-link.keyring";
const LINK: &[&str] = &["-e", "source_cluster=site-src"];

/// `ceph --cluster site-src --name client.ferry-link ARGS` on `host`, as a target
/// node's operator would type it (bounded, so a missing forward fails instead of
/// hanging).
fn as_link_user(sites: &Sites, host: &str, tool: &str, args: &[&str]) -> Result<String, String> {
    let mut argv = vec!["timeout", "60", tool, "--cluster", CLUSTER, "--name", USER];
    if tool == "ceph" {
        argv.extend(["--connect-timeout", "10"]);
    }
    argv.extend_from_slice(args);
    let out = sites.exec(host, &argv);
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(format!("{} ({}): {}", argv.join(" "), out.status, text(&out.stderr)))
    }
}

#[track_caller]
fn assert_key_hidden(run: &common::Run, key: &str, what: &str) {
    assert!(!run.stdout.contains(key) && !run.stderr.contains(key), "{what}: the CephX key of {USER} is in ferry's output\n{}", run.transcript());
}

#[test]
fn target_nodes_reach_a_real_source_cluster_by_name_after_network_yml() {
    let missing = missing_packages().expect("asking dpkg which ceph packages are installed");
    assert!(
        missing.is_empty(),
        "this test needs {0}: apt-get install -y --no-install-recommends {0} (.ci/run installs them). It fails rather than skips.",
        missing.join(" ")
    );
    let started = Instant::now();
    let sites = Sites::start_with("cln", 2, 2);
    let targets = sites.names(Site::Target);
    let src = sites.names(Site::Source)[0].clone();
    let lan = sites.node(&src).lan_ip;
    // Declared after `sites`: dropped (daemons stopped) before the lab goes, also on panic.
    let cluster = CephCluster::up(sites.lab(), CephClusterSpec::new(CLUSTER, &src, lan)).unwrap_or_else(|e| panic!("Ceph cluster {CLUSTER} on {src}: {e}"));
    cluster.ceph(&["osd", "pool", "create", "volumes", "8", "8"]).expect("creating pool volumes");
    cluster.rbd(&["pool", "init", "volumes"]).expect("rbd pool init volumes");
    cluster.rbd(&["create", "--size", "16M", "volumes/volume-ferry-link"]).expect("creating an image");
    eprintln!("lab and {CLUSTER} up in {:.1} s", started.elapsed().as_secs_f64());

    // The runbook's starting point: the target side knows no cluster of that name.
    let before = sites.exec(&targets[0], &["ceph", "--cluster", CLUSTER, "--connect-timeout", "10", "mon", "stat"]);
    assert!(!before.status.success(), "{} reached {CLUSTER} before network.yml: {}", targets[0], String::from_utf8_lossy(&before.stdout));

    // Bad names are caught with the rest of the plan, before any host is touched.
    let bad = sites.play("network.yml", &["-e", "source_cluster=site/src", "-e", "source_client=ferry-link", "-e", "source_cluster_alias=ceph"]);
    assert_ne!(bad.code, Some(0), "bad names were accepted\n{}", bad.transcript());
    bad.assert_output_contains("source_cluster `site/src` is not a cluster name");
    bad.assert_output_contains("source_client `ferry-link` is not a CephX client name");
    bad.assert_output_contains("would replace the target nodes' own /etc/ceph/ceph.conf");
    for host in sites.all() {
        assert_eq!(bad.recap(&host).changed, 0, "{host} changed despite a bad plan");
    }

    // --check creates nothing: no user on the source, no file on the targets.
    let check = sites.play("network.yml", &[LINK, &["--check"]].concat());
    check.assert_exit(0);
    assert!(cluster.ceph(&["auth", "get", USER]).is_err(), "--check created {USER}");
    for t in &targets {
        assert!(!sites.exists(t, CONF) && !sites.exists(t, KEYRING), "--check wrote the conf or keyring on {t}");
    }

    let run = sites.play("network.yml", LINK);
    run.assert_exit(0);
    let key = cluster.ceph(&["auth", "print-key", USER]).expect("network.yml created the user").trim().to_string();
    assert!(key.len() > 20, "key of {USER}: {key:?}");
    assert_key_hidden(&run, &key, "network.yml");
    let caps = cluster.ceph(&["auth", "get", USER]).expect("ceph auth get");
    assert!(
        caps.contains("caps mon = \"profile rbd\"") && caps.contains("caps osd = \"profile rbd-read-only\""),
        "{USER} is read-only:\n{}",
        caps.replace(&key, "KEY")
    );

    for t in &targets {
        let stat = as_link_user(&sites, t, "ceph", &["mon", "stat"]).unwrap_or_else(|e| panic!("{t}: {e}\n{}", run.transcript()));
        assert!(stat.contains(&format!("{lan}:3300")), "{t}: mon stat names the source's LAN address: {stat}");
        let conf = sites.sh(t, &format!("cat {CONF}"));
        assert!(conf.contains(&format!("fsid = {}", cluster.fsid())), "{t}: {CONF} has the cluster's fsid:\n{conf}");
        assert_eq!(sites.sh(t, &format!("stat -c %a {KEYRING}")).trim(), "600", "{t}: {KEYRING} mode");
        assert!(sites.sh(t, &format!("cat {KEYRING}")).contains(&key), "{t}: {KEYRING} holds {USER}'s key");
        assert!(!sites.exists(t, "/etc/ceph/site-src.client.admin.keyring"), "{t}: the source's admin keyring must stay on the source");
        // Listing the pool talks to the OSD, on a port of the 6800-7300 range.
        let ls = as_link_user(&sites, t, "rbd", &["ls", "volumes"]).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(ls, "volume-ferry-link", "{t}: rbd ls volumes");
    }

    let again = sites.play("network.yml", LINK);
    again.assert_exit(0);
    assert_key_hidden(&again, &key, "second network.yml");
    for host in sites.all() {
        assert_eq!(again.recap(&host).changed, 0, "second run changed {host}\n{}", again.transcript());
    }

    let down = sites.play("network-teardown.yml", LINK);
    down.assert_exit(0);
    assert_key_hidden(&down, &key, "network-teardown.yml");
    for t in &targets {
        assert!(!sites.exists(t, CONF) && !sites.exists(t, KEYRING), "{t} kept the conf or keyring\n{}", down.transcript());
        let gone = sites.exec(t, &["ceph", "--cluster", CLUSTER, "--name", USER, "--connect-timeout", "10", "mon", "stat"]);
        assert!(!gone.status.success(), "{t} still reaches {CLUSTER} after teardown");
        // Not only the conf: the mon port itself is out of reach again.
        let probe = sites.probe(t, lan, 3300);
        assert!(probe.as_ref().is_err_and(|e| e.contains("Network is unreachable")), "{t} -> {lan}:3300 after teardown: {probe:?}");
    }
    assert!(cluster.ceph(&["auth", "get", USER]).is_ok(), "teardown removed {USER} without remove_source_client");

    let remove_user = sites.play("network-teardown.yml", &[LINK, &["-e", "remove_source_client=true"]].concat());
    remove_user.assert_exit(0);
    assert!(cluster.ceph(&["auth", "get", USER]).is_err(), "remove_source_client=true left {USER}");
    assert_eq!(remove_user.recap(&src).changed, 1, "only the user went\n{}", remove_user.transcript());
    for host in sites.all().iter().filter(|h| **h != src) {
        assert_eq!(remove_user.recap(host).changed, 0, "second teardown changed {host}\n{}", remove_user.transcript());
    }

    cluster.down().expect("site-src down");
    drop(sites);
    eprintln!("whole test {:.1} s", started.elapsed().as_secs_f64());
}
