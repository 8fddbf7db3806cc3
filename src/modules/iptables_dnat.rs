//! `iptables_dnat`: the runbook's port forwarding (`iptables -t nat -A OUTPUT
//! -d MON -p tcp --dport $i -j DNAT --to-destination PUBLIC:$((i+10000))`)
//! as one idempotent task.
//!
//! Every rule carries the comment `ferry:<tag>`; ferry only ever reads,
//! adds and deletes rules with its tag, so rules written by people or other
//! tools are never touched. The host is observed with one `iptables-save -t
//! nat` and the difference is applied as one `iptables-restore --noflush`
//! batch (deleting stale tagged rules and adding missing ones together), so
//! 501 ports cost one process, a changed offset converges in one step, and
//! the batch is atomic: it applies whole or not at all.

use super::args::{self, Flag, Number, OneOrMany, Text};
use super::netfilter::{self, Cidr, PortRange, SavedRule};
use super::{remote_file, Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::transport::{CommandOutput, RemoteCommand};
use crate::vars::Value;
use serde::Deserialize;
use std::net::Ipv4Addr;

/// More rules than this in one task is almost certainly a typo in a range.
const MAX_RULES: usize = 8192;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingArgs {
    #[serde(alias = "dest")]
    destination: Text,
    #[serde(alias = "to")]
    to_destination: Text,
    port: Option<Number>,
    ports: Option<Text>,
    to_port: Option<Number>,
    offset: Option<Number>,
    protocol: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    tag: Text,
    #[serde(default)]
    state: Option<Text>,
    #[serde(alias = "chain")]
    chains: Option<OneOrMany<Text>>,
    protocol: Option<Text>,
    source: Option<Text>,
    mappings: Option<Vec<MappingArgs>>,
    #[serde(alias = "dest")]
    destination: Option<Text>,
    #[serde(alias = "to")]
    to_destination: Option<Text>,
    port: Option<Number>,
    ports: Option<Text>,
    to_port: Option<Number>,
    offset: Option<Number>,
    #[serde(default)]
    masquerade: Flag,
    #[serde(alias = "to_source")]
    snat_to: Option<Text>,
}

/// `tcp` or `udp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One validated mapping: `destination[:ports]` -> `to[:ports + offset]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mapping {
    /// `None`: every protocol (only for whole-address mappings).
    proto: Option<Proto>,
    dst: Ipv4Addr,
    to: Ipv4Addr,
    /// `None`: the whole address, every port.
    ports: Option<PortRange>,
    offset: i32,
}

impl Mapping {
    fn to_ports(&self) -> Option<PortRange> {
        self.ports.map(|p| PortRange { first: shift(p.first, self.offset), last: shift(p.last, self.offset) })
    }

    /// `DNAT tcp 192.168.12.11:3300 -> 203.0.113.11:13300`
    fn describe(&self) -> String {
        let proto = self.proto.map(|p| format!(" {}", p.name())).unwrap_or_default();
        match (self.ports, self.to_ports()) {
            (Some(from), Some(to)) => format!("DNAT{proto} {}:{} -> {}:{}", self.dst, from.human(), self.to, to.human()),
            _ => format!("DNAT{proto} {} -> {}, all ports", self.dst, self.to),
        }
    }
}

fn shift(port: u16, offset: i32) -> u16 {
    // Offsets are validated at parse time, so the result is always a port.
    (i32::from(port) + offset) as u16
}

/// What a POSTROUTING rule does to the translated traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceNat {
    Masquerade,
    Snat(Ipv4Addr),
}

/// The nat rules tagged `ferry:<tag>` that must exist (or, with `state: absent`, none).
#[derive(Debug)]
pub struct IptablesDnatModule {
    comment: String,
    present: bool,
    chains: Vec<String>,
    source: Option<Cidr>,
    mappings: Vec<Mapping>,
    source_nat: Option<SourceNat>,
}

/// The host's nat rules that carry our tag, in the host's order.
#[derive(Debug, Clone, Default)]
pub struct DnatState {
    rules: Vec<SavedRule>,
}

/// A rule to write, with the people-readable group it belongs to.
#[derive(Debug, Clone)]
struct Planned {
    rule: SavedRule,
    group: usize,
}

fn arg_err(path: &str, msg: impl Into<String>) -> (String, String) {
    (path.to_string(), format!("invalid arguments for `iptables_dnat`: {}", msg.into()))
}

