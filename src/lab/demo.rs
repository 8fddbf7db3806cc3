//! `ferry lab demo`: a whole rehearsal migration on a fresh lab, then checks of
//! its outcome that do not trust ferry's own playbooks: every migrated image is
//! read on both sides (`rbd export | sha256sum`), found under its new name,
//! writable on the target, and nothing of the migration is left behind.
//!
//! The checks run over OpenSSH's own client with the lab's `ssh_config` (not
//! through ferry's transport or modules), so a bug in ferry cannot hide itself
//! here. `ferry lab verify` runs them alone on a lab that is up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::cli::{bring_up, ferry_play, project_dir, say, Options, USAGE};
use super::registry::LabRecord;
use super::{LabError, SOURCE_CLUSTER, TARGET_CLUSTER};
use crate::ceph::{ImageInfo, ImageSpec, MirrorPoolInfo, PoolMirrorMode, MAX_CHAIN_DEPTH};
use crate::transport::RemoteCommand;

/// The example migration the demo runs, relative to ferry's source tree.
const MIGRATION_FILE: &str = "inventories/lab-migration.yml";
/// The playbook it runs.
const SITE_PLAYBOOK: &str = "playbooks/site.yml";

/// Runs `ferry lab demo ARGS...` (the options of `ferry lab up`).
pub(crate) fn demo_command(args: &[String]) -> Result<(), LabError> {
    let opts = Options::parse(args, USAGE)?;
    if opts.no_ceph {
        return Err(LabError::Config("ferry lab demo migrates Ceph volumes: it cannot run with --no-ceph".into()));
    }
    let started = Instant::now();
    let (lab, project) = bring_up(&opts)?;
    let project = project.ok_or_else(|| LabError::Config("the lab came up without Ceph".into()))?;
    let up_secs = started.elapsed().as_secs_f64();
    let migration_file = project.join(MIGRATION_FILE);
    let migration = Migration::load(&migration_file)?;

    let name = lab.name().to_string();
    say(format!("rehearsing the migration: ferry play {SITE_PLAYBOOK} -e @{MIGRATION_FILE}"));
    let site_started = Instant::now();
    let code = ferry_play(&[
        project.join(SITE_PLAYBOOK).display().to_string(),
        "-i".into(),
        lab.inventory().display().to_string(),
        "--known-hosts".into(),
        lab.known_hosts().display().to_string(),
        "-e".into(),
        format!("@{}", migration_file.display()),
    ]);
    let site_secs = site_started.elapsed().as_secs_f64();
    if code != 0 {
        lab.persist();
        return Err(LabError::Config(format!(
            "{SITE_PLAYBOOK} failed (exit {code}, see above); the lab is left up to look at: ferry lab status --name {name}; ferry lab down --name {name}"
        )));
    }

    let dir = lab.persist();
    say(String::new());
    let timings = vec![
        ("lab up (namespaces, sshd, two Ceph clusters, seed data)".to_string(), up_secs),
        ("site.yml (network, mirror, sync, cutover, cleanup, replace)".to_string(), site_secs),
    ];
    let outcome = check_and_report(&dir, &migration, &timings);
    say(format!("the lab stays up: ferry lab status --name {name}; remove it with ferry lab down --name {name}"));
    outcome
}

/// Runs `ferry lab verify [--name NAME] [--project DIR]`: the demo's checks on a
/// lab that is up, after a migration with `inventories/lab-migration.yml`.
pub(crate) fn verify_command(args: &[String]) -> Result<(), LabError> {
    let opts = Options::parse(args, USAGE)?;
    let name = opts.name.clone().unwrap_or_else(|| "lab".into());
    let record =
        LabRecord::load(&LabRecord::registry_path(&name))?.ok_or_else(|| LabError::Config(format!("lab {name} is not up (`ferry lab up --name {name}`)")))?;
    let migration = Migration::load(&project_dir(opts.project.as_deref())?.join(MIGRATION_FILE))?;
    check_and_report(&record.dir, &migration, &[])
}

