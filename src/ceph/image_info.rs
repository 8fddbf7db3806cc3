//! `rbd info --format json POOL/IMAGE`: size, features, clone parent, mirroring.

use serde::Deserialize;

use super::image_spec::ImageSpec;
use super::parse::{self, non_empty, string_enum, ParseError};

/// One image as `rbd info --format json` describes it. Every field is optional (G6).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ImageInfo {
    /// Image name (without pool).
    #[serde(deserialize_with = "parse::string")]
    pub name: Option<String>,
    /// Internal image id; the parent link and the rbd-mirror log use it.
    #[serde(deserialize_with = "parse::string")]
    pub id: Option<String>,
    /// Provisioned size in bytes.
    #[serde(deserialize_with = "parse::u64_")]
    pub size: Option<u64>,
    /// Number of backing RADOS objects.
    #[serde(deserialize_with = "parse::u64_")]
    pub objects: Option<u64>,
    /// log2 of the object size.
    #[serde(deserialize_with = "parse::u64_")]
    pub order: Option<u64>,
    /// Object size in bytes.
    #[serde(deserialize_with = "parse::u64_")]
    pub object_size: Option<u64>,
    /// Number of snapshots, mirror snapshots included.
    #[serde(deserialize_with = "parse::u64_")]
    pub snapshot_count: Option<u64>,
    /// `rbd_data.<id>`.
    #[serde(deserialize_with = "parse::string")]
    pub block_name_prefix: Option<String>,
    /// Image format, 2 for anything mirrorable.
    #[serde(deserialize_with = "parse::u64_")]
    pub format: Option<u64>,
    /// Enabled features, e.g. `layering`, `journaling`, `non-primary`, `migrating`.
    #[serde(deserialize_with = "parse::strings")]
    pub features: Vec<String>,
    /// Operational features, e.g. `clone-child`, `snap-trash`.
    #[serde(deserialize_with = "parse::strings")]
    pub op_features: Vec<String>,
    /// Flags such as `object map invalid`.
    #[serde(deserialize_with = "parse::strings")]
    pub flags: Vec<String>,
    /// As printed by rbd, e.g. `Wed Nov 25 19:07:20 2026`.
    #[serde(deserialize_with = "parse::string")]
    pub create_timestamp: Option<String>,
    /// As printed by rbd.
    #[serde(deserialize_with = "parse::string")]
    pub access_timestamp: Option<String>,
    /// As printed by rbd.
    #[serde(deserialize_with = "parse::string")]
    pub modify_timestamp: Option<String>,
    /// Separate data pool (erasure-coded setups); the target needs it too.
    #[serde(deserialize_with = "parse::string")]
    pub data_pool: Option<String>,
    /// The snapshot this image was cloned from; absent for a plain or flattened image.
    #[serde(deserialize_with = "parse::opt")]
    pub parent: Option<ParentRef>,
    /// Journal id; present while the `journaling` feature is on.
    #[serde(deserialize_with = "parse::string")]
    pub journal: Option<String>,
    /// Mirroring of this image. Present for a journaling image even with mirroring
    /// off (`{"mode":"journal","state":"disabled"}`), absent once journaling is gone (G10).
    #[serde(deserialize_with = "parse::opt")]
    pub mirroring: Option<ImageMirroring>,
}

/// The clone parent of an image: `pool[/namespace]/image@snapshot`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ParentRef {
    /// Pool of the parent, e.g. `images`.
    #[serde(deserialize_with = "parse::string")]
    pub pool: Option<String>,
    /// RBD namespace of the parent; `""` for the default one.
    #[serde(deserialize_with = "parse::string")]
    pub pool_namespace: Option<String>,
    /// Parent image name.
    #[serde(deserialize_with = "parse::string")]
    pub image: Option<String>,
    /// Parent image id.
    #[serde(deserialize_with = "parse::string")]
    pub id: Option<String>,
    /// The protected snapshot the clone was made from.
    #[serde(deserialize_with = "parse::string")]
    pub snapshot: Option<String>,
    /// The parent was removed while clones still use it (clone v2): it sits in
    /// the trash, cannot be opened by name, and cannot be mirror-enabled.
    #[serde(deserialize_with = "parse::bool_")]
    pub trash: Option<bool>,
    /// Bytes of the clone still backed by the parent.
    #[serde(deserialize_with = "parse::u64_")]
    pub overlap: Option<u64>,
}

