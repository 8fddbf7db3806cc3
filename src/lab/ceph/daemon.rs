//! One Ceph daemon started inside a lab host: started in the foreground under
//! `setsid`, known by PID and start time, stopped by PID.

use std::fs;
use std::time::{Duration, Instant};

use super::host_exec::{argv_text, last_lines, HostExec};
use crate::lab::process::{alive, net_inode_of, stop_all, Proc};
use crate::lab::LabError;

/// Runs inside the host: `$1` the file for the daemon's stdout and stderr, then
/// the daemon's argv. A background job of a non-interactive shell is not a process
/// group leader, so `setsid` calls setsid(2) and execs in place: `$!` is the
/// daemon's PID. `cd /` keeps it from pinning the caller's directory.
const SPAWN: &str = r#"out=$1; shift
cd /
setsid "$@" </dev/null >>"$out" 2>&1 &
echo $!
"#;

/// How long a started daemon may take to exec its program.
const EXEC_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a daemon gets after SIGTERM before SIGKILL.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);

/// A running daemon of a lab cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Daemon {
    /// `mon.a`, `mgr.x`, `osd.0`, `rbd-mirror.<id>`.
    pub(crate) name: String,
    pub(crate) pid: u32,
    /// Field 22 of /proc/PID/stat: with the PID, names this process and no later
    /// one that reuses the number.
    start_time: u64,
    /// Where its stdout and stderr go, inside the host.
    pub(crate) stdout: String,
}

impl Daemon {
    /// Starts `argv` inside `host` and waits until the PID runs `argv[0]` inside
    /// the network namespace `netns` (the host's).
    pub(crate) fn spawn(lab: &dyn HostExec, host: &str, netns: u64, name: &str, stdout: &str, argv: &[&str]) -> Result<Daemon, LabError> {
        let program = argv.first().copied().unwrap_or_default();
        let mut words = vec!["sh", "-c", SPAWN, "ferry-lab-ceph", stdout];
        words.extend_from_slice(argv);
        let out = lab.exec(host, &words)?;
        let said = String::from_utf8_lossy(&out.stdout);
        let failed = |status: String, why: String| LabError::Command { command: format!("on {host}: {}", argv_text(argv)), status, stderr: why };
        let pid: u32 = match said.trim().parse() {
            Ok(pid) if out.status.success() => pid,
            _ => return Err(failed(out.status.to_string(), last_lines(&String::from_utf8_lossy(&out.stderr), 5))),
        };
        let start_time = start_time(pid).unwrap_or(0);
        let daemon = Daemon { name: name.to_string(), pid, start_time, stdout: stdout.to_string() };
        let deadline = Instant::now() + EXEC_TIMEOUT;
        loop {
            if !daemon.is_running() {
                let tail = lab.exec(host, &["tail", "-n", "5", stdout]).map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
                return Err(failed("exited while starting".into(), format!("{} (see {stdout} and the log in /var/log/ceph on {host})", last_lines(&tail, 5))));
            }
            let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            if exe.file_name().is_some_and(|f| f == program) {
                if net_inode_of(pid) != Some(netns) {
                    // Not possible with the lab's nsenter; refuse rather than run a
                    // daemon outside the host.
                    return Err(LabError::InUse(format!(
                        "{name} on {host}: PID {pid} is not in the host's network namespace (is the host's PID namespace private?)"
                    )));
                }
                return Ok(daemon);
            }
            if Instant::now() >= deadline {
                return Err(LabError::Timeout {
                    what: format!("{name} on {host} (PID {pid}) executing {program}"),
                    secs: EXEC_TIMEOUT.as_secs(),
                    detail: String::new(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Still this process (not a reused PID), and not a zombie.
    pub(crate) fn is_running(&self) -> bool {
        alive(self.pid) && start_time(self.pid) == Some(self.start_time)
    }
}

/// Stops `daemons` together: SIGTERM, up to `grace` for all of them, then SIGKILL.
/// Only PIDs that are still the processes started are signalled. Returns a message
/// per daemon that would not go.
pub(crate) fn stop(daemons: &[Daemon], grace: Duration) -> Vec<String> {
    let procs: Vec<Proc> = daemons.iter().filter(|d| d.is_running()).map(|d| Proc::adopted(d.pid)).collect();
    stop_all(procs, grace)
}

/// Field 22 (starttime, clock ticks since boot) of /proc/PID/stat.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may contain spaces and ')', start at 3.
    stat.get(stat.rfind(')')? + 1..)?.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_stable_start_time() {
        let me = std::process::id();
        let t = start_time(me);
        assert!(t.is_some());
        assert_eq!(start_time(me), t);
        let d = Daemon { name: "me".into(), pid: me, start_time: t.unwrap_or_default(), stdout: String::new() };
        assert!(d.is_running());
        assert!(!Daemon { start_time: t.unwrap_or_default() + 1, ..d }.is_running(), "a reused PID is not ours");
    }
}