fn ipv4(path: &str, t: &Text) -> Result<Ipv4Addr, (String, String)> {
    netfilter::parse_ipv4(&t.0).ok_or_else(|| arg_err(path, format!("`{path}`: `{}` is not an IPv4 address (four numbers 0-255, like 192.168.12.11)", t.0)))
}

fn whole(path: &str, n: Number) -> Result<i64, (String, String)> {
    if n.0.fract() != 0.0 || n.0.abs() > 1e9 {
        return Err(arg_err(path, format!("`{path}` must be a whole number, not {}", n.0)));
    }
    Ok(n.0 as i64)
}

fn proto(path: &str, t: &Text) -> Result<Proto, (String, String)> {
    match t.0.trim().to_ascii_lowercase().as_str() {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        other => Err(arg_err(path, format!("`{path}` must be tcp or udp, not `{other}`"))),
    }
}

impl MappingArgs {
    fn build(&self, at: &str, default_proto: Option<&Text>) -> Result<Mapping, (String, String)> {
        let p = |f: &str| if at.is_empty() { f.to_string() } else { format!("{at}.{f}") };
        let dst = ipv4(&p("destination"), &self.destination)?;
        let to = ipv4(&p("to_destination"), &self.to_destination)?;
        let ports = match (&self.port, &self.ports) {
            (Some(_), Some(_)) => return Err(arg_err(&p("ports"), "give either `port` or `ports`, not both")),
            (Some(n), None) => {
                let n = whole(&p("port"), *n)?;
                let port = u16::try_from(n).ok().filter(|p| *p > 0).ok_or_else(|| arg_err(&p("port"), format!("`port` {n} is not a port number (1-65535)")))?;
                Some(PortRange { first: port, last: port })
            }
            (None, Some(r)) => Some(PortRange::parse(&r.0).map_err(|e| arg_err(&p("ports"), format!("`ports`: {e}")))?),
            (None, None) => None,
        };
        let offset = match (self.to_port, self.offset, ports) {
            (Some(_), Some(_), _) => return Err(arg_err(&p("offset"), "give either `to_port` or `offset`, not both")),
            (Some(_), None, None) | (None, Some(_), None) => {
                return Err(arg_err(&p("to_port"), "`to_port` and `offset` need `port` or `ports` (a whole-address mapping keeps every port)"))
            }
            (Some(tp), None, Some(r)) => {
                let tp = whole(&p("to_port"), tp)?;
                if !(1..=65535).contains(&tp) {
                    return Err(arg_err(&p("to_port"), format!("`to_port` {tp} is not a port number (1-65535)")));
                }
                tp - i64::from(r.first)
            }
            (None, Some(off), _) => whole(&p("offset"), off)?,
            (None, None, _) => 0,
        };
        if let Some(r) = ports {
            let (lo, hi) = (i64::from(r.first) + offset, i64::from(r.last) + offset);
            if lo < 1 || hi > 65535 {
                return Err(arg_err(&p("offset"), format!("offset {offset} maps ports {} to {lo}-{hi}, outside 1-65535", r.human())));
            }
        }
        let proto = match (&self.protocol, default_proto) {
            (Some(t), _) => Some(proto(&p("protocol"), t)?),
            (None, Some(t)) => Some(proto("protocol", t)?),
            (None, None) if ports.is_some() => Some(Proto::Tcp),
            (None, None) => None,
        };
        Ok(Mapping { proto, dst, to, ports, offset: offset as i32 })
    }
}

