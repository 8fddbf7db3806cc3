//! Host addresses as inventories write them: `host:port`, `[v6]:port`, and
//! `[a:b]` ranges, with ansible-core's exact acceptance rules.
//!
//! The same parser decides three things, as it does in ansible-core: where a
//! port suffix ends, whether a host pattern is one name or a `:`-separated list,
//! and how `web[01:10:2]` expands.

use std::sync::OnceLock;

use regex::Regex;

/// `[1:3]`, `[1:3:2]` inside an IPv4 address.
const NUMERIC_RANGE: &str = r"\[[0-9]+:[0-9]+(?::[0-9]+)?\]";
/// `[a:f]` inside an IPv6 address.
const HEX_RANGE: &str = r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]";
/// `[a:c]` or `[01:10]` inside a host name.
const ALNUM_RANGE: &str = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]";

struct Patterns {
    bracketed_hostport: Regex,
    hostport: Regex,
    ipv4: Regex,
    hostname: Regex,
}

fn compile(re: String) -> Regex {
    Regex::new(&re).expect("address regexes are fixed and valid")
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let i4 = format!(r"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{NUMERIC_RANGE})");
        // ansible-core says "a label may not end with `_` or `-`" with a
        // lookbehind, which the regex crate lacks: require the last element to
        // be alphanumeric or a range instead.
        let label = format!(r"(?:(?:\w|{ALNUM_RANGE})(?:[\w-]|{ALNUM_RANGE})*)?(?:[^\W_]|{ALNUM_RANGE})");
        Patterns {
            bracketed_hostport: compile(r"^\[(.+)\]:([0-9]+)$".to_string()),
            hostport: compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$".to_string()),
            ipv4: compile(format!(r"(?i)^(?:{i4}\.){{3}}{i4}$")),
            hostname: compile(format!(r"(?i)^{label}(?:\.{label})*$")),
        }
    })
}

/// The IPv6 pattern, compiled on first use: its alternation is most of the
/// compile time of all address patterns (about 8 ms), and an inventory of
/// names and IPv4 addresses never needs it.
fn ipv6() -> &'static Regex {
    static IPV6: OnceLock<Regex> = OnceLock::new();
    IPV6.get_or_init(|| {
        let i6 = format!(r"(?:[0-9a-f]{{1,4}}|{HEX_RANGE})");
        let alternatives = [
            format!("(?:{i6}:){{7}}{i6}"),
            format!("(?:{i6}:){{1,6}}:"),
            format!("(?:{i6}:)(?::{i6}){{1,6}}"),
            format!("(?:{i6}:){{2}}(?::{i6}){{1,5}}"),
            format!("(?:{i6}:){{3}}(?::{i6}){{1,4}}"),
            format!("(?:{i6}:){{4}}(?::{i6}){{1,3}}"),
            format!("(?:{i6}:){{5}}(?::{i6}){{1,2}}"),
            format!("(?:{i6}:){{6}}(?::{i6})"),
            format!(":(?::{i6}){{1,6}}"),
            format!("{i6}?::"),
            format!(r"(?:0:){{6}}(?:{i6}\.){{3}}{i6}"),
            format!(r"::(?:ffff:)?(?:{i6}\.){{3}}{i6}"),
            format!(r"(?:0:){{5}}ffff:(?:{i6}\.){{3}}{i6}"),
        ];
        compile(format!("(?i)^(?:{})$", alternatives.join("|")))
    })
}

/// Why an address did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AddressError {
    /// Not an IPv4/IPv6 address or host name.
    NotAHost,
    /// A `[x:y]` range where ranges are not allowed.
    RangeNotAllowed,
    /// The port does not fit in a number.
    BadPort,
}

/// Splits `host:port` / `[host]:port` and checks the host part, like
/// ansible-core's `parse_address`. Returns the host and the port, if any.
pub(super) fn parse_address(address: &str, allow_ranges: bool) -> Result<(String, Option<u64>), AddressError> {
    let p = patterns();
    let mut host = address.to_string();
    let mut port = None;
    // Both port forms are tried in turn, the second on what the first left,
    // exactly as ansible-core does.
    for re in [&p.bracketed_hostport, &p.hostport] {
        let split = re.captures(&host).map(|c| (c[1].to_string(), c[2].to_string()));
        if let Some((h, digits)) = split {
            port = Some(digits.parse::<u64>().map_err(|_| AddressError::BadPort)?);
            host = h;
        }
    }
    // Any of the three will do; IPv6 last, so most inventories never compile it.
    if !(p.ipv4.is_match(&host) || p.hostname.is_match(&host) || ipv6().is_match(&host)) {
        return Err(AddressError::NotAHost);
    }
    if !allow_ranges && host.contains('[') {
        return Err(AddressError::RangeNotAllowed);
    }
    Ok((host, port))
}

/// The most host names one pattern may expand to. ansible-core has no limit
/// and runs out of memory on a slip like `web[1:10000000000]`.
const MAX_RANGE_HOSTS: u64 = 100_000;

