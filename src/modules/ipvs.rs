//! `ipvs`: one IPVS virtual service and its real servers, as the runbook
//! sets them up with `ipvsadm -A -t MON:0 -p 86400 -s rr` and
//! `ipvsadm -a -t MON:0 -r PUBLIC:0 -m`.
//!
//! The host is observed with `ipvsadm -S -n` (the save format) and compared
//! exactly. Defaults are ipvsadm's own: scheduler `wlc`, forwarding `route`
//! (`-g`), weight 1. With `route` and `tunnel` the kernel uses the service
//! port for the real server, so a different real port is refused.

use super::args::{self, Number, Text};
use super::netfilter;
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::transport::{CommandOutput, RemoteCommand};
use crate::vars::Value;
use serde::Deserialize;

/// ipvsadm's limit for persistence timeouts (31 days).
const MAX_PERSISTENT: u32 = 86400 * 31;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RealArgs {
    address: Text,
    port: Option<Number>,
    forward: Option<Text>,
    weight: Option<Number>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default)]
    state: Option<Text>,
    protocol: Option<Text>,
    address: Text,
    port: Number,
    scheduler: Option<Text>,
    persistent: Option<Number>,
    #[serde(alias = "reals")]
    real_servers: Option<Vec<RealArgs>>,
}

/// How packets reach a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// NAT (`-m`).
    Masquerade,
    /// Direct routing (`-g`, ipvsadm's default).
    Route,
    /// IP-in-IP (`-i`).
    Tunnel,
}

impl Forward {
    fn switch(self) -> &'static str {
        match self {
            Forward::Masquerade => "-m",
            Forward::Route => "-g",
            Forward::Tunnel => "-i",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Forward::Masquerade => "masquerade",
            Forward::Route => "route",
            Forward::Tunnel => "tunnel",
        }
    }
}

/// One real server: `address:port`, forwarding, weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServer {
    /// `58.220.67.199:0`
    pub addr: String,
    /// Forwarding method.
    pub forward: Forward,
    /// Weight.
    pub weight: u32,
}

/// One virtual service as `ipvsadm -S -n` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsService {
    /// `-t`, `-u` or `-f` (fwmark).
    pub kind: String,
    /// `192.168.12.2:0` (the mark for `-f`).
    pub addr: String,
    /// Scheduler name.
    pub scheduler: String,
    /// Persistence timeout in seconds.
    pub persistent: Option<u32>,
    /// Flags ferry does not set (`-M mask`, `pe sip`, `ops`): their presence is a difference.
    pub extra: Vec<String>,
    /// Real servers.
    pub reals: Vec<RealServer>,
}

impl IpvsService {
    fn label(&self) -> String {
        let proto = match self.kind.as_str() {
            "-t" => "TCP",
            "-u" => "UDP",
            _ => "FWM",
        };
        format!("{proto} {}", self.addr)
    }
}

/// The services on the host.
#[derive(Debug, Clone, Default)]
pub struct IpvsState {
    /// Every service `ipvsadm -S -n` printed.
    pub services: Vec<IpvsService>,
}

/// Parses `ipvsadm -S -n` output.
pub fn parse_save(text: &str) -> Result<Vec<IpvsService>, String> {
    let mut services: Vec<IpvsService> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let at = |msg: &str| format!("line {}: {msg}: {line}", n + 1);
        match w.as_slice() {
            [] => {}
            ["-A", kind, addr, rest @ ..] => {
                let mut svc = IpvsService {
                    kind: kind.to_string(),
                    addr: addr.to_string(),
                    scheduler: String::new(),
                    persistent: None,
                    extra: Vec::new(),
                    reals: Vec::new(),
                };
                let mut it = rest.iter();
                while let Some(opt) = it.next() {
                    match *opt {
                        "-s" => svc.scheduler = it.next().ok_or_else(|| at("-s without a scheduler"))?.to_string(),
                        "-p" => svc.persistent = Some(it.next().and_then(|p| p.parse().ok()).ok_or_else(|| at("-p without a timeout"))?),
                        "-M" | "pe" => {
                            svc.extra.push(opt.to_string());
                            svc.extra.extend(it.next().map(|v| v.to_string()));
                        }
                        other => svc.extra.push(other.to_string()),
                    }
                }
                services.push(svc);
            }
            ["-a", kind, addr, "-r", real, fwd, "-w", weight] => {
                let forward = match *fwd {
                    "-m" => Forward::Masquerade,
                    "-g" => Forward::Route,
                    "-i" => Forward::Tunnel,
                    _ => return Err(at("unknown forwarding method")),
                };
                let weight = weight.parse().map_err(|_| at("weight is not a number"))?;
                let svc = services.iter_mut().rev().find(|s| s.kind == *kind && s.addr == *addr).ok_or_else(|| at("real server before its service"))?;
                svc.reals.push(RealServer { addr: real.to_string(), forward, weight });
            }
            _ => return Err(at("not an ipvsadm -S line")),
        }
    }
    Ok(services)
}