impl IptablesDnatModule {
    /// From `iptables_dnat:` arguments; every mistake is an argument error, before any host is touched.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let a: Args = args::parse("iptables_dnat", raw)?;
        let tag = a.tag.0.trim();
        if tag.is_empty() || tag.len() > 200 || !tag.chars().all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c)) {
            return Err(arg_err("tag", format!("`tag` must be 1-200 letters, digits, `.`, `_`, `:` or `-`, not `{tag}`")));
        }
        let present = match a.state.as_ref().map(|s| s.0.trim()).unwrap_or("present") {
            "present" => true,
            "absent" => false,
            other => return Err(arg_err("state", format!("`state` must be present or absent, not `{other}`"))),
        };
        let mut chains = Vec::new();
        for c in a.chains.map(|c| c.0).unwrap_or_else(|| vec![Text("OUTPUT".into())]) {
            let c = c.0.trim().to_ascii_uppercase();
            if c != "OUTPUT" && c != "PREROUTING" {
                return Err(arg_err("chains", format!("`chains` may hold OUTPUT (traffic this host sends) and PREROUTING (traffic it receives), not `{c}`")));
            }
            if !chains.contains(&c) {
                chains.push(c);
            }
        }
        if chains.is_empty() {
            return Err(arg_err("chains", "`chains` is empty; use OUTPUT and/or PREROUTING"));
        }
        let source = match &a.source {
            Some(s) => Some(Cidr::parse(&s.0).ok_or_else(|| arg_err("source", format!("`source`: `{}` is not an IPv4 address or network", s.0)))?),
            None => None,
        };
        let top_level =
            a.destination.is_some() || a.to_destination.is_some() || a.port.is_some() || a.ports.is_some() || a.to_port.is_some() || a.offset.is_some();
        let mut mappings = Vec::new();
        match (a.mappings, top_level) {
            (Some(_), true) => {
                return Err(arg_err("mappings", "give one mapping with `destination`/`to_destination`/`port(s)` or a list in `mappings`, not both"))
            }
            (Some(list), false) => {
                for (i, m) in list.iter().enumerate() {
                    mappings.push(m.build(&format!("mappings[{i}]"), a.protocol.as_ref())?);
                }
            }
            (None, true) => {
                let (Some(destination), Some(to_destination)) = (a.destination, a.to_destination) else {
                    return Err(arg_err("to_destination", "a mapping needs both `destination` and `to_destination`"));
                };
                let m = MappingArgs { destination, to_destination, port: a.port, ports: a.ports, to_port: a.to_port, offset: a.offset, protocol: None };
                mappings.push(m.build("", a.protocol.as_ref())?);
            }
            (None, false) => {}
        }
        if present && mappings.is_empty() {
            return Err(arg_err("mappings", "nothing to forward: give `destination` and `to_destination` (or a `mappings` list)"));
        }
        for (i, x) in mappings.iter().enumerate() {
            for (j, y) in mappings.iter().enumerate().skip(i + 1) {
                let same_proto = x.proto.is_none() || y.proto.is_none() || x.proto == y.proto;
                let ports_meet = match (x.ports, y.ports) {
                    (Some(p), Some(q)) => p.overlaps(&q),
                    _ => true,
                };
                if x.dst == y.dst && same_proto && ports_meet {
                    let at = |m: &Mapping| match m.ports {
                        Some(p) => format!("{}:{}", m.dst, p.human()),
                        None => format!("{} (all ports)", m.dst),
                    };
                    return Err(arg_err(
                        &format!("mappings[{j}]"),
                        format!("mappings {i} and {j} collide: both forward {} / {}; traffic can only go one way", at(x), at(y)),
                    ));
                }
            }
        }
        let source_nat = match (a.masquerade.0, &a.snat_to) {
            (true, Some(_)) => return Err(arg_err("snat_to", "give either `masquerade: true` or `snat_to`, not both")),
            (true, None) => Some(SourceNat::Masquerade),
            (false, Some(t)) => Some(SourceNat::Snat(ipv4("snat_to", t)?)),
            (false, None) => None,
        };
        let module = IptablesDnatModule { comment: format!("ferry:{tag}"), present, chains, source, mappings, source_nat };
        let n = module.desired().0.len();
        if n > MAX_RULES {
            return Err(arg_err(
                "ports",
                format!(
                    "this task would write {n} rules (more than {MAX_RULES}); a port range with a non-zero offset needs one rule per port: check the range"
                ),
            ));
        }
        Ok(module)
    }

    fn comment_words(&self) -> [String; 4] {
        ["-m".into(), "comment".into(), "--comment".into(), self.comment.clone()]
    }

    /// Match words in `iptables-save` order: `-s`, `-d`, `-p`, `-m tcp --dport`.
    fn match_words(&self, dst: Ipv4Addr, proto: Option<Proto>, ports: Option<PortRange>, with_source: bool) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(s) = self.source.filter(|_| with_source) {
            w.extend(["-s".to_string(), s.to_string()]);
        }
        w.extend(["-d".to_string(), format!("{dst}/32")]);
        if let Some(p) = proto {
            w.extend(["-p".to_string(), p.name().to_string()]);
            if let Some(r) = ports {
                w.extend(["-m".to_string(), p.name().to_string(), "--dport".to_string(), r.iptables()]);
            }
        }
        w
    }

    /// The rules this task wants, in the order they are added, and a description per group.
    fn desired(&self) -> (Vec<Planned>, Vec<String>) {
        let mut out = Vec::new();
        let mut groups = Vec::new();
        if !self.present {
            return (out, groups);
        }
        for chain in &self.chains {
            for m in &self.mappings {
                let group = groups.len();
                groups.push(format!("{} (nat {chain})", m.describe()));
                let ranges: Vec<(Option<PortRange>, Option<u16>)> = match m.ports {
                    None => vec![(None, None)],
                    // Same ports on the other side: one rule, DNAT keeps the port.
                    Some(r) if m.offset == 0 => vec![(Some(r), None)],
                    Some(r) => (r.first..=r.last).map(|p| (Some(PortRange { first: p, last: p }), Some(shift(p, m.offset)))).collect(),
                };
                for (ports, to_port) in ranges {
                    let mut words = self.match_words(m.dst, m.proto, ports, true);
                    words.extend(self.comment_words());
                    let to = match to_port {
                        Some(p) => format!("{}:{p}", m.to),
                        None => m.to.to_string(),
                    };
                    words.extend(["-j".to_string(), "DNAT".to_string(), "--to-destination".to_string(), to]);
                    out.push(Planned { rule: SavedRule { chain: chain.clone(), words }, group });
                }
            }
        }
        if let Some(snat) = self.source_nat {
            for m in &self.mappings {
                let mut words = self.match_words(m.to, m.proto, m.to_ports(), false);
                words.extend(self.comment_words());
                let (what, how) = match snat {
                    SourceNat::Masquerade => {
                        words.extend(["-j".to_string(), "MASQUERADE".to_string()]);
                        ("MASQUERADE", String::new())
                    }
                    SourceNat::Snat(ip) => {
                        words.extend(["-j".to_string(), "SNAT".to_string(), "--to-source".to_string(), ip.to_string()]);
                        ("SNAT", format!(" as {ip}"))
                    }
                };
                let rule = SavedRule { chain: "POSTROUTING".into(), words };
                // Two mappings to the same public address need the rule once.
                if out.iter().any(|p| p.rule == rule) {
                    continue;
                }
                let target = match m.to_ports() {
                    Some(r) => format!("{}:{}", m.to, r.human()),
                    None => m.to.to_string(),
                };
                let proto = m.proto.map(|p| format!(" {}", p.name())).unwrap_or_default();
                let group = groups.len();
                groups.push(format!("{what}{proto} traffic to {target}{how} (nat POSTROUTING)"));
                out.push(Planned { rule, group });
            }
        }
        (out, groups)
    }

    fn parse_state(&self, save: &str) -> Result<DnatState, String> {
        let tables = netfilter::parse_save(save)?;
        let rules = tables.into_iter().filter(|t| t.name == "nat").flat_map(|t| t.rules).filter(|r| r.comment() == Some(self.comment.as_str())).collect();
        Ok(DnatState { rules })
    }

    fn text(rules: &[SavedRule]) -> String {
        rules.iter().map(|r| format!("{}\n", r.restore_line("-A"))).collect()
    }
}