/// The checks, printed as a report; an error naming every failed check.
fn check_and_report(dir: &Path, migration: &Migration, timings: &[(String, f64)]) -> Result<(), LabError> {
    say("checking the outcome on the clusters themselves (OpenSSH and the rbd/ceph tools, not ferry's modules)".into());
    let checks = Checks::new(dir)?;
    let report = checks.report(migration);
    for line in report.render(timings) {
        say(line);
    }
    let failed = report.failures();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(LabError::Config(format!("the rehearsal's outcome is wrong: {}", failed.join("; "))))
    }
}

/// What the migration vars file asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Migration {
    images: Vec<ImageSpec>,
    renames: BTreeMap<ImageSpec, ImageSpec>,
}

impl Migration {
    fn load(path: &Path) -> Result<Migration, LabError> {
        let text = std::fs::read_to_string(path).map_err(|e| LabError::io(format!("reading {}", path.display()), e))?;
        Migration::parse(&text).map_err(|e| LabError::Config(format!("{}: {e}", path.display())))
    }

    fn parse(text: &str) -> Result<Migration, String> {
        let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let spec = |v: &serde_yaml::Value, what: &str| -> Result<ImageSpec, String> {
            let s = v.as_str().ok_or_else(|| format!("{what}: expected pool/name, got {v:?}"))?;
            s.parse::<ImageSpec>().map_err(|e| format!("{what}: {e}"))
        };
        let images = doc["migration_images"]
            .as_sequence()
            .ok_or("migration_images: expected a list of pool/name")?
            .iter()
            .map(|v| spec(v, "migration_images"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut renames = BTreeMap::new();
        if let Some(map) = doc["migration_renames"].as_mapping() {
            for (old, new) in map {
                renames.insert(spec(old, "migration_renames")?, spec(new, "migration_renames")?);
            }
        }
        Ok(Migration { images, renames })
    }
}

/// One verdict of the demo's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    ok: bool,
    what: String,
    detail: String,
}

/// Every verdict, in the order they were taken.
#[derive(Debug, Default)]
struct Report {
    images: Vec<ImageRow>,
    leftovers: Vec<Verdict>,
}

/// One migrated image, both sides.
#[derive(Debug)]
struct ImageRow {
    source: ImageSpec,
    target: ImageSpec,
    source_sum: Result<String, String>,
    target_sum: Result<String, String>,
    state: Verdict,
}

impl ImageRow {
    fn same_bytes(&self) -> bool {
        matches!((&self.source_sum, &self.target_sum), (Ok(a), Ok(b)) if a == b && a.len() == 64)
    }
}

impl Report {
    fn failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        for row in &self.images {
            if !row.same_bytes() {
                f.push(format!("{} -> {}: checksums differ or could not be read ({:?} vs {:?})", row.source, row.target, row.source_sum, row.target_sum));
            }
            if !row.state.ok {
                f.push(format!("{}: {}", row.target, row.state.detail));
            }
        }
        f.extend(self.leftovers.iter().filter(|v| !v.ok).map(|v| format!("{}: {}", v.what, v.detail)));
        f
    }

    fn render(&self, timings: &[(String, f64)]) -> Vec<String> {
        let mark = |ok: bool| if ok { "ok  " } else { "FAIL" };
        let short = |sum: &Result<String, String>| match sum {
            Ok(s) => s.chars().take(16).collect::<String>(),
            Err(e) => format!("error: {e}"),
        };
        let mut out = vec![String::new(), "REHEARSAL".into()];
        for (what, secs) in timings {
            out.push(format!("  {what:<62} {secs:>5.0} s"));
        }
        out.extend([
            String::new(),
            format!("  {:<4} {:<24} {:<24} {:<18} {:<18} {}", "", "source image", "on the target", "sha256 source", "sha256 target", "target copy"),
        ]);
        for row in &self.images {
            out.push(format!(
                "  {} {:<24} {:<24} {:<18} {:<18} {}",
                mark(row.same_bytes() && row.state.ok),
                row.source.to_string(),
                row.target.to_string(),
                short(&row.source_sum),
                short(&row.target_sum),
                row.state.detail
            ));
        }
        out.push(String::new());
        out.push("  left behind by the migration".into());
        for v in &self.leftovers {
            out.push(format!("  {} {:<44} {}", mark(v.ok), v.what, v.detail));
        }
        let failed = self.failures().len();
        out.push(String::new());
        out.push(if failed == 0 {
            format!(
                "  every image has the source's bytes under its new name, promoted and writable; nothing of the migration is left ({} images)",
                self.images.len()
            )
        } else {
            format!("  {failed} check(s) FAILED")
        });
        out
    }
}

