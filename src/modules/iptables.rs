//! `iptables` with the arguments of Ansible's `ansible.builtin.iptables`, so
//! existing playbooks run unchanged.
//!
//! Like Ansible, the rule is looked for with `iptables -C` (iptables itself
//! decides whether two spellings of a rule are the same rule), and it is added
//! only when missing. Unlike Ansible, removal deletes every copy of the rule,
//! so a second run is always `ok`, and `flush` is refused: it would remove
//! rules ferry did not write.

use super::args::{self, Flag, Number, OneOrMany, Text};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::transport::{shell_quote, CommandOutput, RemoteCommand};
use crate::vars::Value;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    table: Option<Text>,
    #[serde(default)]
    state: Option<Text>,
    action: Option<Text>,
    rule_num: Option<Number>,
    ip_version: Option<Text>,
    chain: Option<Text>,
    protocol: Option<Text>,
    source: Option<Text>,
    destination: Option<Text>,
    #[serde(rename = "match")]
    matches: Option<OneOrMany<Text>>,
    jump: Option<Text>,
    goto: Option<Text>,
    in_interface: Option<Text>,
    out_interface: Option<Text>,
    source_port: Option<Text>,
    destination_port: Option<Text>,
    destination_ports: Option<OneOrMany<Text>>,
    to_destination: Option<Text>,
    to_source: Option<Text>,
    to_ports: Option<Text>,
    syn: Option<Text>,
    ctstate: Option<OneOrMany<Text>>,
    src_range: Option<Text>,
    dst_range: Option<Text>,
    limit: Option<Text>,
    limit_burst: Option<Text>,
    uid_owner: Option<Text>,
    gid_owner: Option<Text>,
    reject_with: Option<Text>,
    icmp_type: Option<Text>,
    log_prefix: Option<Text>,
    log_level: Option<Text>,
    comment: Option<Text>,
    policy: Option<Text>,
    flush: Option<Flag>,
    wait: Option<Text>,
    chain_management: Option<Flag>,
    /// Only changes how Ansible lists rules; accepted so playbooks run unchanged.
    #[allow(dead_code)]
    numeric: Option<Flag>,
}

/// What the task manages.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A rule (the words after `-A CHAIN`).
    Rule(Vec<String>),
    /// The chain's default policy.
    Policy(String),
    /// Only the (user-defined) chain itself: `chain_management` with no rule.
    Chain,
}

/// One `iptables` task.
#[derive(Debug)]
pub struct IptablesModule {
    table: String,
    chain: String,
    present: bool,
    /// `Some(n)`: insert (at position n, 1 when not given) instead of append.
    insert_at: Option<Option<u32>>,
    target: Target,
    chain_management: bool,
    /// `-w SECONDS`, given to every iptables command.
    wait: Vec<String>,
}

/// What the host has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IptablesState {
    /// The chain exists in the table.
    pub chain_exists: bool,
    /// Its policy (`None` for user-defined chains).
    pub policy: Option<String>,
    /// `iptables -C` found the rule (false when there is no rule to look for).
    pub rule_exists: bool,
}

fn arg_err(path: &str, msg: impl Into<String>) -> (String, String) {
    (path.to_string(), format!("invalid arguments for `iptables`: {}", msg.into()))
}

/// `flag value`, or `! flag value` when the value starts with `!` (Ansible's negation).
fn param(rule: &mut Vec<String>, flag: &str, value: &Option<Text>) {
    if let Some(v) = value {
        match v.0.trim().strip_prefix('!') {
            Some(rest) => rule.extend(["!".to_string(), flag.to_string(), rest.trim().to_string()]),
            None => rule.extend([flag.to_string(), v.0.trim().to_string()]),
        }
    }
}

fn csv(list: &Option<OneOrMany<Text>>) -> Option<String> {
    list.as_ref().filter(|l| !l.0.is_empty()).map(|l| l.0.iter().map(|t| t.0.trim()).collect::<Vec<_>>().join(","))
}

