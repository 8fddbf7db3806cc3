//! The network modules against the real tools, through the module contract
//! (`ModuleCall::from_args` -> observe -> plan -> apply -> verify) over a
//! local connection: first run changes, second run is `ok`, check mode
//! changes nothing, removal leaves rules that are not ours.
//!
//! These tests change the firewall of the network namespace they run in, so
//! they are `#[ignore]`d and refuse to run unless `FERRY_NETNS_TEST` names
//! the `ip netns` namespace the process is in. The ufw test
//! also needs `/etc/ufw` to be a private bind mount (`ip netns exec` mounts
//! `/etc/netns/NS/ufw` there). `tests/fixtures/network/live-netns.sh` sets all
//! of that up in a throwaway namespace and removes it afterwards.
//! The `ipvs` test uses the stand-in `tests/fixtures/bin/ipvsadm` and a
//! temporary state file, so it runs everywhere.

use super::{ModuleCall, ModuleContext, ModuleOutput};
use crate::template::Templates;
use crate::transport::{Connection, LocalConnection, RemoteCommand};
use crate::vars::Value;
use std::time::Duration;

struct Lab {
    conn: Connection,
    templates: Templates,
    ctx: minijinja::Value,
    env: Vec<(String, String)>,
}

impl Lab {
    fn new(env: Vec<(String, String)>) -> Lab {
        Lab { conn: Connection::Local(LocalConnection::new("lab")), templates: Templates::new(Vec::new()), ctx: minijinja::Value::UNDEFINED, env }
    }

    async fn task(&self, module: &str, yaml: &str, check: bool) -> Result<ModuleOutput, String> {
        let args: Value = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        let name = super::canonical_name(module).ok_or_else(|| format!("unknown module {module}"))?;
        let call = ModuleCall::from_args(name, &args).map_err(|e| e.1)?;
        let cx = ModuleContext {
            host: "lab",
            conn: &self.conn,
            timeout: Duration::from_secs(120),
            env: &self.env,
            diff: true,
            check,
            templates: &self.templates,
            vars_ctx: &self.ctx,
            search_dirs: &[],
        };
        call.run(&cx).await.map_err(|e| format!("{e:?}"))
    }

    /// Runs a task and asserts whether it changed something; returns its message.
    async fn expect(&self, module: &str, yaml: &str, check: bool, changed: bool) -> String {
        let out = self.task(module, yaml, check).await.unwrap_or_else(|e| panic!("{module} {yaml}: {e}"));
        eprintln!(
            "{:>9} {module} {}",
            if out.changed {
                if check {
                    "would"
                } else {
                    "changed"
                }
            } else {
                "ok"
            },
            out.msg
        );
        assert_eq!(out.changed, changed, "{module} {yaml} (check={check}): {}", out.msg);
        out.msg
    }

    async fn sh(&self, script: &str) -> String {
        let mut cmd = RemoteCommand::script(script);
        cmd.env.extend(self.env.iter().cloned());
        let out = self.conn.run(&cmd, Duration::from_secs(60)).await.unwrap();
        assert!(out.success(), "{script}: {}{}", out.stdout, out.stderr);
        out.stdout
    }
}

/// True only inside the throwaway namespace the caller named in
/// `FERRY_NETNS_TEST` (one made with `ip netns add`, so /run/netns/NAME is it).
fn in_throwaway_netns() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(name) = std::env::var_os("FERRY_NETNS_TEST") else {
        eprintln!("skipped: set FERRY_NETNS_TEST=NAME and run inside `ip netns exec NAME` (tests/fixtures/network/live-netns.sh)");
        return false;
    };
    let mine = std::fs::metadata("/proc/self/ns/net").map(|m| (m.dev(), m.ino()));
    let named = std::fs::metadata(std::path::Path::new("/run/netns").join(&name)).map(|m| (m.dev(), m.ino()));
    match (mine, named) {
        (Ok(a), Ok(b)) if a == b => true,
        _ => panic!("FERRY_NETNS_TEST={name:?}, but this process is not in that namespace (/run/netns/NAME): refusing to change the firewall"),
    }
}

