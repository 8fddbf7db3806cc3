//! Host patterns (`web:&prod:!web3`, `db*`, `~node\d+`, `web[0:2]`),
//! evaluated with ansible-core's rules so the same `hosts:` line targets the
//! same machines.
//!
//! Notable rules kept from ansible-core: plain patterns are applied first,
//! then every `&`, then every `!`, whatever order they were written in; a
//! pattern made only of `&`/`!` parts starts from `all`; a glob or regex
//! matches group names and host names; a subscript indexes the raw matches
//! before duplicates are removed.

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::Regex;

use super::{address, Inventory, InventoryError};

pub(super) fn select(inv: &Inventory, pattern: &str) -> Result<Vec<String>, InventoryError> {
    let fail = |reason: String| InventoryError::Pattern { pattern: pattern.to_string(), reason };
    let parts = split_host_pattern(pattern).map_err(fail)?;
    if parts.is_empty() {
        // ansible-core would treat this as `all`; an empty (often templated)
        // pattern selecting every host is too dangerous to do silently.
        return Err(fail("the pattern is empty; write `all` to target every host".to_string()));
    }
    let mut hosts: Vec<String> = Vec::new();
    for part in order_patterns(parts) {
        if inv.hosts.contains_key(&part) {
            hosts.push(part);
            continue;
        }
        let matched = match_one(inv, &part).map_err(fail)?;
        if part.starts_with('!') {
            let that: HashSet<&String> = matched.iter().collect();
            hosts.retain(|h| !that.contains(h));
        } else if part.starts_with('&') {
            let that: HashSet<&String> = matched.iter().collect();
            hosts.retain(|h| that.contains(h));
        } else {
            hosts.extend(matched);
        }
    }
    let mut seen = HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    Ok(hosts)
}

