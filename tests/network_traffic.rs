//! Real traffic through `playbooks/network.yml`: a service bound to a source node's
//! LAN address (as a Ceph mon or OSD is) cannot be reached from the target site
//! before, is reached by every target node at that LAN address after — through
//! the source's public address, real iptables DNAT and real ufw — and cannot be
//! reached again after `playbooks/network-teardown.yml`.

mod common;
mod network;

use ferry::lab::Site;
use network::*;

/// A mon port and the edges of the OSD range.
const PORTS: [u16; 3] = [3300, 6800, 7300];

#[track_caller]
fn assert_all_unreachable(sites: &Sites, why: &str) {
    for target in sites.names(Site::Target) {
        for source in sites.names(Site::Source) {
            let lan = sites.node(&source).lan_ip;
            for port in PORTS {
                match sites.probe(&target, lan, port) {
                    Err(e) => assert!(e.contains("Network is unreachable"), "{target} -> {source} {lan}:{port} {why}: {e}"),
                    Ok(line) => panic!("{target} reached {source} at {lan}:{port} {why}: {line}"),
                }
            }
        }
    }
}

#[test]
fn target_nodes_reach_source_lan_addresses_only_through_the_forwarding() {
    let root_before = root_namespace_state();
    let sites = Sites::start("tra");
    let sources = sites.names(Site::Source);
    let targets = sites.names(Site::Target);
    let _services: Vec<Listener<'_>> = sources.iter().map(|s| sites.listen(s, &PORTS.map(|p| (sites.node(s).lan_ip, p)))).collect();

    // The runbook's problem: the source LAN is unknown on the target side, while
    // the source's public address answers (its sshd listens on every address).
    assert_all_unreachable(&sites, "before network.yml");
    for target in &targets {
        for source in &sources {
            let public = sites.node(source).public_ip;
            let reply = sites.probe(target, public, 22);
            assert!(reply.as_deref().is_ok_and(|l| l.starts_with("SSH-2.0")), "{target} -> {source}'s public {public}:22: {reply:?}");
        }
    }

    let run = sites.play("network.yml", &[]);
    run.assert_exit(0);
    for host in sites.all() {
        assert!(run.recap(&host).changed > 0, "{host} changed nothing\n{}", run.transcript());
    }

    // Every target node connects to every source LAN address, as a Ceph client does
    // after reading mon_host; the service sees the target's PUBLIC address: the
    // connection went over the WAN.
    for target in &targets {
        let public = sites.node(target).public_ip;
        for source in &sources {
            let lan = sites.node(source).lan_ip;
            for port in PORTS {
                let reply = sites.probe(target, lan, port);
                assert_eq!(reply, Ok(format!("{source} {port} {public}")), "{target} -> {source} {lan}:{port}\n{}", run.transcript());
            }
        }
        // Only the forwarded ports: sshd listens on the LAN address too, but port 22
        // is not forwarded and a source answers no ARP for its LAN address on the WAN.
        // (A refused connection would fail at once; this one can only time out.)
        let lan = sites.node(&sources[0]).lan_ip;
        let ssh = sites.probe_within(target, lan, 22, 1);
        assert!(ssh.is_err(), "{target} reached {}'s LAN sshd {lan}:22 without a forward: {ssh:?}", sources[0]);
    }
    // ufw is on, and lets in only the other site's public addresses: a source node
    // (same site, not a peer) is refused at another source's public address.
    for host in sites.all() {
        assert!(sites.sh(&host, "ufw status").contains("Status: active"), "{host}: ufw is not active");
    }
    let (s1, s2) = (&sources[0], &sources[1]);
    let offset = sites.node(s2).port_offset.expect("sources have offsets");
    let via_public = sites.probe_within(s1, sites.node(s2).public_ip, 3300 + offset as u16, 1);
    assert!(via_public.is_err(), "{s1} (not a peer) passed {s2}'s firewall: {via_public:?}");

    let again = sites.play("network.yml", &[]);
    again.assert_exit(0);
    for host in sites.all() {
        assert_eq!(again.recap(&host).changed, 0, "second run changed {host}\n{}", again.transcript());
    }

    let down = sites.play("network-teardown.yml", &[]);
    down.assert_exit(0);
    assert_all_unreachable(&sites, "after network-teardown.yml");
    for host in sites.all() {
        assert!(!sites.nat(&host).contains("ferry:"), "{host} kept tagged nat rules:\n{}", sites.nat(&host));
        let fw = sites.sh(&host, "ufw status; ufw show added");
        assert!(fw.contains("Status: inactive"), "{host}: ferry enabled ufw, teardown must disable it again:\n{fw}");
        assert!(!fw.contains("ferry:"), "{host} kept ferry's ufw rules:\n{fw}");
        assert!(!sites.exists(&host, "/etc/ufw/ferry-network-enabled"), "{host} kept the marker");
    }
    let twice = sites.play("network-teardown.yml", &[]);
    twice.assert_exit(0);
    for host in sites.all() {
        assert_eq!(twice.recap(&host).changed, 0, "second teardown changed {host}\n{}", twice.transcript());
    }

    drop(_services);
    drop(sites);
    assert_eq!(root_namespace_state(), root_before, "the root namespace's firewall, ufw files, /usr/local/sbin or sysctls changed");
}