/// The `mirroring` object of `rbd info`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ImageMirroring {
    /// `journal` or `snapshot`.
    #[serde(deserialize_with = "parse::opt")]
    pub mode: Option<MirrorImageMode>,
    /// `enabled`, `disabled`, `disabling`, or `unknown` (G5: a stuck snapshot-mode image).
    #[serde(deserialize_with = "parse::opt")]
    pub state: Option<MirrorImageState>,
    /// The id shared by the image on both clusters.
    #[serde(deserialize_with = "parse::string")]
    pub global_id: Option<String>,
    /// Whether this copy is the writable one.
    #[serde(deserialize_with = "parse::bool_")]
    pub primary: Option<bool>,
}

string_enum! {
    /// How an image is mirrored.
    pub enum MirrorImageMode {
        /// Every write is journaled and replayed on the peer.
        Journal => "journal",
        /// Periodic mirror snapshots are copied to the peer.
        Snapshot => "snapshot",
    }
}

string_enum! {
    /// Mirroring state of one image.
    pub enum MirrorImageState {
        /// Mirroring is on.
        Enabled => "enabled",
        /// Mirroring is off.
        Disabled => "disabled",
        /// Being turned off.
        Disabling => "disabling",
        /// rbd could not tell; seen on a non-primary snapshot image stuck by G5.
        Unknown => "unknown",
    }
}

impl ImageInfo {
    /// The command this parses.
    pub const COMMAND: &'static str = "rbd info";

    /// Parses the output of `rbd info --format json`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parse::parse_json(Self::COMMAND, text)
    }

    /// Whether `feature` (e.g. `journaling`) is enabled.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// Whether journal-based mirroring can pick this image up (pool mode needs it).
    pub fn is_journaling(&self) -> bool {
        self.has_feature("journaling")
    }

    /// Whether mirroring reports `enabled`.
    pub fn is_mirroring_enabled(&self) -> bool {
        self.mirroring.as_ref().is_some_and(|m| m.state == Some(MirrorImageState::Enabled))
    }

    /// `Some(true)` for the writable copy, `Some(false)` for a replica, `None`
    /// when mirroring says nothing.
    pub fn is_primary(&self) -> Option<bool> {
        self.mirroring.as_ref().and_then(|m| m.primary)
    }
}

impl ParentRef {
    /// The parent image, when the pool and image name are both known.
    pub fn spec(&self) -> Option<ImageSpec> {
        let pool = non_empty(&self.pool)?;
        let image = non_empty(&self.image)?;
        Some(ImageSpec::with_namespace(pool, self.namespace().unwrap_or_default(), image))
    }

    /// The parent's namespace, `None` for the default one.
    pub fn namespace(&self) -> Option<&str> {
        non_empty(&self.pool_namespace)
    }

