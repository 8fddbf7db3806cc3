//! `ferry lab demo`, the README's quickstart, as an operator runs it: a fresh
//! two-site lab with real Ceph, the whole of playbooks/site.yml, and the demo's
//! own checks. It must end with every image verified and nothing left over, and
//! nothing it printed may hold a CephX key or a bootstrap token.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Ferry, TestDir};

const LAB: &str = "dmo";

/// `ferry lab down` when the test ends, also on panic.
struct Down;

impl Drop for Down {
    fn drop(&mut self) {
        let _ = Command::new(common::FERRY).args(["lab", "down", "--name", LAB]).stdin(Stdio::null()).output();
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
    let _down = Down;
    let demo = Ferry::new("demo", &["lab", "demo", "--name", LAB, "--net", "172.31.245", "--dir", &lab_dir.to_string_lossy()])
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
