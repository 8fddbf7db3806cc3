//! What a lab created, recorded on disk before it is created, so that the lab itself,
//! a later `ferry lab hosts down`, or the next `up` after a crash can remove exactly
//! that and nothing else.
//!
//! Records live in `/run/ferry-lab/NAME.json` (and a copy in the lab's dir). A lab in
//! use holds an exclusive record lock (`fcntl`) on `/run/ferry-lab/NAME.lock` and on one lock per
//! subnet; the kernel drops those locks when the holder dies, so "record present,
//! lock free" means "left behind" and is safe to tear down.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::error::LabError;
use super::net::{self, Net24};
use super::process::{net_inode_of, netns_inode, pids_in_namespaces, stop_all, Proc};

/// Where records and locks live.
pub(crate) const REGISTRY: &str = "/run/ferry-lab";

/// Everything one lab made, as names (not handles): enough to remove it from any
/// process.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LabRecord {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    /// The lab made `dir` itself, so `down` removes it whole.
    pub(crate) dir_created: bool,
    pub(crate) bridge: Option<String>,
    /// A root-namespace `unreachable` route (the bastion's subnet).
    pub(crate) unreachable_route: Option<String>,
    pub(crate) netns: Vec<String>,
    /// Root-namespace links (veth ends on the bridge).
    pub(crate) links: Vec<String>,
    /// Files and dirs inside `dir` that the lab wrote (removed when `dir` stays).
    pub(crate) paths: Vec<PathBuf>,
    /// Keeper and sshd PIDs (checked against the lab's namespaces before any signal).
    pub(crate) pids: Vec<u32>,
}

impl LabRecord {
    pub(crate) fn registry_path(name: &str) -> PathBuf {
        Path::new(REGISTRY).join(format!("{name}.json"))
    }

    pub(crate) fn dir_copy_path(dir: &Path) -> PathBuf {
        dir.join("lab.json")
    }

    fn to_json(&self) -> Value {
        let paths: Vec<String> = self.paths.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        json!({
            "name": self.name,
            "dir": self.dir.to_string_lossy(),
            "dir_created": self.dir_created,
            "bridge": self.bridge,
            "unreachable_route": self.unreachable_route,
            "netns": self.netns,
            "links": self.links,
            "paths": paths,
            "pids": self.pids,
        })
    }

    fn from_json(v: &Value) -> Option<LabRecord> {
        let strings = |key: &str| -> Vec<String> {
            v.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
        };
        let opt = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        Some(LabRecord {
            name: v.get("name")?.as_str()?.to_string(),
            dir: PathBuf::from(v.get("dir")?.as_str()?),
            dir_created: v.get("dir_created").and_then(Value::as_bool).unwrap_or(false),
            bridge: opt("bridge"),
            unreachable_route: opt("unreachable_route"),
            netns: strings("netns"),
            links: strings("links"),
            paths: strings("paths").into_iter().map(PathBuf::from).collect(),
            pids: v
                .get("pids")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|p| p.as_u64().and_then(|p| u32::try_from(p).ok())).collect())
                .unwrap_or_default(),
        })
    }

    /// Reads a record file; a missing file is `None`, a damaged one an error.
    pub(crate) fn load(path: &Path) -> Result<Option<LabRecord>, LabError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LabError::path("reading", path, e)),
        };
        let value: Value = serde_json::from_str(&text).map_err(|e| LabError::path("parsing", path, std::io::Error::other(e)))?;
        LabRecord::from_json(&value).map(Some).ok_or_else(|| LabError::path("reading", path, std::io::Error::other("not a ferry lab record")))
    }

    /// Writes the record to the registry and into the lab's dir (atomically each).
    pub(crate) fn save(&self) -> Result<(), LabError> {
        let text = serde_json::to_string_pretty(&self.to_json()).map_err(|e| LabError::io("serialising the lab record", std::io::Error::other(e)))?;
        for path in [LabRecord::registry_path(&self.name), LabRecord::dir_copy_path(&self.dir)] {
            if let Some(parent) = path.parent() {
                if !parent.is_dir() {
                    continue;
                }
            }
            write_atomic(&path, text.as_bytes())?;
        }
        Ok(())
    }

    fn forget(&self) {
        // Best effort: a record left behind only makes the next `up` retry a teardown
        // of things that are already gone.
        let _ = fs::remove_file(LabRecord::registry_path(&self.name));
        let _ = fs::remove_file(LabRecord::dir_copy_path(&self.dir));
    }
}