    /// Whether the parent sits in the trash.
    pub fn in_trash(&self) -> bool {
        self.trash == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &[(&str, &str)] = &[
        fixture!("site-a.info.images-base.json"),
        fixture!("site-a.info.volumes-vol1.json"),
        fixture!("site-b.info.images-base.json"),
        fixture!("site-b.info.volumes-vol1.json"),
        fixture!("site-b.info.volumes-vol1.after-promote.json"),
        fixture!("site-b.info.vol1-migrated.after-cleanup.json"),
        fixture!("selftest-rx-only.site-b.info.vol1-migrated.json"),
        fixture!("selftest-rx-tx.site-b.info.vol1-migrated.json"),
    ];

    #[test]
    fn every_sample_parses() {
        for (name, text) in SAMPLES {
            let info = ImageInfo::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(info.name.is_some(), "{name}");
            assert_eq!(info.size, Some(67_108_864), "{name}");
            assert!(info.has_feature("layering"), "{name}");
        }
    }

    #[test]
    fn clone_points_at_its_parent_snapshot() {
        let info = ImageInfo::parse(SAMPLES[1].1).unwrap();
        let parent = info.parent.as_ref().unwrap();
        assert_eq!(parent.spec(), Some(ImageSpec::new("images", "base")));
        assert_eq!(parent.snapshot.as_deref(), Some("snap"));
        assert_eq!(parent.namespace(), None);
        assert!(!parent.in_trash());
        assert_eq!(parent.overlap, Some(67_108_864));
        assert!(info.is_journaling());
        assert!(info.is_mirroring_enabled());
        assert_eq!(info.is_primary(), Some(true));
        let m = info.mirroring.unwrap();
        assert_eq!(m.mode, Some(MirrorImageMode::Journal));
        assert_eq!(m.global_id.as_deref(), Some("155ea824-a212-4755-af80-8f0d14240906"));
    }

    #[test]
    fn replica_is_not_primary_and_promote_flips_it() {
        let before = ImageInfo::parse(SAMPLES[3].1).unwrap();
        let after = ImageInfo::parse(SAMPLES[4].1).unwrap();
        assert_eq!(before.is_primary(), Some(false));
        assert_eq!(after.is_primary(), Some(true));
    }

    #[test]
    fn mirror_disable_drops_journaling_and_the_mirroring_key() {
        // G10: after cleanup neither the feature nor the `mirroring` object remains.
        let info = ImageInfo::parse(SAMPLES[5].1).unwrap();
        assert!(!info.is_journaling());
        assert_eq!(info.mirroring, None);
        assert_eq!(info.journal, None);
        assert_eq!(info.is_primary(), None);
        assert!(info.parent.is_some());
    }

    #[test]
    fn plain_image_has_no_parent() {
        let info = ImageInfo::parse(SAMPLES[0].1).unwrap();
        assert_eq!(info.parent, None);
        assert_eq!(info.snapshot_count, Some(1));
    }

    #[test]
    fn empty_object_is_all_none() {
        let info = ImageInfo::parse("{}").unwrap();
        assert_eq!(info, ImageInfo::default());
        assert!(!info.is_journaling());
        assert!(!info.is_mirroring_enabled());
    }

    #[test]
    fn wrong_types_spoil_only_their_own_field() {
        let info = ImageInfo::parse(
            r#"{"name":"vol1","size":"big","features":"journaling","parent":"images/base@snap",
                "mirroring":{"mode":"future-mode","state":7,"primary":"true"}}"#,
        )
        .unwrap();
        assert_eq!(info.name.as_deref(), Some("vol1"));
        assert_eq!(info.size, None);
        assert_eq!(info.features, ["journaling"]);
        assert_eq!(info.parent, None);
        let m = info.mirroring.unwrap();
        assert_eq!(m.mode, Some(MirrorImageMode::Other("future-mode".into())));
        assert_eq!(m.state, None);
        assert_eq!(m.primary, Some(true));
    }

    #[test]
    fn parent_namespace_and_trash_are_kept() {
        let info = ImageInfo::parse(r#"{"parent":{"pool":"images","pool_namespace":"tenant","image":"base","snapshot":"s","trash":true}}"#).unwrap();
        let p = info.parent.unwrap();
        assert_eq!(p.spec(), Some(ImageSpec::with_namespace("images", "tenant", "base")));
        assert!(p.in_trash());
    }

    #[test]
    fn parent_without_pool_has_no_spec() {
        let info = ImageInfo::parse(r#"{"parent":{"image":"base"}}"#).unwrap();
        assert_eq!(info.parent.unwrap().spec(), None);
    }

    #[test]
    fn truncated_output_is_an_error_naming_rbd_info() {
        let text = SAMPLES[1].1;
        let e = ImageInfo::parse(&text[..text.len() / 2]).unwrap_err();
        assert_eq!(e.command, "rbd info");
    }
}
