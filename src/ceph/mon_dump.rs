//! `ceph mon dump --format json`: the monmap, which is where mon addresses
//! live. (`ceph mon stat` and `ceph status` print no addresses in Pacific;
//! see [`super::mon_stat`].)
//!
//! From it ferry writes the `mon_host` line of the minimal ceph.conf the
//! target needs for the source cluster, and the list of mon endpoints the
//! forwarding rules must cover.
//!
//! The real Pacific output (tests/fixtures/ceph/site-*.mon-dump.json,
//! captured on the lab) has exactly the shape the documented monmap dump
//! gives: `mons[].public_addrs.addrvec[]` with `type`/`addr`/`nonce`, plus
//! the legacy `addr`/`public_addr`. The CLI prints a blank line before the
//! JSON and `dumped monmap epoch N` on stderr. Every key is optional anyway.

use serde::Deserialize;

use super::parse::{self, non_empty, string_enum, ParseError};

/// The monmap.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct MonDump {
    /// Monmap epoch.
    #[serde(deserialize_with = "parse::u64_")]
    pub epoch: Option<u64>,
    /// Cluster fsid: the `fsid` line of ceph.conf.
    #[serde(deserialize_with = "parse::string")]
    pub fsid: Option<String>,
    /// E.g. `pacific`.
    #[serde(deserialize_with = "parse::string")]
    pub min_mon_release_name: Option<String>,
    /// The monitors, in rank order.
    #[serde(deserialize_with = "parse::list")]
    pub mons: Vec<MonEntry>,
    /// Ranks in quorum (newer releases print it here too).
    #[serde(deserialize_with = "parse::list")]
    pub quorum: Vec<u64>,
}

/// One monitor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct MonEntry {
    /// Rank.
    #[serde(deserialize_with = "parse::u64_")]
    pub rank: Option<u64>,
    /// Name, e.g. `a` or a host name.
    #[serde(deserialize_with = "parse::string")]
    pub name: Option<String>,
    /// The addresses clients connect to, v2 and v1.
    #[serde(deserialize_with = "parse::opt")]
    pub public_addrs: Option<AddrVec>,
    /// Legacy single v1 address, `ip:6789/0`.
    #[serde(deserialize_with = "parse::string")]
    pub public_addr: Option<String>,
    /// Older spelling of `public_addr`.
    #[serde(deserialize_with = "parse::string")]
    pub addr: Option<String>,
}

/// `{"addrvec": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AddrVec {
    /// The addresses.
    #[serde(deserialize_with = "parse::list")]
    pub addrvec: Vec<EntityAddr>,
}

/// One messenger address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EntityAddr {
    /// `v2` (port 3300) or `v1` (port 6789).
    #[serde(rename = "type", deserialize_with = "parse::opt")]
    pub kind: Option<AddrType>,
    /// `ip:port`, IPv6 in brackets.
    #[serde(deserialize_with = "parse::string")]
    pub addr: Option<String>,
    /// Nonce; 0 for mons.
    #[serde(deserialize_with = "parse::u64_")]
    pub nonce: Option<u64>,
}

string_enum! {
    /// Messenger protocol of an address.
    pub enum AddrType {
        /// msgr2, port 3300 by default.
        V2 => "v2",
        /// Legacy msgr1, port 6789 by default.
        V1 => "v1",
        /// Either protocol.
        Any => "any",
    }
}

/// Where one monitor listens, for forwarding rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonEndpoint {
    /// Monitor name.
    pub name: String,
    /// IP address, without brackets for IPv6.
    pub ip: String,
    /// Ports on that IP, in the order the monmap lists them (v2 first).
    pub ports: Vec<u16>,
}

impl MonDump {
    /// The command this parses.
    pub const COMMAND: &'static str = "ceph mon dump";

    /// Parses `ceph mon dump --format json`; also accepts a document that wraps
    /// the monmap in a `monmap` key (`ceph quorum_status`).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Wrapped {
            #[serde(deserialize_with = "parse::opt")]
            monmap: Option<MonDump>,
        }
        let direct: Self = parse::parse_json(Self::COMMAND, text)?;
        if !direct.mons.is_empty() {
            return Ok(direct);
        }
        let wrapped: Wrapped = parse::parse_json(Self::COMMAND, text)?;
        Ok(wrapped.monmap.unwrap_or(direct))
    }

    /// The `mon_host` value of a minimal ceph.conf, in the form Ceph itself
    /// writes: `[v2:IP:3300/0,v1:IP:6789/0] [v2:...]`. `None` when no monitor
    /// has a usable address.
    pub fn mon_host(&self) -> Option<String> {
        let groups: Vec<String> = self.mons.iter().filter_map(MonEntry::mon_host_group).collect();
        (!groups.is_empty()).then(|| groups.join(" "))
    }

    /// Every monitor's IP and ports, monitors without a usable address skipped.
    pub fn endpoints(&self) -> Vec<MonEndpoint> {
        self.mons.iter().filter_map(MonEntry::endpoint).collect()
    }
}

