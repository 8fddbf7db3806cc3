//! The integration-test harness: real SSH hosts from `ferry::lab`, the real `ferry`
//! binary, and a few words to say what a test expects.
//!
//! ```ignore
//! let lab = Lab::start("t2a", 5);
//! let run = lab.ferry(&["play", "site.yml"]).with_file("site.yml", PLAYBOOK).run();
//! run.assert_exit(0);
//! assert_eq!(run.recap("node01").changed, 0);
//! assert!(lab.exists("node01", "/tmp/x"));
//! ```
//!
//! Every test gets its own dir under `$TMPDIR/ferry-tests/` and, with `Lab::start`,
//! its own lab on a free 172.31.200-239 subnet; both are removed when the test ends,
//! also when it panics. `FERRY_KEEP_TEST_DIRS=1` keeps the dirs (the lab itself is
//! still torn down). These tests need root and OpenSSH's sshd: without them they
//! FAIL, they never skip.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use std::io::Read;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

#[allow(unused_imports)]
pub use ferry::lab::{LabError, LabHost, SshLab, SshLabConfig};

/// The binary under test.
pub const FERRY: &str = env!("CARGO_BIN_EXE_ferry");

/// How long one `ferry` run may take before the harness kills it and fails the test.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// Third octets the harness may use: other labs on this machine stay outside.
const NET_SLOTS: std::ops::RangeInclusive<u8> = 200..=239;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// `$TMPDIR/ferry-tests`: every test dir lives here, so stale labs and dirs of a
/// crashed run can be found.
pub fn tests_root() -> PathBuf {
    std::env::temp_dir().join("ferry-tests")
}

fn keep_dirs() -> bool {
    std::env::var("FERRY_KEEP_TEST_DIRS").is_ok_and(|v| v == "1")
}

/// Lab tests need root and sshd: without them they fail (never skip), saying why.
fn require_lab_prerequisites() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)) == Some("0");
    assert!(root, "ferry's SSH tests need root (network namespaces, mounts); run them as root. They fail rather than skip.");
    assert!(Path::new("/usr/sbin/sshd").exists(), "ferry's SSH tests need /usr/sbin/sshd: apt-get install openssh-server. They fail rather than skip.");
}

/// Once per test process: clean up after crashed runs (their labs and dirs).
fn init() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if Path::new("/run/ferry-lab").exists() {
            if let Err(e) = SshLab::teardown_stale_under(&tests_root()) {
                eprintln!("harness: cleaning up labs of earlier runs: {e}");
            }
        }
        remove_dead_dirs();
    });
}

/// `tests/fixtures/REL` in the source tree.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// Copies the tree `from` into `to` (created).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("creating {}: {e}", to.display()));
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("copying {}: {e}", entry.path().display()));
        }
    }
}

