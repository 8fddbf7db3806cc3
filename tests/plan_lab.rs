//! `ferry plan` against the real two-site lab with Ceph: it prints the chain root
//! first, the runbook's pool modes, the renames and the phases in order, and it
//! changes nothing on any node. Also: a bad migration value stops it before any
//! connection (exit 1), and an unreachable source admin gives exit 4.
//! The lab test needs root and Debian's ceph packages (.ci/run installs them):
//! without them it FAILS, it never skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// The name and management net this test's lab uses (other labs stay off them).
const LAB: &str = "pl1";
const NET: &str = "172.31.241";

fn lab_migration() -> String {
    format!("@{}", Path::new(env!("CARGO_MANIFEST_DIR")).join("inventories/lab-migration.yml").display())
}

/// `ferry lab up` in this test's dir, and `ferry lab down` when dropped, also
/// when the test panics.
struct TwoSites {
    dir: PathBuf,
}

impl TwoSites {
    fn up(dir: &Path) -> TwoSites {
        // A lab of this name left by a killed run goes first.
        let _ = Command::new(FERRY).args(["lab", "down", "--name", LAB]).output();
        let sites = TwoSites { dir: dir.to_path_buf() };
        let started = Instant::now();
        let run = Ferry::new("pl1up", &["lab", "up", "--name", LAB, "--net", NET, "--dir", &dir.to_string_lossy()]).timeout(Duration::from_secs(900)).run();
        run.assert_exit(0);
        eprintln!("lab {LAB} up in {:.0} s", started.elapsed().as_secs_f64());
        sites
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// Runs a shell snippet on a lab node through OpenSSH and the lab's ssh_config.
    fn sh(&self, host: &str, script: &str) -> String {
        let out = Command::new("ssh").arg("-F").arg(self.path("ssh_config")).args([host, script]).output().expect("running ssh");
        assert!(out.status.success(), "on {host}: `{script}` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Everything a migration step could leave behind: each node's private
    /// files (without the mon's database, which rewrites itself) and both
    /// clusters' mirroring, images and users.
    fn footprint(&self) -> String {
        let files = "find /etc /root /run /tmp /var/lib/ceph /var/log/ceph -xdev 2>/dev/null | grep -v /store.db/ | sort";
        let mut all = String::new();
        for host in ["src-node1", "src-node2", "src-node3", "dst-node1", "dst-node2", "dst-node3"] {
            all.push_str(&format!("== {host} files\n{}", self.sh(host, files)));
        }
        let source = "for p in images volumes; do rbd --cluster site-src mirror pool info --format json $p; echo; rbd --cluster site-src ls -l $p; done; \
                      ceph --cluster site-src auth ls 2>/dev/null | grep '^client'";
        let target = "for p in images volumes vms; do rbd --cluster site-dst mirror pool info --format json $p; echo; rbd --cluster site-dst ls -l $p; done; \
                      ceph --cluster site-dst auth ls 2>/dev/null | grep '^client'";
        all.push_str(&format!("== site-src\n{}== site-dst\n{}", self.sh("src-node1", source), self.sh("dst-node1", target)));
        all
    }
}

impl Drop for TwoSites {
    fn drop(&mut self) {
        match Command::new(FERRY).args(["lab", "down", "--name", LAB]).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!("ferry lab down --name {LAB}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
            Err(e) => eprintln!("ferry lab down --name {LAB}: {e}"),
        }
    }
}

/// The lines of `text` after the line `title`, up to the next blank line.
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    text.lines().skip_while(|l| *l != title).skip(1).take_while(|l| !l.is_empty()).collect()
}

#[test]
fn plan_on_the_lab_shows_the_chain_and_the_phases_and_changes_nothing() {
    let missing = ferry::lab::ceph::missing_packages().expect("asking dpkg which ceph packages are installed");
    assert!(missing.is_empty(), "this test needs {0}: apt-get install -y --no-install-recommends {0}. It fails rather than skips.", missing.join(" "));
    // Declared first, dropped last: the lab is down before its dir goes.
    let dir = TestDir::new("plan_lab");
    let lab = TwoSites::up(dir.path());
    let (inventory, known_hosts) = (lab.path("inventory.yml"), lab.path("known_hosts"));
    let before = lab.footprint();
    assert!(before.contains(r#"{"mode":"disabled"}"#), "the seeded source mirrors nothing yet:\n{before}");

    let plan = |format: &str| {
        Ferry::new("plan", &["plan", "-i", &inventory, "--known-hosts", &known_hosts, "-e", &lab_migration(), "--format", format])
            .timeout(Duration::from_secs(120))
            .run()
    };
    let run = plan("human");
    run.assert_exit(0);
    let text = strip_ansi(&run.stdout);
    assert!(text.starts_with("ferry plan: site-src (via src-node1) -> site-dst (via dst-node1)\n"), "{}", run.transcript());
    assert!(text.contains("nothing was changed"), "{}", run.transcript());

    let tree = section(&text, "Clone chains, mirrored root first:");
    let at = |image: &str| {
        tree.iter()
            .position(|l| l.trim_start_matches(['└', '├', '│', '─', ' ']).starts_with(&format!("{image}  (")))
            .unwrap_or_else(|| panic!("{image} not in the tree {tree:#?}"))
    };
    assert!(at("images/base") < at("volumes/vol-clone") && at("volumes/vol-clone") < at("volumes/vol-grandchild"), "{tree:#?}");
    assert!(tree[at("volumes/vol-grandchild")].contains("└─ volumes/vol-grandchild  (requested; clone of @snap)"), "{tree:#?}");

    let pools = section(&text, "Pools:");
    assert!(pools.iter().any(|l| l.starts_with("  images   image mode:")), "{pools:#?}");
    assert!(pools.iter().any(|l| l.starts_with("  volumes  pool mode:")), "{pools:#?}");
    assert!(text.contains("\nIssues: none\n"), "{}", run.transcript());

    let renames = section(&text, "Renames after the cutover (old -> new):");
    assert!(renames.contains(&"  volumes/vol-clone -> volumes/vm-web-disk") && renames.contains(&"  volumes/vol-plain -> vms/vm-db-disk"), "{renames:#?}");
    assert!(renames.iter().any(|l| l.trim_start().starts_with("other pool:") && l.contains("rbd migration prepare/execute/commit")), "{renames:#?}");
    assert!(text.contains("Proof at the cutover (verify: checksum, keep_source_online: false):\n  checksum:"), "{}", run.transcript());

    let phases: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Phases of "))
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(phases, ["always", "network", "mirror", "sync", "cutover", "cleanup", "replace"], "{}", run.transcript());
    assert!(text.contains(&format!("--known-hosts {known_hosts} --tags cutover")), "{}", run.transcript());

    let json = plan("json");
    json.assert_exit(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}\n{}", json.transcript()));
    assert_eq!(doc["chain"]["order"], serde_json::json!(["images/base", "volumes/vol-plain", "volumes/vol-clone", "volumes/vol-grandchild"]));
    assert_eq!(doc["chain"]["pools"][0]["mode"], "image");
    assert_eq!(doc["chain"]["pools"][1]["mode"], "pool");
    assert_eq!(doc["changed"], false);

    let after = lab.footprint();
    assert!(before == after, "ferry plan changed something on the lab:\n--- before\n{before}\n--- after\n{after}");
}

/// An inventory shaped like the lab's (so the playbook's own checks pass) whose
/// hosts ferry must never reach: the case decides that with `-e`.
fn offline_inventory(dir: &TestDir) -> String {
    let yaml = ferry::lab::TwoSiteLabConfig::default_lab().inventory_yaml();
    dir.write("inventory.yml", &yaml).to_string_lossy().into_owned()
}

#[test]
fn a_migration_image_without_a_pool_stops_the_plan_before_any_connection() {
    let dir = TestDir::new("plan_bad");
    let inventory = offline_inventory(&dir);
    let migration = dir.write("migration.yml", "migration_images:\n  - volumes/vol-clone\n  - vol-grandchild\nmigration_whole_pools: [volumes]\n");
    // Were a connection tried, 127.0.0.1:1 would refuse it and the exit would be 4.
    let run = Ferry::new(
        "plan_bad",
        &["plan", "-i", &inventory, "-e", &format!("@{}", migration.display()), "-e", "ansible_host=127.0.0.1 ansible_port=1", "--no-agent"],
    )
    .run();
    run.assert_exit(1);
    run.assert_output_contains("error: `migration_images[1]`: `vol-grandchild` is not an image spec: the pool is missing");
    run.assert_output_contains(&format!("{}:3:5", migration.display()));
    run.assert_output_contains("nothing was changed");
    run.assert_output_lacks("cannot reach");
}

#[test]
fn an_unreachable_source_admin_is_exit_4_with_the_host_and_the_ssh_error() {
    let dir = TestDir::new("plan_unr");
    let inventory = offline_inventory(&dir);
    let key = dir.path().join("id_ed25519");
    let keygen = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).output().expect("running ssh-keygen");
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    let vars = format!("ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_private_key_file={}", key.display());
    let run = Ferry::new("plan_unr", &["plan", "-i", &inventory, "-e", &lab_migration(), "-e", &vars, "--no-agent", "--format", "json"]).run();
    run.assert_exit(4);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.transcript()));
    assert_eq!(doc["error"]["kind"], "unreachable");
    let msg = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("cannot reach the source admin host src-node1") && msg.contains("127.0.0.1:1: connection refused"), "{msg}");
}
