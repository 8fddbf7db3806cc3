//! `ufw` with the arguments of `community.general.ufw` that a migration
//! needs: rules (allow, deny, reject, limit), their deletion, and
//! enabling or disabling the firewall.
//!
//! ufw identifies a rule by everything except its action and comment:
//! adding a rule that differs only in those replaces the old one in place.
//! ferry reads the rules with `ufw show added` (it works while ufw is
//! inactive too), compares them with the task in that same sense, and
//! emits only the commands needed. Rules ferry writes for a `tag` carry
//! the comment `ferry:<tag>`; `delete: true` with only the tag removes
//! exactly those rules and nothing else.
//!
//! Rules are written before `state: enabled` takes effect, so enabling the
//! firewall in the same task cannot cut off the rule that lets ferry in.

use super::args::{self, Flag, Text};
use super::netfilter::{self, Cidr};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::transport::{CommandOutput, RemoteCommand};
use crate::vars::Value;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default)]
    state: Option<Text>,
    rule: Option<Text>,
    #[serde(alias = "from", alias = "src")]
    from_ip: Option<Text>,
    from_port: Option<Text>,
    #[serde(alias = "to", alias = "dest")]
    to_ip: Option<Text>,
    #[serde(alias = "port")]
    to_port: Option<Text>,
    #[serde(alias = "protocol")]
    proto: Option<Text>,
    direction: Option<Text>,
    #[serde(alias = "if")]
    interface: Option<Text>,
    comment: Option<Text>,
    tag: Option<Text>,
    #[serde(default)]
    delete: Flag,
}

/// One rule as `ufw show added` prints it (or as a task wants it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UfwRule {
    /// `ufw route ...`
    pub route: bool,
    /// allow, deny, reject, limit.
    pub action: String,
    /// `in` or `out`.
    pub direction: String,
    /// `on IFACE` (the `in on`/`out on` interface).
    pub interface: Option<String>,
    /// The other interface of a route rule (`out on`).
    pub interface_out: Option<String>,
    /// `log` or `log-all`.
    pub log: Option<String>,
    /// `any`, an address or a network.
    pub src: String,
    /// Source port(s).
    pub sport: Option<String>,
    /// Source application profile.
    pub sapp: Option<String>,
    /// `any`, an address or a network.
    pub dst: String,
    /// Destination port(s).
    pub dport: Option<String>,
    /// Destination application profile.
    pub dapp: Option<String>,
    /// `any`, tcp, udp, ...
    pub proto: String,
    /// The rule's comment.
    pub comment: Option<String>,
}

impl UfwRule {
    /// Everything ufw uses to tell rules apart (all but action, log and comment).
    fn same_match(&self, other: &UfwRule) -> bool {
        (self.route, &self.direction, &self.interface, &self.interface_out, &self.src, &self.sport, &self.sapp, &self.dst, &self.dport, &self.dapp, &self.proto)
            == (
                other.route,
                &other.direction,
                &other.interface,
                &other.interface_out,
                &other.src,
                &other.sport,
                &other.sapp,
                &other.dst,
                &other.dport,
                &other.dapp,
                &other.proto,
            )
    }

    /// The rule's words after the action, in full syntax (`in on eth0 from any to any port 80 proto tcp`).
    fn spec(&self) -> Vec<String> {
        let mut w: Vec<String> = Vec::new();
        if let Some(i) = &self.interface {
            w.extend([self.direction.clone(), "on".into(), i.clone()]);
        } else if self.direction == "out" {
            w.push("out".into());
        }
        w.extend(["from".to_string(), self.src.clone()]);
        if let Some(p) = &self.sport {
            w.extend(["port".to_string(), p.clone()]);
        }
        if let Some(a) = &self.sapp {
            w.extend(["app".to_string(), a.clone()]);
        }
        w.extend(["to".to_string(), self.dst.clone()]);
        if let Some(p) = &self.dport {
            w.extend(["port".to_string(), p.clone()]);
        }
        if let Some(a) = &self.dapp {
            w.extend(["app".to_string(), a.clone()]);
        }
        if self.proto != "any" {
            w.extend(["proto".to_string(), self.proto.clone()]);
        }
        w
    }