/// One `ipvs` task.
#[derive(Debug)]
pub struct IpvsModule {
    present: bool,
    /// The wanted service (its `reals` are the exact set when `manage_reals`).
    want: IpvsService,
    manage_reals: bool,
}

fn arg_err(path: &str, msg: impl Into<String>) -> (String, String) {
    (path.to_string(), format!("invalid arguments for `ipvs`: {}", msg.into()))
}

fn port(path: &str, n: Number, allow_zero: bool) -> Result<u16, (String, String)> {
    n.as_port()
        .filter(|p| allow_zero || *p > 0)
        .ok_or_else(|| arg_err(path, format!("`{path}` must be a port number ({}-65535), not {}", if allow_zero { 0 } else { 1 }, n.0)))
}

impl IpvsModule {
    /// From `ipvs:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let a: Args = args::parse("ipvs", raw)?;
        let present = match a.state.as_ref().map(|s| s.0.trim()).unwrap_or("present") {
            "present" => true,
            "absent" => false,
            other => return Err(arg_err("state", format!("`state` must be present or absent, not `{other}`"))),
        };
        let kind = match a.protocol.as_ref().map(|p| p.0.trim().to_ascii_lowercase()).as_deref().unwrap_or("tcp") {
            "tcp" => "-t",
            "udp" => "-u",
            other => return Err(arg_err("protocol", format!("`protocol` must be tcp or udp, not `{other}`"))),
        };
        let addr = netfilter::parse_ipv4(&a.address.0).ok_or_else(|| arg_err("address", format!("`address`: `{}` is not an IPv4 address", a.address.0)))?;
        let svc_port = port("port", a.port, true)?;
        let persistent = match a.persistent {
            None => None,
            Some(n) if n.0 == 0.0 => None,
            Some(n) if n.0.fract() == 0.0 && n.0 >= 1.0 && n.0 <= f64::from(MAX_PERSISTENT) => Some(n.0 as u32),
            Some(n) => return Err(arg_err("persistent", format!("`persistent` must be seconds from 1 to {MAX_PERSISTENT}, not {}", n.0))),
        };
        if svc_port == 0 && persistent.is_none() && present {
            return Err(arg_err("persistent", "port 0 (all ports) needs `persistent` seconds: IPVS refuses a non-persistent all-ports service"));
        }
        let scheduler = a.scheduler.as_ref().map(|s| s.0.trim().to_string()).unwrap_or_else(|| "wlc".into());
        if scheduler.is_empty() || scheduler.len() > 15 || !scheduler.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(arg_err("scheduler", format!("`scheduler` must be a scheduler name such as rr, wrr, lc, wlc, sh, not `{scheduler}`")));
        }
        let mut reals: Vec<RealServer> = Vec::new();
        for (i, r) in a.real_servers.iter().flatten().enumerate() {
            let at = |f: &str| format!("real_servers[{i}].{f}");
            let raddr = netfilter::parse_ipv4(&r.address.0).ok_or_else(|| arg_err(&at("address"), format!("`{}` is not an IPv4 address", r.address.0)))?;
            let forward = match r.forward.as_ref().map(|f| f.0.trim().to_ascii_lowercase()).as_deref().unwrap_or("route") {
                "masquerade" | "masq" | "nat" => Forward::Masquerade,
                "route" | "direct" | "dr" | "gatewaying" => Forward::Route,
                "tunnel" | "ipip" => Forward::Tunnel,
                other => return Err(arg_err(&at("forward"), format!("`forward` must be masquerade, route or tunnel, not `{other}`"))),
            };
            let rport = match r.port {
                Some(n) => port(&at("port"), n, true)?,
                None => svc_port,
            };
            if forward != Forward::Masquerade && rport != svc_port {
                return Err(arg_err(
                    &at("port"),
                    format!("with `forward: {}` the real server gets the service port {svc_port}; only masquerade can change the port", forward.name()),
                ));
            }
            let weight = match r.weight {
                None => 1,
                Some(n) if n.0.fract() == 0.0 && (0.0..=65535.0).contains(&n.0) => n.0 as u32,
                Some(n) => return Err(arg_err(&at("weight"), format!("`weight` must be 0-65535, not {}", n.0))),
            };
            let real = RealServer { addr: format!("{raddr}:{rport}"), forward, weight };
            if reals.iter().any(|x| x.addr == real.addr) {
                return Err(arg_err(&at("address"), format!("real server {} is listed twice", real.addr)));
            }
            reals.push(real);
        }
        let want = IpvsService { kind: kind.into(), addr: format!("{addr}:{svc_port}"), scheduler, persistent, extra: Vec::new(), reals };
        Ok(IpvsModule { present, want, manage_reals: a.real_servers.is_some() })
    }

    fn service_opts(&self) -> Vec<String> {
        let mut v = vec![self.want.kind.clone(), self.want.addr.clone(), "-s".into(), self.want.scheduler.clone()];
        if let Some(p) = self.want.persistent {
            v.extend(["-p".to_string(), p.to_string()]);
        }
        v
    }

    fn real_cmd(&self, op: &str, r: &RealServer) -> RemoteCommand {
        let mut v = vec!["ipvsadm".to_string(), op.to_string(), self.want.kind.clone(), self.want.addr.clone(), "-r".into(), r.addr.clone()];
        if op != "-d" {
            v.extend([r.forward.switch().to_string(), "-w".into(), r.weight.to_string()]);
        }
        RemoteCommand::argv(v)
    }

    fn describe_service(s: &IpvsService) -> String {
        let persist = s.persistent.map(|p| format!(", persistent {p}s")).unwrap_or_default();
        format!("{} ({}{persist})", s.label(), s.scheduler)
    }
}

