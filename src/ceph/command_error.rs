//! Turns a failed `rbd`/`ceph` call (exit status + stderr) into a known cause
//! with one sentence for the operator and what to do next.
//!
//! Classification is by message first: Ceph reuses a few errnos (16, 22) for
//! very different situations, and the message is what tells them apart. The
//! messages matched here are the ones recorded in the lab (CEPH-LAB-NOTES
//! G1-G15 and the `*.err.*.txt` samples).

use std::fmt;

/// A classified failure of one `rbd`/`ceph` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// Exit status of the command.
    pub rc: i32,
    /// The recognised cause.
    pub kind: CommandErrorKind,
    /// The stderr line that identified it (log prefix removed), or the most
    /// telling line for an unrecognised failure.
    pub message: String,
}

/// Known causes of `rbd`/`ceph` failures during a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandErrorKind {
    /// rc 2: the image does not exist on this cluster (yet).
    ImageNotFound,
    /// rc 2: the pool does not exist on this cluster.
    PoolNotFound,
    /// rc 22: the image exists but has no mirroring (G5 on the target).
    ImageMirroringNotEnabled,
    /// rc 22: mirroring a clone before its parent (G1).
    ParentNotMirrored,
    /// rc 16: `mirror pool disable` with peers still registered (G4, G9.1).
    MirrorPeersRegistered,
    /// rc 22: `mirror pool disable` on an image-mode pool with images still enabled (G9.2).
    ImagesStillMirrored,
    /// rc 16: disabling a parent whose clones are still mirrored (G9.3).
    ChildrenStillMirrored,
    /// rc 22: disabling a non-primary image without `--force` (G9.4).
    NotPrimaryNeedsForce,
    /// rc 22: `mirror image disable` in a pool-mode pool (G9.5).
    PoolModeRefusesImageDisable,
    /// rc 22: the feature is already off, e.g. journaling after mirror disable (G10).
    FeatureAlreadyDisabled,
    /// rc 16: promote while the other site is still primary (G7, G8).
    RemoteStillPrimary,
    /// rc 1: writing to a copy that is not primary (G8).
    LocalImageNotPromoted,
    /// rc 16: `rbd migration prepare` of a snapshot-mirrored image (G15).
    NonUserSnapshotsBlockMigration,
    /// rc 16: removing an image a client still has open.
    ImageHasWatchers,
    /// rc 17: the target name is taken.
    AlreadyExists,
    /// The monitors could not be reached.
    ClusterUnreachable,
    /// rc 13: CephX refused the operation.
    PermissionDenied,
    /// rc 134 or a caught signal: the CLI itself crashed (G15 cross-cluster migration).
    CliCrashed,
    /// Nothing above matched.
    Other,
}

/// Message fragments, most specific first. A fragment must only match its cause.
const RULES: &[(&str, CommandErrorKind)] = &[
    ("local image not promoted", CommandErrorKind::LocalImageNotPromoted),
    ("image is primary within a remote cluster", CommandErrorKind::RemoteStillPrimary),
    ("demotion is not propagated yet", CommandErrorKind::RemoteStillPrimary),
    ("mirror peers still registered", CommandErrorKind::MirrorPeersRegistered),
    ("mirroring is enabled on one or more children", CommandErrorKind::ChildrenStillMirrored),
    ("mirroring is not enabled for the parent", CommandErrorKind::ParentNotMirrored),
    ("there are still images with mirroring enabled", CommandErrorKind::ImagesStillMirrored),
    ("mirrored image is not primary, add force option", CommandErrorKind::NotPrimaryNeedsForce),
    ("cannot disable mirroring in the current pool mirroring mode", CommandErrorKind::PoolModeRefusesImageDisable),
    ("requested features are already disabled", CommandErrorKind::FeatureAlreadyDisabled),
    ("mirroring not enabled on the image", CommandErrorKind::ImageMirroringNotEnabled),
    ("non-user type snapshots that are not supported by migration", CommandErrorKind::NonUserSnapshotsBlockMigration),
    ("image still has watchers", CommandErrorKind::ImageHasWatchers),
    ("Caught signal", CommandErrorKind::CliCrashed),
    ("terminate called after throwing", CommandErrorKind::CliCrashed),
    ("error opening pool", CommandErrorKind::PoolNotFound),
    ("error opening image", CommandErrorKind::ImageNotFound),
    ("error connecting to the cluster", CommandErrorKind::ClusterUnreachable),
    ("RADOS timed out", CommandErrorKind::ClusterUnreachable),
    ("authenticate timed out", CommandErrorKind::ClusterUnreachable),
    ("(110) Connection timed out", CommandErrorKind::ClusterUnreachable),
    ("(13) Permission denied", CommandErrorKind::PermissionDenied),
    ("(17) File exists", CommandErrorKind::AlreadyExists),
];