    /// `ufw allow from 198.51.100.7 to any port 3300 proto tcp comment 'ferry:mon'`, for people.
    fn show(&self, action: &str) -> String {
        let mut s = format!("ufw {action} {}", self.spec().join(" "));
        if let Some(c) = &self.comment {
            s.push_str(&format!(" comment '{c}'"));
        }
        s
    }

    fn add_cmd(&self) -> RemoteCommand {
        let mut argv = vec!["ufw".to_string(), self.action.clone()];
        argv.extend(self.spec());
        if let Some(c) = &self.comment {
            argv.extend(["comment".to_string(), c.clone()]);
        }
        RemoteCommand::argv(argv)
    }

    fn delete_cmd(&self) -> RemoteCommand {
        let mut argv = vec!["ufw".to_string(), "--force".into(), "delete".into(), self.action.clone()];
        argv.extend(self.spec());
        RemoteCommand::argv(argv)
    }
}

/// Splits a `ufw show added` line: blanks separate words, `'...'` groups (ufw never escapes).
fn split_line(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut in_word = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            ' ' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            _ => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

const ACTIONS: [&str; 4] = ["allow", "deny", "reject", "limit"];

/// Parses one `ufw show added` line (short or full syntax, see ufw's `UFWCommandRule.get_command`).
pub fn parse_rule(line: &str) -> Option<UfwRule> {
    let words = split_line(line);
    let mut it = words.iter().map(String::as_str).peekable();
    if it.next()? != "ufw" {
        return None;
    }
    let mut r = UfwRule { direction: "in".into(), src: "any".into(), dst: "any".into(), proto: "any".into(), ..Default::default() };
    if it.peek() == Some(&"route") {
        r.route = true;
        it.next();
    }
    r.action = it.next().filter(|a| ACTIONS.contains(a))?.to_string();
    let mut full = false;
    while let Some(w) = it.next() {
        match w {
            "in" | "out" => {
                r.direction = w.to_string();
                if it.peek() == Some(&"on") {
                    it.next();
                    let iface = it.next()?.to_string();
                    if r.route && w == "out" {
                        r.interface_out = Some(iface);
                    } else {
                        r.interface = Some(iface);
                    }
                }
            }
            "log" | "log-all" => r.log = Some(w.to_string()),
            "from" | "to" => {
                full = true;
                let loc = it.next()?.to_string();
                let (port, app) = match it.peek() {
                    Some(&"port") => {
                        it.next();
                        (it.next().map(str::to_string), None)
                    }
                    Some(&"app") => {
                        it.next();
                        (None, it.next().map(str::to_string))
                    }
                    _ => (None, None),
                };
                if w == "from" {
                    (r.src, r.sport, r.sapp) = (loc, port, app);
                } else {
                    (r.dst, r.dport, r.dapp) = (loc, port, app);
                }
            }
            "proto" => r.proto = it.next()?.to_string(),
            "comment" => r.comment = Some(it.next()?.to_string()),
            // Short syntax: `ufw allow 22/tcp`, `ufw allow 53`, `ufw allow OpenSSH`.
            spec if !full => match spec.split_once('/') {
                Some((port, proto)) => (r.dport, r.proto) = (Some(port.to_string()), proto.to_string()),
                None if spec.chars().next().is_some_and(|c| c.is_ascii_digit()) => r.dport = Some(spec.to_string()),
                None => r.dapp = Some(spec.to_string()),
            },
            _ => return None,
        }
    }
    Some(r)
}

/// Parses `ufw show added` output into rules (lines it cannot read are kept out).
pub fn parse_added(text: &str) -> Vec<UfwRule> {
    text.lines().filter(|l| l.starts_with("ufw ")).filter_map(parse_rule).collect()
}

/// `Status: active` -> true.
pub fn parse_status(text: &str) -> Option<bool> {
    text.lines().find_map(|l| l.strip_prefix("Status:")).map(|s| s.trim() == "active")
}

/// What the task does with rules.
#[derive(Debug, Clone)]
enum RuleOp {
    None,
    /// The rule must exist with this action and comment.
    Ensure(UfwRule),
    /// Rules matching this one go (only with this action, only with this comment, when given).
    Delete {
        rule: UfwRule,
        action: Option<String>,
        comment: Option<String>,
    },
    /// Every rule with this comment goes.
    DeleteTagged(String),
}

/// One `ufw` task.
#[derive(Debug)]
pub struct UfwModule {
    enabled: Option<bool>,
    op: RuleOp,
}

/// What the host has.
#[derive(Debug, Clone, Default)]
pub struct UfwState {
    /// `ufw status` said active (only read when the task sets `state`).
    pub active: Option<bool>,
    /// The user rules (only read when the task manages rules).
    pub rules: Vec<UfwRule>,
}

fn arg_err(path: &str, msg: impl Into<String>) -> (String, String) {
    (path.to_string(), format!("invalid arguments for `ufw`: {}", msg.into()))
}

/// `any`, an IPv4 address (`/32` dropped) or network (host bits cleared), as ufw prints them.
fn location(path: &str, t: &Option<Text>) -> Result<String, (String, String)> {
    let Some(t) = t else { return Ok("any".into()) };
    let s = t.0.trim();
    if s.eq_ignore_ascii_case("any") {
        return Ok("any".into());
    }
    let c = Cidr::parse(s).ok_or_else(|| arg_err(path, format!("`{path}`: `{s}` is not `any`, an IPv4 address or an IPv4 network")))?;
    Ok(if c.is_host() { c.addr.to_string() } else { c.to_string() })
}

/// `3300`, `6800:7300` (also `6800-7300`) or `80,443`, checked like ufw checks them.
fn ports(path: &str, t: &Option<Text>) -> Result<Option<(String, bool)>, (String, String)> {
    let Some(t) = t else { return Ok(None) };
    let mut parts = Vec::new();
    let mut multi = false;
    for p in t.0.trim().split(',') {
        let r = netfilter::PortRange::parse(p).map_err(|e| arg_err(path, format!("`{path}`: {e}")))?;
        multi |= r.first != r.last;
        parts.push(r.iptables());
    }
    if parts.len() > 15 {
        return Err(arg_err(path, format!("`{path}`: ufw takes at most 15 ports in a list")));
    }
    multi |= parts.len() > 1;
    Ok(Some((parts.join(","), multi)))
}

impl UfwModule {
    /// From `ufw:` arguments (community.general.ufw's names).
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let a: Args = args::parse("ufw", raw)?;
        let enabled = match a.state.as_ref().map(|s| s.0.trim()) {
            None => None,
            Some("enabled") => Some(true),
            Some("disabled") => Some(false),
            Some("reset") => return Err(arg_err(
                "state",
                "`state: reset` is not supported: it removes every rule, including rules ferry did not write; delete rules with `delete: true` (and a `tag`)",
            )),
            Some("reloaded") => return Err(arg_err("state", "`state: reloaded` is not needed: ufw applies each rule change at once while it is enabled")),
            Some(other) => return Err(arg_err("state", format!("`state` must be enabled or disabled, not `{other}`"))),
        };
        let comment = match (&a.comment, &a.tag) {
            (Some(_), Some(_)) => return Err(arg_err("tag", "give either `comment` or `tag` (which writes the comment `ferry:<tag>`), not both")),
            (Some(c), None) => Some(c.0.clone()),
            (None, Some(t)) => {
                let t = t.0.trim();
                if t.is_empty() || !t.chars().all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c)) {
                    return Err(arg_err("tag", format!("`tag` must be letters, digits, `.`, `_`, `:` or `-`, not `{t}`")));
                }
                Some(format!("ferry:{t}"))
            }
            (None, None) => None,
        };
        if let Some(c) = &comment {
            if c.is_empty() || c.contains(['\'', '\n']) || c.len() > 200 {
                return Err(arg_err("comment", "`comment` must be one line of at most 200 characters without `'` (ufw refuses quotes)"));
            }
        }
        let spec_given = a.from_ip.is_some()
            || a.from_port.is_some()
            || a.to_ip.is_some()
            || a.to_port.is_some()
            || a.proto.is_some()
            || a.interface.is_some()
            || a.direction.is_some();
        let action = match &a.rule {
            Some(r) => {
                let r = r.0.trim().to_ascii_lowercase();
                if !ACTIONS.contains(&r.as_str()) {
                    return Err(arg_err("rule", format!("`rule` must be allow, deny, reject or limit, not `{r}`")));
                }
                Some(r)
            }
            None => None,
        };
        let op = if !spec_given && action.is_none() {
            if a.delete.0 {
                match &comment {
                    Some(c) => RuleOp::DeleteTagged(c.clone()),
                    None => return Err(arg_err("delete", "`delete: true` needs the rule to delete, or a `tag`/`comment` whose rules all go")),
                }
            } else if enabled.is_none() {
                return Err(arg_err("rule", "nothing to do: give `rule` (allow, deny, reject, limit) with its addresses and ports, or `state`"));
            } else {
                RuleOp::None
            }
        } else {
            let direction = match a.direction.as_ref().map(|d| d.0.trim().to_ascii_lowercase()).as_deref().unwrap_or("in") {
                "in" | "incoming" => "in",
                "out" | "outgoing" => "out",
                other => {
                    return Err(arg_err("direction", format!("`direction` must be in or out for a rule, not `{other}` (ferry does not manage routed rules)")))
                }
            };
            let interface = match &a.interface {
                Some(i) => {
                    let i = i.0.trim();
                    if i.is_empty() || i.len() > 15 || !i.chars().all(|c| c.is_ascii_alphanumeric() || "_.+:-".contains(c)) {
                        return Err(arg_err("interface", format!("`{i}` is not an interface name")));
                    }
                    Some(i.to_string())
                }
                None => None,
            };
            let proto = a.proto.as_ref().map(|p| p.0.trim().to_ascii_lowercase()).unwrap_or_else(|| "any".into());
            if !matches!(proto.as_str(), "any" | "tcp" | "udp" | "ah" | "esp" | "gre" | "ipv6" | "igmp" | "vrrp") {
                return Err(arg_err("proto", format!("`proto` must be any, tcp, udp, ah, esp, gre, ipv6, igmp or vrrp, not `{proto}`")));
            }
            let sport = ports("from_port", &a.from_port)?;
            let dport = ports("to_port", &a.to_port)?;
            let multi = sport.as_ref().is_some_and(|p| p.1) || dport.as_ref().is_some_and(|p| p.1);
            if multi && proto != "tcp" && proto != "udp" {
                return Err(arg_err("proto", "a port range or list needs `proto: tcp` or `proto: udp` (ufw refuses it otherwise)"));
            }
            if (sport.is_some() || dport.is_some()) && !matches!(proto.as_str(), "any" | "tcp" | "udp") {
                return Err(arg_err("proto", format!("ports need `proto` tcp, udp or any, not `{proto}`")));
            }
            let rule = UfwRule {
                action: action.clone().unwrap_or_default(),
                direction: direction.to_string(),
                interface,
                src: location("from_ip", &a.from_ip)?,
                sport: sport.map(|p| p.0),
                dst: location("to_ip", &a.to_ip)?,
                dport: dport.map(|p| p.0),
                proto,
                comment: comment.clone(),
                ..Default::default()
            };
            match (a.delete.0, action) {
                (true, action) => RuleOp::Delete { rule, action, comment },
                (false, Some(_)) => RuleOp::Ensure(rule),
                (false, None) => return Err(arg_err("rule", "`rule` (allow, deny, reject or limit) is required to add a rule")),
            }
        };
        Ok(UfwModule { enabled, op })
    }
}

