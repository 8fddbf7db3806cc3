//! The plan's text and JSON, from chains planned over real `rbd info` output
//! (the lab's site-src, captured by `ferry lab up`, and the shared samples).

use super::*;
use crate::ceph::{plan_chain, ChainRequest, ImageInfo, ImageSpec};
use crate::cli::PlanFormat;
use crate::transport::ssh::SshOptions;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn spec(s: &str) -> ImageSpec {
    s.parse().unwrap()
}

/// `rbd info --format json` of the lab's source images, as `ferry lab up` seeds them.
fn lab_source() -> BTreeMap<ImageSpec, ImageInfo> {
    [
        ("images/base", include_str!("../../tests/fixtures/ceph/site-src.info.images-base.json")),
        ("volumes/vol-clone", include_str!("../../tests/fixtures/ceph/site-src.info.volumes-vol-clone.json")),
        ("volumes/vol-grandchild", include_str!("../../tests/fixtures/ceph/site-src.info.volumes-vol-grandchild.json")),
        ("volumes/vol-plain", include_str!("../../tests/fixtures/ceph/site-src.info.volumes-vol-plain.json")),
    ]
    .into_iter()
    .map(|(s, text)| (spec(s), ImageInfo::parse(text).unwrap()))
    .collect()
}

/// The chain `rbd_chain` plans for inventories/lab-migration.yml on the lab.
fn lab_chain() -> ChainView {
    let listing: Vec<String> = serde_json::from_str(include_str!("../../tests/fixtures/plan/site-src.ls.volumes.json")).unwrap();
    let mut request = ChainRequest { images: ["volumes/vol-clone", "volumes/vol-grandchild", "volumes/vol-plain"].map(spec).to_vec(), ..Default::default() };
    request.images.extend(listing.iter().map(|n| ImageSpec::new("volumes", n.as_str())));
    request.whole_pools.insert("volumes".into(), listing);
    let source = lab_source();
    let plan = plan_chain(&request, |s: &ImageSpec| source.get(s).cloned().ok_or("no such image")).unwrap();
    ChainView::from_plan(&plan, true)
}

fn lab_inputs() -> MigrationInputs {
    MigrationInputs {
        source_cluster: "site-src".into(),
        target_cluster: "site-dst".into(),
        source_admin: "src-node1".into(),
        target_admin: "dst-node1".into(),
        images: ["volumes/vol-clone", "volumes/vol-grandchild", "volumes/vol-plain"].map(spec).to_vec(),
        whole_pools: vec!["volumes".into()],
        renames: vec![
            Rename { from: spec("volumes/vol-clone"), to: spec("volumes/vm-web-disk") },
            Rename { from: spec("volumes/vol-plain"), to: spec("vms/vm-db-disk") },
        ],
        verify: Verify::Checksum,
        keep_source_online: false,
        force_cutover: false,
        cutover_sync_timeout: 120.0,
    }
}

fn site_yml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/site.yml")
}

fn config() -> PlanConfig {
    PlanConfig {
        playbook: PathBuf::from("playbooks/site.yml"),
        inventories: vec![PathBuf::from("/tmp/ferry-lab/inventory.yml")],
        extra_var_args: vec!["@inventories/lab-migration.yml".into(), "note=two words".into()],
        extra_vars: Default::default(),
        format: PlanFormat::Human,
        ssh: SshOptions::default(),
        command_timeout: Duration::from_secs(300),
        remote_user: None,
        private_key: None,
        connect_words: vec!["--known-hosts".into(), "/tmp/ferry-lab/known_hosts".into()],
    }
}

fn lab_plan() -> MigrationPlan {
    let playbook = crate::playbook::load_playbook(&site_yml()).unwrap();
    MigrationPlan::new(lab_inputs(), lab_chain(), PathBuf::from("playbooks/site.yml"), Phase::of_playbook(&playbook))
}

/// The lines of `text` from the one that is `title` up to the next blank line.
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    text.lines().skip_while(|l| *l != title).take_while(|l| !l.is_empty()).collect()
}