impl CommandError {
    /// Classifies a failed command from its exit status and stderr.
    pub fn classify(rc: i32, stderr: &str) -> Self {
        let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        for (needle, kind) in RULES {
            if let Some(line) = lines.iter().find(|l| l.contains(needle)) {
                // "error opening image" also covers permission and other errnos;
                // only ENOENT means the image is not there.
                if *kind == CommandErrorKind::ImageNotFound && !(line.contains("(2)") || rc == 2) {
                    continue;
                }
                return Self { rc, kind: *kind, message: strip_log_prefix(line).to_string() };
            }
        }
        // SIGABRT shows as 134 from a shell; the text may have been trimmed away.
        let kind = if rc == 134 { CommandErrorKind::CliCrashed } else { CommandErrorKind::Other };
        Self { rc, kind, message: telling_line(&lines).to_string() }
    }

    /// Whether retrying the same command later can succeed without any other
    /// change: the condition clears by itself as rbd-mirror catches up.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, CommandErrorKind::RemoteStillPrimary | CommandErrorKind::ImageNotFound)
    }

    /// Whether the failure means the wanted state already holds, so an
    /// idempotent step can count it as done.
    pub fn means_already_done(&self) -> bool {
        self.kind == CommandErrorKind::FeatureAlreadyDisabled
    }
}