impl StatefulModule for UfwModule {
    type State = UfwState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<UfwState, ModuleError> {
        let mut st = UfwState::default();
        if self.enabled.is_some() {
            let cmd = RemoteCommand::argv(["ufw", "status"]);
            let out = cx.observe_cmd(&cmd).await?;
            st.active = parse_status(&out.stdout);
            if st.active.is_none() {
                return Err(ModuleError::Failed(Failure {
                    msg: "`ufw status` printed no `Status:` line".into(),
                    command: Some(cmd.to_string()),
                    stdout: Some(out.stdout),
                    ..Default::default()
                }));
            }
        }
        if !matches!(self.op, RuleOp::None) {
            let out = cx.observe_cmd(&RemoteCommand::argv(["ufw", "show", "added"])).await?;
            st.rules = parse_added(&out.stdout);
        }
        Ok(st)
    }

    fn plan(&self, st: &UfwState) -> Result<Vec<Change>, Failure> {
        let mut changes = Vec::new();
        match &self.op {
            RuleOp::None => {}
            RuleOp::Ensure(want) => match st.rules.iter().find(|r| r.same_match(want)) {
                Some(have) if have.action == want.action && have.comment == want.comment => {}
                Some(have) => {
                    let mut was = Vec::new();
                    if have.action != want.action {
                        was.push(have.action.clone());
                    }
                    if have.comment != want.comment {
                        was.push(have.comment.as_ref().map(|c| format!("comment '{c}'")).unwrap_or_else(|| "no comment".into()));
                    }
                    changes.push(Change {
                        summary: format!("{} (was {})", want.show(&want.action), was.join(", ")),
                        commands: vec![want.add_cmd()],
                        diff: None,
                    });
                }
                None => changes.push(Change { summary: want.show(&want.action), commands: vec![want.add_cmd()], diff: None }),
            },
            RuleOp::Delete { rule, action, comment } => {
                let doomed = st.rules.iter().filter(|r| {
                    r.same_match(rule) && action.as_ref().is_none_or(|a| *a == r.action) && comment.as_ref().is_none_or(|c| r.comment.as_ref() == Some(c))
                });
                for r in doomed {
                    changes.push(Change {
                        summary: format!("ufw delete {}", r.show(&r.action).trim_start_matches("ufw ")),
                        commands: vec![r.delete_cmd()],
                        diff: None,
                    });
                }
            }
            RuleOp::DeleteTagged(tag) => {
                // ferry writes no route rules; one carrying the tag is left for a person to judge.
                for r in st.rules.iter().filter(|r| !r.route && r.comment.as_ref() == Some(tag)) {
                    changes.push(Change {
                        summary: format!("ufw delete {}", r.show(&r.action).trim_start_matches("ufw ")),
                        commands: vec![r.delete_cmd()],
                        diff: None,
                    });
                }
            }
        }
        match (self.enabled, st.active) {
            (Some(true), Some(false)) => {
                changes.push(Change { summary: "enable ufw".into(), commands: vec![RemoteCommand::argv(["ufw", "--force", "enable"])], diff: None })
            }
            (Some(false), Some(true)) => {
                changes.push(Change { summary: "disable ufw".into(), commands: vec![RemoteCommand::argv(["ufw", "disable"])], diff: None })
            }
            _ => {}
        }
        Ok(changes)
    }

