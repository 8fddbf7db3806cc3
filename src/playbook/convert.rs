//! Reading keyword values of the shapes Ansible accepts (`yes` for true, a
//! single string for a one-item list, numbers as strings) into plain types.
//!
//! Each reader returns `Err(Bad)` saying which part was wrong, so that the
//! caller can point at the whole value or at one item of a list.

use serde_yaml::Value as Y;

/// What was wrong: `None` for the whole value, `Some(i)` for item `i` of a list.
pub(crate) type Bad = Option<usize>;

/// A short description of a value for "found ..." in messages.
pub(crate) fn describe(v: &Y) -> String {
    match v {
        Y::Null => "nothing".to_string(),
        Y::Bool(b) => format!("`{b}`"),
        Y::Number(n) => format!("the number `{n}`"),
        Y::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                shown.push_str("...");
            }
            format!("the string `{}`", shown.replace('\n', "\\n"))
        }
        Y::Sequence(_) => "a list".to_string(),
        Y::Mapping(_) => "a mapping".to_string(),
        Y::Tagged(t) => format!("a value tagged `{}`", t.tag),
    }
}

/// Whether a string is (or contains) a Jinja template, which can only be
/// evaluated at run time.
pub(crate) fn is_templated(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// A boolean, also from the strings Ansible's `boolean()` accepts.
pub(crate) fn boolean(v: &Y) -> Result<bool, Bad> {
    match v {
        Y::Bool(b) => Ok(*b),
        Y::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Y::Number(n) if n.as_i64() == Some(0) => Ok(false),
        Y::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" | "t" | "on" | "1" => Ok(true),
            "no" | "n" | "false" | "f" | "off" | "0" => Ok(false),
            _ => Err(None),
        },
        _ => Err(None),
    }
}

/// The string form of a scalar: strings as they are, numbers and booleans
/// written out (`name: 42`).
pub(crate) fn scalar(v: &Y) -> Option<String> {
    match v {
        Y::String(s) => Some(s.clone()),
        Y::Number(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A string keyword (`register`, `delegate_to`, `name`).
pub(crate) fn string(v: &Y) -> Result<String, Bad> {
    scalar(v).ok_or(None)
}

/// Conditions (`when`, `changed_when`, `failed_when`, `until`): a string, a
/// boolean (`failed_when: false` becomes the condition `false`), or a list of them.
pub(crate) fn conditions(v: &Y) -> Result<Vec<String>, Bad> {
    match v {
        Y::Null => Ok(Vec::new()),
        Y::Sequence(items) => items.iter().enumerate().map(|(i, item)| scalar(item).ok_or(Some(i))).collect(),
        other => scalar(other).map(|s| vec![s]).ok_or(None),
    }
}

/// A list of names (`notify`, `listen`, `tags`, `hosts`): a list, or one
/// string. With `split_commas`, a string is a comma-separated list (`tags: a,b`).
pub(crate) fn names(v: &Y, split_commas: bool) -> Result<Vec<String>, Bad> {
    match v {
        Y::Null => Ok(Vec::new()),
        Y::Sequence(items) => items.iter().enumerate().map(|(i, item)| scalar(item).ok_or(Some(i))).collect(),
        Y::String(s) if split_commas => Ok(s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()),
        other => scalar(other).map(|s| vec![s]).ok_or(None),
    }
}

/// A non-negative whole number, also written as a string (`retries: "3"`).
pub(crate) fn whole(v: &Y) -> Result<u64, Bad> {
    match v {
        Y::Number(n) => n.as_u64().ok_or(None),
        Y::String(s) => s.trim().parse().map_err(|_| None),
        _ => Err(None),
    }
}

/// A finite number, also written as a string (`delay: "2.5"`).
pub(crate) fn number(v: &Y) -> Result<f64, Bad> {
    let n = match v {
        Y::Number(n) => n.as_f64().ok_or(None)?,
        Y::String(s) => s.trim().parse().map_err(|_| None)?,
        _ => return Err(None),
    };
    if n.is_finite() {
        Ok(n)
    } else {
        Err(None)
    }
}

/// Whether `name` can be a variable name: what Jinja can refer to without
/// quoting, as Ansible checks.
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic()) && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(text: &str) -> Y {
        serde_yaml::from_str(text).unwrap_or(Y::Null)
    }

    #[test]
    fn booleans_accept_ansible_spellings() {
        assert_eq!(boolean(&y("yes")), Ok(true));
        assert_eq!(boolean(&y("\"False\"")), Ok(false));
        assert_eq!(boolean(&y("1")), Ok(true));
        assert_eq!(boolean(&y("maybe")), Err(None));
        assert_eq!(boolean(&y("[true]")), Err(None));
    }

    #[test]
    fn conditions_from_every_shape() {
        assert_eq!(conditions(&y("x == 1")), Ok(vec!["x == 1".to_string()]));
        assert_eq!(conditions(&y("false")), Ok(vec!["false".to_string()]));
        assert_eq!(conditions(&y("[a, true]")), Ok(vec!["a".to_string(), "true".to_string()]));
        assert_eq!(conditions(&y("[a, {b: 1}]")), Err(Some(1)));
        assert_eq!(conditions(&y("{a: 1}")), Err(None));
    }

    #[test]
    fn names_split_commas_only_when_asked() {
        assert_eq!(names(&y("a, b,"), true), Ok(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(names(&y("a, b"), false), Ok(vec!["a, b".to_string()]));
        assert_eq!(names(&y("[x, 3]"), true), Ok(vec!["x".to_string(), "3".to_string()]));
        assert_eq!(names(&y("3"), true), Ok(vec!["3".to_string()]));
    }

    #[test]
    fn numbers_from_strings_too() {
        assert_eq!(whole(&y("\"3\"")), Ok(3));
        assert_eq!(whole(&y("-1")), Err(None));
        assert_eq!(number(&y("2.5")), Ok(2.5));
        assert_eq!(number(&y(".nan")), Err(None));
        assert_eq!(number(&y("many")), Err(None));
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier("my-var"));
        assert!(!is_identifier(""));
    }
}