/// `iptables-save` without its timestamp comments and packet counters (traffic moves them).
async fn saved(lab: &Lab, table: &str) -> String {
    lab.sh(&format!("iptables-save -t {table} | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]$//'")).await
}

const RUNBOOK_DNAT: &str = "
tag: mon1
masquerade: true
mappings:
  - {destination: 192.168.12.11, to_destination: 203.0.113.11, port: 3300, to_port: 13300}
  - {destination: 192.168.12.11, to_destination: 203.0.113.11, ports: '6800:7300', offset: 10000}
";

/// A client connects to the source mon address; a server listens on the
/// translated public address. Only the DNAT rules can join them.
const CONNECT: &str = r#"
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("203.0.113.11", int(sys.argv[2]))); srv.listen(1)
c = socket.create_connection(("192.168.12.11", int(sys.argv[1])), timeout=3)
s, peer = srv.accept()
print("connected", sys.argv[1], "->", s.getsockname()[1])
"#;

#[tokio::test]
#[ignore = "changes the firewall: run in a throwaway namespace with tests/fixtures/network/live-netns.sh"]
async fn iptables_dnat_converges_and_removes_only_its_own_rules() {
    if !in_throwaway_netns() {
        return;
    }
    let lab = Lab::new(Vec::new());
    lab.sh("iptables -t nat -A OUTPUT -d 192.168.12.99/32 -p tcp --dport 22 -j DNAT --to-destination 10.9.9.9").await;
    let before = saved(&lab, "nat").await;

    let msg = lab.expect("iptables_dnat", RUNBOOK_DNAT, true, true).await;
    assert!(msg.starts_with("would DNAT tcp 192.168.12.11:3300 -> 203.0.113.11:13300 (nat OUTPUT)"), "{msg}");
    assert_eq!(saved(&lab, "nat").await, before, "check mode changed nothing");

    lab.expect("iptables_dnat", RUNBOOK_DNAT, false, true).await;
    let after = saved(&lab, "nat").await;
    assert_eq!(after.matches("ferry:mon1").count(), 504, "502 DNAT + 2 MASQUERADE");
    lab.expect("iptables_dnat", RUNBOOK_DNAT, false, false).await;

    // The rules really forward: a veth pair (this kernel has no dummy links) carries the
    // "public" address and a route to the mon network, which OUTPUT DNAT needs to exist.
    lab.sh("set -e; ip link set lo up; ip link add fxa0 type veth peer name fxb0; ip addr add 203.0.113.11/32 dev fxb0; ip link set fxa0 up; ip link set fxb0 up; ip route add 192.168.12.0/24 dev fxa0").await;
    let py = crate::transport::shell_quote(CONNECT);
    assert_eq!(lab.sh(&format!("/usr/bin/python3 -c {py} 3300 13300")).await.trim(), "connected 3300 -> 13300");
    assert_eq!(lab.sh(&format!("/usr/bin/python3 -c {py} 7000 17000")).await.trim(), "connected 7000 -> 17000");

    // A new offset: check mode reports it and touches nothing, then one batch converges.
    let moved = RUNBOOK_DNAT.replace("offset: 10000", "offset: 20000");
    lab.expect("iptables_dnat", &moved, true, true).await;
    assert_eq!(saved(&lab, "nat").await, after);
    let msg = lab.expect("iptables_dnat", &moved, false, true).await;
    assert!(msg.contains("remove 502 stale rules tagged ferry:mon1"), "{msg}");
    lab.expect("iptables_dnat", &moved, false, false).await;
    assert_eq!(lab.sh(&format!("/usr/bin/python3 -c {py} 7000 27000")).await.trim(), "connected 7000 -> 27000");

    // A rule of another tag stays when mon1 goes.
    let other = "{tag: mon2, destination: 192.168.12.12, to_destination: 203.0.113.12}";
    lab.expect("iptables_dnat", other, false, true).await;
    lab.expect("iptables_dnat", "{tag: mon1, state: absent}", true, true).await;
    lab.expect("iptables_dnat", "{tag: mon1, state: absent}", false, true).await;
    lab.expect("iptables_dnat", "{tag: mon1, state: absent}", false, false).await;
    let left = saved(&lab, "nat").await;
    assert!(!left.contains("ferry:mon1"));
    assert!(left.contains("-A OUTPUT -d 192.168.12.99/32 -p tcp -m tcp --dport 22 -j DNAT --to-destination 10.9.9.9"), "{left}");
    assert!(left.contains("ferry:mon2"), "{left}");
    lab.expect("iptables_dnat", "{tag: mon2, state: absent}", false, true).await;
    assert_eq!(saved(&lab, "nat").await, before);
}