    fn result(&self, st: &UfwState, _applied: &[CommandOutput]) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        if let Some(a) = st.active {
            m.insert("was_active".into(), a.into());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::CommandBody;

    const ADDED: &str = include_str!("../../tests/fixtures/network/ufw-show-added.txt");
    const NONE: &str = include_str!("../../tests/fixtures/network/ufw-show-added-none.txt");
    const ACTIVE: &str = include_str!("../../tests/fixtures/network/ufw-status-active.txt");
    const VERBOSE: &str = include_str!("../../tests/fixtures/network/ufw-status-verbose-active.txt");
    const INACTIVE: &str = include_str!("../../tests/fixtures/network/ufw-status-inactive.txt");

    fn module(yaml: &str) -> Result<UfwModule, (String, String)> {
        UfwModule::from_args(&serde_yaml::from_str::<Value>(yaml).unwrap())
    }

    fn rules_state(text: &str) -> UfwState {
        UfwState { active: None, rules: parse_added(text) }
    }

    fn argv(c: &Change) -> Vec<String> {
        assert_eq!(c.commands.len(), 1);
        match &c.commands[0].body {
            CommandBody::Argv(a) => a.clone(),
            CommandBody::Script(s) => vec![s.clone()],
        }
    }

    #[test]
    fn parses_every_shape_ufw_prints() {
        let rules = parse_added(ADDED);
        assert_eq!(rules.len(), 13, "{rules:#?}");
        assert_eq!(
            rules[0],
            UfwRule {
                action: "allow".into(),
                direction: "in".into(),
                src: "198.51.100.7".into(),
                dst: "any".into(),
                dport: Some("6800:7300".into()),
                proto: "tcp".into(),
                comment: Some("ferry:mon".into()),
                ..Default::default()
            }
        );
        let short = &rules[2];
        assert_eq!((short.dport.as_deref(), short.proto.as_str(), short.src.as_str()), (Some("22"), "tcp", "any"));
        assert_eq!(rules[3].interface.as_deref(), Some("eth0"));
        assert_eq!(rules[5].comment.as_deref(), Some("a b:c-d_e.f/g=h"));
        assert_eq!((rules[5].sport.as_deref(), rules[5].dport.as_deref()), (Some("1000:2000"), Some("80,443")));
        assert_eq!(rules[6].comment.as_deref(), Some("q\"q"));
        assert_eq!((rules[7].direction.as_str(), rules[7].action.as_str(), rules[7].dst.as_str()), ("out", "deny", "10.0.0.0/8"));
        assert_eq!((rules[8].action.as_str(), rules[8].direction.as_str(), rules[8].proto.as_str()), ("reject", "out", "udp"));
        assert_eq!(rules[10].dapp.as_deref(), Some("OpenSSH"));
        assert!(rules[12].route);
        assert_eq!(rules[12].interface_out.as_deref(), Some("eth1"));
        assert!(parse_added(NONE).is_empty());
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(ACTIVE), Some(true));
        assert_eq!(parse_status(VERBOSE), Some(true));
        assert_eq!(parse_status(INACTIVE), Some(false));
        assert_eq!(parse_status("ERROR: You need to be root to run this script"), None);
    }