/// A stale rule, for people: `DNAT tcp 192.168.12.11:3300 -> 203.0.113.11:23300 (nat OUTPUT)`.
fn describe_saved(r: &SavedRule) -> String {
    let dst = r.value_of("-d").map(|d| d.trim_end_matches("/32")).unwrap_or("any");
    let proto = r.value_of("-p").map(|p| format!(" {p}")).unwrap_or_default();
    let port = r.value_of("--dport").map(|p| format!(":{}", p.replace(':', "-"))).unwrap_or_default();
    match r.value_of("-j") {
        Some("DNAT") => {
            let all = if port.is_empty() { ", all ports" } else { "" };
            format!("DNAT{proto} {dst}{port} -> {}{all} (nat {})", r.value_of("--to-destination").unwrap_or("?"), r.chain)
        }
        Some(j) => format!("{j}{proto} traffic to {dst}{port} (nat {})", r.chain),
        None => format!("rule in nat {}", r.chain),
    }
}

impl StatefulModule for IptablesDnatModule {
    type State = DnatState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<DnatState, ModuleError> {
        let cmd = RemoteCommand::argv(["iptables-save", "-t", "nat"]);
        let out = cx.observe_cmd(&cmd).await?;
        self.parse_state(&out.stdout).map_err(|e| {
            ModuleError::Failed(Failure {
                msg: format!("could not read the output of iptables-save: {e}"),
                command: Some(cmd.to_string()),
                stdout: Some(out.stdout.clone()),
                ..Default::default()
            })
        })
    }