#[test]
fn the_lab_plan_reads_root_first_with_the_runbooks_pool_modes() {
    let text = render_human(&lab_plan(), &config());
    assert!(text.starts_with("ferry plan: site-src (via src-node1) -> site-dst (via dst-node1)\n"), "{text}");
    assert!(text.lines().nth(1).is_some_and(|l| l.ends_with("nothing was changed")), "{text}");
    assert_eq!(
        section(&text, "Clone chains, mirrored root first:"),
        [
            "Clone chains, mirrored root first:",
            "  images/base  (parent of volumes/vol-clone)",
            "  └─ volumes/vol-clone  (requested; parent of volumes/vol-grandchild; clone of @snap)",
            "     └─ volumes/vol-grandchild  (requested; clone of @snap)",
            "  volumes/vol-plain  (requested)",
        ]
    );
    assert_eq!(
        section(&text, "Pools:"),
        [
            "Pools:",
            "  images   image mode: only the planned images move, so each is enabled on its own",
            "  volumes  pool mode: the whole pool moves and every image in it is requested",
        ]
    );
    assert!(text.contains("\nIssues: none\n"), "{text}");
    assert_eq!(
        section(&text, "Mirroring, enabled in this order:"),
        [
            "Mirroring, enabled in this order:",
            "   1. pool images: mirror mode `image` (both sites)",
            "   2. image images/base: enable journal mirroring (source)",
            "   3. pool volumes: mirror mode `pool` (both sites)",
        ]
    );
    assert_eq!(
        section(&text, "Renames after the cutover (old -> new):"),
        [
            "Renames after the cutover (old -> new):",
            "  volumes/vol-clone -> volumes/vm-web-disk",
            "      same pool: volumes/vm-web-disk goes to the trash (restorable), then volumes/vol-clone is renamed to it",
            "  volumes/vol-plain -> vms/vm-db-disk",
            "      other pool: vms/vm-db-disk goes to the trash (restorable), then rbd migration prepare/execute/commit moves volumes/vol-plain there",
        ]
    );
    let proof = section(&text, "Proof at the cutover (verify: checksum, keep_source_online: false):");
    assert!(proof.get(1).is_some_and(|l| l.starts_with("  checksum: sha256 of every image on both sides at the demoted point")), "{proof:?}");
    let gate = section(&text, "Before the demotion:");
    assert_eq!(
        gate.get(1).copied(),
        Some("  every image must be in sync within 120 s (cutover_sync_timeout), else the cutover is refused and nothing is demoted"),
        "{gate:?}"
    );
    assert!(text.ends_with("\nplan: 4 image(s), 2 pool(s), 3 step(s); nothing blocks the migration\n"), "{text}");
}

#[test]
fn phases_come_in_run_order_each_with_its_command() {
    let text = render_human(&lab_plan(), &config());
    let phases = section(&text, "Phases of playbooks/site.yml, in order:");
    let tags: Vec<&str> = phases.iter().filter(|l| l.len() > 2 && !l[2..].starts_with(' ')).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(tags, ["Phases", "always", "network", "mirror", "sync", "cutover", "cleanup", "replace"]);
    assert!(phases.iter().any(|l| l.trim() == "runs with every phase"), "{phases:?}");
    let mirror = "$ ferry play playbooks/site.yml -i /tmp/ferry-lab/inventory.yml -e @inventories/lab-migration.yml -e 'note=two words' \
                  --known-hosts /tmp/ferry-lab/known_hosts --tags mirror";
    assert!(phases.iter().any(|l| l.trim() == mirror), "{phases:?}");
    assert_eq!(phases.iter().filter(|l| l.trim().starts_with("$ ferry play")).count(), 6);
}

#[test]
fn the_module_result_captured_on_the_lab_is_the_plan_made_here() {
    // `rbd_chain`'s registered result from a real run on the lab (ferry play, debug: var=chain).
    let captured: serde_json::Value = serde_json::from_str(include_str!("../../tests/fixtures/plan/site-src.rbd-chain.lab.json")).unwrap();
    let from_lab = ChainView::from_result(captured.as_object().unwrap()).unwrap();
    assert_eq!(from_lab, lab_chain());
    assert_eq!(from_lab.order, ["images/base", "volumes/vol-plain", "volumes/vol-clone", "volumes/vol-grandchild"]);
    let mut broken = captured.as_object().unwrap().clone();
    broken.remove("tree");
    assert_eq!(ChainView::from_result(&broken).unwrap_err(), "rbd_chain returned no `tree`");
}

