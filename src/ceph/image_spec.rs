//! `pool[/namespace]/image`: how operators name an RBD image, and the argument
//! every `rbd` command takes.

use std::fmt;
use std::str::FromStr;

/// An RBD image in a pool, optionally inside a namespace.
///
/// Ordered by pool, then namespace, then name, so plans that sort specs come
/// out the same on every run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageSpec {
    /// The pool, e.g. `volumes`.
    pub pool: String,
    /// The RBD namespace; `None` for the pool's default namespace (printed as `""` by Ceph).
    pub namespace: Option<String>,
    /// The image name, e.g. `volume-84273017-...`.
    pub name: String,
}

/// A string that is not a valid `pool[/namespace]/image`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{spec}` is not an image spec: {reason} (expected pool/image or pool/namespace/image)")]
pub struct ImageSpecError {
    /// The text as given.
    pub spec: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl ImageSpec {
    /// An image in the pool's default namespace.
    pub fn new(pool: impl Into<String>, name: impl Into<String>) -> Self {
        Self { pool: pool.into(), namespace: None, name: name.into() }
    }

    /// An image in `namespace`; an empty namespace means the default one.
    pub fn with_namespace(pool: impl Into<String>, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        let namespace = namespace.into();
        Self { pool: pool.into(), namespace: (!namespace.is_empty()).then_some(namespace), name: name.into() }
    }
}

impl FromStr for ImageSpec {
    type Err = ImageSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |reason| ImageSpecError { spec: s.to_string(), reason };
        // A snapshot would silently turn "mirror this image" into something else.
        if s.contains('@') {
            return Err(error("it names a snapshot (`@`); give the image itself"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(error("it contains whitespace or control characters"));
        }
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(error("a part is empty"));
        }
        match parts.as_slice() {
            [pool, name] => Ok(Self::new(*pool, *name)),
            [pool, namespace, name] => Ok(Self::with_namespace(*pool, *namespace, *name)),
            [_] => Err(error("the pool is missing")),
            _ => Err(error("too many `/`")),
        }
    }
}

impl fmt::Display for ImageSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.pool, ns, self.name),
            None => write!(f, "{}/{}", self.pool, self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_both_forms() {
        let s: ImageSpec = "volumes/vol1".parse().unwrap();
        assert_eq!(s, ImageSpec::new("volumes", "vol1"));
        assert_eq!(s.to_string(), "volumes/vol1");
        let s: ImageSpec = "volumes/tenant/vol1".parse().unwrap();
        assert_eq!(s.namespace.as_deref(), Some("tenant"));
        assert_eq!(s.to_string(), "volumes/tenant/vol1");
    }

    #[test]
    fn rejects_what_rbd_would_misread() {
        for bad in ["", "vol1", "/vol1", "volumes/", "a//b", "a/b/c/d", "images/base@snap", "volumes/vol 1"] {
            let e = bad.parse::<ImageSpec>().unwrap_err();
            assert!(e.to_string().contains("is not an image spec"), "{bad}: {e}");
        }
    }

    #[test]
    fn empty_namespace_is_the_default_one() {
        assert_eq!(ImageSpec::with_namespace("images", "", "base"), ImageSpec::new("images", "base"));
    }

    #[test]
    fn orders_by_pool_then_name() {
        let mut v = [ImageSpec::new("volumes", "a"), ImageSpec::new("images", "z"), ImageSpec::new("images", "b")];
        v.sort();
        let printed: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(printed, ["images/b", "images/z", "volumes/a"]);
    }
}