/// One node, as `DIR/two-site.json` records it.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    target: bool,
    netns: String,
}

/// The checks, run over SSH with the lab's own client files.
struct Checks {
    ssh_config: PathBuf,
    nodes: Vec<Node>,
    source_host: String,
    target_host: String,
}

impl Checks {
    /// From the lab's dir: its `two-site.json` and `ssh_config`.
    fn new(dir: &Path) -> Result<Checks, LabError> {
        let path = dir.join("two-site.json");
        let text = std::fs::read_to_string(&path).map_err(|e| LabError::io(format!("reading {}", path.display()), e))?;
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| LabError::Config(format!("{}: {e}", path.display())))?;
        let nodes: Vec<Node> = doc["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| Some(Node { name: h["name"].as_str()?.to_string(), target: h["site"] == "target", netns: h["netns"].as_str()?.to_string() }))
            .collect();
        let host_of = |cluster: &str| {
            doc["ceph"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["cluster"] == cluster)
                .and_then(|c| c["host"].as_str().map(str::to_string))
                .ok_or_else(|| LabError::Config(format!("{} records no Ceph cluster {cluster}: was the lab built with --no-ceph?", path.display())))
        };
        Ok(Checks { ssh_config: dir.join("ssh_config"), source_host: host_of(SOURCE_CLUSTER)?, target_host: host_of(TARGET_CLUSTER)?, nodes })
    }

    /// `argv` on `host` over SSH: stdout on success, else what went wrong.
    fn run(&self, host: &str, argv: &[&str]) -> Result<String, String> {
        let line = RemoteCommand::argv(argv.iter().copied()).to_shell_line();
        let out = Command::new("ssh")
            .arg("-F")
            .arg(&self.ssh_config)
            .args(["-o", "BatchMode=yes", host, "--", &line])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("ssh {host}: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!("`{}` on {host}: {}", argv.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
        }
    }

    fn rbd(&self, host: &str, cluster: &str, args: &[&str]) -> Result<String, String> {
        let mut argv = vec!["rbd", "--cluster", cluster];
        argv.extend_from_slice(args);
        self.run(host, &argv)
    }

    fn sha256(&self, host: &str, cluster: &str, image: &ImageSpec) -> Result<String, String> {
        let script = "set -o pipefail; rbd --cluster \"$1\" export --no-progress \"$2\" - | sha256sum | cut -d' ' -f1";
        self.run(host, &["bash", "-c", script, "sha256", cluster, &image.to_string()]).map(|s| s.trim().to_string())
    }

    /// The requested images and their parents, parents first (read on the source).
    fn chain(&self, migration: &Migration) -> Vec<ImageSpec> {
        let mut order: Vec<ImageSpec> = Vec::new();
        for image in &migration.images {
            let mut lineage = vec![image.clone()];
            let mut at = image.clone();
            // A parent already placed has its own parents placed before it.
            for _ in 0..MAX_CHAIN_DEPTH {
                if order.contains(&at) {
                    break;
                }
                let parent = self
                    .rbd(&self.source_host, SOURCE_CLUSTER, &["info", "--format", "json", &at.to_string()])
                    .ok()
                    .and_then(|text| ImageInfo::parse(&text).ok())
                    .and_then(|info| info.parent)
                    .and_then(|p| Some(ImageSpec::new(p.pool?, p.image?)));
                match parent {
                    Some(p) => {
                        lineage.push(p.clone());
                        at = p;
                    }
                    None => break,
                }
            }
            for spec in lineage.into_iter().rev() {
                if !order.contains(&spec) {
                    order.push(spec);
                }
            }
        }
        order
    }

