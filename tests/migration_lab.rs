//! The whole migration on a real lab: `ferry lab up` (3 + 3 namespace hosts with
//! sshd, real Ceph 16.2 clusters site-src and site-dst, seeded by
//! playbooks/lab/ceph-seed.yml), then playbooks/site.yml with
//! inventories/lab-migration.yml, through everything an operator meets:
//!
//! - enabling a clone alone (bypassing the planner) is refused, naming the
//!   unmirrored parent; the planner's order then mirrors the clone two levels
//!   deep without any "parent image not mirrored";
//! - rbd-mirror killed in the middle of the sync wait: a stall naming the image
//!   and the daemon's last state, not an endless wait;
//! - a cutover while the target is behind is refused with the figures, and
//!   nothing is demoted;
//! - ferry SIGKILLed during the sync wait, and again during the demotions of the
//!   cutover: never two primaries, and the next run completes;
//! - a watched new-VM volume stops replace.yml, which says why and touches
//!   nothing; once the watcher is gone the run completes;
//! - a second run reports changed=0; `ferry lab verify` (OpenSSH and the rbd
//!   tools, not ferry's modules) finds the source's bytes under the new names,
//!   promoted, writable, and nothing of the migration left;
//! - no CephX key and no bootstrap token in anything ferry printed.
//!
//! Beside it (in parallel: its own lab and subnet), `ferry lab demo`, the
//! README's quickstart, as an operator runs it: a fresh lab, the whole of
//! site.yml and the demo's own checks, nothing printed that looks like a key.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Ferry, Run, TestDir};

const PROJECT: &str = env!("CARGO_MANIFEST_DIR");
const LAB: &str = "mig";
const NET: &str = "172.31.244";

/// The lab of this test; `ferry lab down` when the test ends, also on panic.
struct LabUp {
    dir: PathBuf,
}

impl LabUp {
    fn start(dir: &Path) -> (LabUp, Run) {
        let lab_dir = dir.join("lab");
        let run = Ferry::new("migup", &["lab", "up", "--name", LAB, "--net", NET, "--dir", &lab_dir.to_string_lossy()]).timeout(Duration::from_secs(600)).run();
        (LabUp { dir: lab_dir }, run)
    }

    fn inventory(&self) -> String {
        self.dir.join("inventory.yml").display().to_string()
    }

    fn known_hosts(&self) -> String {
        self.dir.join("known_hosts").display().to_string()
    }

    /// `script` on `host` through the lab's OpenSSH client config.
    fn ssh(&self, host: &str, script: &str) -> Output {
        Command::new("ssh")
            .arg("-F")
            .arg(self.dir.join("ssh_config"))
            .args(["-o", "BatchMode=yes", host, "--", script])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("ssh {host}: {e}"))
    }

    /// `script` on `host`; its stdout, or a panic with its stderr.
    fn sh(&self, host: &str, script: &str) -> String {
        let out = self.ssh(host, script);
        assert!(out.status.success(), "`{script}` on {host} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn source(&self, args: &str) -> String {
        self.sh("src-node1", &format!("rbd --cluster site-src {args}"))
    }

    fn target(&self, args: &str) -> String {
        self.sh("dst-node1", &format!("rbd --cluster site-dst {args}"))
    }

    /// `mirroring.primary` of an image in `rbd info --format json` (None: not mirrored).
    fn primary(&self, host: &str, cluster: &str, image: &str) -> Option<bool> {
        let text = self.sh(host, &format!("rbd --cluster {cluster} info --format json {image}"));
        let info: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("rbd info {image}: {e}: {text}"));
        info["mirroring"]["primary"].as_bool()
    }

    /// ferry play on this lab: `playbook` (relative to the project) with the lab
    /// migration's vars and `extra` arguments.
    fn play(&self, hint: &str, playbook: &str, extra: &[&str]) -> Ferry {
        let inventory = self.inventory();
        let known_hosts = self.known_hosts();
        let playbook = format!("{PROJECT}/{playbook}");
        let vars = format!("@{PROJECT}/inventories/lab-migration.yml");
        Ferry::new(hint, &["play", &playbook, "-i", &inventory, "--known-hosts", &known_hosts, "-e", &vars]).args(extra).timeout(Duration::from_secs(900))
    }
}

