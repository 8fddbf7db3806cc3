//! Typed views of `ceph ... --format json` and `rbd ... --format json` output,
//! the classifier for their failures, the sync verdict, and the clone-chain
//! planner. Pure code: modules run the commands, this reads what they print.
//!
//! Every parser treats every key as optional (CEPH-LAB-NOTES G6): a missing
//! or oddly typed key becomes `None`, and only output that is not a JSON
//! object is a [`ParseError`] naming the command. Fixtures are the real
//! captures in `tests/fixtures/ceph/` (Ceph 16.2.15).

/// `(file name, contents)` of a fixture in `tests/fixtures/ceph/`.
#[cfg(test)]
macro_rules! fixture {
    ($name:literal) => {
        ($name, include_str!(concat!("../../tests/fixtures/ceph/", $name)))
    };
}

mod ceph_status;
mod command_error;
mod disk_usage;
mod image_info;
mod image_spec;
mod mirror_image_status;
mod mirror_pool_info;
mod mirror_pool_status;
mod mirror_state;
mod mon_dump;
mod mon_stat;
mod parse;
mod rbd_chain;
mod rbd_status;
mod replay_progress;
mod status_description;
mod sync_verdict;

pub use ceph_status::{CephStatus, Health, HealthCheck, HealthSummary, MgrmapSummary, MonmapSummary, OsdmapSummary, PgStateCount, PgmapSummary};
pub use command_error::{CommandError, CommandErrorKind};
pub use disk_usage::{DiskUsage, DiskUsageEntry, ImageUsage};
pub use image_info::{ImageInfo, ImageMirroring, MirrorImageMode, MirrorImageState, ParentRef};
pub use image_spec::{ImageSpec, ImageSpecError};
pub use mirror_image_status::{DaemonService, MirrorImageStatus, MirrorSnapshot, PeerSiteStatus};
pub use mirror_pool_info::{MirrorPeer, MirrorPoolInfo, PeerDirection, PoolMirrorMode};
pub use mirror_pool_status::{MirrorDaemon, MirrorPoolStatus, PoolStatusSummary};
pub use mirror_state::{MirrorState, ReplayPhase};
pub use mon_dump::{AddrType, AddrVec, EntityAddr, MonDump, MonEndpoint, MonEntry};
pub use mon_stat::{MonStat, QuorumMember};
pub use parse::{ParseError, ParseErrorKind};
pub use rbd_chain::{plan_chain, ChainError, ChainImage, ChainIssue, ChainPlan, ChainRequest, ChainStep, ParentLink, PoolPlan, MAX_CHAIN_DEPTH};
pub use rbd_status::{MigrationState, MigrationStatus, RbdStatus, Watcher};
pub use replay_progress::{JournalPosition, ReplayProgress};
pub use status_description::StatusDescription;
pub use sync_verdict::{sync_verdict, SyncDetail, SyncVerdict};

#[cfg(test)]
mod tests {
    //! Whole-corpus checks over every fixture file, so a capture added later is
    //! covered without editing a list.

    use super::*;
    use std::path::PathBuf;

    fn fixtures() -> Vec<(String, String)> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ceph");
        let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .map(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                (name, text)
            })
            .collect();
        files.sort();
        files
    }

    type Parser = fn(&str) -> Result<(), ParseError>;

    /// Parses `text` with the parser its file name calls for.
    fn parse_by_name(name: &str, text: &str) -> Option<Result<(), ParseError>> {
        let kinds: &[(&str, Parser)] = &[
            (".info.", |t| ImageInfo::parse(t).map(drop)),
            (".mirror-image-status.", |t| MirrorImageStatus::parse(t).map(drop)),
            (".mirror-pool-info.", |t| MirrorPoolInfo::parse(t).map(drop)),
            (".mirror-pool-status.", |t| MirrorPoolStatus::parse(t).map(drop)),
            (".du.", |t| DiskUsage::parse(t).map(drop)),
            (".mon-stat.", |t| MonStat::parse(t).map(drop)),
            (".mon-dump.", |t| MonDump::parse(t).map(drop)),
            (".status.json", |t| CephStatus::parse(t).map(drop)),
        ];
        kinds.iter().find(|(marker, _)| name.contains(marker)).map(|(_, parse)| parse(text))
    }

    #[test]
    fn every_json_fixture_parses_with_its_parser() {
        let mut parsed = 0;
        for (name, text) in fixtures().iter().filter(|(n, _)| n.ends_with(".json")) {
            match parse_by_name(name, text) {
                Some(Ok(())) => parsed += 1,
                Some(Err(e)) => panic!("{name}: {e}"),
                None => panic!("{name}: no parser claims this fixture"),
            }
        }
        assert!(parsed >= 53, "only {parsed} JSON fixtures found");
    }

    #[test]
    fn any_parser_accepts_any_json_object() {
        // Leniency: a document of the wrong kind is just mostly None, never an error.
        for (name, text) in fixtures().iter().filter(|(n, _)| n.ends_with(".json")) {
            assert!(ImageInfo::parse(text).is_ok(), "{name}");
            assert!(MirrorImageStatus::parse(text).is_ok(), "{name}");
            assert!(MirrorPoolInfo::parse(text).is_ok(), "{name}");
            assert!(MirrorPoolStatus::parse(text).is_ok(), "{name}");
            assert!(DiskUsage::parse(text).is_ok(), "{name}");
            assert!(MonDump::parse(text).is_ok(), "{name}");
            assert!(MonStat::parse(text).is_ok(), "{name}");
            assert!(CephStatus::parse(text).is_ok(), "{name}");
            assert!(RbdStatus::parse(text).is_ok(), "{name}");
        }
    }

    #[test]
    fn every_truncation_is_an_error_or_a_value_never_a_panic() {
        for (name, text) in fixtures().iter().filter(|(n, _)| n.ends_with(".json")) {
            let trimmed = text.trim_end();
            for cut in (0..trimmed.len()).filter(|i| trimmed.is_char_boundary(*i)) {
                let result = parse_by_name(name, &trimmed[..cut]);
                // Only a prefix that is itself complete JSON may parse, and a
                // strict prefix of an object never is.
                assert!(matches!(result, Some(Err(_))), "{name} cut at {cut} parsed");
            }
        }
    }

    #[test]
    fn every_status_fixture_gets_a_verdict_and_every_stderr_a_class() {
        for (name, text) in fixtures() {
            if name.contains(".mirror-image-status.") {
                let status = MirrorImageStatus::parse(&text).unwrap_or_default();
                let verdict = sync_verdict(Ok(&status), Some(&status), None);
                assert!(!verdict.to_string().is_empty(), "{name}");
            }
            if name.contains(".err.") {
                let e = CommandError::classify(1, &text);
                assert_ne!(e.kind, CommandErrorKind::Other, "{name}: {e}");
            }
        }
    }
}