impl Args {
    /// The rule's words, matches first and the target last (as iptables-save prints them).
    fn rule_words(&self) -> Result<Vec<String>, (String, String)> {
        let matches: Vec<String> = self.matches.as_ref().map(|m| m.0.iter().map(|t| t.0.trim().to_string()).collect()).unwrap_or_default();
        let mut r = Vec::new();
        param(&mut r, "-s", &self.source);
        param(&mut r, "-d", &self.destination);
        param(&mut r, "-i", &self.in_interface);
        param(&mut r, "-o", &self.out_interface);
        param(&mut r, "-p", &self.protocol);
        let mut loaded = Vec::new();
        let mut load = |r: &mut Vec<String>, m: &str| {
            if !matches.iter().any(|x| x == m) && !loaded.contains(&m.to_string()) {
                r.extend(["-m".to_string(), m.to_string()]);
                loaded.push(m.to_string());
            }
        };
        for m in &matches {
            r.extend(["-m".to_string(), m.clone()]);
        }
        param(&mut r, "--sport", &self.source_port);
        param(&mut r, "--dport", &self.destination_port);
        if let Some(ports) = csv(&self.destination_ports) {
            load(&mut r, "multiport");
            r.extend(["--dports".to_string(), ports]);
        }
        match self.syn.as_ref().map(|s| s.0.trim().to_ascii_lowercase()).as_deref() {
            None | Some("ignore") => {}
            Some("match") => r.push("--syn".into()),
            Some("negate") => r.extend(["!".to_string(), "--syn".to_string()]),
            Some(other) => return Err(arg_err("syn", format!("`syn` must be ignore, match or negate, not `{other}`"))),
        }
        if let Some(states) = csv(&self.ctstate) {
            if matches.iter().any(|m| m == "state") && !matches.iter().any(|m| m == "conntrack") {
                r.extend(["--state".to_string(), states]);
            } else {
                load(&mut r, "conntrack");
                r.extend(["--ctstate".to_string(), states]);
            }
        }
        if self.src_range.is_some() || self.dst_range.is_some() {
            load(&mut r, "iprange");
            param(&mut r, "--src-range", &self.src_range);
            param(&mut r, "--dst-range", &self.dst_range);
        }
        if self.limit.is_some() || self.limit_burst.is_some() {
            load(&mut r, "limit");
            param(&mut r, "--limit", &self.limit);
            param(&mut r, "--limit-burst", &self.limit_burst);
        }
        if self.uid_owner.is_some() || self.gid_owner.is_some() {
            load(&mut r, "owner");
            param(&mut r, "--uid-owner", &self.uid_owner);
            param(&mut r, "--gid-owner", &self.gid_owner);
        }
        param(&mut r, "--icmp-type", &self.icmp_type);
        if let Some(c) = &self.comment {
            if c.0.contains('\n') || c.0.len() > 256 {
                return Err(arg_err("comment", "`comment` must be one line of at most 256 characters"));
            }
            load(&mut r, "comment");
            r.extend(["--comment".to_string(), c.0.clone()]);
        }
        // Ansible: `reject_with` without `jump` means `-j REJECT`.
        let jump = match (&self.jump, &self.reject_with) {
            (Some(j), _) => Some(j.0.trim().to_string()),
            (None, Some(_)) => Some("REJECT".to_string()),
            (None, None) => None,
        };
        if let Some(j) = jump {
            r.extend(["-j".to_string(), j]);
        }
        param(&mut r, "-g", &self.goto);
        param(&mut r, "--to-destination", &self.to_destination);
        param(&mut r, "--to-source", &self.to_source);
        param(&mut r, "--to-ports", &self.to_ports);
        param(&mut r, "--reject-with", &self.reject_with);
        param(&mut r, "--log-prefix", &self.log_prefix);
        param(&mut r, "--log-level", &self.log_level);
        if let Some(bad) = r.iter().find(|w| w.is_empty() || w.contains('\n')) {
            return Err(arg_err("", format!("a rule option is empty or spans lines: `{bad}`")));
        }
        Ok(r)
    }
}