    #[test]
    fn the_runbook_rules_are_ok_when_present() {
        let range = module("{rule: allow, from_ip: 198.51.100.7, to_port: '6800:7300', proto: tcp, tag: mon}").unwrap();
        assert!(range.plan(&rules_state(ADDED)).unwrap().is_empty());
        let mon = module("{rule: allow, src: 198.51.100.7/32, port: 3300, proto: tcp, comment: 'ferry:mon'}").unwrap();
        assert!(mon.plan(&rules_state(ADDED)).unwrap().is_empty());
        // Ansible's short forms compare equal to ufw's short syntax.
        assert!(module("{rule: allow, port: 22, proto: tcp}").unwrap().plan(&rules_state(ADDED)).unwrap().is_empty());
        assert!(module("{rule: allow, interface: eth0, direction: in, port: 81, proto: tcp}").unwrap().plan(&rules_state(ADDED)).unwrap().is_empty());
        assert!(module("{rule: allow, from: 10.1.2.3/8, to: 192.168.1.5, port: 53, proto: udp}").unwrap().plan(&rules_state(ADDED)).unwrap().is_empty());
        assert!(module("{rule: deny, direction: out, to_ip: 10.0.0.0/8, to_port: 25, proto: tcp}").unwrap().plan(&rules_state(ADDED)).unwrap().is_empty());
    }