impl StatefulModule for IpvsModule {
    type State = IpvsState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<IpvsState, ModuleError> {
        let cmd = RemoteCommand::argv(["ipvsadm", "-S", "-n"]);
        let out = cx.observe_cmd(&cmd).await?;
        let services = parse_save(&out.stdout).map_err(|e| {
            ModuleError::Failed(Failure {
                msg: format!("could not read ipvsadm -S output: {e}"),
                command: Some(cmd.to_string()),
                stdout: Some(out.stdout.clone()),
                ..Default::default()
            })
        })?;
        Ok(IpvsState { services })
    }

    fn plan(&self, st: &IpvsState) -> Result<Vec<Change>, Failure> {
        let want = &self.want;
        let have = st.services.iter().find(|s| s.kind == want.kind && s.addr == want.addr);
        let mut changes = Vec::new();
        let label = want.label();
        let Some(have) = have else {
            if self.present {
                let mut argv = vec!["ipvsadm".to_string(), "-A".to_string()];
                argv.extend(self.service_opts());
                changes.push(Change {
                    summary: format!("add IPVS service {}", Self::describe_service(want)),
                    commands: vec![RemoteCommand::argv(argv)],
                    diff: None,
                });
                for r in &want.reals {
                    changes.push(Change {
                        summary: format!("add real server {} to {label} ({}, weight {})", r.addr, r.forward.name(), r.weight),
                        commands: vec![self.real_cmd("-a", r)],
                        diff: None,
                    });
                }
            }
            return Ok(changes);
        };
        if !self.present {
            let n = have.reals.len();
            changes.push(Change {
                summary: format!("remove IPVS service {label} and its {n} real server{}", if n == 1 { "" } else { "s" }),
                commands: vec![RemoteCommand::argv(["ipvsadm", "-D", &want.kind, &want.addr])],
                diff: None,
            });
            return Ok(changes);
        }
        let mut what = Vec::new();
        if have.scheduler != want.scheduler {
            what.push(format!("scheduler {} -> {}", have.scheduler, want.scheduler));
        }
        if have.persistent != want.persistent {
            let show = |p: Option<u32>| p.map(|p| format!("{p}s")).unwrap_or_else(|| "off".into());
            what.push(format!("persistent {} -> {}", show(have.persistent), show(want.persistent)));
        }
        if !have.extra.is_empty() {
            what.push(format!("drop `{}`", have.extra.join(" ")));
        }
        if !what.is_empty() {
            let mut argv = vec!["ipvsadm".to_string(), "-E".to_string()];
            argv.extend(self.service_opts());
            changes.push(Change {
                summary: format!("change IPVS service {label}: {}", what.join(", ")),
                commands: vec![RemoteCommand::argv(argv)],
                diff: None,
            });
        }
        if self.manage_reals {
            for r in &want.reals {
                match have.reals.iter().find(|h| h.addr == r.addr) {
                    None => changes.push(Change {
                        summary: format!("add real server {} to {label} ({}, weight {})", r.addr, r.forward.name(), r.weight),
                        commands: vec![self.real_cmd("-a", r)],
                        diff: None,
                    }),
                    Some(h) if h != r => {
                        let mut d = Vec::new();
                        if h.forward != r.forward {
                            d.push(format!("forward {} -> {}", h.forward.name(), r.forward.name()));
                        }
                        if h.weight != r.weight {
                            d.push(format!("weight {} -> {}", h.weight, r.weight));
                        }
                        changes.push(Change {
                            summary: format!("change real server {} of {label}: {}", r.addr, d.join(", ")),
                            commands: vec![self.real_cmd("-e", r)],
                            diff: None,
                        });
                    }
                    Some(_) => {}
                }
            }
            for h in have.reals.iter().filter(|h| !want.reals.iter().any(|r| r.addr == h.addr)) {
                changes.push(Change { summary: format!("remove real server {} from {label}", h.addr), commands: vec![self.real_cmd("-d", h)], diff: None });
            }
        }
        Ok(changes)
    }