#[tokio::test]
#[ignore = "changes the firewall: run in a throwaway namespace with tests/fixtures/network/live-netns.sh"]
async fn iptables_runs_ansible_tasks_idempotently() {
    if !in_throwaway_netns() {
        return;
    }
    let lab = Lab::new(Vec::new());
    lab.sh("iptables -A INPUT -p tcp --dport 22 -j ACCEPT").await;
    let rule = "{chain: INPUT, protocol: tcp, source: 198.51.100.7, destination_port: 3300, ctstate: [NEW], jump: ACCEPT, comment: ceph mon v2}";
    let before = saved(&lab, "filter").await;
    lab.expect("ansible.builtin.iptables", rule, true, true).await;
    assert_eq!(saved(&lab, "filter").await, before);
    let msg = lab.expect("ansible.builtin.iptables", rule, false, true).await;
    assert_eq!(msg, "append to filter INPUT: -s 198.51.100.7 -p tcp --dport 3300 -m conntrack --ctstate NEW -m comment --comment 'ceph mon v2' -j ACCEPT");
    lab.expect("iptables", rule, false, false).await;
    assert!(saved(&lab, "filter")
        .await
        .contains("-A INPUT -s 198.51.100.7/32 -p tcp -m tcp --dport 3300 -m conntrack --ctstate NEW -m comment --comment \"ceph mon v2\" -j ACCEPT"));

    // Insert at a position; a duplicate made by hand is removed with the rest.
    let first = "{chain: INPUT, action: insert, rule_num: 1, in_interface: lo, jump: ACCEPT}";
    lab.expect("iptables", first, false, true).await;
    assert!(lab.sh("iptables -S INPUT").await.lines().nth(1).unwrap().starts_with("-A INPUT -i lo -j ACCEPT"));
    lab.sh("iptables -A INPUT -i lo -j ACCEPT").await;
    let gone = first.replace("action: insert, rule_num: 1, ", "state: absent, ");
    lab.expect("iptables", &gone, false, true).await;
    lab.expect("iptables", &gone, false, false).await;
    let gone = rule.replace("{chain", "{state: absent, chain");
    lab.expect("iptables", &gone, false, true).await;
    lab.expect("iptables", &gone, false, false).await;
    assert_eq!(saved(&lab, "filter").await, before, "only the hand-made rule is left");

    // Policy, DNAT with Ansible's names, chains.
    lab.expect("iptables", "{chain: FORWARD, policy: DROP}", false, true).await;
    lab.expect("iptables", "{chain: FORWARD, policy: DROP}", false, false).await;
    lab.expect("iptables", "{chain: FORWARD, policy: ACCEPT}", false, true).await;
    let dnat =
        "{table: nat, chain: OUTPUT, protocol: tcp, destination: 192.168.12.11, destination_port: 3300, jump: DNAT, to_destination: '203.0.113.11:13300'}";
    lab.expect("iptables", dnat, false, true).await;
    lab.expect("iptables", dnat, false, false).await;
    lab.expect("iptables", &dnat.replace("{table", "{state: absent, table"), false, true).await;
    let missing = "{chain: FERRY-TEST, jump: RETURN}";
    assert!(lab.task("iptables", missing, false).await.unwrap_err().contains("chain_management"));
    let managed = "{chain: FERRY-TEST, jump: RETURN, chain_management: true}";
    lab.expect("iptables", managed, false, true).await;
    lab.expect("iptables", managed, false, false).await;
    lab.expect("iptables", "{chain: FERRY-TEST, jump: RETURN, state: absent}", false, true).await;
    lab.expect("iptables", "{chain: FERRY-TEST, chain_management: true, state: absent}", false, true).await;
    lab.expect("iptables", "{chain: FERRY-TEST, chain_management: true, state: absent}", false, false).await;
    let bad = lab.task("iptables", "{chain: INPUT, jump: NO-SUCH-TARGET}", false).await.unwrap_err();
    assert!(bad.contains("iptables does not accept the rule"), "{bad}");
    assert_eq!(saved(&lab, "filter").await, before);
}

