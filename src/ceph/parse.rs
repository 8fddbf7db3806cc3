//! The one JSON entry point for every `ceph`/`rbd --format json` parser, and the
//! lenient field deserializers they share.
//!
//! Ceph's JSON drifts between releases and even between the two ends of one
//! mirror (G6: on an rx-only primary `rbd mirror image status` has no `state`
//! at all). So every field is optional: a key that is missing, `null` or of an
//! unexpected type becomes `None` (or an empty list) instead of failing the
//! whole document. Only output that is not JSON, or not a JSON object, is an
//! error, and that error names the command so the operator knows which step
//! produced it.

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

/// Output of a `ceph`/`rbd` command that could not be read as the expected JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("could not read the JSON printed by `{command}`: {kind}")]
pub struct ParseError {
    /// The command whose output this was, e.g. `rbd mirror image status`.
    pub command: &'static str,
    /// What was wrong with it.
    pub kind: ParseErrorKind,
}

/// Why a command's output was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseErrorKind {
    /// Nothing but whitespace: the command probably failed and wrote only to stderr.
    #[error("the output is empty (did the command fail? check its stderr and exit status)")]
    Empty,
    /// Not JSON at all, or cut off (a dropped SSH connection truncates output).
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Malformed {
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column of the first error.
        column: usize,
        /// serde_json's description of the error.
        message: String,
    },
    /// Valid JSON whose top level is not an object (`--format json` was probably missing).
    #[error("expected a JSON object at the top level, found {found}")]
    NotAnObject {
        /// The JSON type found instead.
        found: &'static str,
    },
}

/// Parses `text` as a JSON object and maps it onto `T`, whose fields are all lenient.
///
/// The text goes through [`Value`] first: a derived struct fed from a stream
/// rejects duplicate keys, which would make a harmless oddity fatal.
pub(crate) fn parse_json<T: DeserializeOwned>(command: &'static str, text: &str) -> Result<T, ParseError> {
    let error = |kind| ParseError { command, kind };
    if text.trim().is_empty() {
        return Err(error(ParseErrorKind::Empty));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| error(ParseErrorKind::Malformed { line: e.line(), column: e.column(), message: e.to_string() }))?;
    if !value.is_object() {
        return Err(error(ParseErrorKind::NotAnObject { found: json_type(&value) }));
    }
    T::deserialize(value).map_err(|e| {
        // Unreachable with all-lenient fields, but input never gets to panic us.
        error(ParseErrorKind::Malformed { line: 0, column: 0, message: e.to_string() })
    })
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Any `T`; a value of the wrong shape becomes `None` rather than an error.
pub(crate) fn opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(d)?;
    Ok(T::deserialize(value).ok())
}

/// A list whose malformed elements are skipped, and which is empty when the
/// value is not a list at all.
pub(crate) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(d)?;
    Ok(match value {
        Value::Array(items) => items.into_iter().filter_map(|item| T::deserialize(item).ok()).collect(),
        _ => Vec::new(),
    })
}

/// A string; numbers and booleans are accepted too because Ceph prints some
/// ids as numbers in one release and as strings in another.
pub(crate) fn string<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(value_to_string(Value::deserialize(d)?))
}

fn value_to_string(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list of strings that Ceph sometimes prints as one plain string: the peer
/// site's `mirror_uuids` in `rbd mirror image status` is a string in Pacific
/// despite its plural name.
pub(crate) fn strings<'de, D>(d: D) -> Result<Vec<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.into_iter().filter_map(value_to_string).collect(),
        Value::String(s) if s.is_empty() => Vec::new(),
        other => value_to_string(other).into_iter().collect(),
    })
}

/// A non-negative integer. Integral floats (`3.0`) and numeric strings are
/// accepted; negatives, fractions and junk become `None`.
pub(crate) fn u64_<'de, D>(d: D) -> Result<Option<u64>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(value_to_u64(&Value::deserialize(d)?))
}

pub(crate) fn value_to_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A signed integer (Unix timestamps), with the same leniency as [`u64_`].
pub(crate) fn i64_<'de, D>(d: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A finite float; integers and numeric strings are accepted.
pub(crate) fn f64_<'de, D>(d: D) -> Result<Option<f64>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite()))
}

/// A boolean; `"true"`/`"false"` and `0`/`1` are accepted as older tools print them.
pub(crate) fn bool_<'de, D>(d: D) -> Result<Option<bool>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => match s.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.as_u64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        _ => None,
    })
}

/// `Some(s)` only when `s` is present and not empty: Ceph prints `""` for
/// "no value" (an rx-only peer's `mirror_uuid`, a pool's default namespace).
pub(crate) fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}

/// Declares an enum over the strings a Ceph field is known to hold, with an
/// `Other` variant so a new release's value is kept rather than rejected.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of ferry does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The text Ceph prints for this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $text => Self::$variant, )+
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                Ok(Self::from(s.as_str()))
            }
        }
    };
}
pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Probe {
        #[serde(deserialize_with = "string")]
        name: Option<String>,
        #[serde(deserialize_with = "u64_")]
        size: Option<u64>,
        #[serde(deserialize_with = "list")]
        items: Vec<u64>,
        #[serde(deserialize_with = "strings")]
        uuids: Vec<String>,
        #[serde(deserialize_with = "bool_")]
        flag: Option<bool>,
        #[serde(deserialize_with = "f64_")]
        rate: Option<f64>,
    }

    #[test]
    fn wrong_types_become_none_without_failing_the_rest() {
        let p: Probe = parse_json("probe", r#"{"name":4127,"size":"x","items":[1,"two",3],"uuids":"u1","flag":"true","rate":"1.5","extra":{}}"#).unwrap();
        assert_eq!(p.name.as_deref(), Some("4127"));
        assert_eq!(p.size, None);
        assert_eq!(p.items, vec![1, 3]);
        assert_eq!(p.uuids, vec!["u1"]);
        assert_eq!(p.flag, Some(true));
        assert_eq!(p.rate, Some(1.5));
    }

    #[test]
    fn integral_floats_and_numeric_strings_are_integers() {
        let p: Probe = parse_json("probe", r#"{"size":64.0,"items":{}}"#).unwrap();
        assert_eq!(p.size, Some(64));
        assert!(p.items.is_empty());
        let p: Probe = parse_json("probe", r#"{"size":-1}"#).unwrap();
        assert_eq!(p.size, None);
        let p: Probe = parse_json("probe", r#"{"size":" 12 "}"#).unwrap();
        assert_eq!(p.size, Some(12));
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        let p: Probe = parse_json("probe", r#"{"size":1,"size":2}"#).unwrap();
        assert_eq!(p.size, Some(2));
    }

    #[test]
    fn errors_name_the_command() {
        let e = parse_json::<Probe>("rbd info", "").unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::Empty);
        assert!(e.to_string().contains("`rbd info`"));

        let e = parse_json::<Probe>("rbd info", r#"{"name":"vol1","si"#).unwrap_err();
        assert!(matches!(e.kind, ParseErrorKind::Malformed { line: 1, .. }), "{e}");

        let e = parse_json::<Probe>("rbd info", "[1,2]").unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::NotAnObject { found: "an array" });

        let e = parse_json::<Probe>("rbd info", "rbd image 'vol1':\n\tsize 64 MiB").unwrap_err();
        assert!(matches!(e.kind, ParseErrorKind::Malformed { .. }));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let e = parse_json::<Probe>("probe", &text).unwrap_err();
        assert!(matches!(e.kind, ParseErrorKind::Malformed { .. }));
    }
}
