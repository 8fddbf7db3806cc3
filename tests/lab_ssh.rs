//! The lab itself: real sshd hosts with their own names, networks and files, a host
//! behind a bastion, sshd control, and a teardown that leaves nothing behind.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;

/// `ssh -F <lab ssh_config> HOST CMD` with the machine's OpenSSH client.
fn ssh(lab: &SshLab, host: &str, cmd: &str) -> Output {
    Command::new("ssh").arg("-F").arg(lab.ssh_config()).arg(host).arg(cmd).output().expect("running the OpenSSH client")
}

#[track_caller]
fn ssh_ok(lab: &SshLab, host: &str, cmd: &str) -> String {
    let out = ssh(lab, host, cmd);
    assert!(out.status.success(), "ssh {host} {cmd:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn port_open(ip: std::net::Ipv4Addr) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from((ip, 22)), Duration::from_secs(2)).is_ok()
}

#[test]
fn every_host_has_its_own_name_network_and_files() {
    let lab = Lab::start("own", 3);
    let ssh_lab = lab.ssh();
    for host in lab.hosts() {
        assert_eq!(ssh_ok(ssh_lab, &host, "hostname"), host, "ssh session hostname");
        assert_eq!(lab.sh(&host, "hostname").trim(), host, "exec hostname");
        let routes = lab.sh(&host, "ip -4 route");
        assert!(!routes.contains("default"), "{host} must have no default route: {routes}");
    }

    // /tmp written over SSH on node01 is node01's alone.
    ssh_ok(ssh_lab, "node01", "echo one > /tmp/only-on-node01 && mkdir -p /etc/ferrylab && echo one > /etc/ferrylab/who && echo ceph > /etc/ceph/who");
    assert_eq!(lab.read("node01", "/tmp/only-on-node01").as_deref(), Some("one\n"));
    assert!(!lab.exists("node02", "/tmp/only-on-node01"));
    assert!(!Path::new("/tmp/only-on-node01").exists(), "the machine's /tmp must not see a host's file");
    assert_eq!(ssh_ok(ssh_lab, "node02", "ls -A /tmp"), "", "node02's /tmp starts empty");

    // /etc/ferrylab and /etc/ceph exist on every host and are private.
    assert_eq!(lab.read("node01", "/etc/ferrylab/who").as_deref(), Some("one\n"));
    assert_eq!(lab.read("node01", "/etc/ceph/who").as_deref(), Some("ceph\n"));
    assert!(lab.exists("node02", "/etc/ferrylab") && lab.exists("node02", "/etc/ceph"));
    assert!(!lab.exists("node02", "/etc/ferrylab/who"));
    assert!(!Path::new("/etc/ferrylab/who").exists() && !Path::new("/etc/ceph/who").exists());

    // root's home holds Debian's stock dot files, not the controller's.
    let stock = std::fs::read_to_string("/usr/share/base-files/dot.bashrc").unwrap_or_default();
    assert_eq!(lab.read("node03", "/root/.bashrc").unwrap_or_default(), stock);
    assert_eq!(ssh_ok(ssh_lab, "node03", "echo $HOME"), "/root");

    // Each host is on the lab bridge at its own address.
    let ip2 = lab.ip("node02").to_string();
    assert!(lab.sh("node02", "ip -4 -o addr show dev eth0").contains(&ip2));
    let reply = lab.exec("node01", &["bash", "-c", &format!("echo > /dev/tcp/{ip2}/22 && echo reached")]);
    assert!(
        String::from_utf8_lossy(&reply.stdout).contains("reached"),
        "node01 reaches node02's sshd over the bridge: {}",
        String::from_utf8_lossy(&reply.stderr)
    );
}

#[test]
fn the_inner_host_is_reachable_only_through_node01() {
    let lab = Lab::start_with_bastion("bas", 2);
    let inner = lab.ssh().bastion_target().expect("bastion lab has an inner host").clone();
    assert_eq!(inner.name, "inner01");

    assert!(!port_open(inner.ip), "the controller must not reach {} directly", inner.ip);
    let direct = lab.exec("node02", &["bash", "-c", &format!("echo > /dev/tcp/{}/22", inner.ip)]);
    let why = String::from_utf8_lossy(&direct.stderr);
    assert!(!direct.status.success() && why.contains("unreachable"), "node02 must not reach the inner host: {why}");
    let via_bastion = lab.exec("node01", &["bash", "-c", &format!("echo > /dev/tcp/{}/22 && echo ok", inner.ip)]);
    assert!(via_bastion.status.success(), "node01 is the bastion and reaches it");

    assert_eq!(ssh_ok(lab.ssh(), "inner01", "hostname"), "inner01", "ProxyJump through node01");

    let inventory = std::fs::read_to_string(lab.inventory()).expect("inventory written");
    assert!(inventory.contains("behind_bastion:"), "{inventory}");
    assert!(inventory.contains(&format!("ferry_proxy_jump: \"root@{}\"", lab.ip("node01"))), "{inventory}");
    let known = std::fs::read_to_string(lab.ssh().known_hosts()).expect("known_hosts written");
    assert!(known.contains(&format!("{},inner01 ssh-ed25519 ", inner.ip)), "{known}");
}

#[test]
fn sshd_stops_starts_and_changes_its_key_on_request() {
    let lab = Lab::start("ctl", 2);
    let ip = lab.ip("node02");
    assert!(port_open(ip));

    lab.ssh().stop_sshd("node02").expect("stop sshd");
    if port_open(ip) {
        let diag = lab.exec("node02", &["sh", "-c", "ss -ltnp; ps -eo pid,ppid,stat,cmd | grep -v ' \\[' "]);
        panic!("sshd of node02 is stopped, yet port 22 answers:\n{}", String::from_utf8_lossy(&diag.stdout));
    }
    assert_eq!(lab.sh("node02", "hostname").trim(), "node02", "exec works without sshd");
    assert_eq!(ssh_ok(lab.ssh(), "node01", "hostname"), "node01", "other hosts unaffected");

    lab.ssh().start_sshd("node02").expect("start sshd");
    assert_eq!(ssh_ok(lab.ssh(), "node02", "hostname"), "node02");

    lab.ssh().regenerate_host_key("node02").expect("regenerate host key");
    let refused = ssh(lab.ssh(), "node02", "touch /tmp/should-not-exist");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || err.contains("Host key verification failed"), "ssh must refuse the new key: {err}");
    assert!(!lab.exists("node02", "/tmp/should-not-exist"));
}