/// Splits on `,`, or else on `:` outside `[...]` unless the whole pattern is
/// one address (`::1`, `web[1:3]`, `host:22`).
fn split_host_pattern(pattern: &str) -> Result<Vec<String>, String> {
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else if address::parse_address(pattern, true).is_ok() {
        vec![pattern.to_string()]
    } else {
        static PART: OnceLock<Regex> = OnceLock::new();
        let re = PART.get_or_init(|| Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").expect("fixed regex"));
        let mut parts = Vec::new();
        let mut last = 0;
        for m in re.find_iter(pattern) {
            check_gap(&pattern[last..m.start()])?;
            parts.push(m.as_str().to_string());
            last = m.end();
        }
        check_gap(&pattern[last..])?;
        parts
    };
    Ok(parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect())
}

/// Between `:`-separated parts only separators may appear; anything else is
/// a bracket ansible-core would silently drop.
fn check_gap(gap: &str) -> Result<(), String> {
    if gap.chars().all(|c| c == ':' || c.is_whitespace()) {
        Ok(())
    } else {
        Err("unbalanced `[` or `]`; subscripts look like `web[0]` or `web[1:3]`".to_string())
    }
}

fn order_patterns(parts: Vec<String>) -> Vec<String> {
    let (mut regular, mut intersect, mut exclude) = (Vec::new(), Vec::new(), Vec::new());
    for p in parts {
        match p.chars().next() {
            Some('!') => exclude.push(p),
            Some('&') => intersect.push(p),
            _ => regular.push(p),
        }
    }
    if regular.is_empty() {
        regular.push("all".to_string());
    }
    regular.into_iter().chain(intersect).chain(exclude).collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Subscript {
    Index(i64),
    Range(usize, Option<usize>),
}

fn split_subscript(pattern: &str) -> (&str, Option<Subscript>) {
    if pattern.starts_with('~') {
        return (pattern, None);
    }
    static SUB: OnceLock<Regex> = OnceLock::new();
    let re = SUB.get_or_init(|| Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").expect("fixed regex"));
    let Some(c) = re.captures(pattern) else {
        return (pattern, None);
    };
    let base = c.get(1).map_or(pattern, |m| m.as_str());
    let sub = if let Some(idx) = c.get(2) {
        idx.as_str().parse().ok().map(Subscript::Index)
    } else {
        let start = c.get(3).and_then(|m| m.as_str().parse().ok());
        let end = c.get(5).map(|m| m.as_str()).filter(|s| !s.is_empty()).and_then(|s| s.parse().ok());
        start.map(|s| Subscript::Range(s, end))
    };
    match sub {
        Some(sub) => (base, Some(sub)),
        // Numbers too large to index anything: leave the text as a glob.
        None => (pattern, None),
    }
}

fn apply_subscript(hosts: Vec<String>, sub: Option<Subscript>, pattern: &str) -> Result<Vec<String>, String> {
    let Some(sub) = sub else { return Ok(hosts) };
    if hosts.is_empty() {
        return Ok(hosts);
    }
    let len = hosts.len();
    let out_of_range = || format!("`{pattern}` asks for a host past the end: only {len} matched");
    let pick = |i: i64| -> Result<Vec<String>, String> {
        let idx = if i < 0 { len.checked_sub(i.unsigned_abs() as usize) } else { Some(i as usize) };
        idx.and_then(|i| hosts.get(i)).map(|h| vec![h.clone()]).ok_or_else(out_of_range)
    };
    match sub {
        Subscript::Index(i) => pick(i),
        // ansible-core reads an end of 0 as "no end": `[2:0]` is just `[2]`.
        Subscript::Range(start, Some(0)) => pick(start as i64),
        Subscript::Range(start, end) => {
            let end = end.unwrap_or(len - 1);
            Ok(hosts.iter().skip(start).take((end + 1).saturating_sub(start)).cloned().collect())
        }
    }
}

/// One part, without its `&`/`!`: matches with the subscript applied.
fn match_one(inv: &Inventory, part: &str) -> Result<Vec<String>, String> {
    let part = part.strip_prefix(['&', '!']).unwrap_or(part);
    let (expr, sub) = split_subscript(part);
    let hosts = enumerate_matches(inv, expr)?;
    apply_subscript(hosts, sub, part)
}

/// Groups matching `pattern` contribute their hosts; host names are matched
/// too when no group matched or the pattern is a glob or regex.
fn enumerate_matches(inv: &Inventory, pattern: &str) -> Result<Vec<String>, String> {
    let matcher = compile(pattern)?;
    let mut results = Vec::new();
    let groups: Vec<&String> = inv.groups.keys().filter(|g| matcher.is_match(g)).collect();
    for g in &groups {
        results.extend(inv.group_hosts(g));
    }
    if groups.is_empty() || pattern.starts_with('~') || pattern.contains(['.', '?', '*', '[']) {
        results.extend(inv.hosts.keys().filter(|h| matcher.is_match(h)).cloned());
    }
    if results.is_empty() && address::LOCALHOST.contains(&pattern) {
        results.push(inv.localhost.clone().unwrap_or_else(|| pattern.to_string()));
    }
    Ok(results)
}

fn compile(pattern: &str) -> Result<Regex, String> {
    let source = match pattern.strip_prefix('~') {
        // Python's `re.match` anchors at the start only.
        Some(re) => format!("^(?:{re})"),
        None => glob_to_regex(pattern),
    };
    Regex::new(&source).map_err(|e| match pattern.strip_prefix('~') {
        Some(_) => format!("not a valid regular expression: {}", e.to_string().lines().last().unwrap_or("")),
        None => format!("cannot compile glob: {e}"),
    })
}

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`, the rest literal,
/// matched against the whole name, case-sensitively.
fn glob_to_regex(pat: &str) -> String {
    let chars: Vec<char> = pat.chars().collect();
    let mut out = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                while chars.get(i) == Some(&'*') {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str(r"\[");
                    continue;
                }
                out.push_str(&glob_class(&chars[i..j]));
                i = j + 1;
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out.push_str(")$");
    out
}

fn glob_class(body: &[char]) -> String {
    let (negate, body) = match body.split_first() {
        Some(('!', rest)) => (true, rest),
        _ => (false, body),
    };
    let mut items = String::new();
    let mut k = 0;
    while k < body.len() {
        if k + 2 < body.len() && body[k + 1] == '-' {
            let (lo, hi) = (body[k], body[k + 2]);
            // Python drops reversed ranges such as `z-a`.
            if lo <= hi {
                items.push_str(&format!("{}-{}", regex::escape(&lo.to_string()), regex::escape(&hi.to_string())));
            }
            k += 3;
        } else {
            items.push_str(&regex::escape(&body[k].to_string()));
            k += 1;
        }
    }
    match (negate, items.is_empty()) {
        (false, true) => r"[^\s\S]".to_string(),
        (true, true) => ".".to_string(),
        (false, false) => format!("[{items}]"),
        (true, false) => format!("[^{items}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_ansible() {
        assert_eq!(split_host_pattern("a:b").unwrap(), ["a", "b"]);
        assert_eq!(split_host_pattern("a:&b:!c").unwrap(), ["a", "&b", "!c"]);
        assert_eq!(split_host_pattern(" a , b ").unwrap(), ["a", "b"]);
        assert_eq!(split_host_pattern("web[1:3]").unwrap(), ["web[1:3]"]);
        assert_eq!(split_host_pattern("::1").unwrap(), ["::1"]);
        assert_eq!(split_host_pattern("web[0]:db[1:2]").unwrap(), ["web[0]", "db[1:2]"]);
        assert!(split_host_pattern("web[").is_err());
        assert!(split_host_pattern("web]:db").is_err());
    }

    #[test]
    fn orders_regular_then_and_then_not() {
        let parts = vec!["!a".to_string(), "&b".to_string(), "c".to_string()];
        assert_eq!(order_patterns(parts), ["c", "&b", "!a"]);
        assert_eq!(order_patterns(vec!["!a".to_string()]), ["all", "!a"]);
    }

    #[test]
    fn subscripts() {
        assert_eq!(split_subscript("web[0]"), ("web", Some(Subscript::Index(0))));
        assert_eq!(split_subscript("web[-1]"), ("web", Some(Subscript::Index(-1))));
        assert_eq!(split_subscript("web[1:]"), ("web", Some(Subscript::Range(1, None))));
        assert_eq!(split_subscript("web[1-2]"), ("web", Some(Subscript::Range(1, Some(2)))));
        assert_eq!(split_subscript("~web[0]"), ("~web[0]", None));
        assert_eq!(split_subscript("web[a]"), ("web[a]", None));
        let hosts: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(apply_subscript(hosts.clone(), Some(Subscript::Range(1, Some(5))), "x").unwrap(), ["b", "c"]);
        assert_eq!(apply_subscript(hosts.clone(), Some(Subscript::Range(2, Some(0))), "x").unwrap(), ["c"]);
        assert_eq!(apply_subscript(hosts.clone(), Some(Subscript::Index(-3)), "x").unwrap(), ["a"]);
        assert!(apply_subscript(hosts, Some(Subscript::Index(3)), "x").is_err());
    }

    #[test]
    fn globs_follow_fnmatch() {
        let m = |g: &str, s: &str| Regex::new(&glob_to_regex(g)).unwrap().is_match(s);
        assert!(m("web*", "web01"));
        assert!(!m("web*", "xweb"));
        assert!(m("*.example.com", "a.example.com"));
        assert!(!m("*.example.com", "aexample.com"));
        assert!(m("web0[13]", "web03"));
        assert!(!m("web0[!13]", "web03"));
        assert!(m("db-[a-c]", "db-b"));
        assert!(m("web[", "web["));
        assert!(!m("x[z-a]", "xz"));
        assert!(m("Web?", "Web1"));
        assert!(!m("web?", "Web1"));
    }
}