    fn plan(&self, st: &DnatState) -> Result<Vec<Change>, Failure> {
        let (desired, groups) = self.desired();
        let want: Vec<SavedRule> = desired.iter().map(|p| p.rule.clone()).collect();
        let missing = netfilter::multiset_minus(&want, &st.rules);
        let stale = netfilter::multiset_minus(&st.rules, &want);
        if missing.is_empty() && stale.is_empty() {
            return Ok(Vec::new());
        }
        let mut parts = Vec::new();
        for (g, label) in groups.iter().enumerate() {
            let total = desired.iter().filter(|p| p.group == g).count();
            let mut pool = missing.clone();
            let lacking = desired
                .iter()
                .filter(|p| p.group == g)
                .filter(|p| match pool.iter().position(|r| *r == p.rule) {
                    Some(i) => {
                        pool.remove(i);
                        true
                    }
                    None => false,
                })
                .count();
            match (lacking, total) {
                (0, _) => {}
                (1, 1) => parts.push(label.clone()),
                (l, t) if l == t => parts.push(format!("{}, {t} rules)", label.trim_end_matches(')'))),
                (l, t) => parts.push(format!("{}, {l} of {t} rules missing)", label.trim_end_matches(')'))),
            }
        }
        if stale.len() <= 3 {
            parts.extend(stale.iter().map(|r| format!("remove {}", describe_saved(r))));
        } else {
            let mut per_chain: Vec<(String, usize)> = Vec::new();
            for r in &stale {
                match per_chain.iter_mut().find(|(c, _)| *c == r.chain) {
                    Some((_, n)) => *n += 1,
                    None => per_chain.push((r.chain.clone(), 1)),
                }
            }
            let detail: Vec<String> = per_chain.iter().map(|(c, n)| format!("nat {c}: {n}")).collect();
            let stale_word = if self.present { "stale " } else { "" };
            parts.push(format!("remove {} {stale_word}rules tagged {} ({})", stale.len(), self.comment, detail.join(", ")));
        }
        let mut batch = String::from("*nat\n");
        for r in &stale {
            batch.push_str(&r.restore_line("-D"));
            batch.push('\n');
        }
        for r in &missing {
            batch.push_str(&r.restore_line("-A"));
            batch.push('\n');
        }
        batch.push_str("COMMIT\n");
        let label = format!("iptables -t nat (rules tagged {})", self.comment);
        let diff = remote_file::diff(&label, Self::text(&st.rules).as_bytes(), Self::text(&want).as_bytes());
        Ok(vec![Change {
            summary: parts.join("; "),
            commands: vec![RemoteCommand::argv(["iptables-restore", "--noflush"]).with_stdin(batch.into_bytes())],
            diff: Some(diff),
        }])
    }

    fn result(&self, st: &DnatState, _applied: &[CommandOutput]) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("comment".into(), self.comment.clone().into());
        m.insert("rules_before".into(), st.rules.len().into());
        m.insert("rules".into(), self.desired().0.len().into());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::CommandBody;

    const EMPTY: &str = include_str!("../../tests/fixtures/network/iptables-save-nat-empty.txt");
    const RUNBOOK: &str = include_str!("../../tests/fixtures/network/iptables-save-nat-runbook-range.txt");
    const MIXED: &str = include_str!("../../tests/fixtures/network/iptables-save-mixed.txt");

    fn module(yaml: &str) -> Result<IptablesDnatModule, (String, String)> {
        let v: Value = serde_yaml::from_str(yaml).unwrap();
        IptablesDnatModule::from_args(&v)
    }

    fn plan(m: &IptablesDnatModule, save: &str) -> Vec<Change> {
        m.plan(&m.parse_state(save).unwrap()).unwrap()
    }

    fn batch(c: &Change) -> String {
        assert_eq!(c.commands.len(), 1, "one process per task");
        let cmd = &c.commands[0];
        assert_eq!(cmd.body, CommandBody::Argv(vec!["iptables-restore".into(), "--noflush".into()]));
        String::from_utf8(cmd.stdin.clone().unwrap()).unwrap()
    }