impl Drop for LabUp {
    fn drop(&mut self) {
        let down = Command::new(common::FERRY).args(["lab", "down", "--name", LAB]).output();
        if let Ok(out) = down {
            if !out.status.success() {
                eprintln!("ferry lab down --name {LAB}: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}

/// Everything ferry printed, to be searched for secrets at the end.
#[derive(Default)]
struct Outputs(Vec<(String, String)>);

impl Outputs {
    fn keep(&mut self, what: &str, run: &Run) {
        self.0.push((what.to_string(), format!("{}\n{}", run.stdout, run.stderr)));
    }
}

#[test]
fn a_whole_migration_survives_crashes_refusals_and_reruns() {
    let missing = ferry::lab::ceph::missing_packages().expect("asking dpkg which packages are installed");
    assert!(missing.is_empty(), "this test needs {0}: apt-get install -y {0} (.ci/run installs them). It fails rather than skips.", missing.join(" "));
    let started = Instant::now();
    let dir = TestDir::new("migration");
    let (lab, up) = LabUp::start(dir.path());
    up.assert_exit(0);
    up.assert_output_contains("ceph site-src").assert_output_contains("ceph site-dst");
    let mut outputs = Outputs::default();
    outputs.keep("ferry lab up", &up);
    eprintln!("lab up in {:.0} s", started.elapsed().as_secs_f64());

    let status = Ferry::new("migst", &["lab", "status", "--name", LAB]).run();
    status.assert_exit(0).assert_output_contains("site-src").assert_output_contains("mon.a running").assert_output_contains("osd.0 running");

    // The seed is there: a clone two levels deep, the new VMs' empty volumes.
    assert!(lab.source("info volumes/vol-grandchild").contains("parent: volumes/vol-clone@snap"));
    assert!(lab.source("info volumes/vol-clone").contains("parent: images/base@snap"));
    assert!(lab.target("ls volumes").contains("vm-web-disk"));

    // 1. Enabling the clone alone, bypassing the planner: refused, naming the parent.
    let bypass = Ferry::new("migbypass", &["play", "bypass.yml", "-i", &lab.inventory(), "--known-hosts", &lab.known_hosts(), "--format", "human"])
        .with_file(
            "bypass.yml",
            "- hosts: source_admin\n  gather_facts: false\n  tasks:\n\
         \x20   - rbd_mirror_pool: {pool: volumes, mode: image, site_name: site-src, cluster: site-src}\n\
         \x20   - rbd_mirror_image: {image: volumes/vol-clone, state: enabled, mode: journal, cluster: site-src}\n",
        )
        .run();
    outputs.keep("bypass", &bypass);
    bypass.assert_exit(2);
    bypass.assert_output_contains("images/base");
    assert!(bypass.output().contains("not mirrored"), "the refusal says why\n{}", bypass.transcript());
    assert_eq!(lab.primary("src-node1", "site-src", "volumes/vol-clone"), None, "the refused clone got mirroring anyway");

    // 2. Network, mirror and sync phases; then rbd-mirror dies and the source
    //    gets new writes: the sync wait reports a stall instead of waiting forever.
    let mirror = lab.play("migmirror", "playbooks/site.yml", &["--tags", "network,mirror,sync", "--format", "human"]).run();
    outputs.keep("site.yml --tags network,mirror,sync", &mirror);
    mirror.assert_exit(0);
    // The clone two levels deep arrived: the planner mirrored its parents first.
    assert!(mirror.output().contains("volumes/vol-grandchild: in sync (journal mode), up+replaying, 0 entries behind"), "{}", mirror.transcript());
    assert!(!mirror.output().contains("parent image not mirrored"), "{}", mirror.transcript());
    assert!(lab.target("info volumes/vol-grandchild").contains("parent: volumes/vol-clone@snap"), "the clone on the target keeps its parent");
    let pid_file = "/run/ferry-site-dst-rbd-mirror.site-dst.pid";
    let pid = lab.sh("dst-node1", &format!("cat {pid_file}"));
    assert!(pid.parse::<u32>().is_ok(), "rbd-mirror's pid file holds {pid:?}");
    // Secrets that exist while mirroring is set up, for the final search.
    let mut secrets: Vec<(String, String)> = Vec::new();
    for (host, cluster, user) in [
        ("src-node1", "site-src", "client.admin"),
        ("src-node1", "site-src", "client.rbd-mirror-peer"),
        ("src-node1", "site-src", "client.ferry-link"),
        ("dst-node1", "site-dst", "client.admin"),
        ("dst-node1", "site-dst", "client.rbd-mirror.site-dst"),
    ] {
        let key = lab.sh(host, &format!("ceph --cluster {cluster} auth print-key {user}"));
        assert!(key.len() >= 40, "{user}: {key:?}");
        secrets.push((format!("{cluster} {user} key"), key));
    }
    // The token is base64 of {fsid, client_id, key, mon_host}: asking again gives the same one.
    let token = lab.sh("src-node1", "rbd --cluster site-src mirror pool peer bootstrap create --site-name site-src volumes");
    assert!(token.len() > 100, "bootstrap token: {token:?}");
    secrets.push(("bootstrap token".into(), token));

    // New writes, then rbd-mirror is killed 3 s into the wait (a wait cannot
    // finish that soon: it needs a status rbd-mirror rewrote during it).
    lab.source("bench --io-type write --io-size 64K --io-total 4M --io-pattern rand volumes/vol-plain >/dev/null");
    let ssh_config = lab.dir.join("ssh_config");
    let kill_daemon = move || {
        let out = Command::new("ssh")
            .arg("-F")
            .arg(&ssh_config)
            .args(["-o", "BatchMode=yes", "dst-node1", "--", &format!("kill -9 $(cat {pid_file})")])
            .stdin(Stdio::null())
            .output()
            .expect("ssh dst-node1");
        assert!(out.status.success(), "killing rbd-mirror: {}", String::from_utf8_lossy(&out.stderr));
    };
    let stalled = lab
        .play("migstall", "playbooks/site.yml", &["--tags", "sync", "--format", "human", "-e", "sync_stall_after=25", "-e", "sync_timeout=240"])
        .on_output("TASK [every image is on the target and caught up]", Duration::from_secs(3), kill_daemon)
        .run();
    outputs.keep("sync with rbd-mirror dead", &stalled);
    stalled.assert_exit(2);
    assert!(
        stalled.output().contains("stalled: no figure moved for 25s") || stalled.output().contains("did not appear"),
        "the wait names the stall\n{}",
        stalled.transcript()
    );
    stalled.assert_output_contains("the daemon says");

    // 3. A cutover now is refused with the figures, and nothing is demoted.
    let refused = lab.play("migrefuse", "playbooks/site.yml", &["--tags", "cutover", "--format", "human", "-e", "cutover_sync_timeout=15"]).run();
    outputs.keep("cutover while behind", &refused);
    refused.assert_exit(2);
    refused.assert_output_contains("cutover refused, nothing demoted");
    for image in ["images/base", "volumes/vol-clone", "volumes/vol-grandchild", "volumes/vol-plain"] {
        assert_eq!(lab.primary("src-node1", "site-src", image), Some(true), "{image} was demoted by a refused cutover\n{}", refused.transcript());
    }

    // 4. The whole site.yml, SIGKILLed during the sync wait (mirror.yml restarts
    //    rbd-mirror first): no image is demoted by the dead run.
    let killed = lab
        .play("migkill", "playbooks/site.yml", &["--format", "human"])
        .kill_on_output("TASK [every image is on the target and caught up]", Duration::from_secs(2))
        .run();
    outputs.keep("site.yml killed during sync", &killed);
    assert_eq!(killed.code, None, "ferry was to be killed during the sync wait\n{}", killed.transcript());
    for image in ["images/base", "volumes/vol-plain"] {
        assert_eq!(lab.primary("src-node1", "site-src", image), Some(true), "{image} demoted before the cutover");
    }

    // 4b. SIGKILLed again, during the demotions of the cutover: no image may be
    //     primary on both sides, whatever the moment.
    let killed = lab
        .play("migkillcut", "playbooks/site.yml", &["--format", "human"])
        .kill_on_output("TASK [demote on the source, clones before their parents]", Duration::from_millis(1500))
        .run();
    outputs.keep("site.yml killed during the cutover", &killed);
    assert_eq!(killed.code, None, "ferry was to be killed during the cutover\n{}", killed.transcript());
    for image in ["images/base", "volumes/vol-clone", "volumes/vol-grandchild", "volumes/vol-plain"] {
        let (source, target) = (lab.primary("src-node1", "site-src", image), lab.primary("dst-node1", "site-dst", image));
        assert!(!(source == Some(true) && target == Some(true)), "{image} is primary on both sides after a crash in the cutover");
    }

    // 5. The new VM's volume is in use: replace.yml refuses and says why; the
    //    phases before it complete, nothing of the new VM's volume is touched.
    // `rbd watch` runs until its stdin ends ("press enter to exit"): it reads a
    // pipe from a `sleep` whose pid is kept, so stopping that sleep lets rbd
    // unwatch cleanly (a killed client stays listed until the OSD times it out).
    lab.sh(
        "dst-node1",
        "setsid sh -c '(sleep 100000 & echo $! > /tmp/watch-stdin.pid; wait) | rbd --cluster site-dst watch volumes/vm-web-disk' >/dev/null 2>&1 </dev/null &",
    );
    let watchers = |want: bool| {
        (0..100)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(300));
                lab.target("status --format json volumes/vm-web-disk")
            })
            .find(|s| s.contains("\"watchers\":[{") == want)
    };
    let watched_status = watchers(true).unwrap_or_else(|| panic!("rbd watch never showed as a watcher of volumes/vm-web-disk"));
    assert!(watched_status.contains("address"), "{watched_status}");
    let blocked = lab.play("migwatch", "playbooks/site.yml", &["--format", "json"]).run();
    outputs.keep("site.yml with a watched new-VM volume", &blocked);
    blocked.assert_exit(2);
    let failure = blocked
        .events("task_result")
        .into_iter()
        .find(|e| e["status"] == "failed")
        .unwrap_or_else(|| panic!("no failed task\n{}", blocked.transcript()))
        .clone();
    let msg = failure["msg"].as_str().unwrap_or_default();
    assert!(msg.contains("volumes/vm-web-disk is in use by client.") && msg.contains("stop the VM"), "replace says why: {msg}");
    assert!(lab.target("ls volumes").lines().any(|l| l == "vm-web-disk"), "the watched volume left its place");
    assert!(lab.target("ls volumes").lines().any(|l| l == "vol-clone"), "the migrated volume was renamed over a watched one");
    lab.sh("dst-node1", "kill $(cat /tmp/watch-stdin.pid)");
    assert!(watchers(false).is_some(), "the watcher did not go away");

    // 6. Without the watcher the run completes; a second run changes nothing.
    let finish = lab.play("migfinish", "playbooks/site.yml", &["--format", "human"]).run();
    outputs.keep("site.yml to the end", &finish);
    finish.assert_exit(0);
    let again = lab.play("migagain", "playbooks/site.yml", &["--format", "json"]).run();
    outputs.keep("site.yml again", &again);
    again.assert_exit(0);
    let hosts = again.recap_hosts();
    assert_eq!(hosts.len(), 6, "{}", again.transcript());
    for host in &hosts {
        assert_eq!(again.recap(host).changed, 0, "second run changed {host}\n{}", again.transcript());
    }

    // 7. Checked without ferry's modules: bytes, names, promotion, leftovers.
    let verify = Ferry::new("migverify", &["lab", "verify", "--name", LAB]).timeout(Duration::from_secs(300)).run();
    verify.assert_exit(0);
    verify.assert_output_contains("nothing of the migration is left (4 images)");
    for (source, target) in
        [("volumes/vol-clone", "volumes/vm-web-disk"), ("volumes/vol-plain", "vms/vm-db-disk"), ("volumes/vol-grandchild", "volumes/vol-grandchild")]
    {
        let sum = |host: &str, cluster: &str, image: &str| lab.sh(host, &format!("rbd --cluster {cluster} export --no-progress {image} - | sha256sum"));
        assert_eq!(sum("src-node1", "site-src", source), sum("dst-node1", "site-dst", target), "{source} -> {target}");
    }
    // The new VMs' own volumes went to the trash, from where they can come back.
    let trash = lab.target("trash ls volumes") + &lab.target("trash ls vms");
    assert!(trash.contains("vm-web-disk") && trash.contains("vm-db-disk"), "trash: {trash}");

    // 8. What replace.yml moved to the trash comes back through ferry, under
    //    another name (the migrated volume keeps vm-web-disk).
    let restore = Ferry::new("migrestore", &["play", "restore.yml", "-i", &lab.inventory(), "--known-hosts", &lab.known_hosts(), "--format", "json"])
        .with_file(
            "restore.yml",
            "- hosts: target_admin\n  gather_facts: false\n  tasks:\n\
             \x20   - rbd_image: {action: restore, image: volumes/vm-web-disk, dest: vm-web-disk-new-vm, cluster: site-dst}\n",
        )
        .run();
    outputs.keep("restore from the trash", &restore);
    restore.assert_exit(0);
    assert!(lab.target("ls volumes").lines().any(|l| l == "vm-web-disk-new-vm"), "the new VM's volume did not come back\n{}", restore.transcript());
    assert!(
        !lab.target("info --format json volumes/vm-web-disk-new-vm").contains("\"parent\""),
        "the restored image is the new VM's empty one, not the migrated clone"
    );

    // 9. No key and no token in anything ferry printed (human and JSON).
    for (what, text) in &outputs.0 {
        for (name, secret) in &secrets {
            assert!(!text.contains(secret.as_str()), "{name} appears in the output of {what}");
        }
        let leaks = secret_like(text);
        assert!(leaks.is_empty(), "the output of {what} holds what looks like a key or token: {leaks:?}");
    }
    eprintln!("whole test {:.0} s", started.elapsed().as_secs_f64());
}

const DEMO_LAB: &str = "dmo";

/// `ferry lab down --name dmo` when the demo test ends, also on panic.
struct DemoDown;

impl Drop for DemoDown {
    fn drop(&mut self) {
        let _ = Command::new(common::FERRY).args(["lab", "down", "--name", DEMO_LAB]).stdin(Stdio::null()).output();
    }
}

/// Words that look like a CephX secret (base64 of 28 bytes: 40 characters,
/// `AQ...==`) or a bootstrap token (base64 of a JSON object: `eyJ...`).
fn secret_like(text: &str) -> Vec<String> {
    let b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';
    text.split(|c: char| !b64(c))
        .filter(|w| (w.len() == 40 && w.starts_with("AQ") && w.ends_with("==")) || (w.starts_with("eyJ") && w.len() > 60))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_demo_migrates_verifies_and_leaks_no_secret() {
    let missing = ferry::lab::ceph::missing_packages().expect("asking dpkg which packages are installed");
    assert!(missing.is_empty(), "this test needs {0}: apt-get install -y {0} (.ci/run installs them). It fails rather than skips.", missing.join(" "));
    let dir = TestDir::new("demo");
    let lab_dir = dir.path().join("lab");
    let _down = DemoDown;
    let demo = Ferry::new("demo", &["lab", "demo", "--name", DEMO_LAB, "--net", "172.31.245", "--dir", &lab_dir.to_string_lossy()])
        .timeout(Duration::from_secs(1200))
        .run();
    demo.assert_exit(0);
    for line in [
        "volumes/vol-clone        volumes/vm-web-disk",
        "volumes/vol-plain        vms/vm-db-disk",
        "volumes/vol-grandchild   volumes/vol-grandchild",
        "images/base              images/base",
        "rbd-mirror daemons                           none running",
        "iptables rules tagged ferry:                 none on any node",
        "every image has the source's bytes under its new name, promoted and writable; nothing of the migration is left (4 images)",
    ] {
        demo.assert_output_contains(line);
    }
    assert!(!demo.output().contains("FAIL"), "{}", demo.transcript());

    // The admin keys are still there to compare with; the migration's own users
    // are gone, so their keys are caught by shape.
    for (host, cluster) in [("src-node1", "site-src"), ("dst-node1", "site-dst")] {
        let out = Command::new("ssh")
            .arg("-F")
            .arg(lab_dir.join("ssh_config"))
            .args(["-o", "BatchMode=yes", host, "--", &format!("ceph --cluster {cluster} auth print-key client.admin")])
            .stdin(Stdio::null())
            .output()
            .expect("ssh");
        let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(secret_like(&key), vec![key.clone()], "{cluster}'s admin key has the shape this test looks for");
        demo.assert_output_lacks(&key);
    }
    let leaks = secret_like(&demo.output());
    assert!(leaks.is_empty(), "the demo printed what looks like a key or token: {leaks:?}");
}

#[test]
fn the_secret_detector_finds_keys_and_tokens() {
    let key = "AQBxyz0lAAAAABAA4k5eQm7gTfFhQW0sS2E2YQ==";
    assert_eq!(key.len(), 40);
    assert_eq!(secret_like(&format!("key = {key}\n")), vec![key.to_string()]);
    let token = "eyJmc2lkIjoiMmE1Y2QzNTYtZTI1ZC00ZTA3LWFjYzQtZDNlNjdmZmRkZGU3NiIsImNsaWVudF9pZCI6InJiZC1taXJyb3ItcGVlciJ9";
    assert_eq!(secret_like(&format!("token: {token} end")), vec![token.to_string()]);
    assert!(secret_like("sha256 13ecb211d09ba381 images/base ok").is_empty());
}
