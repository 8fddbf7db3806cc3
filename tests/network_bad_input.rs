//! Bad forwarding input fails before any host is touched: the first play checks
//! every host's values on the controller (a `run_once` assert delegated to
//! localhost, `any_errors_fatal`), names each problem, and stops the run. The
//! nodes' firewalls, routes and ufw are exactly as before, and no task ran on them.
//!
//! Exit status: 2, a failed task, as ansible-playbook gives for a failed assert.
//! The engine reserves 1 for input it refuses before running anything (parse
//! errors, literal module arguments); these values come from the inventory and
//! are only known per host.

mod common;
mod network;

use network::*;

#[track_caller]
fn assert_refused_untouched(sites: &Sites, before: &[String], run: &common::Run, problem: &str) {
    run.assert_exit(2);
    run.assert_output_contains("the network plan cannot work, nothing was changed");
    run.assert_output_contains(problem);
    // site.yml's gate (`meta: end_play` when the migration is past its cutover)
    // is skipped here: it runs nothing.
    let results: Vec<_> = run.events("task_result").into_iter().filter(|r| r["status"] != "skipped").collect();
    assert_eq!(results.len(), 1, "only the check may run\n{}", run.transcript());
    assert_eq!(results[0]["delegated_to"], "localhost", "the check runs on the controller\n{}", run.transcript());
    for ((host, b), a) in sites.all().iter().zip(before).zip(sites.snapshots()) {
        assert_eq!(&a, b, "{host} was touched");
    }
}

#[test]
fn bad_offsets_ranges_and_addresses_are_refused_before_any_host_is_touched() {
    let sites = Sites::start("bad");
    let before: Vec<String> = sites.snapshots();

    // Two source nodes behind one public address, offsets only 200 apart.
    let shared = sites.edited_inventory("collide.yml", |inv| {
        inv.replacen("public_ip: 198.51.100.12", "public_ip: 198.51.100.11", 1).replacen("port_offset: 20000", "port_offset: 10200", 1)
    });
    let run = sites.play_with("network.yml", &shared, &[]);
    assert_refused_untouched(
        &sites,
        &before,
        &run,
        "src-node1 and src-node2 share public_ip 198.51.100.11 and their forwards collide: `6800:7300` + 10000 = 16800-17300 overlaps `6800:7300` + 10200 = 17000-17500",
    );

    let past = sites.edited_inventory("past.yml", |inv| inv.replacen("port_offset: 30000", "port_offset: 60000", 1));
    let run = sites.play_with("network.yml", &past, &[]);
    assert_refused_untouched(&sites, &before, &run, "src-node3: port_offset 60000 maps forward_ports `6800:7300` to 66800-67300, outside the ports 1-65535");

    let run = sites.play("network.yml", &["-e", r#"{"forward_ports": [3300, 6789, "7300:6800"]}"#]);
    assert_refused_untouched(&sites, &before, &run, "forward_ports: range `7300:6800` starts after it ends (7300 > 6800)");

    let run = sites.play("network.yml", &["-e", r#"{"forward_ports": [3300, "3000:4000", "6800:7300"]}"#]);
    assert_refused_untouched(&sites, &before, &run, "forward_ports: `3300` and `3000:4000` overlap: their forwards would collide");

    let not_ip = sites.edited_inventory("not-ip.yml", |inv| inv.replacen("public_ip: 203.0.113.12", "public_ip: dst-node2.example", 1));
    let run = sites.play_with("network.yml", &not_ip, &[]);
    assert_refused_untouched(&sites, &before, &run, "dst-node2: public_ip `dst-node2.example` is not an IPv4 address");

    let octet = sites.edited_inventory("octet.yml", |inv| inv.replacen("lan_ip: 10.", "lan_ip: 300.", 1));
    let run = sites.play_with("network.yml", &octet, &[]);
    assert_refused_untouched(&sites, &before, &run, "src-node1: lan_ip `300.");

    // Every problem at once, one per line: the operator fixes the inventory in one go.
    let run = sites.play_with("network.yml", &not_ip, &["-e", r#"{"forward_ports": ["7300:6800"], "forward_method": "nat"}"#]);
    for problem in ["forward_method must be iptables or ipvs, not `nat`", "range `7300:6800` starts after it ends", "public_ip `dst-node2.example`"] {
        assert_refused_untouched(&sites, &before, &run, problem);
    }
}