    /// A host after `batch` is applied to `save` (what iptables-restore --noflush does).
    fn apply(save: &str, batch: &str) -> String {
        let mut tables = netfilter::parse_save(save).unwrap();
        let nat = tables.iter_mut().find(|t| t.name == "nat").unwrap();
        for line in batch.lines() {
            let w = netfilter::split_words(line).unwrap();
            match w.first().map(String::as_str) {
                Some("-A") => nat.rules.push(SavedRule { chain: w[1].clone(), words: w[2..].to_vec() }),
                Some("-D") => {
                    let r = SavedRule { chain: w[1].clone(), words: w[2..].to_vec() };
                    let i = nat.rules.iter().position(|x| *x == r).expect("-D of a rule that exists");
                    nat.rules.remove(i);
                }
                _ => {}
            }
        }
        let mut out = String::from("*nat\n");
        for r in &nat.rules {
            out.push_str(&r.restore_line("-A"));
            out.push('\n');
        }
        out.push_str("COMMIT\n");
        out
    }

    const RUNBOOK_TASK: &str = "
tag: mon1
masquerade: true
mappings:
  - {destination: 192.168.12.11, to_destination: 203.0.113.11, port: 3300, to_port: 13300}
  - {destination: 192.168.12.11, to_destination: 203.0.113.11, ports: '6800:7300', offset: 10000}
";

