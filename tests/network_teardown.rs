//! `playbooks/network-teardown.yml` removes what network.yml wrote and nothing
//! else: iptables rules, ufw rules and routes that were there before are
//! byte-identical afterwards, even a rule whose comment merely contains ferry's tag.

mod common;
mod network;

use ferry::lab::Site;
use network::*;

/// What an operator already had on every node: nat and filter rules (one with a
/// comment that contains ferry's tag), a chain of their own, a route, and ufw on
/// with their own rules (so ferry must leave ufw on).
fn operators_own_setup(mgmt: &str) -> String {
    format!(
        "set -e
iptables -t nat -A OUTPUT -d 192.0.2.10/32 -p tcp --dport 9000 -j DNAT --to-destination 192.0.2.20:9000
iptables -t nat -A PREROUTING -p tcp --dport 8443 -m comment --comment ferry:networking -j REDIRECT --to-ports 443
iptables -N OPS-AUDIT
iptables -A OPS-AUDIT -p tcp --dport 5000 -j ACCEPT
iptables -t mangle -A OUTPUT -p tcp --dport 3300 -j MARK --set-mark 7
ip route add 192.0.2.0/24 dev lan0 proto static
ufw allow from {mgmt} to any port 22 proto tcp comment 'operator ssh'
ufw allow 8080/tcp comment operator
ufw deny from 192.0.2.0/24
ufw --force enable >/dev/null
"
    )
}

#[test]
fn teardown_leaves_everything_it_did_not_write_byte_identical() {
    let sites = Sites::start("tdn");
    let setup = operators_own_setup(&sites.lab().management_net());
    sites.sh_all(&setup);
    let before: Vec<String> = sites.snapshots();

    let run = sites.play("network.yml", &[]);
    run.assert_exit(0);
    // ufw was on already: ferry neither adds its SSH rule nor touches the switch.
    for r in run.results_of("allow SSH from the management network first, then enable ufw") {
        assert_eq!(r["status"], "skipped", "{r}");
    }
    let source = &sites.names(Site::Source)[0];
    let target = &sites.names(Site::Target)[0];
    let _mon = sites.listen(source, &[(sites.node(source).lan_ip, 3300)]);
    let reply = sites.probe(target, sites.node(source).lan_ip, 3300);
    assert!(reply.is_ok(), "forwarding through the operator's own ufw: {reply:?}\n{}", run.transcript());
    for ((host, b), a) in sites.all().iter().zip(&before).zip(sites.snapshots()) {
        assert!(a.len() > b.len(), "{host}: network.yml added nothing");
    }

    let down = sites.play("network-teardown.yml", &[]);
    down.assert_exit(0);
    for r in down.results_of("disable ufw where network.yml enabled it") {
        assert_eq!(r["status"], "skipped", "ferry did not enable ufw, so it leaves it on: {r}");
    }
    for ((host, b), a) in sites.all().iter().zip(&before).zip(sites.snapshots()) {
        assert_eq!(&a, b, "{host}: teardown changed what it did not write");
        assert!(a.contains("ferry:networking") && a.contains("OPS-AUDIT") && a.contains("operator ssh"), "{host}: {a}");
    }
}