#[test]
fn json_has_the_same_content() {
    let plan = lab_plan();
    let doc = plan.to_json(&config());
    assert_eq!(doc["changed"], false);
    assert_eq!(doc["exit"], 0);
    assert_eq!(doc["source"], serde_json::json!({"cluster": "site-src", "host": "src-node1"}));
    assert_eq!(doc["chain"]["order"][0], "images/base");
    assert_eq!(doc["chain"]["pools"][1]["mode"], "pool");
    assert_eq!(doc["chain"]["tree"], plan.chain.tree);
    assert_eq!(doc["renames"][1]["same_pool"], false);
    assert_eq!(doc["proof"]["checksum"], true);
    let tags: Vec<&str> = doc["phases"].as_array().unwrap().iter().map(|p| p["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, ["always", "network", "mirror", "sync", "cutover", "cleanup", "replace"]);
    assert!(doc["phases"][0]["command"].is_null());
    assert!(doc["phases"][6]["command"].as_str().unwrap().ends_with("--tags replace"));
}

#[test]
fn the_shared_samples_two_levels_in_image_mode() {
    let samples: BTreeMap<ImageSpec, ImageInfo> = [
        ("images/base", include_str!("../../tests/fixtures/ceph/site-a.info.images-base.json")),
        ("volumes/vol1", include_str!("../../tests/fixtures/ceph/site-a.info.volumes-vol1.json")),
    ]
    .into_iter()
    .map(|(s, t)| (spec(s), ImageInfo::parse(t).unwrap()))
    .collect();
    let request = ChainRequest { images: vec![spec("volumes/vol1")], ..Default::default() };
    let chain = ChainView::from_plan(&plan_chain(&request, |s: &ImageSpec| samples.get(s).cloned().ok_or("missing")).unwrap(), true);
    let inputs = MigrationInputs { images: vec![spec("volumes/vol1")], whole_pools: Vec::new(), renames: Vec::new(), verify: Verify::Status, ..lab_inputs() };
    let plan = MigrationPlan::new(inputs, chain, site_yml(), Vec::new());
    let text = render_human(&plan, &config());
    assert_eq!(
        section(&text, "Clone chains, mirrored root first:")[1..],
        ["  images/base  (parent of volumes/vol1)", "  └─ volumes/vol1  (requested; clone of @snap)"]
    );
    assert!(text.contains("\n  volumes  image mode: only the planned images move"), "{text}");
    assert!(text.contains("\nRenames: none (the migrated volumes keep their names)\n"), "{text}");
    assert!(text.contains("\n  status only: mirror status in sync"), "{text}");
    assert_eq!(plan.exit_code(), 0);
}

#[test]
fn a_missing_journaling_feature_warns_because_mirror_yml_turns_it_on() {
    // A real image without `journaling` (the target's copy after cleanup), moved as a whole pool.
    let info = ImageInfo::parse(include_str!("../../tests/fixtures/ceph/site-b.info.vol1-migrated.after-cleanup.json")).unwrap();
    let base = ImageInfo::parse(include_str!("../../tests/fixtures/ceph/site-b.info.images-base.json")).unwrap();
    let mut request = ChainRequest { images: vec![spec("volumes/vol1")], ..Default::default() };
    request.whole_pools.insert("volumes".into(), vec!["vol1".into()]);
    let lookup = |s: &ImageSpec| match s.to_string().as_str() {
        "volumes/vol1" => Ok(info.clone()),
        "images/base" => Ok(base.clone()),
        _ => Err("missing"),
    };
    let planned = plan_chain(&request, lookup).unwrap();
    assert!(planned.is_blocked(), "on its own the planner blocks: pool mode skips such images");
    let chain = ChainView::from_plan(&planned, true);
    assert_eq!(chain.issues.len(), 1);
    assert!(!chain.issues[0].blocking && chain.issues[0].message.contains("`journaling` feature is off"));
    let plan = MigrationPlan::new(MigrationInputs { renames: Vec::new(), ..lab_inputs() }, chain, site_yml(), Vec::new());
    assert_eq!(plan.exit_code(), 0);
    assert!(render_human(&plan, &config()).contains("\nIssues:\n  warning: volumes/vol1: the `journaling` feature is off"));
}

#[test]
fn renames_that_miss_the_chain_block_the_plan() {
    let inputs = MigrationInputs {
        renames: vec![
            Rename { from: spec("volumes/vol-typo"), to: spec("volumes/vm-web-disk") },
            Rename { from: spec("images/base"), to: spec("volumes/vol-plain") },
        ],
        ..lab_inputs()
    };
    let plan = MigrationPlan::new(inputs, lab_chain(), site_yml(), Vec::new());
    assert!(plan.is_blocked());
    assert_eq!(plan.exit_code(), EXIT_BLOCKED);
    let text = render_human(&plan, &config());
    assert!(text.contains("  error: migration_renames: volumes/vol-typo is not migrated, so replace.yml would skip it"), "{text}");
    assert!(text.contains("  error: migration_renames: volumes/vol-plain is migrated itself"), "{text}");
    assert!(text.ends_with("BLOCKED by 2 issue(s) above: fix them before running the phases\n"), "{text}");
    assert_eq!(plan.to_json(&config())["blocked"], true);
}

#[test]
fn keeping_the_source_online_rules_out_the_checksum() {
    let forced = MigrationPlan::new(MigrationInputs { force_cutover: true, cutover_sync_timeout: 30.5, ..lab_inputs() }, lab_chain(), site_yml(), Vec::new());
    assert!(forced.gate().starts_with("force_cutover: true: the source is demoted even if the target is behind"), "{}", forced.gate());
    assert!(forced.gate().ends_with("still runs (30.5 s)"), "{}", forced.gate());
    let plan = MigrationPlan::new(MigrationInputs { keep_source_online: true, ..lab_inputs() }, lab_chain(), site_yml(), Vec::new());
    assert!(!plan.inputs.checksum());
    assert!(plan.proof().starts_with("status only (verify: checksum is ignored): keep_source_online leaves the source primary"), "{}", plan.proof());
    assert_eq!(plan.to_json(&config())["proof"]["checksum"], false);
}