    #[test]
    fn one_port_on_an_empty_host_is_one_readable_change() {
        let m = module("{tag: mon1, destination: 192.168.12.11, to_destination: 203.0.113.11, port: 3300, to_port: 13300}").unwrap();
        let changes = plan(&m, EMPTY);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].summary, "DNAT tcp 192.168.12.11:3300 -> 203.0.113.11:13300 (nat OUTPUT)");
        assert_eq!(
            batch(&changes[0]),
            "*nat\n-A OUTPUT -d 192.168.12.11/32 -p tcp -m tcp --dport 3300 -m comment --comment ferry:mon1 -j DNAT --to-destination 203.0.113.11:13300\nCOMMIT\n"
        );
    }

    #[test]
    fn the_runbook_range_is_one_batch_and_matches_what_iptables_save_prints() {
        let m = module(RUNBOOK_TASK).unwrap();
        let changes = plan(&m, EMPTY);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].summary,
            "DNAT tcp 192.168.12.11:3300 -> 203.0.113.11:13300 (nat OUTPUT); \
             DNAT tcp 192.168.12.11:6800-7300 -> 203.0.113.11:16800-17300 (nat OUTPUT, 501 rules); \
             MASQUERADE tcp traffic to 203.0.113.11:13300 (nat POSTROUTING); \
             MASQUERADE tcp traffic to 203.0.113.11:16800-17300 (nat POSTROUTING)"
        );
        let b = batch(&changes[0]);
        assert_eq!(b.lines().filter(|l| l.starts_with("-A OUTPUT")).count(), 502);
        assert!(b.contains(
            "-A OUTPUT -d 192.168.12.11/32 -p tcp -m tcp --dport 7300 -m comment --comment ferry:mon1 -j DNAT --to-destination 203.0.113.11:17300\n"
        ));
        // The fixture holds the same rules written by the runbook's shell loop
        // (plus unrelated rules and another tag): nothing left to do.
        assert!(plan(&m, RUNBOOK).is_empty());
    }

    #[test]
    fn a_changed_offset_converges_in_one_batch() {
        let m = module(&RUNBOOK_TASK.replace("offset: 10000", "offset: 20000")).unwrap();
        let changes = plan(&m, RUNBOOK);
        assert_eq!(changes.len(), 1);
        let b = batch(&changes[0]);
        assert_eq!(b.lines().filter(|l| l.starts_with("-D ")).count(), 502, "501 DNAT + 1 MASQUERADE");
        assert_eq!(b.lines().filter(|l| l.starts_with("-A ")).count(), 502);
        let deletes_first = b.lines().skip(1).take(502).all(|l| l.starts_with("-D "));
        assert!(deletes_first);
        assert!(changes[0].summary.contains("DNAT tcp 192.168.12.11:6800-7300 -> 203.0.113.11:26800-27300 (nat OUTPUT, 501 rules)"), "{}", changes[0].summary);
        assert!(changes[0].summary.contains("remove 502 stale rules tagged ferry:mon1 (nat OUTPUT: 501, nat POSTROUTING: 1)"), "{}", changes[0].summary);
        let after = apply(RUNBOOK, &b);
        assert!(plan(&m, &after).is_empty(), "converged");
        assert!(after.contains("--dport 22 -j DNAT --to-destination 10.9.9.9"), "unrelated rule kept");
        assert!(after.contains("ferry:whole"), "other tag kept");
    }

    #[test]
    fn absent_removes_exactly_the_tagged_rules() {
        let m = module("{tag: mon1, state: absent}").unwrap();
        let changes = plan(&m, RUNBOOK);
        assert_eq!(changes[0].summary, "remove 504 rules tagged ferry:mon1 (nat OUTPUT: 502, nat POSTROUTING: 2)");
        let after = apply(RUNBOOK, &batch(&changes[0]));
        assert!(!after.contains("ferry:mon1"));
        assert_eq!(after.lines().filter(|l| l.starts_with("-A")).count(), 3, "the unrelated rule and ferry:whole's two");
        assert!(plan(&m, &after).is_empty());
        assert!(plan(&m, EMPTY).is_empty());
        // A comment that merely contains the tag is not ours.
        let other = module("{tag: mon, state: absent}").unwrap();
        assert!(plan(&other, RUNBOOK).is_empty());
        assert!(plan(&other, MIXED).is_empty());
    }

    #[test]
    fn few_stale_rules_are_named() {
        let m = module("{tag: mon1, destination: 192.168.12.11, to_destination: 203.0.113.11, port: 3300, to_port: 23300}").unwrap();
        let save = "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -d 192.168.12.11/32 -p tcp -m tcp --dport 3300 -m comment --comment \"ferry:mon1\" -j DNAT --to-destination 203.0.113.11:13300\nCOMMIT\n";
        let c = plan(&m, save);
        assert_eq!(
            c[0].summary,
            "DNAT tcp 192.168.12.11:3300 -> 203.0.113.11:23300 (nat OUTPUT); remove DNAT tcp 192.168.12.11:3300 -> 203.0.113.11:13300 (nat OUTPUT)"
        );
        assert!(c[0]
            .diff
            .as_ref()
            .unwrap()
            .unified
            .contains("-A OUTPUT -d 192.168.12.11/32 -p tcp -m tcp --dport 3300 -m comment --comment ferry:mon1 -j DNAT --to-destination 203.0.113.11:23300"));
    }

    #[test]
    fn duplicates_of_our_rule_are_removed() {
        let line = "-A OUTPUT -d 192.168.12.13/32 -m comment --comment \"ferry:whole\" -j DNAT --to-destination 203.0.113.13\n";
        let save = format!("*nat\n{line}{line}COMMIT\n");
        let m = module("{tag: whole, destination: 192.168.12.13, to: 203.0.113.13}").unwrap();
        let c = plan(&m, &save);
        assert_eq!(batch(&c[0]).lines().filter(|l| l.starts_with("-D")).count(), 1);
    }

    #[test]
    fn whole_address_prerouting_with_source_and_snat() {
        let m = module("{tag: whole, chains: [PREROUTING, output], source: 198.51.100.9/24, destination: 192.168.12.13, to: 203.0.113.13, snat_to: 10.0.0.1}")
            .unwrap();
        let c = plan(&m, EMPTY);
        assert_eq!(
            c[0].summary,
            "DNAT 192.168.12.13 -> 203.0.113.13, all ports (nat PREROUTING); DNAT 192.168.12.13 -> 203.0.113.13, all ports (nat OUTPUT); \
             SNAT traffic to 203.0.113.13 as 10.0.0.1 (nat POSTROUTING)"
        );
        let b = batch(&c[0]);
        assert!(
            b.contains("-A PREROUTING -s 198.51.100.0/24 -d 192.168.12.13/32 -m comment --comment ferry:whole -j DNAT --to-destination 203.0.113.13\n"),
            "{b}"
        );
        assert!(b.contains("-A POSTROUTING -d 203.0.113.13/32 -m comment --comment ferry:whole -j SNAT --to-source 10.0.0.1\n"), "{b}");
    }

    #[test]
    fn same_port_range_is_one_rule_and_udp_is_honoured() {
        let m = module("{tag: t, protocol: udp, destination: 192.168.12.11, to: 203.0.113.11, ports: 6800-7300}").unwrap();
        let b = batch(&plan(&m, EMPTY)[0]);
        assert_eq!(
            b,
            "*nat\n-A OUTPUT -d 192.168.12.11/32 -p udp -m udp --dport 6800:7300 -m comment --comment ferry:t -j DNAT --to-destination 203.0.113.11\nCOMMIT\n"
        );
    }

    #[test]
    fn the_fixture_written_by_iptables_matches_our_words_for_every_shape() {
        // ferry:whole in the fixture was written by `iptables -A` (OUTPUT, all ports)
        // and (PREROUTING, udp 53, with a source network): both compare equal.
        let m = module("{tag: whole, chains: [OUTPUT], mappings: [{destination: 192.168.12.13, to: 203.0.113.13}]}").unwrap();
        let c = plan(&m, RUNBOOK);
        assert_eq!(c[0].summary, "remove DNAT udp 192.168.12.13:53 -> 203.0.113.13 (nat PREROUTING)");
        let p =
            module("{tag: whole, chains: PREROUTING, source: 198.51.100.0/24, protocol: udp, destination: 192.168.12.13, to: 203.0.113.13, port: 53}").unwrap();
        assert_eq!(plan(&p, RUNBOOK)[0].summary, "remove DNAT 192.168.12.13 -> 203.0.113.13, all ports (nat OUTPUT)");
    }

    fn err(yaml: &str) -> String {
        module(yaml).unwrap_err().1
    }

    #[test]
    fn bad_arguments_are_refused_before_any_host_is_touched() {
        assert!(err("{tag: t, destination: 192.168.12.11, to: 203.0.113.11, ports: '7300:6800'}").contains("starts after it ends"));
        assert!(err("{tag: t, destination: 192.168.12.11, to: 203.0.113.11, ports: '6800:7300', offset: 60000}")
            .contains("offset 60000 maps ports 6800-7300 to 66800-67300, outside 1-65535"));
        assert!(err("{tag: t, destination: 192.168.12.11, to: 203.0.113.11, port: 100, offset: -100}").contains("outside 1-65535"));
        assert!(err("{tag: t, destination: 192.168.12.11, to: 203.0.113.11, port: 100, to_port: 70000}").contains("not a port number"));
        assert!(err("{tag: t, destination: mon1.example, to: 203.0.113.11}").contains("`destination`: `mon1.example` is not an IPv4 address"));
        assert!(err("{tag: t, destination: 192.168.12.11, to: '203.0.113.300'}").contains("not an IPv4 address"));
        assert!(err(
            "{tag: t, mappings: [{destination: 192.168.12.11, to: 10.0.0.1, port: 3300}, {destination: 192.168.12.11, to: 10.0.0.2, ports: '3000:4000'}]}"
        )
        .contains("mappings 0 and 1 collide"));
        assert!(
            err("{tag: t, mappings: [{destination: 192.168.12.11, to: 10.0.0.1}, {destination: 192.168.12.11, to: 10.0.0.2, port: 22}]}").contains("collide")
        );
        assert!(module(
            "{tag: t, mappings: [{destination: 192.168.12.11, to: 10.0.0.1, port: 53, protocol: udp}, {destination: 192.168.12.11, to: 10.0.0.2, port: 53}]}"
        )
        .is_ok());
        assert!(err("{tag: 'a b', destination: 192.168.12.11, to: 203.0.113.11}").contains("`tag`"));
        assert!(err("{tag: t, chains: [INPUT], destination: 192.168.12.11, to: 203.0.113.11}").contains("OUTPUT"));
        assert!(err("{tag: t}").contains("nothing to forward"));
        assert!(err("{tag: t, destination: 192.168.12.11, to: 203.0.113.11, offset: 5}").contains("need `port` or `ports`"));
        assert!(err("{tag: t, destination: 192.168.12.11, to: 203.0.113.11, masquerade: yes, snat_to: 1.2.3.4}").contains("not both"));
        assert!(err("{tag: t, destination: 192.168.12.11, to: 203.0.113.11, ports: '1:60000', offset: 1}").contains("rules"));
        assert!(err("{tag: t, destination: 192.168.12.11, to: 203.0.113.11, jump: DNAT}").contains("unknown field `jump`"));
        assert_eq!(module("{tag: t, state: absent}").unwrap().desired().0.len(), 0);
    }

    #[test]
    fn to_port_on_a_range_is_the_first_translated_port() {
        let a = module("{tag: t, destination: 192.168.12.11, to: 203.0.113.11, ports: '6800:7300', to_port: 16800}").unwrap();
        let b = module("{tag: t, destination: 192.168.12.11, to: 203.0.113.11, ports: '6800:7300', offset: 10000}").unwrap();
        assert_eq!(a.mappings, b.mappings);
    }
}
