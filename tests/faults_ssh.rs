//! Faults in the middle of a run: a host's cable is pulled or its sshd is killed
//! during a long task, or ferry gets Ctrl-C. The host in trouble is reported
//! `unreachable` within the configured timeout while the others finish (exit 4);
//! once it is back, a re-run completes and converges.
//!
//! The fault fires when the long task has really started on the host: the task
//! leaves a file in the host's private /tmp, which a thread of the test watches.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// A line of config, a long task, a file to finish: idempotent, so a second run
/// changes only what the interrupted one did not reach.
const PLAYBOOK: &str = r#"- name: configure, wait, finish
  hosts: lab
  gather_facts: false
  tasks:
    - name: config line
      lineinfile:
        path: /tmp/ferry-fault.conf
        line: "setting = 1"
        create: true
    - name: long task
      shell: "touch /tmp/ferry-long-started && sleep 3"
      changed_when: false
    - name: finish
      copy:
        content: "finished on {{ inventory_hostname }}\n"
        dest: /tmp/ferry-fault-finished
"#;

const STARTED: &str = "ferry-long-started";
const FINISHED: &str = "/tmp/ferry-fault-finished";

/// `--timeout`: well above the long task, so only a host in trouble reaches it.
const TIMEOUT: Duration = Duration::from_secs(8);

/// After a command's timeout the transport probes the link for up to 3 s to
/// tell a dead host from a slow command (`PROBE` in src/transport/ssh.rs); then
/// a little slack for a busy machine.
const VERDICT_SLACK: Duration = Duration::from_secs(5);

fn play(lab: &Lab) -> Run {
    let timeout = TIMEOUT.as_secs().to_string();
    lab.ferry(&["play", "site.yml", "--timeout", &timeout, "--connect-timeout", "3"]).with_file("site.yml", PLAYBOOK).run()
}

/// Runs the playbook; once the long task has started on `host`, `fault` fires
/// (from another thread, while ferry runs).
fn play_with_fault(lab: &Lab, host: &str, fault: impl FnOnce() + Send) -> Run {
    let started = lab.ssh().host_dir(host).unwrap_or_else(|e| panic!("{host}'s dir: {e}")).join("tmp").join(STARTED);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !started.exists() {
                if done.load(Ordering::SeqCst) || Instant::now() > deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            fault();
            true
        });
        let run = play(lab);
        done.store(true, Ordering::SeqCst);
        let fired = watcher.join().expect("the fault thread panicked");
        assert!(fired, "the long task never started on {host}\n{}", run.transcript());
        run
    })
}

/// Pulls (`up: false`) or plugs back a host's cable: its veth end on the lab's
/// bridge, `NAME-vNN` (see `SshLabConfig::name`).
fn set_cable(lab: &Lab, host: &str, up: bool) {
    let index = lab.hosts().iter().position(|h| h == host).unwrap_or_else(|| panic!("{host} is not a bridge host")) + 1;
    let dev = format!("{}-v{index:02}", lab.ssh().name());
    let state = if up { "up" } else { "down" };
    let out = Command::new("ip").args(["link", "set", &dev, state]).output().expect("running ip");
    assert!(out.status.success(), "ip link set {dev} {state}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The process name of `pid` (`/proc/PID/comm`), if it exists.
fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim().to_string())
}

/// The children of `pid` (`/proc/PID/task/PID/children`; sshd has one thread).
fn children(pid: i32) -> Vec<i32> {
    let list = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    list.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

/// Kills a host's sshd as a crash would (SIGKILL): the listener, by the PID in
/// its PidFile, and the per-connection sshd processes it forked (killing only the
/// listener would leave open sessions running). Returns the PIDs killed.
fn kill_sshd(pidfile: &Path) -> Vec<i32> {
    let text = std::fs::read_to_string(pidfile).unwrap_or_else(|e| panic!("reading {}: {e}", pidfile.display()));
    let listener: i32 = text.trim().parse().unwrap_or_else(|e| panic!("{}: {text:?}: {e}", pidfile.display()));
    assert_eq!(comm(listener).as_deref(), Some("sshd"), "{} names PID {listener}, which is not sshd", pidfile.display());
    let mut pids = vec![listener];
    pids.extend(children(listener).into_iter().filter(|&p| comm(p).as_deref() == Some("sshd")));
    for &pid in &pids {
        // SAFETY: kill(2) on PIDs just read from this lab host's sshd and its
        // children; it touches no memory of ours.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    pids
}

/// The PID of the ferry running in `dir` (its working dir): the harness's child.
fn ferry_in(dir: &Path) -> Option<i32> {
    let me = std::fs::canonicalize(FERRY).ok()?;
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
        let cwd = std::fs::read_link(entry.path().join("cwd")).ok()?;
        (exe == me && cwd == dir).then_some(pid)
    })
}

/// `(ok, changed, unreachable, failed)` of `host`'s recap.
fn counts(run: &Run, host: &str) -> (u64, u64, u64, u64) {
    let r = run.recap(host);
    (r.ok, r.changed, r.unreachable, r.failed)
}

/// After the fault is repaired: a second run completes and does only what the
/// first left undone on `behind` hosts (the finish file); a third changes nothing.
fn assert_reruns_converge(lab: &Lab, behind: &[&str]) {
    let again = play(lab);
    again.assert_exit(0);
    for host in lab.hosts() {
        let changed = u64::from(behind.contains(&host.as_str()));
        assert_eq!(counts(&again, &host), (3, changed, 0, 0), "{host} on the second run\n{}", again.transcript());
        assert_eq!(lab.read(&host, FINISHED), Some(format!("finished on {host}\n")), "{host}");
        assert_eq!(lab.read(&host, "/tmp/ferry-fault.conf"), Some("setting = 1\n".to_string()), "{host}");
    }
    let third = play(lab);
    third.assert_exit(0);
    for host in lab.hosts() {
        assert_eq!(counts(&third, &host), (3, 0, 0, 0), "{host} on the third run\n{}", third.transcript());
    }
}