impl IptablesModule {
    /// From `iptables:` arguments (Ansible's names).
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let a: Args = args::parse("iptables", raw)?;
        if a.flush.is_some_and(|f| f.0) {
            return Err(arg_err(
                "flush",
                "`flush` is not supported: it removes every rule of the chain, including rules ferry did not write. \
                 Remove rules one by one with `state: absent`, or tag them with `iptables_dnat` and remove the tag",
            ));
        }
        match a.ip_version.as_ref().map(|v| v.0.trim()) {
            None | Some("ipv4") => {}
            Some(v) => return Err(arg_err("ip_version", format!("only `ip_version: ipv4` is supported, not `{v}`"))),
        }
        let table = a.table.as_ref().map(|t| t.0.trim().to_string()).unwrap_or_else(|| "filter".into());
        if !matches!(table.as_str(), "filter" | "nat" | "mangle" | "raw" | "security") {
            return Err(arg_err("table", format!("`table` must be filter, nat, mangle, raw or security, not `{table}`")));
        }
        let present = match a.state.as_ref().map(|s| s.0.trim()).unwrap_or("present") {
            "present" => true,
            "absent" => false,
            other => return Err(arg_err("state", format!("`state` must be present or absent, not `{other}`"))),
        };
        let chain = a.chain.as_ref().map(|c| c.0.trim().to_string()).unwrap_or_default();
        if chain.is_empty() {
            return Err(arg_err("chain", "`chain` is required (ferry does not flush or list whole tables)"));
        }
        if chain.starts_with('-') || chain.chars().any(char::is_whitespace) || chain.len() > 28 {
            return Err(arg_err("chain", format!("`{chain}` is not a chain name")));
        }
        let insert = match a.action.as_ref().map(|s| s.0.trim()).unwrap_or("append") {
            "append" => false,
            "insert" => true,
            other => return Err(arg_err("action", format!("`action` must be append or insert, not `{other}`"))),
        };
        let rule_num = match a.rule_num {
            None => None,
            Some(n) if n.0.fract() == 0.0 && n.0 >= 1.0 && n.0 <= 1e6 => Some(n.0 as u32),
            Some(n) => return Err(arg_err("rule_num", format!("`rule_num` must be a position from 1, not {}", n.0))),
        };
        if rule_num.is_some() && !insert {
            return Err(arg_err("rule_num", "`rule_num` is only used with `action: insert`"));
        }
        let wait = match &a.wait {
            None => Vec::new(),
            Some(w) if !w.0.trim().is_empty() && w.0.trim().chars().all(|c| c.is_ascii_digit()) => vec!["-w".to_string(), w.0.trim().to_string()],
            Some(w) => return Err(arg_err("wait", format!("`wait` must be a number of seconds, not `{}`", w.0))),
        };
        let words = a.rule_words()?;
        let chain_management = a.chain_management.is_some_and(|f| f.0);
        let target = match &a.policy {
            Some(p) => {
                if !words.is_empty() {
                    return Err(arg_err("policy", "`policy` sets the chain's default; give rule options in a separate task"));
                }
                let p = p.0.trim().to_ascii_uppercase();
                if !matches!(p.as_str(), "ACCEPT" | "DROP" | "QUEUE" | "RETURN") {
                    return Err(arg_err("policy", format!("`policy` must be ACCEPT, DROP, QUEUE or RETURN, not `{p}`")));
                }
                if !present {
                    return Err(arg_err("state", "a chain always has a policy; `state: absent` does not apply to `policy`"));
                }
                Target::Policy(p)
            }
            None if words.is_empty() && chain_management => Target::Chain,
            None if words.is_empty() => {
                return Err(arg_err("jump", "the rule is empty: give at least a match (protocol, source, ...) or a `jump`"));
            }
            None => Target::Rule(words),
        };
        Ok(IptablesModule { table, chain, present, insert_at: insert.then_some(rule_num), target, chain_management, wait })
    }

    fn iptables(&self, tail: &[&str], rule: &[String]) -> RemoteCommand {
        let mut argv = vec!["iptables".to_string()];
        argv.extend(self.wait.iter().cloned());
        argv.extend(["-t".to_string(), self.table.clone()]);
        argv.extend(tail.iter().map(|s| s.to_string()));
        argv.extend(rule.iter().cloned());
        RemoteCommand::argv(argv)
    }

    /// What `observe` runs: the chain's listing, and the rule's check when
    /// there is a rule (run only if the chain exists).
    pub fn observe_commands(&self) -> (RemoteCommand, Option<RemoteCommand>) {
        let check = match &self.target {
            Target::Rule(rule) => Some(self.iptables(&["-C", &self.chain], rule)),
            _ => None,
        };
        (self.iptables(&["-S", &self.chain], &[]), check)
    }

    fn where_(&self) -> String {
        format!("{} {}", self.table, self.chain)
    }

    /// Reads `iptables -S CHAIN` output: does it declare the chain, and with which policy?
    fn parse_listing(&self, stdout: &str) -> (bool, Option<String>) {
        for line in stdout.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            match w.as_slice() {
                ["-P", c, p] if *c == self.chain => return (true, Some(p.to_string())),
                ["-N", c] if *c == self.chain => return (true, None),
                _ => {}
            }
        }
        (false, None)
    }
}