/// `text` without ANSI escape sequences (colour), for assertions on human output.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // CSI: parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Removes test dirs whose process is gone (`p<PID>-...`).
fn remove_dead_dirs() {
    let Ok(entries) = std::fs::read_dir(tests_root()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix('p').and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// A dir for one test, removed on drop (unless `FERRY_KEEP_TEST_DIRS=1`).
#[derive(Debug)]
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// A new empty dir named after the test.
    pub fn new(hint: &str) -> TestDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let clean: String = hint.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let path = tests_root().join(format!("p{}-{n}-{clean}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).expect("removing an old test dir");
        }
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating test dir {}: {e}", path.display()));
        TestDir { path }
    }

    /// The dir.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `content` to `rel` (parents created); returns the full path.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.path.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
        }
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if keep_dirs() {
            eprintln!("harness: kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A lab of real SSH hosts for one test, with a dir holding its inventory.
pub struct Lab {
    ssh: Option<SshLab>,
    // Declared after `ssh` so the lab is down before its dir goes.
    dir: TestDir,
    inventory: PathBuf,
}

impl Lab {
    /// `hosts` lab hosts (`node01`...) in group `lab`; `hint` names the test (its
    /// first 3 characters prefix the lab's namespaces).
    pub fn start(hint: &str, hosts: usize) -> Lab {
        Lab::start_with(hint, hosts, false)
    }

    /// Like [`Lab::start`], plus `inner01` (group `behind_bastion`) reachable only
    /// through `node01`.
    pub fn start_with_bastion(hint: &str, hosts: usize) -> Lab {
        Lab::start_with(hint, hosts, true)
    }

    fn start_with(hint: &str, hosts: usize, bastion: bool) -> Lab {
        require_lab_prerequisites();
        init();
        let dir = TestDir::new(hint);
        let ssh = start_ssh_lab(hint, dir.path().join("lab"), hosts, bastion);
        let inventory = ssh.write_inventory(&dir.path().join("inventory.yml"), &[]).unwrap_or_else(|e| panic!("writing the lab inventory: {e}"));
        Lab { ssh: Some(ssh), dir, inventory }
    }

    /// The lab itself (keys, known_hosts, sshd control).
    pub fn ssh(&self) -> &SshLab {
        self.ssh.as_ref().expect("lab is up until drop")
    }

    /// The test's dir (`ferry` runs here).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `inventory.yml` in the test dir.
    pub fn inventory(&self) -> &Path {
        &self.inventory
    }

    /// Names of the bridge hosts, in order.
    pub fn hosts(&self) -> Vec<String> {
        self.ssh().hosts().iter().map(|h| h.name.clone()).collect()
    }

    /// The address of any host (the inner one too).
    pub fn ip(&self, host: &str) -> Ipv4Addr {
        self.ssh().host(host).unwrap_or_else(|| panic!("no lab host {host}")).ip
    }

    /// Rewrites `inventory.yml` with extra groups.
    pub fn with_groups(&self, groups: &[(&str, &[&str])]) -> &Lab {
        self.ssh().write_inventory(&self.inventory, groups).unwrap_or_else(|e| panic!("writing the lab inventory: {e}"));
        self
    }

    /// Writes a file into the test dir.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        self.dir.write(rel, content)
    }

    /// Copies `tests/fixtures/REL/*` into the test dir (playbooks, templates...).
    pub fn copy_fixture(&self, rel: &str) -> &Lab {
        copy_tree(&fixture(rel), self.dir.path());
        self
    }

    /// Runs a shell snippet on every bridge host (setting the scene for a test).
    pub fn sh_all(&self, script: &str) {
        for host in self.hosts() {
            self.sh(&host, script);
        }
    }

    /// `ferry ARGS` in the test dir, with `-i inventory.yml --known-hosts <lab's>
    /// --format json` added unless the args already choose them.
    pub fn ferry(&self, args: &[&str]) -> Ferry {
        Ferry::in_dir(self.dir.path(), args)
            .default_args(&["-i", &self.inventory.to_string_lossy()])
            .default_args(&["--known-hosts", &self.ssh().known_hosts().to_string_lossy()])
            .default_args(&["--format", "json"])
    }

    /// Runs `argv` on `host` through the lab (not through ferry).
    pub fn exec(&self, host: &str, argv: &[&str]) -> Output {
        self.ssh().exec(host, argv).unwrap_or_else(|e| panic!("lab exec on {host} {argv:?}: {e}"))
    }

    /// Runs a shell snippet on `host`; panics unless it exits 0; returns stdout.
    pub fn sh(&self, host: &str, script: &str) -> String {
        let out = self.exec(host, &["sh", "-c", script]);
        assert!(out.status.success(), "on {host}: `{script}` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether `path` exists on `host` (in the host's own view).
    pub fn exists(&self, host: &str, path: &str) -> bool {
        self.exec(host, &["test", "-e", path]).status.success()
    }

    /// The content of `path` on `host`, if it is a readable file.
    pub fn read(&self, host: &str, path: &str) -> Option<String> {
        let out = self.exec(host, &["cat", path]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `stat -c FORMAT path` on `host` (e.g. `%a %U` for mode and owner).
    pub fn stat(&self, host: &str, path: &str, format: &str) -> String {
        self.sh(host, &format!("stat -c '{format}' '{path}'")).trim().to_string()
    }

    /// Asserts that `path` exists on none of `hosts` (default: every host).
    pub fn assert_absent_everywhere(&self, path: &str) {
        for host in self.all_host_names() {
            assert!(!self.exists(&host, path), "{path} exists on {host}, but nothing should have run there");
        }
    }

    fn all_host_names(&self) -> Vec<String> {
        let mut names = self.hosts();
        names.extend(self.ssh().bastion_target().map(|h| h.name.clone()));
        names
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut ssh) = self.ssh.take() {
            ssh.keep_files(keep_dirs());
            if let Err(e) = ssh.down() {
                eprintln!("harness: lab teardown: {e}");
            }
        }
    }
}

/// Brings up an [`SshLab`] on the first free subnet in 172.31.200-239, named
/// `<hint[..3]><slot>`: unique among live processes (each holds its lab's locks), and
/// the same name a crashed run used, so `up` cleans that one up first.
pub fn start_ssh_lab(hint: &str, dir: PathBuf, hosts: usize, bastion: bool) -> SshLab {
    require_lab_prerequisites();
    init();
    let mut prefix: String = hint.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).take(3).collect();
    if !prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
        prefix.insert(0, 't');
        prefix.truncate(3);
    }
    let slots = NET_SLOTS.count();
    // Start at a different slot per process and per lab, so parallel tests rarely
    // contend for the same lock.
    let start = (std::process::id() as usize).wrapping_mul(7) + COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut last = String::new();
    for k in 0..slots {
        let slot = (start + k) % slots;
        let x = NET_SLOTS.start() + slot as u8;
        let cfg = SshLabConfig { name: format!("{prefix}{slot:02}"), dir: dir.clone(), net: [172, 31, x], hosts, bastion };
        match SshLab::up(cfg) {
            Ok(lab) => return lab,
            Err(LabError::InUse(why)) => last = why,
            Err(e) => panic!("starting a {hosts}-host lab for {hint}: {e}"),
        }
    }
    panic!("no free lab subnet in 172.31.200-239 (last: {last})");
}

/// One `ferry` invocation being set up.
#[must_use = "call .run()"]
pub struct Ferry {
    cwd: PathBuf,
    args: Vec<String>,
    defaults: Vec<Vec<String>>,
    use_defaults: bool,
    files: Vec<(String, String)>,
    env: Vec<(String, String)>,
    timeout: Duration,
    interrupt_after: Option<Duration>,
    kill_on: Option<(String, Duration)>,
    act_on: Option<OutputAction>,
    _own_dir: Option<TestDir>,
}

/// Something to do to the world while ferry runs: `needle` seen on stdout,
/// then `after`, then `action` (see [`Ferry::on_output`]).
type OutputAction = (String, Duration, Box<dyn FnOnce() + Send>);

impl Ferry {
    /// `ferry ARGS` in a fresh test dir, no lab, no default flags.
    pub fn new(hint: &str, args: &[&str]) -> Ferry {
        init();
        let dir = TestDir::new(hint);
        let mut f = Ferry::in_dir(dir.path(), args);
        f._own_dir = Some(dir);
        f
    }

    fn in_dir(cwd: &Path, args: &[&str]) -> Ferry {
        Ferry {
            cwd: cwd.to_path_buf(),
            args: args.iter().map(|s| s.to_string()).collect(),
            defaults: Vec::new(),
            use_defaults: true,
            files: Vec::new(),
            env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            interrupt_after: None,
            kill_on: None,
            act_on: None,
            _own_dir: None,
        }
    }

    fn default_args(mut self, words: &[&str]) -> Ferry {
        self.defaults.push(words.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Writes `content` to `rel` in the run's dir before running.
    pub fn with_file(mut self, rel: &str, content: &str) -> Ferry {
        self.files.push((rel.to_string(), content.to_string()));
        self
    }

    /// Appends more arguments.
    pub fn args(mut self, more: &[&str]) -> Ferry {
        self.args.extend(more.iter().map(|s| s.to_string()));
        self
    }

    /// Human output (`--format human`) instead of JSON Lines.
    pub fn human(self) -> Ferry {
        self.args(&["--format", "human"])
    }

    /// Adds none of the default flags (`-i`, `--known-hosts`, `--format`).
    pub fn bare(mut self) -> Ferry {
        self.use_defaults = false;
        self
    }

    /// Sets an environment variable for the run.
    pub fn env(mut self, key: &str, value: &str) -> Ferry {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Fails the test when ferry takes longer.
    pub fn timeout(mut self, limit: Duration) -> Ferry {
        self.timeout = limit;
        self
    }

    /// Sends ferry SIGINT (as Ctrl-C would) once `after` has passed.
    pub fn interrupt_after(mut self, after: Duration) -> Ferry {
        self.interrupt_after = Some(after);
        self
    }

    /// Kills ferry with SIGKILL (no cleanup, no recap: a crash or `kill -9`)
    /// `after` once its stdout contains `needle`. The run's code is then `None`.
    pub fn kill_on_output(mut self, needle: &str, after: Duration) -> Ferry {
        self.kill_on = Some((needle.to_string(), after));
        self
    }

    /// Runs `action` (e.g. kill a daemon on a host) `after` once ferry's stdout
    /// contains `needle`, while ferry goes on running. Panics if ferry ends first.
    pub fn on_output(mut self, needle: &str, after: Duration, action: impl FnOnce() + Send + 'static) -> Ferry {
        self.act_on = Some((needle.to_string(), after, Box::new(action)));
        self
    }

    /// Runs ferry to completion (killing it after the timeout) and collects its
    /// output and JSON events.
    pub fn run(mut self) -> Run {
        for (rel, content) in &self.files {
            let path = self.cwd.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("creating a dir for a test file");
            }
            std::fs::write(&path, content).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        }
        let mut args = self.args.clone();
        if self.use_defaults {
            for words in &self.defaults {
                let flag = &words[0];
                let given = args.iter().any(|a| a == flag || a.starts_with(&format!("{flag}=")) || (flag == "-i" && a == "--inventory"));
                if !given {
                    args.extend(words.iter().cloned());
                }
            }
        }
        let quoted: Vec<String> = args.iter().map(|a| shell_word(a)).collect();
        let command_line = format!("cd {} && {FERRY} {}", self.cwd.display(), quoted.join(" "));
        let mut cmd = Command::new(FERRY);
        cmd.args(&args)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Colour and progress bars are for terminals, not for assertions.
            .env("NO_COLOR", "1")
            .env("TERM", "dumb");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {FERRY}: {e}"));
        // stdout is collected as it comes, so a kill can wait for a line.
        let seen_out = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let reader = |mut pipe: Box<dyn Read + Send>, sink: std::sync::Arc<std::sync::Mutex<Vec<u8>>>| {
            thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut buf) = sink.lock() {
                        buf.extend_from_slice(&chunk[..n]);
                    }
                }
                sink.lock().map(|buf| String::from_utf8_lossy(&buf).into_owned()).unwrap_or_default()
            })
        };
        let out = reader(Box::new(child.stdout.take().expect("piped stdout")), seen_out.clone());
        let err = reader(Box::new(child.stderr.take().expect("piped stderr")), Default::default());
        let started = Instant::now();
        let mut interrupt = self.interrupt_after;
        let mut kill_on = self.kill_on.clone();
        let mut kill_at: Option<Instant> = None;
        let act_needle = self.act_on.as_ref().map(|(n, a, _)| (n.clone(), *a));
        let mut act = self.act_on.take().map(|(_, _, f)| f);
        let mut act_at: Option<Instant> = None;
        let status = loop {
            if let (Some((needle, after)), None, true) = (&act_needle, act_at, act.is_some()) {
                if seen_out.lock().map(|b| String::from_utf8_lossy(&b).contains(needle.as_str())).unwrap_or(false) {
                    act_at = Some(Instant::now() + *after);
                }
            }
            if act_at.is_some_and(|at| Instant::now() >= at) {
                if let Some(f) = act.take() {
                    f();
                }
            }
            if let Some((needle, after)) = &kill_on {
                let seen = seen_out.lock().map(|b| String::from_utf8_lossy(&b).contains(needle.as_str())).unwrap_or(false);
                if seen {
                    kill_at = Some(Instant::now() + *after);
                    kill_on = None;
                }
            }
            if kill_at.is_some_and(|at| Instant::now() >= at) {
                kill_at = None;
                // Our own child, by its handle: SIGKILL.
                let _ = child.kill();
            }
            if interrupt.is_some_and(|after| started.elapsed() >= after) {
                interrupt = None;
                // Our own child, by its PID.
                if let Ok(pid) = i32::try_from(child.id()) {
                    // SAFETY: kill(2) on the PID of a child we spawned and have not reaped.
                    unsafe {
                        libc::kill(pid, libc::SIGINT);
                    }
                }
            }
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() > self.timeout => {
                    // Our own child, by its handle.
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("waiting for ferry: {e}"),
            }
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        let run = Run::new(command_line, status.and_then(|s| s.code()), stdout, stderr, started.elapsed());
        if act.is_some() && act_needle.is_some() {
            panic!("ferry ended before the action on {:?} could run\n{}", act_needle, run.transcript());
        }
        if self.kill_on.is_some() && status.is_some_and(|s| s.code().is_some()) {
            panic!("ferry ended before it could be killed on {:?}\n{}", self.kill_on, run.transcript());
        }
        if status.is_none() {
            panic!("ferry did not finish within {:?}\n{}", self.timeout, run.transcript());
        }
        run
    }
}

/// `word` quoted for a shell, so a failing test's command line can be pasted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// What one `ferry` run did.
#[derive(Debug)]
pub struct Run {
    /// The command, for messages.
    pub command: String,
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// stdout lines that parsed as JSON objects, in order.
    pub events: Vec<Value>,
    /// Wall time.
    pub elapsed: Duration,
}

/// The recap counters of one host.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recap {
    pub ok: u64,
    pub changed: u64,
    pub unreachable: u64,
    pub failed: u64,
    pub skipped: u64,
    pub rescued: u64,
    pub ignored: u64,
}

impl Run {
    fn new(command: String, code: Option<i32>, stdout: String, stderr: String, elapsed: Duration) -> Run {
        let events = stdout.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(Value::is_object).collect();
        Run { command, code, stdout, stderr, events, elapsed }
    }

    /// Command, exit code, stdout and stderr, for failure messages.
    pub fn transcript(&self) -> String {
        format!(
            "$ {}\nexit: {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- end ---",
            self.command, self.code, self.elapsed, self.stdout, self.stderr
        )
    }

    /// Panics with the transcript unless ferry exited with `code`.
    #[track_caller]
    pub fn assert_exit(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{}", self.transcript());
        self
    }

    /// stdout and stderr together, colour removed.
    pub fn output(&self) -> String {
        strip_ansi(&format!("{}\n{}", self.stdout, self.stderr))
    }

    /// stdout with colour removed, as lines.
    pub fn stdout_lines(&self) -> Vec<String> {
        strip_ansi(&self.stdout).lines().map(str::to_string).collect()
    }

    /// Panics with the transcript unless stdout or stderr contains `needle`.
    #[track_caller]
    pub fn assert_output_contains(&self, needle: &str) -> &Run {
        assert!(self.output().contains(needle), "expected {needle:?} in ferry's output\n{}", self.transcript());
        self
    }

    /// Panics with the transcript if stdout or stderr contains `needle`.
    #[track_caller]
    pub fn assert_output_lacks(&self, needle: &str) -> &Run {
        assert!(!self.output().contains(needle), "{needle:?} must not appear in ferry's output\n{}", self.transcript());
        self
    }

    /// Events of one kind (`"task_result"`, `"recap"`...).
    pub fn events(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    /// Every `task_result` for `host`.
    pub fn results_for(&self, host: &str) -> Vec<&Value> {
        self.events("task_result").into_iter().filter(|e| e["host"] == host).collect()
    }

    /// Every `task_result` of the task named `task`.
    pub fn results_of(&self, task: &str) -> Vec<&Value> {
        self.events("task_result").into_iter().filter(|e| e["task"] == task).collect()
    }

    /// The one `task_result` of `task` on `host` (the last, for loops use
    /// [`Run::results_of`]); panics with the transcript when there is none.
    #[track_caller]
    pub fn result(&self, host: &str, task: &str) -> &Value {
        self.events("task_result")
            .into_iter()
            .rfind(|e| e["host"] == host && e["task"] == task)
            .unwrap_or_else(|| panic!("no task_result for {host} / {task:?}\n{}", self.transcript()))
    }

    /// The recap of `host`; panics with the transcript when there is none.
    #[track_caller]
    pub fn recap(&self, host: &str) -> Recap {
        let recap = self.events("recap").into_iter().last().unwrap_or_else(|| panic!("no recap event\n{}", self.transcript()));
        let h = &recap["hosts"][host];
        assert!(h.is_object(), "no recap for {host}\n{}", self.transcript());
        let n = |k: &str| h[k].as_u64().unwrap_or_else(|| panic!("recap {host}.{k} is not a count\n{}", self.transcript()));
        Recap {
            ok: n("ok"),
            changed: n("changed"),
            unreachable: n("unreachable"),
            failed: n("failed"),
            skipped: n("skipped"),
            rescued: n("rescued"),
            ignored: n("ignored"),
        }
    }

    /// Host names in the recap.
    pub fn recap_hosts(&self) -> Vec<String> {
        self.events("recap").last().and_then(|r| r["hosts"].as_object()).map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }
}