/// Writes `path` via a temporary file and rename, so a crash never leaves half a file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LabError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(|e| LabError::path("writing", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| LabError::path("renaming into place", path, e))
}

/// Keys this process holds. POSIX record locks do not exclude threads of one process
/// from each other, and closing any descriptor of a lock file drops the process's
/// lock, so a key held here is never opened a second time.
static HELD: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// An exclusive lock on `/run/ferry-lab/KEY.lock`, released on drop.
///
/// A POSIX (`fcntl`) record lock rather than `flock`: a child forked by another
/// thread shares our `flock`ed file description until it execs, which kept labs
/// "busy" for a moment after they were released; record locks belong to the process
/// and are never inherited. The kernel drops them when the process dies.
#[derive(Debug)]
pub(crate) struct LabLock {
    key: String,
    file: Option<File>,
}

impl Drop for LabLock {
    fn drop(&mut self) {
        // Close (releasing the record lock) before another thread may open the file.
        drop(self.file.take());
        held().remove(&self.key);
    }
}

fn held() -> std::sync::MutexGuard<'static, BTreeSet<String>> {
    HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes the exclusive lock `/run/ferry-lab/KEY.lock` without waiting. `Ok(None)`:
/// another live process, or another lab in this one, holds it.
pub(crate) fn try_lock(key: &str) -> Result<Option<LabLock>, LabError> {
    let mut held = held();
    if held.contains(key) {
        return Ok(None);
    }
    fs::create_dir_all(REGISTRY).map_err(|e| LabError::path("creating", Path::new(REGISTRY), e))?;
    let path = Path::new(REGISTRY).join(format!("{key}.lock"));
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| LabError::path("opening", &path, e))?;
    // SAFETY: an all-zero `flock` is a valid value (l_start = l_len = 0: whole file).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: fcntl(2) F_SETLK on a descriptor this function owns, with a valid flock.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) };
    if rc == 0 {
        held.insert(key.to_string());
        Ok(Some(LabLock { key: key.to_string(), file: Some(file) }))
    } else {
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN | libc::EACCES) => Ok(None),
            _ => Err(LabError::path("locking", &path, err)),
        }
    }
}

/// The lock key for a subnet.
pub(crate) fn net_lock_key(net: Net24) -> String {
    format!("net-{}.{}.{}", net[0], net[1], net[2])
}