    fn report(&self, migration: &Migration) -> Report {
        let mut report = Report::default();
        // Read once: the images (and their pools) the other checks are about.
        let chain = self.chain(migration);
        for source in chain.iter().cloned() {
            let target = migration.renames.get(&source).cloned().unwrap_or_else(|| source.clone());
            let source_sum = self.sha256(&self.source_host, SOURCE_CLUSTER, &source);
            let target_sum = self.sha256(&self.target_host, TARGET_CLUSTER, &target);
            let state = self.target_state(&source, &target);
            report.images.push(ImageRow { source, target, source_sum, target_sum, state });
        }
        report.leftovers = self.leftovers(&chain);
        report
    }

    /// The target copy stands alone (no mirroring), takes writes (a snapshot
    /// is refused on a non-primary image), and its old name is free.
    fn target_state(&self, source: &ImageSpec, target: &ImageSpec) -> Verdict {
        let what = target.to_string();
        let info = match self.rbd(&self.target_host, TARGET_CLUSTER, &["info", "--format", "json", &what]).map(|t| ImageInfo::parse(&t)) {
            Ok(Ok(info)) => info,
            Ok(Err(e)) => return Verdict { ok: false, what, detail: format!("rbd info unreadable: {e}") },
            Err(e) => return Verdict { ok: false, what, detail: e },
        };
        if info.is_mirroring_enabled() {
            return Verdict { ok: false, what, detail: "still mirrored".into() };
        }
        let snap = format!("{what}@ferry-demo-writable");
        if let Err(e) = self.rbd(&self.target_host, TARGET_CLUSTER, &["snap", "create", &snap]) {
            return Verdict { ok: false, what, detail: format!("not writable: {e}") };
        }
        if let Err(e) = self.rbd(&self.target_host, TARGET_CLUSTER, &["snap", "rm", "--no-progress", &snap]) {
            return Verdict { ok: false, what, detail: format!("could not remove the test snapshot {snap}: {e}") };
        }
        if source != target && self.rbd(&self.target_host, TARGET_CLUSTER, &["info", &source.to_string()]).is_ok() {
            return Verdict { ok: false, what, detail: format!("{source} still exists on the target beside it") };
        }
        let renamed = if source == target { String::new() } else { format!(", renamed from {source}") };
        Verdict { ok: true, what, detail: format!("promoted, writable, not mirrored{renamed}") }
    }

