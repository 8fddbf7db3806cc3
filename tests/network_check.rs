//! `--check` on a fresh two-site lab: network.yml reports every forwarding rule and
//! every ufw rule it would add, and adds none.

mod common;
mod network;

use ferry::lab::Site;
use network::*;

#[test]
fn check_mode_reports_every_rule_it_would_add_and_adds_none() {
    let sites = Sites::start("chn");
    let before: Vec<String> = sites.snapshots();

    let run = sites.play("network.yml", &["--check"]);
    run.assert_exit(0);

    let sources = sites.names(Site::Source);
    let targets = sites.names(Site::Target);
    // mon v2, mon v1 and the 501 OSD ports, per source node.
    let per_source = 1 + 1 + 501;
    for host in sites.all() {
        let dnat = run.result(&host, "forward mon and OSD ports (iptables DNAT)");
        assert_eq!(dnat["status"], "changed", "{host}\n{}", run.transcript());
        let msg = dnat["msg"].as_str().unwrap_or_default();
        let want = if sources.contains(&host) { per_source } else { per_source * sources.len() };
        assert_eq!(dnat_rules_in(msg), want, "{host}: DNAT rules reported in {msg}");

        let peers = if sources.contains(&host) { &targets } else { &sources };
        let ufw: Vec<String> = run
            .results_of("let the other site's public addresses reach the forwarded ports")
            .into_iter()
            .filter(|r| r["host"] == host.as_str() && r["status"] == "changed")
            .map(|r| r["msg"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(ufw.len(), peers.len(), "{host}: one ufw rule per peer\n{}", run.transcript());
        for peer in peers {
            let from = format!("would ufw allow from {} to any port 3300,6789,6800:7300 proto tcp comment 'ferry:network'", sites.node(peer).public_ip);
            assert!(ufw.contains(&from), "{host}: no rule for {peer}: {ufw:?}");
        }
        let ssh = run.result(&host, "allow SSH from the management network first, then enable ufw");
        assert_eq!(
            ssh["msg"].as_str().unwrap_or_default(),
            format!("would ufw allow from {} to any port 22 proto tcp comment 'ferry:network-ssh'; enable ufw", sites.lab().management_net()),
            "{host}"
        );
    }
    // The routes are `command` tasks: check mode cannot tell what they would do.
    for r in run.results_of("route each source LAN address into the WAN interface") {
        assert_eq!(r["status"], "skipped", "{r}");
    }

    let after: Vec<String> = sites.snapshots();
    for ((host, b), a) in sites.all().iter().zip(&before).zip(&after) {
        assert_eq!(a, b, "--check changed {host}");
        assert!(!a.contains("ferry:"), "{host} has a ferry rule after --check");
    }
}