/// What a lab made in the root namespace and on disk: netns names, bridge, dir.
type Footprint = (Vec<String>, String, std::path::PathBuf);

/// Names a lab made in the root namespace, to check they are gone.
fn footprint(lab: &SshLab) -> Footprint {
    let mut netns: Vec<String> = lab.hosts().iter().map(|h| h.netns.clone()).collect();
    netns.extend(lab.bastion_target().map(|h| h.netns.clone()));
    (netns, format!("{}-br", lab.name()), lab.dir().to_path_buf())
}

#[track_caller]
fn assert_gone(name: &str, (netns, bridge, dir): &Footprint) {
    for ns in netns {
        assert!(!Path::new("/run/netns").join(ns).exists(), "netns {ns} left behind");
    }
    assert!(!Path::new("/sys/class/net").join(bridge).exists(), "bridge {bridge} left behind");
    assert!(!dir.exists(), "lab dir {} left behind", dir.display());
    assert!(!Path::new(&format!("/run/ferry-lab/{name}.json")).exists(), "record of {name} left behind");
}

#[test]
fn down_and_drop_leave_nothing_behind() {
    let dir = TestDir::new("down");
    let lab = start_ssh_lab("dwn", dir.path().join("lab"), 3, true);
    let name = lab.name().to_string();
    let made = footprint(&lab);
    let inner_net = lab.bastion_target().map(|h| h.ip.octets()).expect("inner host");
    lab.down().expect("down");
    assert_gone(&name, &made);
    let routes = Command::new("ip").args(["-4", "route", "show", "table", "all"]).output().expect("ip route");
    let prefix = format!("{}.{}.{}.", inner_net[0], inner_net[1], inner_net[2]);
    assert!(!String::from_utf8_lossy(&routes.stdout).contains(&prefix), "bastion route left behind");

    // A test that panics with a lab in hand still tears it down (Drop).
    let seen: Mutex<Option<(String, Footprint)>> = Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let lab = start_ssh_lab("pan", dir.path().join("lab2"), 2, false);
        *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some((lab.name().to_string(), footprint(&lab)));
        panic!("a test failing with a lab up");
    });
    assert!(result.is_err());
    let (name, made) = seen.into_inner().unwrap_or_else(|p| p.into_inner()).expect("lab came up");
    assert_gone(&name, &made);
}