/// Removes every copy of a rule: `iptables -D` removes one per call.
const DELETE_ALL: &str = r#"t=$1 c=$2 w=$3; shift 3
n=0
while iptables ${w:+-w "$w"} -t "$t" -C "$c" "$@" 2>/dev/null; do
  iptables ${w:+-w "$w"} -t "$t" -D "$c" "$@" || exit 1
  n=$((n + 1))
  if [ "$n" -ge 100 ]; then echo "the rule is still there after 100 deletions" >&2; exit 1; fi
done"#;

fn words(rule: &[String]) -> String {
    rule.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" ")
}

impl StatefulModule for IptablesModule {
    type State = IptablesState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<IptablesState, ModuleError> {
        let (list, check) = self.observe_commands();
        let out = cx.run(&list).await?;
        let mut st = IptablesState::default();
        match out.rc {
            0 => (st.chain_exists, st.policy) = self.parse_listing(&out.stdout),
            // Missing chain: legacy says "No chain/target/match", nf_tables "is incompatible".
            1 => {}
            _ => return Err(ModuleError::command_failed("could not list the chain", &list, &out)),
        }
        if let (Some(check), true) = (check, st.chain_exists) {
            let out = cx.run(&check).await?;
            st.rule_exists = match out.rc {
                0 => true,
                1 => false,
                _ => return Err(ModuleError::command_failed("iptables does not accept the rule", &check, &out)),
            };
        }
        Ok(st)
    }

    fn plan(&self, st: &IptablesState) -> Result<Vec<Change>, Failure> {
        let mut changes = Vec::new();
        let chain = self.chain.as_str();
        let create_chain = || Change { summary: format!("create chain {}", self.where_()), commands: vec![self.iptables(&["-N", chain], &[])], diff: None };
        match &self.target {
            Target::Policy(p) => {
                if !st.chain_exists {
                    return Err(Failure::msg(format!("chain {} does not exist", self.where_())));
                }
                match &st.policy {
                    None => return Err(Failure::msg(format!("chain {} is user-defined and has no policy", self.where_()))),
                    Some(cur) if cur == p => {}
                    Some(cur) => changes.push(Change {
                        summary: format!("set policy of {} to {p} (was {cur})", self.where_()),
                        commands: vec![self.iptables(&["-P", chain, p], &[])],
                        diff: None,
                    }),
                }
            }
            Target::Chain => match (self.present, st.chain_exists) {
                (true, false) => changes.push(create_chain()),
                (false, true) => {
                    changes.push(Change { summary: format!("delete chain {}", self.where_()), commands: vec![self.iptables(&["-X", chain], &[])], diff: None })
                }
                _ => {}
            },
            Target::Rule(rule) if self.present => {
                if !st.chain_exists {
                    if !self.chain_management {
                        return Err(Failure::msg(format!("chain {} does not exist; create it first, or set `chain_management: true`", self.where_())));
                    }
                    changes.push(create_chain());
                }
                if !st.rule_exists {
                    let (summary, cmd) = match self.insert_at {
                        None => (format!("append to {}: {}", self.where_(), words(rule)), self.iptables(&["-A", chain], rule)),
                        Some(n) => {
                            let pos = n.unwrap_or(1).to_string();
                            (format!("insert into {} at {pos}: {}", self.where_(), words(rule)), self.iptables(&["-I", chain, &pos], rule))
                        }
                    };
                    changes.push(Change { summary, commands: vec![cmd], diff: None });
                }
            }
            Target::Rule(rule) => {
                if st.rule_exists {
                    let mut argv = vec!["/bin/sh".to_string(), "-c".to_string(), DELETE_ALL.to_string(), "sh".to_string()];
                    argv.extend([self.table.clone(), self.chain.clone(), self.wait.get(1).cloned().unwrap_or_default()]);
                    argv.extend(rule.iter().cloned());
                    changes.push(Change {
                        summary: format!("delete from {}: {}", self.where_(), words(rule)),
                        commands: vec![RemoteCommand::argv(argv)],
                        diff: None,
                    });
                }
            }
        }
        Ok(changes)
    }

