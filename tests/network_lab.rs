//! The two-site lab itself: the runbook's reachability problem is really there,
//! the root namespace is not part of the sites, `inventories/lab.yml` describes the
//! default lab, and `ferry lab up|status|down` and Drop leave nothing behind.

mod common;
mod network;

use std::path::Path;
use std::process::Command;

use common::*;
use ferry::lab::{Site, TwoSiteLabConfig};
use network::*;

#[test]
fn a_target_cannot_reach_the_source_lan_but_reaches_its_public_address() {
    let sites = Sites::start("top");
    let lab = sites.lab();
    for h in lab.hosts() {
        let name = &h.host.name;
        let routes = sites.sh(name, "ip -4 route show table all");
        assert!(!routes.contains("default"), "{name} must have no default route:\n{routes}");
        assert_eq!(sites.sh(name, "hostname").trim(), name);
        let addrs = sites.sh(name, "ip -4 -o addr show");
        for (ip, dev) in [(h.host.ip, "eth0"), (h.lan_ip, "lan0"), (h.public_ip, "wan0")] {
            assert!(addrs.lines().any(|l| l.contains(&format!(" {dev} ")) && l.contains(&format!("inet {ip}/24"))), "{name}: {ip} on {dev}:\n{addrs}");
        }
    }
    let (s1, s2) = (lab.site(Site::Source)[0].clone(), lab.site(Site::Source)[1].clone());
    let t1 = lab.site(Site::Target)[0].clone();
    let unreachable = sites.probe(&t1.host.name, s1.lan_ip, 22);
    assert!(unreachable.as_ref().is_err_and(|e| e.contains("Network is unreachable")), "{unreachable:?}");
    let public = sites.probe(&t1.host.name, s1.public_ip, 22);
    assert!(public.as_ref().is_ok_and(|l| l.starts_with("SSH-2.0")), "the source's public address answers: {public:?}");
    let same_site = sites.probe(&s2.host.name, s1.lan_ip, 22);
    assert!(same_site.as_ref().is_ok_and(|l| l.starts_with("SSH-2.0")), "a site's own LAN works: {same_site:?}");

    // The controller is only on the management net: no lab LAN or WAN address and
    // no route into them in the root namespace.
    let root = String::from_utf8_lossy(&Command::new("ip").args(["-4", "-o", "addr", "show"]).output().expect("ip addr").stdout).into_owned();
    for ip in [s1.lan_ip, s1.public_ip, t1.lan_ip, t1.public_ip] {
        let o = ip.octets();
        let net = format!("inet {}.{}.{}.", o[0], o[1], o[2]);
        assert!(!root.contains(&net), "the root namespace has an address in {ip}'s /24:\n{root}");
    }
    let out = Command::new("ssh").arg("-F").arg(lab.ssh_config()).args([&t1.host.name, "hostname"]).output().expect("ssh");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), t1.host.name, "{}", String::from_utf8_lossy(&out.stderr));
    // The stand-in is on the nodes' PATH, in their private /usr/local/sbin only.
    assert_eq!(sites.sh(&t1.host.name, "command -v ipvsadm").trim(), "/usr/local/sbin/ipvsadm");
    assert!(!Path::new("/usr/local/sbin/ipvsadm").exists() || std::fs::read("/usr/local/sbin/ipvsadm").ok() != std::fs::read(fixture("bin/ipvsadm")).ok());
}

#[test]
fn inventories_lab_yml_describes_the_default_lab() {
    let dir = TestDir::new("labinv");
    let generated = dir.write("generated.yml", &TwoSiteLabConfig::default_lab().inventory_yaml());
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventories/lab.yml");
    let list = |inv: &Path| {
        let run = Ferry::new("labinv", &["inventory", "-i", &inv.to_string_lossy(), "--list"]).run();
        run.assert_exit(0);
        serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.transcript()))
    };
    assert_eq!(list(&shipped), list(&generated), "inventories/lab.yml and `ferry lab up`'s inventory differ");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventories/example-two-site.yml");
    let list = list(&example);
    for group in ["source", "target", "source_mons", "source_admin", "target_admin"] {
        assert!(list[group]["hosts"].as_array().is_some_and(|h| !h.is_empty()), "example lacks group {group}: {list}");
    }
}

/// What a two-site lab made in the root namespace and on disk.
fn footprint(name: &str) -> Vec<String> {
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/run/netns").into_iter().flatten().flatten() {
        let n = entry.file_name().to_string_lossy().into_owned();
        if n.starts_with(&format!("{name}-")) {
            left.push(format!("netns {n}"));
        }
    }
    for entry in std::fs::read_dir("/sys/class/net").into_iter().flatten().flatten() {
        let n = entry.file_name().to_string_lossy().into_owned();
        if n.starts_with(&format!("{name}-")) {
            left.push(format!("link {n}"));
        }
    }
    if Path::new(&format!("/run/ferry-lab/{name}.json")).exists() {
        left.push(format!("record {name}"));
    }
    left
}

#[test]
fn drop_and_ferry_lab_down_leave_nothing_behind() {
    let sites = Sites::start_with("dro", 2, 1);
    let name = sites.lab().name().to_string();
    let dir = sites.lab().dir().to_path_buf();
    assert_eq!(footprint(&name).len(), 2 + 1 + 1 + 3 + 1 + 1, "3 node + 1 switch netns, 3 veths + bridge, record: {:?}", footprint(&name));
    drop(sites);
    assert_eq!(footprint(&name), Vec::<String>::new());
    assert!(!dir.exists(), "{} left behind", dir.display());

    // The CLI: up (left running), status, down.
    let test_dir = TestDir::new("labcli");
    let mut done = None;
    for x in 200..=239u8 {
        let name = format!("cli{}", x - 200);
        let lab_dir = test_dir.path().join(&name);
        let up = Ferry::new(
            "labcli",
            &["lab", "up", "--name", &name, "--dir", &lab_dir.to_string_lossy(), "--net", &format!("172.31.{x}"), "--sources", "2", "--targets", "2"],
        )
        .run();
        if up.code == Some(0) {
            done = Some((name, lab_dir, up));
            break;
        }
        assert!(up.stderr.contains("held by another running process"), "{}", up.transcript());
    }
    let (name, lab_dir, up) = done.expect("a free subnet for the CLI lab");
    let _guard = DownOnDrop(name.clone());
    up.assert_output_contains("2 source + 2 target nodes up").assert_output_contains("dst-node2");
    assert!(lab_dir.join("inventory.yml").exists() && lab_dir.join("known_hosts").exists());
    let status = Ferry::new("labcli", &["lab", "status", "--name", &name]).run();
    status.assert_exit(0).assert_output_contains(&format!("lab {name}: up (5 of 5 namespaces)"));
    assert_eq!(status.stdout.matches("sshd up").count(), 4, "{}", status.transcript());
    Ferry::new("labcli", &["lab", "down", "--name", &name]).run().assert_exit(0).assert_output_contains(&format!("lab {name}: down"));
    assert_eq!(footprint(&name), Vec::<String>::new());
    assert!(!lab_dir.exists());
    Ferry::new("labcli", &["lab", "status", "--name", &name]).run().assert_exit(0).assert_output_contains("not up");
}

/// Takes a CLI-started lab down if the test fails before it does.
struct DownOnDrop(String);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        if !footprint(&self.0).is_empty() {
            let _ = Ferry::new("labcli", &["lab", "down", "--name", &self.0]).run();
        }
    }
}