#[tokio::test]
async fn ipvs_converges_on_the_stand_in() {
    let dir = std::env::temp_dir().join(format!("ferry-ipvs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bin");
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
    let lab = Lab::new(vec![("PATH".into(), path), ("FERRY_FAKE_IPVS_STATE".into(), dir.join("ipvs.rules").display().to_string())]);
    lab.sh("ipvsadm -A -t 10.0.0.1:80 -s wlc && ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.5:80 -g").await;
    let svc = "{address: 192.168.12.2, port: 0, persistent: 86400, scheduler: rr, real_servers: [{address: 58.220.67.199, port: 0, forward: masquerade}]}";
    lab.expect("ipvs", svc, true, true).await;
    let msg = lab.expect("ipvs", svc, false, true).await;
    assert_eq!(
        msg,
        "add IPVS service TCP 192.168.12.2:0 (rr, persistent 86400s); add real server 58.220.67.199:0 to TCP 192.168.12.2:0 (masquerade, weight 1)"
    );
    lab.expect("ipvs", svc, false, false).await;
    assert_eq!(
        lab.sh("ipvsadm -S -n").await,
        "-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.0.0.5:80 -g -w 1\n-A -t 192.168.12.2:0 -s rr -p 86400\n-a -t 192.168.12.2:0 -r 58.220.67.199:0 -m -w 1\n"
    );
    let shorter = svc.replace("86400", "3600");
    assert_eq!(lab.expect("ipvs", &shorter, false, true).await, "change IPVS service TCP 192.168.12.2:0: persistent 86400s -> 3600s");
    lab.expect("ipvs", &shorter, false, false).await;
    let gone = "{address: 192.168.12.2, port: 0, state: absent}";
    lab.expect("ipvs", gone, false, true).await;
    lab.expect("ipvs", gone, false, false).await;
    assert_eq!(lab.sh("ipvsadm -S -n").await, "-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.0.0.5:80 -g -w 1\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// True when `/etc/ufw` is a mount of its own (a per-namespace copy).
fn ufw_is_private() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").map(|m| m.lines().any(|l| l.split_whitespace().nth(4) == Some("/etc/ufw"))).unwrap_or(false)
}

#[tokio::test]
#[ignore = "changes the firewall: run in a throwaway namespace with tests/fixtures/network/live-netns.sh"]
async fn ufw_rules_and_teardown_by_tag() {
    if !in_throwaway_netns() {
        return;
    }
    assert!(ufw_is_private(), "/etc/ufw must be a private copy (ip netns exec with /etc/netns/NS/ufw)");
    let lab = Lab::new(Vec::new());
    lab.sh("ufw allow 22/tcp >/dev/null").await;
    let added = || lab.sh("ufw show added");
    let before = added().await;
    let range = "{rule: allow, from_ip: 198.51.100.7, to_port: '6800:7300', proto: tcp, tag: mon}";
    let mon = "{rule: allow, from_ip: 198.51.100.7, to_port: 3300, proto: tcp, tag: mon, state: enabled}";
    lab.expect("community.general.ufw", range, true, true).await;
    lab.expect("ufw", mon, true, true).await;
    assert_eq!(added().await, before);
    assert_eq!(lab.sh("ufw status").await.trim(), "Status: inactive");
    lab.expect("ufw", range, false, true).await;
    let msg = lab.expect("ufw", mon, false, true).await;
    assert_eq!(msg, "ufw allow from 198.51.100.7 to any port 3300 proto tcp comment 'ferry:mon'; enable ufw");
    lab.expect("ufw", range, false, false).await;
    lab.expect("ufw", mon, false, false).await;
    assert!(lab.sh("ufw status").await.starts_with("Status: active"));
    assert!(lab.sh("iptables -S ufw-user-input").await.contains("-A ufw-user-input -s 198.51.100.7/32 -p tcp -m multiport --dports 6800:7300 -j ACCEPT"));
    // Same rule, other action: replaced in place.
    lab.expect("ufw", &mon.replace("allow", "deny"), false, true).await;
    lab.expect("ufw", &mon.replace("allow", "deny"), false, false).await;

    let teardown = "{delete: true, tag: mon}";
    lab.expect("ufw", teardown, true, true).await;
    let msg = lab.expect("ufw", teardown, false, true).await;
    assert!(msg.contains("ufw delete deny from 198.51.100.7 to any port 3300 proto tcp comment 'ferry:mon'"), "{msg}");
    lab.expect("ufw", teardown, false, false).await;
    assert_eq!(added().await, before, "the hand-made rule is still there");
    lab.expect("ufw", "{state: disabled}", false, true).await;
    lab.expect("ufw", "{state: disabled}", false, false).await;
    lab.sh("ufw delete allow 22/tcp >/dev/null").await;
}

#[tokio::test]
#[ignore = "changes sysctls: run in a throwaway namespace with tests/fixtures/network/live-netns.sh"]
async fn sysctl_live_and_persisted() {
    if !in_throwaway_netns() {
        return;
    }
    let lab = Lab::new(Vec::new());
    let dir = std::env::temp_dir().join(format!("ferry-sysctl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("99-ferry.conf").display().to_string();
    let fwd = "{name: net.ipv4.ip_forward, value: 1, sysctl_set: true}";
    assert_eq!(lab.sh("sysctl -n net.ipv4.ip_forward").await.trim(), "0");
    lab.expect("ansible.posix.sysctl", fwd, true, true).await;
    assert_eq!(lab.sh("sysctl -n net.ipv4.ip_forward").await.trim(), "0");
    assert_eq!(lab.expect("sysctl", fwd, false, true).await, "set net.ipv4.ip_forward = 1 (was 0)");
    lab.expect("sysctl", fwd, false, false).await;
    assert_eq!(lab.sh("sysctl -n net.ipv4.ip_forward").await.trim(), "1");

    let kept = format!("{{name: net.ipv4.conf.all.route_localnet, value: 1, sysctl_file: {file}}}");
    let msg = lab.expect("sysctl", &kept, false, true).await;
    assert_eq!(msg, format!("set net.ipv4.conf.all.route_localnet = 1 (was 0); keep net.ipv4.conf.all.route_localnet=1 in {file}"));
    lab.expect("sysctl", &kept, false, false).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "net.ipv4.conf.all.route_localnet=1\n");
    let tabs = "{name: net.ipv4.ip_local_port_range, value: '32768   60999'}";
    lab.expect("sysctl", tabs, false, false).await;
    let gone = format!("{{name: net.ipv4.conf.all.route_localnet, state: absent, sysctl_file: {file}}}");
    lab.expect("sysctl", &gone, false, true).await;
    lab.expect("sysctl", &gone, false, false).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
    let err = lab.task("sysctl", "{name: net.ipv4.no_such_key, value: 1}", false).await.unwrap_err();
    assert!(err.contains("could not read net.ipv4.no_such_key"), "{err}");
    lab.expect("sysctl", "{name: net.ipv4.no_such_key, value: 1, ignoreerrors: yes}", false, false).await;
    std::fs::remove_dir_all(&dir).unwrap();
}
