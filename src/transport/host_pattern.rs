//! OpenSSH host patterns, shared by `ssh_config` (`Host` lines) and
//! `known_hosts` (the host field): `*` and `?` wildcards, `!` negation.

/// True when `text` matches the wildcard `pattern` (`*` = any run, `?` = one
/// character). Host names are case-insensitive, so matching ignores ASCII case.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was and which text position it is currently standing
    // for: on a mismatch the star swallows one more character. This keeps the
    // match linear-ish instead of exponential on patterns like `*a*a*a*`.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Matches `text` against a list of patterns, OpenSSH style: the list matches
/// when at least one plain pattern matches and no negated (`!`) pattern does.
pub fn match_list<'a>(patterns: impl IntoIterator<Item = &'a str>, text: &str) -> bool {
    let mut positive = false;
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(negated) => {
                if wildcard_match(negated, text) {
                    return false;
                }
            }
            None => positive |= wildcard_match(pattern, text),
        }
    }
    positive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("web?", "web1"));
        assert!(!wildcard_match("web?", "web10"));
        assert!(wildcard_match("*.example.com", "a.b.example.com"));
        assert!(!wildcard_match("*.example.com", "example.com"));
        assert!(wildcard_match("10.0.*.1", "10.0.255.1"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(wildcard_match("[10.0.0.*]:2222", "[10.0.0.7]:2222"));
        assert!(wildcard_match("Web1", "web1"));
        assert!(!wildcard_match("", "x"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let text = "a".repeat(200);
        assert!(!wildcard_match("*a*a*a*a*a*a*a*a*b", &text));
    }

    #[test]
    fn negation_vetoes() {
        assert!(match_list(["*.lab", "!db*.lab"], "web1.lab"));
        assert!(!match_list(["*.lab", "!db*.lab"], "db1.lab"));
        // a list of only negations never matches, as in OpenSSH
        assert!(!match_list(["!db1"], "web1"));
    }
}