/// Removes what `record` lists: ends `procs` (the caller's own children) and every
/// other process inside the lab's namespaces, deletes links, namespaces, bridge,
/// route, then the files (unless `keep_files`). Continues past failures and reports
/// them all at the end.
pub(crate) fn teardown(record: &LabRecord, mut procs: Vec<Proc>, keep_files: bool) -> Result<(), LabError> {
    let mut problems = Vec::new();

    let inodes: Vec<u64> = record.netns.iter().filter_map(|n| netns_inode(n)).collect();
    // A recorded PID is only ours while it still lives in one of our namespaces
    // (PIDs are reused); sessions spawned by our sshd are found the same way.
    for pid in &record.pids {
        if net_inode_of(*pid).is_some_and(|ino| inodes.contains(&ino)) && !procs.iter().any(|p| p.pid == *pid) {
            procs.push(Proc::adopted(*pid));
        }
    }
    for pids in pids_in_namespaces(&inodes).into_values() {
        for pid in pids {
            if !procs.iter().any(|p| p.pid == pid) {
                procs.push(Proc::adopted(pid));
            }
        }
    }
    problems.extend(stop_all(procs, Duration::from_secs(3)));

    // Unmounting the namespaces first lets the kernel destroy them, and the veth
    // pairs inside, in one batched pass; deleting 200 veths one by one costs a
    // network-wide synchronisation each (seconds in all).
    let batch: Vec<String> = record.netns.iter().filter(|ns| net::netns_exists(ns)).map(|ns| format!("netns del {ns}")).collect();
    if let Err(e) = net::ip_batch(&batch) {
        problems.push(e.to_string());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while record.links.iter().any(|l| net::link_exists(l)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut batch: Vec<String> = record.links.iter().filter(|l| net::link_exists(l)).map(|l| format!("link del {l}")).collect();
    if let Some(br) = &record.bridge {
        if net::link_exists(br) {
            batch.push(format!("link del {br}"));
        }
    }
    if let Err(e) = net::ip_batch(&batch) {
        problems.push(e.to_string());
    }
    if let Some(route) = &record.unreachable_route {
        match unreachable_route_present(route) {
            Ok(true) => {
                if let Err(e) = net::ip_batch(&[format!("route del unreachable {route}")]) {
                    problems.push(e.to_string());
                }
            }
            Ok(false) => {}
            Err(e) => problems.push(e.to_string()),
        }
    }

    if !keep_files {
        if record.dir_created {
            remove_path(&record.dir, &mut problems);
        } else {
            for path in &record.paths {
                remove_path(path, &mut problems);
            }
        }
    }
    if problems.is_empty() {
        record.forget();
        Ok(())
    } else {
        Err(LabError::Teardown(problems))
    }
}

fn unreachable_route_present(route: &str) -> Result<bool, LabError> {
    let out = super::process::run(
        std::process::Command::new("ip").args(["-4", "route", "show", "type", "unreachable"]).env_clear().env("PATH", super::process::PATH),
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).lines().any(|l| l.split_whitespace().any(|w| w == route)))
}

fn remove_path(path: &Path, problems: &mut Vec<String>) {
    let result = match fs::symlink_metadata(path) {
        Err(_) => return,
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    };
    if let Err(e) = result {
        if e.kind() != std::io::ErrorKind::NotFound {
            problems.push(format!("removing {}: {e}", path.display()));
        }
    }
}

/// Tears down the recorded lab `name` if no live process holds it. `Ok(false)`: no
/// such record.
pub(crate) fn teardown_named(name: &str) -> Result<bool, LabError> {
    let Some(_lock) = try_lock(name)? else {
        return Err(LabError::InUse(format!("lab {name} is held by a running process (lock {REGISTRY}/{name}.lock); stop that process first")));
    };
    teardown_unlocked(name)
}

/// Same as [`teardown_named`] for a caller that already holds the name lock.
pub(crate) fn teardown_unlocked(name: &str) -> Result<bool, LabError> {
    match LabRecord::load(&LabRecord::registry_path(name))? {
        Some(record) => teardown(&record, Vec::new(), false).map(|()| true),
        None => Ok(false),
    }
}

/// Every record in the registry whose name lock is free and whose dir lies under
/// `under` (and whose owning test, if its dir names one, has ended), torn down;
/// returns their names.
pub(crate) fn teardown_stale_under(under: &Path) -> Result<Vec<String>, LabError> {
    let mut done = Vec::new();
    let Ok(entries) = fs::read_dir(REGISTRY) else {
        return Ok(done);
    };
    let mut problems = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let record = match LabRecord::load(&path) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        if !record.dir.starts_with(under) || owner_alive(&record.dir, under) {
            continue;
        }
        let Some(_lock) = try_lock(&record.name)? else {
            continue;
        };
        match teardown(&record, Vec::new(), false) {
            Ok(()) => done.push(record.name),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(done)
    } else {
        Err(LabError::Teardown(problems))
    }
}

/// True when `dir` lies in a folder `p<PID>-...` right under `under` and that
/// process still runs: a test that ran `ferry lab up` owns the lab although no
/// live process holds its lock (the command that built it has exited).
fn owner_alive(dir: &Path, under: &Path) -> bool {
    let Ok(rest) = dir.strip_prefix(under) else { return false };
    let first = rest.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
    let pid = first.strip_prefix('p').and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok());
    pid.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lab_whose_test_still_runs_is_not_stale() {
        let under = Path::new("/tmp/ferry-tests");
        let mine = under.join(format!("p{}-3-migration/lab", std::process::id()));
        assert!(owner_alive(&mine, under));
        // PIDs are at most 2^22 on Linux: this one cannot run.
        assert!(!owner_alive(&under.join("p99999999-0-x/lab"), under));
        assert!(!owner_alive(&under.join("other/lab"), under));
        assert!(!owner_alive(Path::new("/elsewhere/p1-0-x"), under));
    }

    #[test]
    fn a_record_survives_a_round_trip_through_json() {
        let record = LabRecord {
            name: "t3a".into(),
            dir: "/tmp/x".into(),
            dir_created: true,
            bridge: Some("t3a-br".into()),
            unreachable_route: Some("172.31.82.0/24".into()),
            netns: vec!["t3a-h01".into()],
            links: vec!["t3a-v01".into()],
            paths: vec!["/tmp/x/hosts".into()],
            pids: vec![42],
        };
        assert_eq!(LabRecord::from_json(&record.to_json()), Some(record));
    }
}