    fn result(&self, _st: &IpvsState, _applied: &[CommandOutput]) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("service".into(), self.want.label().into());
        m.insert("state".into(), if self.present { "present" } else { "absent" }.into());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::CommandBody;

    const SAVE: &str = include_str!("../../tests/fixtures/network/ipvsadm-S-n.txt");

    fn module(yaml: &str) -> Result<IpvsModule, (String, String)> {
        IpvsModule::from_args(&serde_yaml::from_str::<Value>(yaml).unwrap())
    }

    fn state(text: &str) -> IpvsState {
        IpvsState { services: parse_save(text).unwrap() }
    }

    fn line(c: &Change) -> String {
        assert_eq!(c.commands.len(), 1);
        match &c.commands[0].body {
            CommandBody::Argv(a) => a.join(" "),
            CommandBody::Script(s) => s.clone(),
        }
    }

    const MON1: &str =
        "{address: 192.168.12.2, port: 0, persistent: 86400, scheduler: rr, real_servers: [{address: 58.220.67.199, port: 0, forward: masquerade}]}";

    #[test]
    fn parses_the_save_format() {
        let s = parse_save(SAVE).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].addr, "10.0.0.1:80");
        assert_eq!(s[0].reals[1], RealServer { addr: "10.0.0.5:80".into(), forward: Forward::Route, weight: 2 });
        assert_eq!(s[1].persistent, Some(86400));
        assert_eq!(s[1].reals, vec![RealServer { addr: "58.220.67.199:0".into(), forward: Forward::Masquerade, weight: 1 }]);
        assert_eq!(s[3].kind, "-u");
        let extra = parse_save("-A -t 1.2.3.4:0 -s rr -p 300 -M 255.255.255.0 ops\n").unwrap();
        assert_eq!(extra[0].extra, ["-M", "255.255.255.0", "ops"]);
        assert!(parse_save("-a -t 1.2.3.4:0 -r 5.6.7.8:0 -m -w 1\n").unwrap_err().contains("before its service"));
        assert!(parse_save("IP Virtual Server version 1.2.1 (size=4096)\n").is_err());
        assert!(parse_save("").unwrap().is_empty());
    }

    #[test]
    fn the_runbook_service_is_ok_when_present_and_added_when_not() {
        let m = module(MON1).unwrap();
        assert!(m.plan(&state(SAVE)).unwrap().is_empty());
        let c = m.plan(&state("")).unwrap();
        let summaries: Vec<&str> = c.iter().map(|c| c.summary.as_str()).collect();
        assert_eq!(
            summaries,
            ["add IPVS service TCP 192.168.12.2:0 (rr, persistent 86400s)", "add real server 58.220.67.199:0 to TCP 192.168.12.2:0 (masquerade, weight 1)"]
        );
        assert_eq!(line(&c[0]), "ipvsadm -A -t 192.168.12.2:0 -s rr -p 86400");
        assert_eq!(line(&c[1]), "ipvsadm -a -t 192.168.12.2:0 -r 58.220.67.199:0 -m -w 1");
    }

    #[test]
    fn changing_persistence_is_one_edit() {
        let m = module(&MON1.replace("86400", "3600")).unwrap();
        let c = m.plan(&state(SAVE)).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].summary, "change IPVS service TCP 192.168.12.2:0: persistent 86400s -> 3600s");
        assert_eq!(line(&c[0]), "ipvsadm -E -t 192.168.12.2:0 -s rr -p 3600");
    }

    #[test]
    fn real_servers_are_compared_exactly() {
        let m =
            module("{address: 10.0.0.1, port: 80, real_servers: [{address: 10.0.0.4, port: 8080, forward: masq, weight: 3}, {address: 10.0.0.6}]}").unwrap();
        let c = m.plan(&state(SAVE)).unwrap();
        let got: Vec<(String, String)> = c.iter().map(|c| (c.summary.clone(), line(c))).collect();
        assert_eq!(
            got,
            [
                ("change real server 10.0.0.4:8080 of TCP 10.0.0.1:80: weight 0 -> 3".into(), "ipvsadm -e -t 10.0.0.1:80 -r 10.0.0.4:8080 -m -w 3".into()),
                ("add real server 10.0.0.6:80 to TCP 10.0.0.1:80 (route, weight 1)".into(), "ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.6:80 -g -w 1".into()),
                ("remove real server 10.0.0.5:80 from TCP 10.0.0.1:80".into(), "ipvsadm -d -t 10.0.0.1:80 -r 10.0.0.5:80".into()),
            ]
        );
        // Without `real_servers`, the servers are left as they are.
        assert!(module("{address: 10.0.0.1, port: 80}").unwrap().plan(&state(SAVE)).unwrap().is_empty());
    }

    #[test]
    fn absent_removes_the_service_only_when_there() {
        let m = module("{address: 192.168.12.2, port: 0, state: absent}").unwrap();
        let c = m.plan(&state(SAVE)).unwrap();
        assert_eq!(c[0].summary, "remove IPVS service TCP 192.168.12.2:0 and its 1 real server");
        assert_eq!(line(&c[0]), "ipvsadm -D -t 192.168.12.2:0");
        assert!(m.plan(&state("")).unwrap().is_empty());
        // The UDP service on the same address:port is another service.
        let udp = module("{protocol: udp, address: 10.0.0.1, port: 80, state: absent}").unwrap();
        assert!(udp.plan(&state(SAVE)).unwrap().is_empty());
    }

    #[test]
    fn foreign_flags_are_a_difference() {
        let m = module("{address: 1.2.3.4, port: 0, persistent: 300, scheduler: rr}").unwrap();
        let c = m.plan(&state("-A -t 1.2.3.4:0 -s rr -p 300 -M 255.255.255.0\n")).unwrap();
        assert_eq!(c[0].summary, "change IPVS service TCP 1.2.3.4:0: drop `-M 255.255.255.0`");
    }

    fn err(yaml: &str) -> String {
        module(yaml).unwrap_err().1
    }

    #[test]
    fn bad_arguments() {
        assert!(err("{address: 192.168.12.2, port: 0}").contains("needs `persistent`"));
        assert!(err("{address: mon1, port: 0, persistent: 1}").contains("not an IPv4 address"));
        assert!(err("{address: 1.2.3.4, port: 70000}").contains("port number"));
        assert!(err("{address: 1.2.3.4, port: 80, persistent: 99999999}").contains("`persistent`"));
        assert!(err("{address: 1.2.3.4, port: 80, scheduler: 'rr; reboot'}").contains("`scheduler`"));
        assert!(err("{address: 1.2.3.4, port: 80, real_servers: [{address: 5.6.7.8, port: 81}]}").contains("only masquerade"));
        assert!(err("{address: 1.2.3.4, port: 80, real_servers: [{address: 5.6.7.8, forward: magic}]}").contains("`forward`"));
        assert!(err("{address: 1.2.3.4, port: 80, real_servers: [{address: 5.6.7.8}, {address: 5.6.7.8, port: 80}]}").contains("listed twice"));
        assert!(err("{address: 1.2.3.4, port: 80, real_servers: [{address: 5.6.7.8, weight: -1}]}").contains("`weight`"));
        assert!(err("{address: 1.2.3.4, port: 80, protocol: sctp}").contains("`protocol`"));
        assert!(err("{address: 1.2.3.4, port: 80, netmask: 1}").contains("unknown field `netmask`"));
    }
}
