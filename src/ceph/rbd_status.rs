//! `rbd status --format json POOL/IMAGE`: who has the image open, and the state
//! of an `rbd migration` in progress.
//!
//! Before `rbd rm` or `rbd rename` on the target, ferry checks that no client
//! (a VM) still watches the image. The only real capture is the one line in
//! site-a.rbd-migration.txt (no watchers); the watcher fields follow rbd's
//! source (`tools/rbd/action/Status.cc`: `address`, `client`, `cookie`).

use serde::Deserialize;

use super::image_spec::ImageSpec;
use super::parse::{self, non_empty, string_enum, ParseError};

/// Watchers and migration state of one image.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RbdStatus {
    /// Clients watching the image (a running VM, `rbd-nbd`, a krbd mapping).
    #[serde(deserialize_with = "parse::list")]
    pub watchers: Vec<Watcher>,
    /// Present only while the image takes part in an `rbd migration`.
    #[serde(deserialize_with = "parse::opt")]
    pub migration: Option<MigrationStatus>,
}

/// One watcher.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Watcher {
    /// Client address, `ip:port/nonce`.
    #[serde(deserialize_with = "parse::string")]
    pub address: Option<String>,
    /// Global client id (`client.<id>`).
    #[serde(deserialize_with = "parse::u64_")]
    pub client: Option<u64>,
    /// Watch cookie.
    #[serde(deserialize_with = "parse::u64_")]
    pub cookie: Option<u64>,
}

/// The `migration` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct MigrationStatus {
    /// Source pool (or its id when the pool is gone).
    #[serde(deserialize_with = "parse::string")]
    pub source_pool_name: Option<String>,
    /// Source namespace, `""` for the default.
    #[serde(deserialize_with = "parse::string")]
    pub source_pool_namespace: Option<String>,
    /// Source image.
    #[serde(deserialize_with = "parse::string")]
    pub source_image_name: Option<String>,
    /// Source image id.
    #[serde(deserialize_with = "parse::string")]
    pub source_image_id: Option<String>,
    /// Destination pool.
    #[serde(deserialize_with = "parse::string")]
    pub dest_pool_name: Option<String>,
    /// Destination namespace.
    #[serde(deserialize_with = "parse::string")]
    pub dest_pool_namespace: Option<String>,
    /// Destination image.
    #[serde(deserialize_with = "parse::string")]
    pub dest_image_name: Option<String>,
    /// Destination image id.
    #[serde(deserialize_with = "parse::string")]
    pub dest_image_id: Option<String>,
    /// Where the migration is.
    #[serde(deserialize_with = "parse::opt")]
    pub state: Option<MigrationState>,
    /// Extra detail, usually `""`.
    #[serde(deserialize_with = "parse::string")]
    pub state_description: Option<String>,
}

string_enum! {
    /// State of an `rbd migration`.
    pub enum MigrationState {
        /// Failed; see `state_description`.
        Error => "error",
        /// `prepare` running.
        Preparing => "preparing",
        /// `prepare` done; `execute` next.
        Prepared => "prepared",
        /// `execute` running.
        Executing => "executing",
        /// `execute` done; `commit` next.
        Executed => "executed",
        /// `abort` running.
        Aborting => "aborting",
        /// rbd did not recognise the state.
        Unknown => "unknown",
    }
}

impl RbdStatus {
    /// The command this parses.
    pub const COMMAND: &'static str = "rbd status";

    /// Parses the output of `rbd status --format json`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse::parse_json(Self::COMMAND, text)
    }

    /// Whether any client has the image open: removing or renaming it now
    /// would pull it from under a running VM.
    pub fn is_in_use(&self) -> bool {
        !self.watchers.is_empty()
    }
}

impl MigrationStatus {
    /// The migration source, when pool and image are known.
    pub fn source(&self) -> Option<ImageSpec> {
        Some(ImageSpec::with_namespace(
            non_empty(&self.source_pool_name)?,
            non_empty(&self.source_pool_namespace).unwrap_or_default(),
            non_empty(&self.source_image_name)?,
        ))
    }

    /// The migration destination, when pool and image are known.
    pub fn destination(&self) -> Option<ImageSpec> {
        Some(ImageSpec::with_namespace(
            non_empty(&self.dest_pool_name)?,
            non_empty(&self.dest_pool_namespace).unwrap_or_default(),
            non_empty(&self.dest_image_name)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transcript holds `rbd status --format json` output as one line among
    /// the traced commands; take it from there rather than retyping it.
    fn captured() -> &'static str {
        include_str!("../../tests/fixtures/ceph/site-a.rbd-migration.txt").lines().find(|l| l.starts_with("{\"watchers\"")).unwrap_or_default()
    }

    #[test]
    fn captured_prepared_migration() {
        let s = RbdStatus::parse(captured()).unwrap();
        assert!(!s.is_in_use());
        let m = s.migration.unwrap();
        assert_eq!(m.state, Some(MigrationState::Prepared));
        assert_eq!(m.source(), Some(ImageSpec::new("images", "mig1")));
        assert_eq!(m.destination(), Some(ImageSpec::new("target", "mig1")));
        assert_eq!(m.source_image_id.as_deref(), Some("113ad92fcd0c"));
        assert_eq!(m.state_description.as_deref(), Some(""));
    }

    #[test]
    fn watchers_as_rbd_documents_them() {
        let s = RbdStatus::parse(r#"{"watchers":[{"address":"192.168.12.11:0/3141592653","client":4567,"cookie":140289013452800}]}"#).unwrap();
        assert!(s.is_in_use());
        assert_eq!(s.watchers[0].client, Some(4567));
        assert_eq!(s.watchers[0].cookie, Some(140_289_013_452_800));
        assert_eq!(s.migration, None);
    }

    #[test]
    fn odd_documents() {
        let s = RbdStatus::parse("{}").unwrap();
        assert!(!s.is_in_use());
        let s = RbdStatus::parse(r#"{"watchers":"none","migration":{"state":"rolling"}}"#).unwrap();
        assert!(!s.is_in_use());
        let m = s.migration.unwrap();
        assert_eq!(m.state, Some(MigrationState::Other("rolling".into())));
        assert_eq!(m.source(), None);
        assert!(RbdStatus::parse(r#"{"watchers":["#).is_err());
    }
}
