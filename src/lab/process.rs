//! Running the lab's helper commands, and ending the processes it started.
//!
//! The lab only ever signals PIDs it recorded, or PIDs found inside a network
//! namespace it created (the sessions its own sshd spawned): nothing else runs there.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::error::{describe, LabError};

/// The PATH every lab process gets: the test's or operator's own environment must
/// not leak into the hosts.
pub(crate) const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs `cmd` to completion; a spawn failure or non-zero exit is an error that names
/// the command and carries its stderr.
pub(crate) fn run(cmd: &mut Command) -> Result<Output, LabError> {
    let output = cmd.stdin(Stdio::null()).output().map_err(|e| LabError::io(format!("cannot run `{}`", describe(cmd)), e))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(LabError::command(cmd, &output))
    }
}

/// Like [`run`], feeding `input` on stdin (for `ip -batch -`).
pub(crate) fn run_with_input(cmd: &mut Command, input: &[u8]) -> Result<Output, LabError> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::io(format!("cannot run `{}`", describe(cmd)), e))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A write error means the command exited early; its status says why.
        let _ = stdin.write_all(input);
    }
    let output = child.wait_with_output().map_err(|e| LabError::io(format!("waiting for `{}`", describe(cmd)), e))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(LabError::command(cmd, &output))
    }
}

/// The inode of network namespace `name` (what `/proc/PID/ns/net` links to), if it
/// is mounted under /run/netns.
pub(crate) fn netns_inode(name: &str) -> Option<u64> {
    fs::metadata(format!("/run/netns/{name}")).ok().map(|m| m.ino())
}

/// The inode of the network namespace process `pid` is in.
pub(crate) fn net_inode_of(pid: u32) -> Option<u64> {
    let link = fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    let text = link.to_string_lossy();
    text.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// Every live process whose network namespace is one of `inodes`, grouped by inode.
/// One pass over /proc serves any number of namespaces (200 hosts, one scan).
pub(crate) fn pids_in_namespaces(inodes: &[u64]) -> HashMap<u64, Vec<u32>> {
    let mut found: HashMap<u64, Vec<u32>> = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Some(ino) = net_inode_of(pid) {
            if inodes.contains(&ino) && alive(pid) {
                found.entry(ino).or_default().push(pid);
            }
        }
    }
    found
}

/// `pid` exists and is not a zombie.
pub(crate) fn alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state letter follows the last ')' (the command name may contain ')').
    match stat.rfind(')') {
        Some(i) => !matches!(stat[i + 1..].trim_start().chars().next(), Some('Z' | 'X')),
        None => false,
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid <= 1 {
        return;
    }
    // SAFETY: kill(2) has no memory effects; an already-gone PID gives ESRCH.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// A process the lab started: its PID, and its handle while this process is its parent
/// (so it can be reaped, not left a zombie).
#[derive(Debug)]
pub(crate) struct Proc {
    pub(crate) pid: u32,
    pub(crate) child: Option<Child>,
}

impl Proc {
    pub(crate) fn child(child: Child) -> Proc {
        Proc { pid: child.id(), child: Some(child) }
    }

    pub(crate) fn adopted(pid: u32) -> Proc {
        Proc { pid, child: None }
    }

    /// True once the process is gone (reaping it when it is our child).
    pub(crate) fn exited(&mut self) -> bool {
        match &mut self.child {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => !alive(self.pid),
        }
    }
}

/// Ends `procs`: SIGTERM, up to `grace` to exit, then SIGKILL. Returns a message for
/// each process that would not go away.
pub(crate) fn stop_all(mut procs: Vec<Proc>, grace: Duration) -> Vec<String> {
    for p in &mut procs {
        if !p.exited() {
            signal(p.pid, libc::SIGTERM);
        }
    }
    let mut left = wait_gone(procs, grace);
    for p in &mut left {
        signal(p.pid, libc::SIGKILL);
    }
    wait_gone(left, Duration::from_secs(5)).iter().map(|p| format!("process {} did not exit after SIGKILL", p.pid)).collect()
}

/// Polls until every process in `procs` has exited or `limit` passed; returns the
/// ones still there. (Exit has no waitable handle for processes that are not our
/// children, so this polls /proc; the interval only bounds teardown latency.)
fn wait_gone(mut procs: Vec<Proc>, limit: Duration) -> Vec<Proc> {
    let deadline = Instant::now() + limit;
    loop {
        procs.retain_mut(|p| !p.exited());
        if procs.is_empty() || Instant::now() >= deadline {
            return procs;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Makes the calling (forked, not yet exec'd) child the leader of a new session, so
/// the daemons the lab starts outlive the caller's process group and terminal.
pub(crate) fn new_session(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid(2) is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