impl CommandErrorKind {
    /// One sentence saying what happened.
    pub fn explanation(self) -> &'static str {
        use CommandErrorKind::*;
        match self {
            ImageNotFound => "the image does not exist on this cluster: on the target, rbd-mirror has not created it yet",
            PoolNotFound => "the pool does not exist on this cluster",
            ImageMirroringNotEnabled => "the image exists but mirroring is not enabled for it: on the target this is a snapshot-mode image whose first mirror snapshot was taken before the source knew its peer",
            ParentNotMirrored => "this image is a clone and its parent image is not mirrored yet",
            MirrorPeersRegistered => "the pool still has mirror peers registered",
            ImagesStillMirrored => "the image-mode pool still has images with mirroring enabled",
            ChildrenStillMirrored => "clones of this image (in any pool) still have mirroring enabled",
            NotPrimaryNeedsForce => "this copy is not primary, so disabling mirroring needs --force",
            PoolModeRefusesImageDisable => "the pool is in pool mode, where single images cannot be disabled",
            FeatureAlreadyDisabled => "the feature is already disabled (disabling journal mirroring removes journaling)",
            RemoteStillPrimary => "the other site is still primary for this image, or its demotion has not reached this site yet",
            LocalImageNotPromoted => "this copy of the image is not primary, so writes are refused",
            NonUserSnapshotsBlockMigration => "the image has mirror snapshots, which rbd migration cannot carry",
            ImageHasWatchers => "a client (a VM, a mapping) still has the image open",
            AlreadyExists => "an image with the target name already exists",
            ClusterUnreachable => "the cluster's monitors could not be reached",
            PermissionDenied => "CephX refused the operation",
            CliCrashed => "the rbd/ceph command itself crashed",
            Other => "the command failed for a reason ferry does not recognise",
        }
    }

    /// What the operator (or the next step) should do.
    pub fn remedy(self) -> &'static str {
        use CommandErrorKind::*;
        match self {
            ImageNotFound => "keep polling; if it persists, check rbd-mirror is running on the target and that every parent in the clone chain is mirrored",
            PoolNotFound => "create the pool with the same name on both clusters and `rbd pool init` it",
            ImageMirroringNotEnabled => "make sure `rbd mirror pool info` on the source lists a peer, then run `rbd mirror image snapshot POOL/IMAGE` on the source",
            ParentNotMirrored => "enable mirroring on the parent chain first, root first, then retry",
            MirrorPeersRegistered => "remove every peer with `rbd mirror pool peer remove POOL UUID` (including the tx-only peer rbd-mirror registered itself), then retry",
            ImagesStillMirrored => "disable mirroring on each image first (children before parents), then disable the pool",
            ChildrenStillMirrored => "disable mirroring on the clones first, then on this parent",
            NotPrimaryNeedsForce => "retry with `rbd mirror image disable --force` if this is the old, demoted copy",
            PoolModeRefusesImageDisable => "use `rbd mirror pool disable POOL`; if that leaves the pool in image mode, disable the remaining images with --force and disable the pool again",
            FeatureAlreadyDisabled => "nothing to do",
            RemoteStillPrimary => "demote the image on the source, wait until the target shows up+stopped or up+unknown, then retry; use --force only if the source is lost (both sides become primary)",
            LocalImageNotPromoted => "write to the promoted copy on the other site, or promote this one if it is meant to be primary",
            NonUserSnapshotsBlockMigration => "disable mirroring on the image (or finish the mirror cutover) before rbd migration",
            ImageHasWatchers => "stop the VM or unmap the image (`rbd status` shows the client), then retry",
            AlreadyExists => "remove or rename the existing image first if it is the new VM's empty volume",
            ClusterUnreachable => "check mon_host in the conf, the forwarding rules for 3300/6789 and 6800-7300, and the firewall",
            PermissionDenied => "check the keyring and the CephX caps of the user",
            CliCrashed => "do not retry blindly; cross-cluster `rbd migration` does not work in Pacific, use rbd-mirror",
            Other => "read the stderr shown and the exit status",
        }
    }

    /// The lab-notes gotcha describing this case, if any.
    pub fn gotcha(self) -> Option<&'static str> {
        use CommandErrorKind::*;
        match self {
            ImageNotFound => Some("G11"),
            ImageMirroringNotEnabled => Some("G5"),
            ParentNotMirrored => Some("G1"),
            MirrorPeersRegistered => Some("G4"),
            ImagesStillMirrored | ChildrenStillMirrored | NotPrimaryNeedsForce | PoolModeRefusesImageDisable => Some("G9"),
            FeatureAlreadyDisabled => Some("G10"),
            RemoteStillPrimary => Some("G7"),
            LocalImageNotPromoted => Some("G8"),
            NonUserSnapshotsBlockMigration | CliCrashed => Some("G15"),
            PoolNotFound | ImageHasWatchers | AlreadyExists | ClusterUnreachable | PermissionDenied | Other => None,
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (rc {}", self.kind.explanation(), self.rc)?;
        if let Some(g) = self.kind.gotcha() {
            write!(f, ", {g}")?;
        }
        write!(f, ")")?;
        if !self.message.is_empty() {
            write!(f, ": `{}`", self.message)?;
        }
        write!(f, ". To fix: {}", self.kind.remedy())
    }
}

impl std::error::Error for CommandError {}

/// Drops `2026-11-25T19:07:36.153+0000 7ff752498380 -1 ` from a Ceph log line.
fn strip_log_prefix(line: &str) -> &str {
    let mut rest = line;
    let looks_like_timestamp = |w: &str| w.len() > 10 && w.as_bytes()[..4].iter().all(u8::is_ascii_digit) && w.contains('T');
    let mut words = line.splitn(4, ' ');
    if let (Some(ts), Some(_thread), Some(_level), Some(tail)) = (words.next(), words.next(), words.next(), words.next()) {
        if looks_like_timestamp(ts) {
            rest = tail;
        }
    }
    rest.trim()
}