/// The one `task_result` of the long task on `host`, with how long it took.
fn long_task(run: &Run, host: &str) -> (String, String, Duration) {
    let r = run.result(host, "long task");
    let status = r["status"].as_str().unwrap_or_default().to_string();
    let msg = r["msg"].as_str().unwrap_or_default().to_string();
    (status, msg, Duration::from_millis(r["elapsed_ms"].as_u64().unwrap_or(u64::MAX)))
}

#[test]
fn a_cable_pulled_during_a_task_makes_that_host_unreachable_and_the_others_finish() {
    let lab = Lab::start("cab", 3);
    let run = play_with_fault(&lab, "node02", || set_cable(&lab, "node02", false));
    set_cable(&lab, "node02", true);

    run.assert_exit(4);
    let (status, msg, took) = long_task(&run, "node02");
    assert_eq!(status, "unreachable", "{}", run.transcript());
    assert!(msg.starts_with(&format!("node02: cannot reach {}:22: ", lab.ip("node02"))), "the message names the host and its address: {msg}");
    assert!(took <= TIMEOUT + VERDICT_SLACK, "node02 was given up on after {took:?} (--timeout {TIMEOUT:?})");
    eprintln!("pulled cable: node02 unreachable after {took:?} (--timeout {TIMEOUT:?}): {msg}");
    assert_eq!(counts(&run, "node02"), (1, 1, 1, 0), "node02: the config line, then unreachable\n{}", run.transcript());
    assert!(run.results_for("node02").iter().all(|e| e["task"] != "finish"), "nothing more runs on node02");
    assert!(!lab.exists("node02", FINISHED));
    for host in ["node01", "node03"] {
        assert_eq!(counts(&run, host), (3, 2, 0, 0), "{host} finished\n{}", run.transcript());
        assert_eq!(lab.read(host, FINISHED), Some(format!("finished on {host}\n")));
    }
    assert!(run.elapsed < TIMEOUT + VERDICT_SLACK + Duration::from_secs(10), "the whole run took {:?}", run.elapsed);

    assert_reruns_converge(&lab, &["node02"]);
}

#[test]
fn sshd_killed_during_a_task_makes_that_host_unreachable_and_the_others_finish() {
    let lab = Lab::start("kil", 3);
    let pidfile = lab.ssh().host_dir("node03").expect("node03's dir").join("run").join("sshd.pid");
    let killed = std::sync::Mutex::new(Vec::new());
    let run = play_with_fault(&lab, "node03", || *killed.lock().expect("pids") = kill_sshd(&pidfile));
    let killed = killed.into_inner().expect("pids");
    eprintln!("killed node03's sshd: PIDs {killed:?}");
    assert!(killed.len() >= 2, "the listener and the session of ferry's connection: {killed:?}");

    run.assert_exit(4);
    let (status, msg, took) = long_task(&run, "node03");
    assert_eq!(status, "unreachable", "{}", run.transcript());
    assert!(msg.starts_with(&format!("node03: cannot reach {}:22: ", lab.ip("node03"))), "the message names the host and its address: {msg}");
    // A dead sshd closes the TCP connection: no need to wait for the timeout.
    assert!(took < TIMEOUT, "node03 was given up on after {took:?}");
    assert_eq!(counts(&run, "node03"), (1, 1, 1, 0), "node03: the config line, then unreachable\n{}", run.transcript());
    assert!(!lab.exists("node03", FINISHED));
    for host in ["node01", "node02"] {
        assert_eq!(counts(&run, host), (3, 2, 0, 0), "{host} finished\n{}", run.transcript());
        assert_eq!(lab.read(host, FINISHED), Some(format!("finished on {host}\n")));
    }

    // Restarted the way the lab starts it.
    lab.ssh().start_sshd("node03").expect("restarting node03's sshd");
    assert_reruns_converge(&lab, &["node03"]);
}

/// tests/engine_strategies.rs checks that SIGINT lets running commands finish,
/// prints the recap and exits 130; this checks that a re-run then converges.
#[test]
fn a_run_stopped_by_sigint_converges_when_run_again() {
    let lab = Lab::start("sig", 2);
    let dir: PathBuf = lab.dir().to_path_buf();
    let run = play_with_fault(&lab, "node01", || {
        let pid = ferry_in(&dir).expect("the ferry process of this test");
        // SAFETY: kill(2) on the PID of the ferry this test started (found by
        // its binary and working dir); it touches no memory of ours.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
    });

    run.assert_exit(130);
    assert_eq!(run.events("recap").len(), 1, "the recap so far\n{}", run.transcript());
    assert!(run.events("task_start").iter().all(|e| e["task"] != "finish"), "no task starts after SIGINT\n{}", run.transcript());
    for host in lab.hosts() {
        assert_eq!(long_task(&run, &host).0, "ok", "the running command finished on {host}\n{}", run.transcript());
        assert_eq!(counts(&run, &host), (2, 1, 0, 0), "{host}'s recap so far\n{}", run.transcript());
        assert!(!lab.exists(&host, FINISHED));
    }

    assert_reruns_converge(&lab, &["node01", "node02"]);
}
