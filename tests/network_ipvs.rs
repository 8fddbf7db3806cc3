//! The `ipvs` module and network.yml's `forward_method: ipvs`, end to end over SSH.
//!
//! Why a stand-in: the kernel of ferry's build and test machines has no IP_VS
//! ("Can't initialize ipvs: Protocol not available"), so the real ipvsadm cannot
//! run. tests/fixtures/bin/ipvsadm keeps the virtual service table in a file of
//! the host (/etc/ferrylab/ipvs.rules) and answers like ipvsadm 1.31; the lab puts
//! it into every node's private /usr/local/sbin, which is on sshd's PATH. It
//! forwards no traffic: these tests prove what ferry asks of ipvsadm, not the kernel.

mod common;
mod network;

use ferry::lab::Site;
use network::*;

const SERVICE: &str = "- name: one ipvs service
  hosts: dst-node1
  gather_facts: false
  tasks:
    - name: the runbook's service
      ipvs:
        address: \"{{ lan }}\"
        port: 0
        scheduler: rr
        persistent: \"{{ persist }}\"
        state: \"{{ state }}\"
        real_servers:
          - {address: \"{{ public }}\", port: 0, forward: masquerade}
";

#[test]
fn the_ipvs_module_adds_keeps_edits_and_removes_a_service() {
    let sites = Sites::start("ipv");
    let source = sites.node("src-node1").clone();
    let pb = sites.dir().join("service.yml");
    std::fs::write(&pb, SERVICE).expect("writing the playbook");
    let play = |persist: &str, state: &str| {
        let vars = format!("lan={} public={} persist={persist} state={state}", source.lan_ip, source.public_ip);
        let kh = sites.lab().known_hosts().to_string_lossy().into_owned();
        let inv = sites.inventory().to_string_lossy().into_owned();
        common::Ferry::new("ipvs", &["play", &pb.to_string_lossy(), "-i", &inv, "--known-hosts", &kh, "--format", "json", "-e", &vars]).run()
    };
    let table = || sites.sh("dst-node1", "ipvsadm -S -n");
    let task = "the runbook's service";

    let add = play("86400", "present");
    add.assert_exit(0);
    assert_eq!(add.result("dst-node1", task)["status"], "changed");
    let want = format!("-A -t {lan}:0 -s rr -p 86400\n-a -t {lan}:0 -r {public}:0 -m -w 1\n", lan = source.lan_ip, public = source.public_ip);
    assert_eq!(table(), want);

    let keep = play("86400", "present");
    keep.assert_exit(0);
    assert_eq!(keep.recap("dst-node1").changed, 0, "{}", keep.transcript());

    let edit = play("3600", "present");
    edit.assert_exit(0);
    let r = edit.result("dst-node1", task);
    assert_eq!(r["status"], "changed");
    assert_eq!(r["msg"], format!("change IPVS service TCP {}:0: persistent 86400s -> 3600s", source.lan_ip), "exactly one change");
    assert_eq!(table(), want.replace("-p 86400", "-p 3600"));

    let remove = play("3600", "absent");
    remove.assert_exit(0);
    assert_eq!(remove.result("dst-node1", task)["status"], "changed");
    assert_eq!(table(), "");
    let gone = play("3600", "absent");
    gone.assert_exit(0);
    assert_eq!(gone.recap("dst-node1").changed, 0);
}

#[test]
fn network_yml_with_ipvs_sets_up_the_runbooks_services_and_teardown_removes_them() {
    let sites = Sites::start("ipn");
    let sources = sites.names(Site::Source);
    let run = sites.play("network.yml", &["-e", "forward_method=ipvs"]);
    run.assert_exit(0);
    for target in sites.names(Site::Target) {
        let table = sites.sh(&target, "ipvsadm -S -n");
        for s in &sources {
            let n = sites.node(s);
            assert!(table.contains(&format!("-A -t {}:0 -s rr -p 86400\n-a -t {}:0 -r {}:0 -m -w 1\n", n.lan_ip, n.lan_ip, n.public_ip)), "{target}:\n{table}");
        }
        assert!(!sites.nat(&target).contains("ferry:"), "ipvs, not iptables, on {target}");
    }
    for s in &sources {
        let n = sites.node(s);
        assert_eq!(sites.sh(s, "ipvsadm -S -n"), format!("-A -t {p}:0 -s rr -p 86400\n-a -t {p}:0 -r {l}:0 -m -w 1\n", p = n.public_ip, l = n.lan_ip));
    }

    let again = sites.play("network.yml", &["-e", "forward_method=ipvs"]);
    again.assert_exit(0);
    for host in sites.all() {
        assert_eq!(again.recap(&host).changed, 0, "{host}\n{}", again.transcript());
    }

    let down = sites.play("network-teardown.yml", &["-e", "forward_method=ipvs"]);
    down.assert_exit(0);
    for host in sites.all() {
        assert_eq!(sites.sh(&host, "ipvsadm -S -n"), "", "{host} kept ipvs services");
    }
}