    #[test]
    fn a_missing_rule_is_added_with_its_comment() {
        let m = module("{rule: allow, from_ip: 198.51.100.7, to_port: '6800-7300', proto: tcp, tag: mon}").unwrap();
        let c = m.plan(&rules_state(NONE)).unwrap();
        assert_eq!(c[0].summary, "ufw allow from 198.51.100.7 to any port 6800:7300 proto tcp comment 'ferry:mon'");
        assert_eq!(argv(&c[0]), ["ufw", "allow", "from", "198.51.100.7", "to", "any", "port", "6800:7300", "proto", "tcp", "comment", "ferry:mon"]);
    }

    #[test]
    fn a_different_action_or_comment_replaces_the_rule() {
        let m = module("{rule: deny, from_ip: 198.51.100.7, to_port: 3300, proto: tcp, tag: mon}").unwrap();
        let c = m.plan(&rules_state(ADDED)).unwrap();
        assert_eq!(c[0].summary, "ufw deny from 198.51.100.7 to any port 3300 proto tcp comment 'ferry:mon' (was allow)");
        let m = module("{rule: allow, from_ip: 198.51.100.7, to_port: 3300, proto: tcp, tag: mon2}").unwrap();
        assert!(m.plan(&rules_state(ADDED)).unwrap()[0].summary.ends_with("(was comment 'ferry:mon')"));
    }