    fn result(&self, _st: &IptablesState, _applied: &[CommandOutput]) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("table".into(), self.table.clone().into());
        m.insert("chain".into(), self.chain.clone().into());
        if let Target::Rule(rule) = &self.target {
            m.insert("rule".into(), words(rule).into());
        }
        m.insert("state".into(), if self.present { "present" } else { "absent" }.into());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::CommandBody;

    const LIST_INPUT: &str = include_str!("../../tests/fixtures/network/iptables-S-filter-INPUT.txt");
    const LIST_MYCHAIN: &str = include_str!("../../tests/fixtures/network/iptables-S-filter-MYCHAIN.txt");

    fn module(yaml: &str) -> Result<IptablesModule, (String, String)> {
        IptablesModule::from_args(&serde_yaml::from_str::<Value>(yaml).unwrap())
    }

    fn argv(c: &RemoteCommand) -> Vec<String> {
        match &c.body {
            CommandBody::Argv(a) => a.clone(),
            CommandBody::Script(s) => vec![s.clone()],
        }
    }

    fn rule(m: &IptablesModule) -> Vec<String> {
        match &m.target {
            Target::Rule(r) => r.clone(),
            other => panic!("{other:?}"),
        }
    }

    const EXISTS: IptablesState = IptablesState { chain_exists: true, policy: None, rule_exists: true };
    const MISSING: IptablesState = IptablesState { chain_exists: true, policy: None, rule_exists: false };

    #[test]
    fn ansible_arguments_build_the_rule() {
        let m =
            module("{chain: INPUT, protocol: tcp, source: 198.51.100.7, destination_port: 3300, ctstate: [NEW, ESTABLISHED], jump: ACCEPT, comment: ceph mon}")
                .unwrap();
        assert_eq!(rule(&m).join(" "), "-s 198.51.100.7 -p tcp --dport 3300 -m conntrack --ctstate NEW,ESTABLISHED -m comment --comment ceph mon -j ACCEPT");
        let nat = module(
            "{table: nat, chain: OUTPUT, protocol: tcp, destination: 192.168.12.11, destination_port: '3300', jump: DNAT, to_destination: '203.0.113.11:13300'}",
        )
        .unwrap();
        assert_eq!(rule(&nat).join(" "), "-d 192.168.12.11 -p tcp --dport 3300 -j DNAT --to-destination 203.0.113.11:13300");
        let neg = module("{chain: INPUT, source: '! 10.0.0.0/8', in_interface: '!lo', jump: DROP, match: [state], ctstate: INVALID}").unwrap();
        assert_eq!(rule(&neg).join(" "), "! -s 10.0.0.0/8 ! -i lo -m state --state INVALID -j DROP");
        let rej = module("{chain: INPUT, protocol: tcp, destination_ports: ['80', '443:445'], reject_with: tcp-reset}").unwrap();
        assert_eq!(rule(&rej).join(" "), "-p tcp -m multiport --dports 80,443:445 -j REJECT --reject-with tcp-reset");
    }

    #[test]
    fn present_appends_or_inserts_only_when_missing() {
        let m = module("{chain: INPUT, protocol: tcp, destination_port: 22, jump: ACCEPT, comment: ssh from anywhere}").unwrap();
        assert!(m.plan(&EXISTS).unwrap().is_empty());
        let c = m.plan(&MISSING).unwrap();
        assert_eq!(c[0].summary, "append to filter INPUT: -p tcp --dport 22 -m comment --comment 'ssh from anywhere' -j ACCEPT");
        assert_eq!(argv(&c[0].commands[0])[..5], ["iptables", "-t", "filter", "-A", "INPUT"]);
        let ins = module("{chain: INPUT, action: insert, rule_num: 3, jump: ACCEPT, in_interface: lo, wait: 5}").unwrap();
        let c = ins.plan(&MISSING).unwrap();
        assert_eq!(c[0].summary, "insert into filter INPUT at 3: -i lo -j ACCEPT");
        assert_eq!(argv(&c[0].commands[0]), ["iptables", "-w", "5", "-t", "filter", "-I", "INPUT", "3", "-i", "lo", "-j", "ACCEPT"]);
    }

