//! What the network modules share: reading `iptables-save` output, writing
//! `iptables-restore` lines, and strict IPv4 address and port parsing.
//!
//! `iptables-save` prints every rule in one canonical form (`-d 1.2.3.4/32`,
//! `-p tcp -m tcp --dport 22`, comments always in double quotes with `"` and
//! `\` escaped). The legacy and the nf_tables backends print the same text.
//! Modules that build rules in exactly that form can compare them word for
//! word with what the host holds, with no `iptables -C` round trip per rule.

use std::fmt;
use std::net::Ipv4Addr;

/// One rule of an `iptables-save` table: its chain and the words after `-A CHAIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedRule {
    /// The chain the rule is in.
    pub chain: String,
    /// The rule's words, unquoted (`--comment`, `ferry:x`, ...).
    pub words: Vec<String>,
}

impl SavedRule {
    /// The value of the rule's `--comment`, if it has one.
    pub fn comment(&self) -> Option<&str> {
        self.words.iter().position(|w| w == "--comment").and_then(|i| self.words.get(i + 1)).map(String::as_str)
    }

    /// The rule as an `iptables-restore` line with command `op` (`-A` or `-D`).
    pub fn restore_line(&self, op: &str) -> String {
        let mut line = format!("{op} {}", restore_word(&self.chain));
        for w in &self.words {
            line.push(' ');
            line.push_str(&restore_word(w));
        }
        line
    }

    /// The value following `flag` (`-d`, `--dport`, `--to-destination`, ...).
    pub fn value_of(&self, flag: &str) -> Option<&str> {
        self.words.iter().position(|w| w == flag).and_then(|i| self.words.get(i + 1)).map(String::as_str)
    }
}

/// One table of `iptables-save` output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedTable {
    /// `nat`, `filter`, ...
    pub name: String,
    /// Chains and their policies (`None` for user-defined chains, printed as `-`).
    pub chains: Vec<(String, Option<String>)>,
    /// Rules in the order the host evaluates them (per chain).
    pub rules: Vec<SavedRule>,
}

/// Parses `iptables-save` output (one or more tables).
pub fn parse_save(text: &str) -> Result<Vec<SavedTable>, String> {
    let mut tables = Vec::new();
    let mut current: Option<SavedTable> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        let at = |msg: &str| format!("line {}: {msg}: {line}", n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('*') {
            if current.is_some() {
                return Err(at("table starts before the previous one was committed"));
            }
            current = Some(SavedTable { name: name.to_string(), ..Default::default() });
            continue;
        }
        let Some(table) = current.as_mut() else { return Err(at("line outside of a table")) };
        if line == "COMMIT" {
            tables.extend(current.take());
            continue;
        }
        if let Some(decl) = line.strip_prefix(':') {
            let mut parts = decl.split_whitespace();
            let name = parts.next().ok_or_else(|| at("chain declaration without a name"))?;
            let policy = parts.next().filter(|p| *p != "-").map(str::to_string);
            table.chains.push((name.to_string(), policy));
            continue;
        }
        let words = split_words(line).map_err(|e| at(&e))?;
        match words.split_first() {
            Some((op, rest)) if op == "-A" && !rest.is_empty() => {
                table.rules.push(SavedRule { chain: rest[0].clone(), words: rest[1..].to_vec() });
            }
            _ => return Err(at("not a rule")),
        }
    }
    if current.is_some() {
        return Err("the output ends inside a table (no COMMIT)".into());
    }
    Ok(tables)
}

/// Splits a rule line as `iptables-restore` does: words separated by blanks,
/// double quotes group, and inside quotes a backslash escapes the next character.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '\\' => word.push(chars.next().ok_or("a backslash ends the line")?),
                '"' => quoted = false,
                _ => word.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                in_word = true;
            }
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            _ => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err("unterminated double quote".into());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Quotes one word for an `iptables-restore` line, the way `iptables-save` does for comments.
pub fn restore_word(word: &str) -> String {
    let plain = !word.is_empty() && !word.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\' || c == '\'');
    if plain {
        word.to_string()
    } else {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// An IPv4 address written as four decimal octets, nothing else (no `1.2.3`, no leading zeros).
pub fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    s.trim().parse::<Ipv4Addr>().ok()
}

/// An IPv4 network, printed as `iptables-save` prints it: `a.b.c.d/len` with host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    /// The network address (host bits cleared).
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub len: u8,
}

impl Cidr {
    /// `1.2.3.4` (a /32) or `10.1.0.0/16`; host bits are cleared as iptables does.
    pub fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (parse_ipv4(a)?, l.parse::<u8>().ok().filter(|l| *l <= 32)?),
            None => (parse_ipv4(s)?, 32),
        };
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
        Some(Cidr { addr: Ipv4Addr::from(u32::from(addr) & mask), len })
    }

    /// True for a single host.
    pub fn is_host(&self) -> bool {
        self.len == 32
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An inclusive port range; `first == last` for one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    /// First port.
    pub first: u16,
    /// Last port (>= first).
    pub last: u16,
}