/// For an unrecognised failure: the last `rbd:`/`Error` line, else the last line
/// that is not the `rc=N` trailer of a capture.
fn telling_line<'a>(lines: &[&'a str]) -> &'a str {
    let useful = |l: &&&str| !l.starts_with("rc=") && !l.starts_with("$ ");
    lines
        .iter()
        .rev()
        .filter(useful)
        .find(|l| l.starts_with("rbd:") || l.starts_with("Error") || l.contains("error"))
        .or_else(|| lines.iter().rev().find(useful))
        .map_or("", |l| strip_log_prefix(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandErrorKind::*;

    /// `(file, rc when the capture has no rc= line, expected kind)`.
    const SAMPLES: &[(&str, &str, i32, CommandErrorKind)] = &[
        (
            "site-a.err.pool-enable-parent-not-mirrored.txt",
            include_str!("../../tests/fixtures/ceph/site-a.err.pool-enable-parent-not-mirrored.txt"),
            0,
            ParentNotMirrored,
        ),
        ("site-a.err.write-to-demoted.txt", include_str!("../../tests/fixtures/ceph/site-a.err.write-to-demoted.txt"), 0, LocalImageNotPromoted),
        (
            "site-b.err.mirror-image-status.base-before-image-created.txt",
            include_str!("../../tests/fixtures/ceph/site-b.err.mirror-image-status.base-before-image-created.txt"),
            2,
            ImageNotFound,
        ),
        (
            "site-b.err.mirror-image-status.before-image-created.txt",
            include_str!("../../tests/fixtures/ceph/site-b.err.mirror-image-status.before-image-created.txt"),
            2,
            ImageNotFound,
        ),
        (
            "site-b.err.mirror-image-status.parent-not-mirrored.txt",
            include_str!("../../tests/fixtures/ceph/site-b.err.mirror-image-status.parent-not-mirrored.txt"),
            0,
            ImageNotFound,
        ),
        (
            "site-b.err.promote-while-remote-primary.txt",
            include_str!("../../tests/fixtures/ceph/site-b.err.promote-while-remote-primary.txt"),
            0,
            RemoteStillPrimary,
        ),
    ];

    /// The captures end with `rc=N` (sometimes `rc=16 (EBUSY)`).
    fn rc_of(text: &str, default: i32) -> i32 {
        text.lines().filter_map(|l| l.strip_prefix("rc=")).filter_map(|r| r.split_whitespace().next()?.parse().ok()).next_back().unwrap_or(default)
    }

    #[test]
    fn every_error_sample_is_recognised() {
        for (name, text, default_rc, kind) in SAMPLES {
            let rc = rc_of(text, *default_rc);
            let e = CommandError::classify(rc, text);
            assert_eq!(e.kind, *kind, "{name}: {e}");
            assert!(!e.message.is_empty(), "{name}");
            assert!(!e.message.starts_with("2026-"), "{name}: {}", e.message);
        }
    }

    #[test]
    fn sample_rcs_match_the_lab_notes() {
        assert_eq!(rc_of(SAMPLES[0].1, 0), 22);
        assert_eq!(rc_of(SAMPLES[1].1, 0), 1);
        assert_eq!(rc_of(SAMPLES[4].1, 0), 2);
        assert_eq!(rc_of(SAMPLES[5].1, 0), 16);
    }

    #[test]
    fn message_is_the_matching_line_without_log_prefix() {
        let e = CommandError::classify(22, SAMPLES[0].1);
        assert_eq!(e.message, "librbd::api::Mirror: image_enable: mirroring is not enabled for the parent");
        let shown = e.to_string();
        assert!(shown.contains("rc 22, G1"), "{shown}");
        assert!(shown.contains("To fix: enable mirroring on the parent chain"), "{shown}");
    }

    #[test]
    fn cleanup_order_errors_from_the_lab_notes() {
        let cases: &[(i32, &str, CommandErrorKind)] = &[
            (
                16,
                "rbd: failed to disable mirroring: 2026-11-25T19:12:00.000+0000 7f -1 librbd::api::Mirror: mode_set: mirror peers still registered",
                MirrorPeersRegistered,
            ),
            (22, "librbd::api::Mirror: mode_set: there are still images with mirroring enabled", ImagesStillMirrored),
            (16, "librbd::api::Mirror: image_disable: mirroring is enabled on one or more children", ChildrenStillMirrored),
            (22, "librbd::api::Mirror: image_disable: mirrored image is not primary, add force option", NotPrimaryNeedsForce),
            (22, "librbd::api::Mirror: image_disable: cannot disable mirroring in the current pool mirroring mode", PoolModeRefusesImageDisable),
            (22, "rbd: failed to update image features: librbd: one or more requested features are already disabled", FeatureAlreadyDisabled),
        ];
        for (rc, text, kind) in cases {
            let e = CommandError::classify(*rc, text);
            assert_eq!(e.kind, *kind, "{text}");
            assert!(e.kind.gotcha().is_some());
        }
        assert!(CommandError::classify(22, cases[5].1).means_already_done());
    }

    #[test]
    fn snapshot_mode_race_and_migration_errors() {
        let stuck = include_str!("../../tests/fixtures/ceph/site-b.snapshot-mode.stuck-missing-peer.txt");
        let first_command: String = stuck.lines().take(3).collect::<Vec<_>>().join("\n");
        let e = CommandError::classify(22, &first_command);
        assert_eq!(e.kind, ImageMirroringNotEnabled);
        assert_eq!(e.message, "rbd: mirroring not enabled on the image");

        let e = CommandError::classify(
            16,
            "2026-11-25T19:16:43.437+0000 7f6aa4397380 -1 librbd::Migration: list_src_snaps: image has non-user type snapshots that are not supported by migration\nrbd: preparing migration failed: (16) Device or resource busy",
        );
        assert_eq!(e.kind, NonUserSnapshotsBlockMigration);

        let e = CommandError::classify(
            134,
            "terminate called after throwing an instance of 'std::system_error'\n  what():  Invalid argument\n*** Caught signal (Aborted) **",
        );
        assert_eq!(e.kind, CliCrashed);
        assert_eq!(CommandError::classify(134, "").kind, CliCrashed);
    }

    #[test]
    fn enoent_only_when_the_errno_says_so() {
        let e = CommandError::classify(13, "rbd: error opening image vol1: (13) Permission denied");
        assert_eq!(e.kind, PermissionDenied);
        let e = CommandError::classify(2, "rbd: error opening pool 'volumes': (2) No such file or directory");
        assert_eq!(e.kind, PoolNotFound);
        assert!(CommandError::classify(2, SAMPLES[3].1).is_retryable());
    }

    #[test]
    fn unreachable_cluster_and_unknown_failures() {
        let e = CommandError::classify(
            1,
            "2026-11-25T19:00:00.000+0000 7f00 0 monclient(hunting): authenticate timed out after 300\n[errno 110] RADOS timed out (error connecting to the cluster)",
        );
        assert_eq!(e.kind, ClusterUnreachable);

        let e = CommandError::classify(5, "some noise\nrbd: something new broke: (5) Input/output error\nrc=5\n");
        assert_eq!(e.kind, Other);
        assert_eq!(e.message, "rbd: something new broke: (5) Input/output error");
        assert!(e.to_string().contains("rc 5)"));

        let e = CommandError::classify(1, "");
        assert_eq!((e.kind, e.message.as_str()), (Other, ""));
        let e = CommandError::classify(1, "\n\n  just text  \n");
        assert_eq!(e.message, "just text");
    }

    #[test]
    fn strip_log_prefix_leaves_other_lines_alone() {
        assert_eq!(strip_log_prefix("rbd: error"), "rbd: error");
        assert_eq!(strip_log_prefix("a b c d"), "a b c d");
        assert_eq!(strip_log_prefix("2026-11-25T19:11:43.769+0000 7fcc5ffff6c0 -1 librbd::x: y"), "librbd::x: y");
        assert_eq!(strip_log_prefix("2026é"), "2026é");
    }
}
