//! A whole plan: the inputs, what the source's chains need, the renames
//! checked against them, the cutover's proof, and the playbook's phases.

use super::chain_view::{ChainView, IssueView};
use super::config::PlanConfig;
use super::inputs::MigrationInputs;
use super::phases::Phase;
use serde_json::{json, Value};
use std::path::PathBuf;

/// What `ferry plan` found; nothing was changed to find it.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationPlan {
    /// The inputs as the phases will read them.
    pub inputs: MigrationInputs,
    /// The chains on the source.
    pub chain: ChainView,
    /// Problems of `migration_renames` against the chain.
    pub rename_issues: Vec<IssueView>,
    /// The playbook the phases come from.
    pub playbook: PathBuf,
    /// Its phases, in run order.
    pub phases: Vec<Phase>,
}

impl MigrationPlan {
    /// Puts the parts together and checks the renames against the chain.
    pub fn new(inputs: MigrationInputs, chain: ChainView, playbook: PathBuf, phases: Vec<Phase>) -> MigrationPlan {
        let migrated = |spec: &str| chain.order.iter().any(|o| o == spec);
        let mut rename_issues = Vec::new();
        for r in &inputs.renames {
            if !migrated(&r.from.to_string()) {
                rename_issues.push(IssueView {
                    blocking: true,
                    message: format!("migration_renames: {} is not migrated, so replace.yml would skip it; add it to migration_images or fix the name", r.from),
                });
            }
            if migrated(&r.to.to_string()) {
                rename_issues.push(IssueView {
                    blocking: true,
                    message: format!("migration_renames: {} is migrated itself; replacing it with {} would put the migrated copy in the trash", r.to, r.from),
                });
            }
        }
        MigrationPlan { inputs, chain, rename_issues, playbook, phases }
    }

    /// Every issue: the chain's, then the renames'.
    pub fn issues(&self) -> impl Iterator<Item = &IssueView> {
        self.chain.issues.iter().chain(&self.rename_issues)
    }

    /// Whether an issue must be fixed before the migration can work.
    pub fn is_blocked(&self) -> bool {
        self.issues().any(|i| i.blocking)
    }

    /// 0, or 2 when an issue blocks.
    pub fn exit_code(&self) -> i32 {
        if self.is_blocked() {
            super::EXIT_BLOCKED
        } else {
            0
        }
    }

    /// How the cutover proves the copy, in one sentence.
    /// What the cutover checks before it demotes the source, in one sentence.
    pub fn gate(&self) -> String {
        let i = &self.inputs;
        let secs = i.cutover_sync_timeout;
        if i.force_cutover {
            return format!(
                "force_cutover: true: the source is demoted even if the target is behind (no in-sync check); \
                 the wait for the demotion to reach the target still runs ({secs} s)"
            );
        }
        format!("every image must be in sync within {secs} s (cutover_sync_timeout), else the cutover is refused and nothing is demoted")
    }

    pub fn proof(&self) -> String {
        let i = &self.inputs;
        if i.checksum() {
            return "checksum: sha256 of every image on both sides at the demoted point (rbd export | sha256sum), \
                    on top of mirror status in sync, equal positions and equal `rbd du` used bytes; \
                    nothing is promoted while a copy differs"
                .to_string();
        }
        if i.keep_source_online {
            let ignored = if i.verify == super::Verify::Checksum { " (verify: checksum is ignored)" } else { "" };
            return format!(
                "status only{ignored}: keep_source_online leaves the source primary and writable and promotes the target \
                 with --force, so no checksum is possible; mirror status in sync and equal positions at that moment"
            );
        }
        "status only: mirror status in sync (up+replaying, 0 entries behind, positions equal) after the source is demoted, \
         and equal `rbd du` used bytes; no checksum (verify: checksum adds one)"
            .to_string()
    }

    /// The plan as one JSON document.
    pub fn to_json(&self, cfg: &PlanConfig) -> Value {
        let i = &self.inputs;
        json!({
            "changed": false,
            "exit": self.exit_code(),
            "blocked": self.is_blocked(),
            "source": {"cluster": i.source_cluster, "host": i.source_admin},
            "target": {"cluster": i.target_cluster, "host": i.target_admin},
            "requested": {
                "images": i.images.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "whole_pools": i.whole_pools,
            },
            "chain": self.chain.to_json(),
            "issues": self.issues().map(|x| json!({"blocking": x.blocking, "message": x.message})).collect::<Vec<_>>(),
            "renames": i.renames.iter().map(|r| json!({
                "from": r.from.to_string(),
                "to": r.to.to_string(),
                "same_pool": r.same_pool(),
                "how": r.how(),
            })).collect::<Vec<_>>(),
            "proof": {
                "verify": i.verify.as_str(),
                "keep_source_online": i.keep_source_online,
                "checksum": i.checksum(),
                "text": self.proof(),
            },
            "cutover_gate": {
                "force_cutover": i.force_cutover,
                "cutover_sync_timeout": i.cutover_sync_timeout,
                "text": self.gate(),
            },
            "playbook": self.playbook.display().to_string(),
            "phases": self.phases.iter().map(|p| p.to_json(p.tag.as_deref().filter(|_| !p.always).map(|t| cfg.phase_command(t)))).collect::<Vec<_>>(),
        })
    }
}