    /// Peers, mirror modes, rbd-mirror, forwarding and firewall rules, CephX users, confs.
    fn leftovers(&self, chain: &[ImageSpec]) -> Vec<Verdict> {
        let mut v = Vec::new();
        let mut pools: Vec<String> = chain.iter().map(|s| s.pool.clone()).collect();
        pools.sort();
        pools.dedup();
        for (host, cluster) in [(&self.source_host, SOURCE_CLUSTER), (&self.target_host, TARGET_CLUSTER)] {
            for pool in &pools {
                let what = format!("{cluster} pool {pool}: mirroring and peers");
                let verdict = match self.rbd(host, cluster, &["mirror", "pool", "info", "--format", "json", pool]).map(|t| MirrorPoolInfo::parse(&t)) {
                    Ok(Ok(info)) => {
                        let disabled = matches!(info.mode, None | Some(PoolMirrorMode::Disabled));
                        let detail = format!("mode {}, {} peer(s)", info.mode.map(|m| m.to_string()).unwrap_or_else(|| "disabled".into()), info.peers.len());
                        Verdict { ok: disabled && info.peers.is_empty(), what, detail }
                    }
                    Ok(Err(e)) => Verdict { ok: false, what, detail: e.to_string() },
                    Err(e) => Verdict { ok: false, what, detail: e },
                };
                v.push(verdict);
            }
        }
        for (host, cluster, user) in [
            (&self.source_host, SOURCE_CLUSTER, "client.ferry-link"),
            (&self.source_host, SOURCE_CLUSTER, "client.rbd-mirror-peer"),
            (&self.target_host, TARGET_CLUSTER, &*format!("client.rbd-mirror.{TARGET_CLUSTER}")),
        ] {
            let exists = self.run(host, &["ceph", "--cluster", cluster, "--connect-timeout", "30", "auth", "get", user]).is_ok();
            v.push(Verdict { ok: !exists, what: format!("{cluster} CephX user {user}"), detail: if exists { "still there".into() } else { "gone".into() } });
        }
        let mirrors: Vec<String> = self.nodes.iter().filter(|n| !processes_named(&n.netns, "rbd-mirror").is_empty()).map(|n| n.name.clone()).collect();
        v.push(Verdict {
            ok: mirrors.is_empty(),
            what: "rbd-mirror daemons".into(),
            detail: if mirrors.is_empty() { "none running".into() } else { format!("running on {}", mirrors.join(", ")) },
        });
        let mut tagged = Vec::new();
        let mut firewalled = Vec::new();
        let mut confs = Vec::new();
        for node in &self.nodes {
            let name = &node.name;
            if self.run(name, &["iptables-save"]).map(|t| t.contains("ferry:")).unwrap_or(true) {
                tagged.push(name.clone());
            }
            if self.run(name, &["ufw", "status"]).map(|t| t.contains("ferry:") || !t.contains("inactive")).unwrap_or(true) {
                firewalled.push(name.clone());
            }
            if node.target && self.run(name, &["test", "-e", &format!("/etc/ceph/{SOURCE_CLUSTER}.conf")]).is_ok() {
                confs.push(name.clone());
            }
        }
        let list = |hosts: &[String], none: &str| if hosts.is_empty() { none.to_string() } else { format!("still on {}", hosts.join(", ")) };
        v.push(Verdict { ok: tagged.is_empty(), what: "iptables rules tagged ferry:".into(), detail: list(&tagged, "none on any node") });
        v.push(Verdict { ok: firewalled.is_empty(), what: "ufw rules (ufw left as it was: inactive)".into(), detail: list(&firewalled, "none on any node") });
        v.push(Verdict { ok: confs.is_empty(), what: format!("/etc/ceph/{SOURCE_CLUSTER}.conf on target nodes"), detail: list(&confs, "none") });
        v
    }
}

/// PIDs of the processes called `comm` in the network namespace `netns` (read
/// from the controller: a daemon that hides from `ps` inside the node cannot).
fn processes_named(netns: &str, comm: &str) -> Vec<u32> {
    let Ok(out) = Command::new("ip").args(["netns", "pids", netns]).output() else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_migration_file_parses() {
        let text = include_str!("../../inventories/lab-migration.yml");
        let m = Migration::parse(text).unwrap();
        assert_eq!(m.images.len(), 3);
        assert_eq!(m.renames.get(&"volumes/vol-plain".parse().unwrap()), Some(&"vms/vm-db-disk".parse().unwrap()));
        assert!(Migration::parse("migration_images: volumes/x").unwrap_err().contains("expected a list"));
        assert!(Migration::parse("migration_images: [nopool]").is_err());
    }

    #[test]
    fn a_report_with_a_differing_checksum_fails() {
        let row = |a: &str, b: &str| ImageRow {
            source: "volumes/a".parse().unwrap(),
            target: "volumes/b".parse().unwrap(),
            source_sum: Ok(a.repeat(64)),
            target_sum: Ok(b.repeat(64)),
            state: Verdict { ok: true, what: "volumes/b".into(), detail: "promoted".into() },
        };
        let good = Report { images: vec![row("a", "a")], leftovers: vec![] };
        assert!(good.failures().is_empty());
        let bad = Report { images: vec![row("a", "b")], leftovers: vec![Verdict { ok: false, what: "rbd-mirror daemons".into(), detail: "running".into() }] };
        assert_eq!(bad.failures().len(), 2);
        assert!(bad.render(&[("site.yml".into(), 2.0)]).iter().any(|l| l.contains("2 check(s) FAILED")));
    }
}