    #[test]
    fn absent_deletes_every_copy_with_a_fixed_script() {
        let m = module("{chain: INPUT, state: absent, source: '1.2.3.4; reboot', jump: DROP}").unwrap();
        assert!(m.plan(&MISSING).unwrap().is_empty());
        let c = m.plan(&EXISTS).unwrap();
        assert_eq!(c[0].summary, "delete from filter INPUT: -s '1.2.3.4; reboot' -j DROP");
        let a = argv(&c[0].commands[0]);
        assert_eq!(a[2], DELETE_ALL, "user data stays out of the script");
        assert_eq!(a[3..], ["sh", "filter", "INPUT", "", "-s", "1.2.3.4; reboot", "-j", "DROP"]);
        // A missing chain has no rules to delete.
        assert!(m.plan(&IptablesState::default()).unwrap().is_empty());
    }

    #[test]
    fn missing_chains_fail_unless_chain_management() {
        let m = module("{chain: MYCHAIN, jump: RETURN}").unwrap();
        assert!(m.plan(&IptablesState::default()).unwrap_err().msg.contains("chain_management"));
        let cm = module("{chain: MYCHAIN, jump: RETURN, chain_management: true}").unwrap();
        let c = cm.plan(&IptablesState::default()).unwrap();
        assert_eq!(c.iter().map(|c| c.summary.as_str()).collect::<Vec<_>>(), ["create chain filter MYCHAIN", "append to filter MYCHAIN: -j RETURN"]);
        let only = module("{chain: MYCHAIN, chain_management: yes}").unwrap();
        assert_eq!(only.plan(&IptablesState::default()).unwrap()[0].summary, "create chain filter MYCHAIN");
        let (exists, policy) = only.parse_listing(LIST_MYCHAIN);
        assert!(exists && policy.is_none());
        let gone = module("{chain: MYCHAIN, chain_management: yes, state: absent}").unwrap();
        assert_eq!(gone.plan(&IptablesState { chain_exists: true, ..Default::default() }).unwrap()[0].summary, "delete chain filter MYCHAIN");
    }

    #[test]
    fn policy_is_read_from_iptables_s_and_set_with_p() {
        let m = module("{chain: INPUT, policy: drop}").unwrap();
        let (exists, policy) = m.parse_listing(LIST_INPUT);
        assert!(exists);
        assert_eq!(policy.as_deref(), Some("ACCEPT"));
        let st = IptablesState { chain_exists: true, policy, rule_exists: false };
        let c = m.plan(&st).unwrap();
        assert_eq!(c[0].summary, "set policy of filter INPUT to DROP (was ACCEPT)");
        assert_eq!(argv(&c[0].commands[0]), ["iptables", "-t", "filter", "-P", "INPUT", "DROP"]);
        let done = IptablesState { chain_exists: true, policy: Some("DROP".into()), rule_exists: false };
        assert!(m.plan(&done).unwrap().is_empty());
        let other = module("{chain: FORWARD, policy: DROP}").unwrap();
        assert_eq!(other.parse_listing(LIST_INPUT), (false, None));
    }

    fn err(yaml: &str) -> String {
        module(yaml).unwrap_err().1
    }

    #[test]
    fn unsupported_and_wrong_arguments_explain_themselves() {
        assert!(err("{chain: INPUT, flush: true}").contains("removes every rule of the chain"));
        assert!(err("{chain: INPUT, jump: ACCEPT, ip_version: ipv6}").contains("ipv4"));
        assert!(err("{jump: ACCEPT}").contains("`chain` is required"));
        assert!(err("{chain: INPUT}").contains("the rule is empty"));
        assert!(err("{chain: INPUT, policy: DROP, jump: ACCEPT}").contains("separate task"));
        assert!(err("{chain: INPUT, jump: ACCEPT, rule_num: 2}").contains("action: insert"));
        assert!(err("{chain: INPUT, jump: ACCEPT, table: nope}").contains("`table`"));
        assert!(err("{chain: INPUT, jump: ACCEPT, syn: maybe}").contains("`syn`"));
        assert!(err("{chain: INPUT, jump: ACCEPT, tcp_flags: {flags: [ALL]}}").contains("unknown field `tcp_flags`"));
        assert!(err("{chain: INPUT, jump: ACCEPT, wait: 'soon'}").contains("`wait`"));
    }
}