impl MonEntry {
    /// `[v2:IP:3300/0,v1:IP:6789/0]` for this monitor.
    fn mon_host_group(&self) -> Option<String> {
        let addrs: Vec<String> = match &self.public_addrs {
            Some(v) if !v.addrvec.is_empty() => v
                .addrvec
                .iter()
                .filter_map(|a| {
                    let addr = non_empty(&a.addr)?;
                    // A conf line with an address Ceph cannot parse fails later and obscurely.
                    split_host_port(addr)?;
                    let kind = a.kind.as_ref().map_or("v1", AddrType::as_str);
                    Some(format!("{kind}:{addr}/{}", a.nonce.unwrap_or(0)))
                })
                .collect(),
            // Pre-Nautilus dumps only have the legacy v1 address.
            _ => self
                .legacy_addr()
                .filter(|a| split_host_port(a).is_some())
                .map(|a| if a.contains('/') { format!("v1:{a}") } else { format!("v1:{a}/0") })
                .into_iter()
                .collect(),
        };
        (!addrs.is_empty()).then(|| format!("[{}]", addrs.join(",")))
    }

    fn legacy_addr(&self) -> Option<&str> {
        non_empty(&self.public_addr).or_else(|| non_empty(&self.addr))
    }

    fn endpoint(&self) -> Option<MonEndpoint> {
        let mut addrs: Vec<(String, u16)> =
            self.public_addrs.iter().flat_map(|v| v.addrvec.iter()).filter_map(|a| split_host_port(non_empty(&a.addr)?)).collect();
        if addrs.is_empty() {
            addrs.extend(self.legacy_addr().and_then(split_host_port));
        }
        let ip = addrs.first()?.0.clone();
        let mut ports = Vec::new();
        for (addr_ip, port) in addrs {
            // A monitor listens on one IP; an addrvec mixing IPs is not something
            // a forwarding rule keyed on one IP could honour, so keep the first.
            if addr_ip == ip && !ports.contains(&port) {
                ports.push(port);
            }
        }
        Some(MonEndpoint { name: self.name.clone().unwrap_or_default(), ip, ports })
    }
}