#[test]
fn a_lab_left_behind_by_a_dead_process_is_cleaned_up() {
    let dir = TestDir::new("stale");
    let lab = start_ssh_lab("stl", dir.path().join("lab"), 2, false);
    let cfg = SshLabConfig {
        name: lab.name().to_string(),
        dir: lab.dir().to_path_buf(),
        net: {
            let o = lab.hosts()[0].ip.octets();
            [o[0], o[1], o[2]]
        },
        hosts: 2,
        bastion: false,
    };
    let old_key = lab.exec("node01", &["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).expect("exec").stdout;
    // As if the process had crashed: processes, namespaces and record stay.
    lab.persist();
    assert!(Path::new(&format!("/run/netns/{}-h01", cfg.name)).exists());

    // The next `up` of that name removes the old one first.
    let again = SshLab::up(cfg.clone()).expect("up over a stale lab");
    let new_key = again.exec("node01", &["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).expect("exec").stdout;
    assert_ne!(old_key, new_key, "a fresh host, not the old one");
    assert_eq!(ssh_ok(&again, "node02", "hostname"), "node02");
    again.persist();

    // And a sweep of a dir tree finds labs whose owner is gone.
    let removed = SshLab::teardown_stale_under(dir.path()).expect("sweep");
    assert_eq!(removed, vec![cfg.name.clone()]);
    assert!(!Path::new(&format!("/run/netns/{}-h01", cfg.name)).exists());
    assert!(!cfg.dir.exists());
}

#[test]
fn a_lab_name_or_net_held_by_a_live_lab_is_refused() {
    let dir = TestDir::new("busy");
    let lab = start_ssh_lab("bsy", dir.path().join("lab"), 1, false);
    let o = lab.hosts()[0].ip.octets();
    let clash = SshLab::up(SshLabConfig { name: lab.name().to_string(), dir: dir.path().join("other"), net: [o[0], o[1], o[2]], hosts: 1, bastion: false });
    assert!(matches!(clash, Err(LabError::InUse(_))), "{clash:?}");
    assert_eq!(ssh_ok(&lab, "node01", "hostname"), "node01", "the live lab is untouched");
}

#[test]
fn two_hundred_hosts_come_up_in_well_under_a_minute() {
    let dir = TestDir::new("big");
    let started = Instant::now();
    let lab = start_ssh_lab("big", dir.path().join("lab"), 200, false);
    let up = started.elapsed();
    assert!(up < Duration::from_secs(45), "200 hosts took {up:?}");
    for host in lab.hosts() {
        assert_eq!(lab.exec(&host.name, &["hostname"]).expect("exec").stdout, format!("{}\n", host.name).into_bytes());
    }
    for host in ["node01", "node100", "node200"] {
        assert_eq!(ssh_ok(&lab, host, "hostname"), host);
    }
    let started = Instant::now();
    lab.down().expect("down");
    assert!(started.elapsed() < Duration::from_secs(30), "down took {:?}", started.elapsed());
}