/// Expands every `[begin:end(:step)]` in `name` into host names, keeping the
/// zero padding of `begin` (`web[01:03]` -> web01, web02, web03).
///
/// Unlike ansible-core, a range that produces no host (`web[3:1]`) is an
/// error: silently dropping hosts is never what the author meant. So is one
/// that names more than [`MAX_RANGE_HOSTS`].
pub(super) fn expand_hostname_range(name: &str) -> Result<Vec<String>, String> {
    let Some(open) = name.find('[') else {
        return Ok(vec![name.to_string()]);
    };
    let Some(close_rel) = name[open..].find(']') else {
        return Err("`[` opens a host range that is never closed with `]`".to_string());
    };
    let close = open + close_rel;
    let (head, range, tail) = (&name[..open], &name[open + 1..close], &name[close + 1..]);
    let bounds: Vec<&str> = range.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(format!("host range `[{range}]` must be `[begin:end]` or `[begin:end:step]`"));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(format!("host range `[{range}]` must specify an end value"));
    }
    let step = match bounds.get(2) {
        None => 1,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("host range step `{s}` must be a positive integer")),
        },
    };
    let width = if beg.len() > 1 && beg.starts_with('0') {
        if beg.len() != end.len() {
            return Err(format!("host range `[{range}]` must use equal-length begin and end when zero-padded"));
        }
        beg.len()
    } else {
        0
    };

    let items: Vec<String> = if let (Some(b), Some(e)) = (ascii_letter_index(beg), ascii_letter_index(end)) {
        if b > e {
            return Err(format!("host range `[{range}]` must have begin <= end"));
        }
        (b..=e).step_by(step).map(|i| ASCII_LETTERS[i..=i].to_string()).collect()
    } else {
        let (Some(b), Some(e)) = (parse_decimal(beg), parse_decimal(end)) else {
            return Err(format!("host range `[{range}]` must be numeric (`[01:10]`) or single letters (`[a:f]`)"));
        };
        if b > e {
            return Err(format!("host range `[{range}]` ends before it starts, so it names no host"));
        }
        if (e - b) / step as u64 >= MAX_RANGE_HOSTS {
            return Err(too_many_hosts(name));
        }
        (b..=e).step_by(step).map(|n| format!("{n:0width$}")).collect()
    };

    let mut hosts = Vec::new();
    for item in items {
        hosts.extend(expand_hostname_range(&format!("{head}{item}{tail}"))?);
        if hosts.len() as u64 > MAX_RANGE_HOSTS {
            return Err(too_many_hosts(name));
        }
    }
    Ok(hosts)
}

fn too_many_hosts(name: &str) -> String {
    format!("host pattern `{name}` names more than {MAX_RANGE_HOSTS} hosts; check the range bounds")
}

/// Python's `string.ascii_letters`, whose order alphabetic ranges follow
/// (`[a:Z]` spans every letter).
const ASCII_LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn ascii_letter_index(s: &str) -> Option<usize> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => ASCII_LETTERS.find(c),
        _ => None,
    }
}

fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// ansible-core's names for the control node itself.
pub(super) const LOCALHOST: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_ports_like_ansible() {
        assert_eq!(parse_address("web1:2222", true), Ok(("web1".into(), Some(2222))));
        assert_eq!(parse_address("[2001:db8::1]:22", true), Ok(("2001:db8::1".into(), Some(22))));
        assert_eq!(parse_address("2001:db8::1", true), Ok(("2001:db8::1".into(), None)));
        assert_eq!(parse_address("web[01:03]:2200", true), Ok(("web[01:03]".into(), Some(2200))));
        assert_eq!(parse_address("10.0.0.[1:3]", true), Ok(("10.0.0.[1:3]".into(), None)));
        assert_eq!(parse_address("web[01:03]", false), Err(AddressError::RangeNotAllowed));
        assert_eq!(parse_address("web*", true), Err(AddressError::NotAHost));
        assert_eq!(parse_address("a:b", true), Err(AddressError::NotAHost));
        assert_eq!(parse_address("bad_", true), Err(AddressError::NotAHost));
        assert_eq!(parse_address("_ok", true), Ok(("_ok".into(), None)));
    }

    #[test]
    fn expands_ranges_with_padding_stride_and_letters() {
        assert_eq!(expand_hostname_range("node[01:03]").unwrap(), ["node01", "node02", "node03"]);
        assert_eq!(expand_hostname_range("n[1:10:4]").unwrap(), ["n1", "n5", "n9"]);
        assert_eq!(expand_hostname_range("db-[a:c]").unwrap(), ["db-a", "db-b", "db-c"]);
        assert_eq!(expand_hostname_range("x[:2]").unwrap(), ["x0", "x1", "x2"]);
        assert_eq!(expand_hostname_range("r[1:2]-[a:b]").unwrap(), ["r1-a", "r1-b", "r2-a", "r2-b"]);
        assert_eq!(expand_hostname_range("plain").unwrap(), ["plain"]);
    }

    #[test]
    fn rejects_ranges_that_name_nothing_or_make_no_sense() {
        assert!(expand_hostname_range("web[3:1]").unwrap_err().contains("ends before it starts"));
        assert!(expand_hostname_range("web[1:2:0]").unwrap_err().contains("step"));
        assert!(expand_hostname_range("web[01:100]").unwrap_err().contains("equal-length"));
        assert!(expand_hostname_range("web[1]").unwrap_err().contains("[begin:end]"));
        assert!(expand_hostname_range("web[1:]").unwrap_err().contains("end value"));
        assert!(expand_hostname_range("web[c:a]").unwrap_err().contains("begin <= end"));
        assert!(expand_hostname_range("web[1:2").unwrap_err().contains("never closed"));
        assert!(expand_hostname_range("web[a:10]").unwrap_err().contains("numeric"));
    }

    #[test]
    fn refuses_ranges_too_large_to_hold() {
        // tests/fuzz_parsers.rs found ranges like these: expanding one asked
        // for 48 GiB and aborted the process.
        assert!(expand_hostname_range("web[1:9999999999]").unwrap_err().contains("more than 100000 hosts"));
        assert!(expand_hostname_range("r[1:1000]-[1:1000]").unwrap_err().contains("more than 100000 hosts"));
        assert_eq!(expand_hostname_range("w[0:99999]").map(|h| h.len()), Ok(100_000));
        assert_eq!(expand_hostname_range("w[0:199999:2]").map(|h| h.len()), Ok(100_000));
    }
}