/// `1.2.3.4:3300` or `[::1]:3300`, with an optional `/nonce`, into IP and port.
fn split_host_port(addr: &str) -> Option<(String, u16)> {
    let addr = addr.split('/').next()?;
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like Pacific's `ceph mon dump --format json` (the real
    /// capture has one mon; this is the runbook's three).
    const THREE_MONS: &str = r#"{"epoch":3,"fsid":"2a4e1392-0abd-11f0-95f6-e7d0a414706b",
        "modified":"2025-03-01T10:00:00.000000Z","created":"2025-03-01T09:00:00.000000Z",
        "min_mon_release":16,"min_mon_release_name":"pacific","election_strategy":1,
        "disallowed_leaders: ":"","stretch_mode":false,"tiebreaker_mon":"",
        "features":{"persistent":["kraken","luminous"],"optional":[]},
        "mons":[
          {"rank":0,"name":"vswsercer1","public_addrs":{"addrvec":[{"type":"v2","addr":"172.16.208.251:3300","nonce":0},{"type":"v1","addr":"172.16.208.251:6789","nonce":0}]},"addr":"172.16.208.251:6789/0","public_addr":"172.16.208.251:6789/0","priority":0,"weight":0,"crush_location":"{}"},
          {"rank":1,"name":"vswsercer2","public_addrs":{"addrvec":[{"type":"v2","addr":"172.16.208.252:3300","nonce":0},{"type":"v1","addr":"172.16.208.252:6789","nonce":0}]},"addr":"172.16.208.252:6789/0","public_addr":"172.16.208.252:6789/0","priority":0,"weight":0,"crush_location":"{}"},
          {"rank":2,"name":"vswsercer3","public_addrs":{"addrvec":[{"type":"v2","addr":"172.16.208.253:3300","nonce":0},{"type":"v1","addr":"172.16.208.253:6789","nonce":0}]},"addr":"172.16.208.253:6789/0","public_addr":"172.16.208.253:6789/0","priority":0,"weight":0,"crush_location":"{}"}],
        "quorum":[0,1,2]}"#;

    #[test]
    fn real_lab_captures() {
        for (name, text, ip) in [
            ("site-a.mon-dump.json", include_str!("../../tests/fixtures/ceph/site-a.mon-dump.json"), "127.0.1.1"),
            ("site-b.mon-dump.json", include_str!("../../tests/fixtures/ceph/site-b.mon-dump.json"), "127.0.2.1"),
        ] {
            let dump = MonDump::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(dump.epoch, Some(1), "{name}");
            assert_eq!(dump.min_mon_release_name.as_deref(), Some("pacific"), "{name}");
            assert_eq!(dump.quorum, [0], "{name}");
            assert_eq!(dump.mon_host().unwrap(), format!("[v2:{ip}:3300/0,v1:{ip}:6789/0]"), "{name}");
            assert_eq!(dump.endpoints(), [MonEndpoint { name: "a".into(), ip: ip.into(), ports: vec![3300, 6789] }], "{name}");
            assert_eq!(dump.fsid.as_deref().map(str::len), Some(36), "{name}");
        }
    }

    #[test]
    fn mon_host_matches_the_runbook_conf_line() {
        let dump = MonDump::parse(THREE_MONS).unwrap();
        assert_eq!(dump.fsid.as_deref(), Some("2a4e1392-0abd-11f0-95f6-e7d0a414706b"));
        assert_eq!(dump.quorum, [0, 1, 2]);
        assert_eq!(
            dump.mon_host().unwrap(),
            "[v2:172.16.208.251:3300/0,v1:172.16.208.251:6789/0] \
             [v2:172.16.208.252:3300/0,v1:172.16.208.252:6789/0] \
             [v2:172.16.208.253:3300/0,v1:172.16.208.253:6789/0]"
        );
    }

    #[test]
    fn endpoints_list_ip_and_ports() {
        let dump = MonDump::parse(THREE_MONS).unwrap();
        let e = dump.endpoints();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0], MonEndpoint { name: "vswsercer1".into(), ip: "172.16.208.251".into(), ports: vec![3300, 6789] });
    }

    #[test]
    fn lab_mon_as_the_lab_notes_show_it() {
        let dump = MonDump::parse(
            r#"{"fsid":"x","mons":[{"name":"a","public_addrs":{"addrvec":[{"type":"v2","addr":"127.0.1.1:3300","nonce":0},{"type":"v1","addr":"127.0.1.1:6789","nonce":0}]}}]}"#,
        )
        .unwrap();
        assert_eq!(dump.mon_host().unwrap(), "[v2:127.0.1.1:3300/0,v1:127.0.1.1:6789/0]");
    }

    #[test]
    fn legacy_ipv6_and_v2_only_monitors() {
        let dump = MonDump::parse(
            r#"{"mons":[
                {"name":"old","public_addr":"10.0.0.2:6789/0"},
                {"name":"v6","public_addrs":{"addrvec":[{"type":"v2","addr":"[fd00::1]:3300","nonce":0}]}},
                {"name":"bare","addr":"10.0.0.3:6789"},
                {"name":"none"}]}"#,
        )
        .unwrap();
        assert_eq!(dump.mon_host().unwrap(), "[v1:10.0.0.2:6789/0] [v2:[fd00::1]:3300/0] [v1:10.0.0.3:6789/0]");
        let e = dump.endpoints();
        assert_eq!(e.len(), 3);
        assert_eq!((e[1].ip.as_str(), e[1].ports.as_slice()), ("fd00::1", &[3300][..]));
        assert_eq!(e[2].ports, [6789]);
    }

    #[test]
    fn monmap_wrapped_in_quorum_status() {
        let dump = MonDump::parse(
            r#"{"quorum_names":["a"],"monmap":{"fsid":"f","mons":[{"name":"a","public_addrs":{"addrvec":[{"type":"v2","addr":"10.1.1.1:3300","nonce":0}]}}]}}"#,
        )
        .unwrap();
        assert_eq!(dump.fsid.as_deref(), Some("f"));
        assert_eq!(dump.mon_host().unwrap(), "[v2:10.1.1.1:3300/0]");
    }

    #[test]
    fn no_usable_address_means_no_mon_host() {
        assert_eq!(MonDump::parse("{}").unwrap().mon_host(), None);
        let dump = MonDump::parse(r#"{"mons":[{"name":"a","public_addrs":{"addrvec":[{"type":"v2","addr":""},{"type":"v1","addr":"nonsense"}]}}]}"#).unwrap();
        assert!(dump.endpoints().is_empty());
        assert_eq!(dump.mon_host(), None);
        assert!(MonDump::parse(r#"{"mons":[{"name":"a""#).is_err());
    }

    #[test]
    fn split_host_port_edge_cases() {
        assert_eq!(split_host_port("1.2.3.4:3300"), Some(("1.2.3.4".into(), 3300)));
        assert_eq!(split_host_port("1.2.3.4:6789/0"), Some(("1.2.3.4".into(), 6789)));
        assert_eq!(split_host_port("[::1]:3300"), Some(("::1".into(), 3300)));
        assert_eq!(split_host_port(":3300"), None);
        assert_eq!(split_host_port("1.2.3.4:99999"), None);
        assert_eq!(split_host_port("1.2.3.4"), None);
    }
}