    #[test]
    fn delete_by_tag_removes_exactly_ours() {
        let m = module("{delete: true, tag: mon}").unwrap();
        let c = m.plan(&rules_state(ADDED)).unwrap();
        let s: Vec<&str> = c.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            s,
            [
                "ufw delete allow from 198.51.100.7 to any port 6800:7300 proto tcp comment 'ferry:mon'",
                "ufw delete allow from 198.51.100.7 to any port 3300 proto tcp comment 'ferry:mon'"
            ]
        );
        assert_eq!(argv(&c[1]), ["ufw", "--force", "delete", "allow", "from", "198.51.100.7", "to", "any", "port", "3300", "proto", "tcp"]);
        assert!(m.plan(&rules_state(NONE)).unwrap().is_empty());
    }

    #[test]
    fn delete_of_a_rule_respects_action_and_comment() {
        let st = rules_state(ADDED);
        let by_spec = module("{delete: yes, rule: limit, port: 2222, proto: tcp}").unwrap();
        assert_eq!(argv(&by_spec.plan(&st).unwrap()[0]), ["ufw", "--force", "delete", "limit", "from", "any", "to", "any", "port", "2222", "proto", "tcp"]);
        // Another action, or another tag, is not ours to delete.
        assert!(module("{delete: yes, rule: allow, port: 2222, proto: tcp}").unwrap().plan(&st).unwrap().is_empty());
        assert!(module("{delete: yes, rule: limit, port: 2222, proto: tcp, tag: mon}").unwrap().plan(&st).unwrap().is_empty());
        let out = module("{delete: yes, rule: reject, direction: out, port: 54, proto: udp}").unwrap();
        assert_eq!(argv(&out.plan(&st).unwrap()[0]), ["ufw", "--force", "delete", "reject", "out", "from", "any", "to", "any", "port", "54", "proto", "udp"]);
    }

    #[test]
    fn enable_after_the_rules() {
        let m = module("{state: enabled, rule: allow, port: 22, proto: tcp, tag: ssh}").unwrap();
        let c = m.plan(&UfwState { active: Some(false), rules: vec![] }).unwrap();
        let s: Vec<&str> = c.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(s, ["ufw allow from any to any port 22 proto tcp comment 'ferry:ssh'", "enable ufw"]);
        assert_eq!(argv(&c[1]), ["ufw", "--force", "enable"]);
        let on = module("{state: enabled}").unwrap();
        assert!(on.plan(&UfwState { active: Some(true), rules: vec![] }).unwrap().is_empty());
        let off = module("{state: disabled}").unwrap();
        assert_eq!(off.plan(&UfwState { active: Some(true), rules: vec![] }).unwrap()[0].summary, "disable ufw");
    }

    fn err(yaml: &str) -> String {
        module(yaml).unwrap_err().1
    }

    #[test]
    fn bad_arguments() {
        assert!(err("{state: reset}").contains("not supported"));
        assert!(err("{state: reloaded}").contains("not needed"));
        assert!(err("{rule: allow, port: '6800:7300'}").contains("needs `proto: tcp`"));
        assert!(err("{rule: allow, port: '80,443', proto: any}").contains("needs `proto: tcp`"));
        assert!(err("{rule: allow, from_ip: 'mon1'}").contains("not `any`, an IPv4 address"));
        assert!(err("{rule: allow, port: 22, comment: \"it's\"}").contains("without `'`"));
        assert!(err("{rule: allow, port: 22, comment: x, tag: y}").contains("not both"));
        assert!(err("{rule: permit, port: 22}").contains("`rule`"));
        assert!(err("{delete: true}").contains("needs the rule"));
        assert!(err("{port: 22}").contains("`rule`"));
        assert!(err("{}").contains("nothing to do"));
        assert!(err("{rule: allow, direction: routed}").contains("routed"));
        assert!(err("{rule: allow, port: 22, route: true}").contains("unknown field `route`"));
        assert!(err("{rule: allow, port: 70000}").contains("port number"));
    }
}
