//! Argument types that accept what Ansible users write: `yes`/`no`/`true`,
//! numbers as strings, modes as `"0644"` or `0644`.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// A boolean that also accepts `yes`, `no`, `on`, `off`, `1`, `0` (Ansible's rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean (true/false, yes/no)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Flag, E> {
                match v {
                    0 => Ok(Flag(false)),
                    1 => Ok(Flag(true)),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Flag, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Flag, E> {
                parse_bool(v).map(Flag).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// Ansible's boolean strings.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "y" | "t" => Some(true),
        "false" | "no" | "off" | "0" | "n" | "f" | "" => Some(false),
        _ => None,
    }
}

/// A non-negative number that may be written as a string (`"22"`) or a float (`1.5`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Number(pub f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                v.trim().parse::<f64>().map(Number).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

impl Number {
    /// The value as a port number, if it is one.
    pub fn as_port(self) -> Option<u16> {
        (self.0.fract() == 0.0 && (0.0..=65535.0).contains(&self.0)).then_some(self.0 as u16)
    }
}

/// A file mode. `"0644"`, `"644"`, `0644` (YAML reads it as the integer 644:
/// we take the digits as octal, which is what the user meant) and `"u=rw,g=r,o=r"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode(pub u32);

impl Mode {
    /// Parses the forms above.
    pub fn parse(s: &str) -> Option<Mode> {
        let s = s.trim();
        if !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777).map(Mode);
        }
        let s = s.strip_prefix("0o").unwrap_or(s);
        if !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return u32::from_str_radix(s, 8).ok().map(Mode);
        }
        symbolic_mode(s).map(Mode)
    }

    /// The mode as `stat -c %a` prints it and `chmod` takes it.
    pub fn octal(self) -> String {
        format!("{:o}", self.0)
    }
}

/// `u=rw,g=r,o=` absolute symbolic modes (the only symbolic form with no
/// dependency on the current mode, which keeps plans pure).
fn symbolic_mode(s: &str) -> Option<u32> {
    let mut mode = 0u32;
    for clause in s.split(',') {
        let (who, perms) = clause.split_once('=')?;
        let mut bits = 0u32;
        for p in perms.chars() {
            bits |= match p {
                'r' => 4,
                'w' => 2,
                'x' => 1,
                _ => return None,
            };
        }
        for w in who.chars() {
            mode |= match w {
                'u' => bits << 6,
                'g' => bits << 3,
                'o' => bits,
                'a' => bits << 6 | bits << 3 | bits,
                _ => return None,
            };
        }
    }
    Some(mode)
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Mode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a file mode such as \"0644\" or \"u=rw,g=r,o=r\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Mode, E> {
                Mode::parse(&v.to_string()).ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Mode, E> {
                Mode::parse(&v.to_string()).ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Mode, E> {
                Mode::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string, also accepting numbers and booleans (Ansible coerces them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(if v { "True" } else { "False" }.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A list that may be written as one item or as a comma-free single string.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<T> {
            Many(Vec<T>),
            One(T),
        }
        match Either::<T>::deserialize(d)? {
            Either::Many(v) => Ok(OneOrMany(v)),
            Either::One(x) => Ok(OneOrMany(vec![x])),
        }
    }
}

/// Deserializes module arguments, naming the argument path on error
/// (`mode: invalid value ...`), and rejecting unknown arguments.
pub fn parse<T: serde::de::DeserializeOwned>(module: &str, args: &crate::vars::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(args).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let msg = format!("invalid arguments for `{module}`: {}{}", if path == "." { String::new() } else { format!("`{path}`: ") }, inner);
        (if path == "." { String::new() } else { path }, msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(Mode::parse("0644"), Some(Mode(0o644)));
        assert_eq!(Mode::parse("644"), Some(Mode(0o644)));
        assert_eq!(Mode::parse("u=rw,g=r,o=r"), Some(Mode(0o644)));
        assert_eq!(Mode::parse("0999"), None);
        assert_eq!(Mode::parse("many"), None);
    }

    #[test]
    fn flags() {
        let f: Flag = serde_json::from_value(serde_json::json!("yes")).unwrap();
        assert!(f.0);
        assert!(serde_json::from_value::<Flag>(serde_json::json!("maybe")).is_err());
    }
}