impl PortRange {
    /// `3300`, `6800:7300` or `6800-7300`. Port 0 is refused: no rule can match it.
    pub fn parse(s: &str) -> Result<PortRange, String> {
        let s = s.trim();
        let port = |p: &str| -> Result<u16, String> {
            match p.trim().parse::<u32>() {
                Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
                _ => Err(format!("`{p}` is not a port number (1-65535)")),
            }
        };
        let (first, last) = match s.split_once([':', '-']) {
            Some((a, b)) => (port(a)?, port(b)?),
            None => {
                let p = port(s)?;
                (p, p)
            }
        };
        if first > last {
            return Err(format!("port range {first}-{last} starts after it ends"));
        }
        Ok(PortRange { first, last })
    }

    /// How many ports.
    pub fn port_count(&self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    /// True when the two ranges share a port.
    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    /// As iptables writes a `--dport` match: `22` or `6800:7300`.
    pub fn iptables(&self) -> String {
        if self.first == self.last {
            self.first.to_string()
        } else {
            format!("{}:{}", self.first, self.last)
        }
    }

    /// For people: `22` or `6800-7300`.
    pub fn human(&self) -> String {
        if self.first == self.last {
            self.first.to_string()
        } else {
            format!("{}-{}", self.first, self.last)
        }
    }
}

/// Multiset difference `a - b`, keeping `a`'s order: what `a` has that `b` lacks.
pub fn multiset_minus<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut used = vec![false; b.len()];
    let mut out = Vec::new();
    for x in a {
        match b.iter().enumerate().position(|(i, y)| !used[i] && y == x) {
            Some(i) => used[i] = true,
            None => out.push(x.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAVE: &str = include_str!("../../tests/fixtures/network/iptables-save-mixed.txt");

    #[test]
    fn parses_real_iptables_save_output() {
        let tables = parse_save(SAVE).unwrap();
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["filter", "nat"]);
        let filter = &tables[0];
        assert!(filter.chains.contains(&("FORWARD".into(), Some("DROP".into()))));
        assert!(filter.chains.contains(&("MYCHAIN".into(), None)));
        let nat = &tables[1];
        let odd = nat.rules.iter().find(|r| r.value_of("-d") == Some("192.168.12.12/32")).unwrap();
        assert_eq!(odd.comment(), Some("a \"q\" \\ b"));
        let tagged: Vec<_> = nat.rules.iter().filter(|r| r.comment() == Some("ferry:mon1")).collect();
        assert_eq!(tagged.len(), 2);
        assert_eq!(tagged[0].chain, "OUTPUT");
        assert_eq!(tagged[0].value_of("--to-destination"), Some("203.0.113.11:13300"));
    }

    #[test]
    fn restore_lines_round_trip_through_the_tokenizer() {
        let tables = parse_save(SAVE).unwrap();
        for rule in tables.iter().flat_map(|t| &t.rules) {
            let line = rule.restore_line("-A");
            let words = split_words(&line).unwrap();
            assert_eq!(words[1], rule.chain);
            assert_eq!(words[2..], rule.words[..], "{line}");
        }
        assert_eq!(restore_word("a \"q\" \\ b"), r#""a \"q\" \\ b""#);
        assert_eq!(restore_word("ferry:mon1"), "ferry:mon1");
        assert_eq!(restore_word(""), "\"\"");
    }

    #[test]
    fn save_output_errors_are_reported() {
        assert!(parse_save("*nat\n-A OUTPUT -j ACCEPT\n").is_err());
        assert!(parse_save("-A OUTPUT -j ACCEPT\n").is_err());
        assert!(parse_save("*nat\n-A OUTPUT -m comment --comment \"open\nCOMMIT\n").is_err());
        assert_eq!(parse_save("").unwrap(), vec![]);
    }

    #[test]
    fn addresses_and_ports() {
        assert_eq!(Cidr::parse("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(Cidr::parse("192.168.12.11").unwrap().to_string(), "192.168.12.11/32");
        assert!(Cidr::parse("192.168.12").is_none());
        assert!(Cidr::parse("1.2.3.4/33").is_none());
        assert!(parse_ipv4("256.1.1.1").is_none());
        assert!(parse_ipv4("::1").is_none());
        assert_eq!(PortRange::parse("6800:7300").unwrap().port_count(), 501);
        assert_eq!(PortRange::parse("6800-7300").unwrap().iptables(), "6800:7300");
        assert!(PortRange::parse("7300:6800").unwrap_err().contains("starts after it ends"));
        assert!(PortRange::parse("0").is_err());
        assert!(PortRange::parse("65536").is_err());
        assert!(PortRange::parse("3300").unwrap().overlaps(&PortRange::parse("3000:3300").unwrap()));
        assert!(!PortRange::parse("3301").unwrap().overlaps(&PortRange::parse("3000:3300").unwrap()));
    }

    #[test]
    fn multiset_difference_counts_duplicates() {
        assert_eq!(multiset_minus(&[1, 1, 2], &[1, 3]), vec![1, 2]);
        assert_eq!(multiset_minus::<i32>(&[], &[1]), Vec::<i32>::new());
    }
}
