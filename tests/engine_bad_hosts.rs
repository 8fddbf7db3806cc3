//! Hosts ferry cannot use as asked, seen from the command line (the real binary,
//! its output and exit code): private key files that are missing, readable by
//! others or not files at all (bad input: refused before any host is touched); a host whose SSH port answers in HTTP; and a
//! command that prints 100 MB, which must not take the controller's memory.
//! (tests/transport_ssh.rs checks the same at the library level.)

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use ferry::transport::command::{LINE_COST, OUTPUT_CAP};
use serde_json::Value;

const MARKER: &str = "/tmp/ferry-bad-hosts-marker";

/// One task per host; where it ran, the marker says so.
const PLAYBOOK: &str = r#"- name: reach every host
  hosts: lab
  gather_facts: false
  tasks:
    - name: reached
      copy:
        dest: /tmp/ferry-bad-hosts-marker
        content: "reached {{ inventory_hostname }}\n"
"#;

/// An inventory of the lab's hosts, each with the key file given (`None`: the lab's).
fn inventory(lab: &Lab, keys: &[(&str, Option<&Path>)]) -> String {
    let mut y = String::from("all:\n  children:\n    lab:\n      hosts:\n");
    for (host, key) in keys {
        let key = key.map(Path::to_path_buf).unwrap_or_else(|| lab.ssh().client_key());
        y.push_str(&format!(
            "        {host}:\n          ansible_host: {}\n          ansible_user: root\n          ansible_ssh_private_key_file: \"{}\"\n",
            lab.ip(host),
            key.display()
        ));
    }
    y
}

fn msg(event: &Value) -> String {
    event["msg"].as_str().unwrap_or_default().to_string()
}

#[test]
fn unusable_private_key_files_stop_the_run_before_any_host_is_touched() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::start("key", 4);
    let keys = lab.dir().join("keys");
    std::fs::create_dir_all(&keys).expect("creating the keys dir");
    let missing = keys.join("no_such_key");
    let open = keys.join("world_readable_key");
    std::fs::copy(lab.ssh().client_key(), &open).expect("copying the lab key");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).expect("chmod 644");
    // Root reads any file: a folder is what cannot be read as a key here.
    let folder = keys.join("a_folder");
    std::fs::create_dir_all(&folder).expect("creating a folder");
    let inv = inventory(&lab, &[("node01", Some(&missing)), ("node02", Some(&open)), ("node03", Some(&folder)), ("node04", None)]);

    // Bad input: exit 1, one line per key file naming its host, and no host
    // touched, not even node04 whose key is fine.
    let run = lab.ferry(&["play", "site.yml", "-i", "keys.yml"]).with_file("keys.yml", &inv).with_file("site.yml", PLAYBOOK).human().run();
    run.assert_exit(1);
    let expected: [(&str, &PathBuf, &str); 3] =
        [("node01", &missing, "no such file"), ("node02", &open, "its permissions 0644 let other users read it"), ("node03", &folder, "Is a directory")];
    for (host, key, why) in expected {
        let named = format!("cannot use private key {} (ansible_ssh_private_key_file of {host}): ", key.display());
        assert!(run.output().lines().any(|l| l.contains(&named) && l.contains(why)), "a line says {named:?} and {why:?}\n{}", run.transcript());
    }
    assert!(run.output().contains(&format!("`chmod 600 {}`", open.display())), "the fix is named\n{}", run.transcript());
    assert!(run.output().contains("nothing was run"), "{}", run.transcript());
    for host in lab.hosts() {
        assert!(!lab.exists(&host, MARKER), "a task ran on {host}");
    }

    // The same check for --private-key when the inventory names no key, and
    // --limit to the good host lets the run go.
    let no_keys = "all:\n  children:\n    lab:\n      hosts:\n".to_string()
        + &lab.hosts().iter().map(|h| format!("        {h}:\n          ansible_host: {}\n          ansible_user: root\n", lab.ip(h))).collect::<String>();
    let flag =
        lab.ferry(&["play", "site.yml", "-i", "nokeys.yml", "--private-key", &missing.to_string_lossy()]).with_file("nokeys.yml", &no_keys).human().run();
    flag.assert_exit(1);
    assert!(
        flag.output().contains(&format!("cannot use private key {} (--private-key of node01, node02, node03, node04): no such file", missing.display())),
        "{}",
        flag.transcript()
    );
    let limited = lab.ferry(&["play", "site.yml", "-i", "keys.yml", "--limit", "node04"]).run();
    limited.assert_exit(0);
    assert_eq!(lab.read("node04", MARKER), Some("reached node04\n".into()));
}

/// A TCP server in a lab host's namespaces that answers every connection with an
/// HTTP error; stopped by its PID on drop.
struct HttpOnSshPort {
    pid: i32,
}

impl HttpOnSshPort {
    const SCRIPT: &str = "import socket\n\
        s = socket.socket()\n\
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
        s.bind(('0.0.0.0', 22))\n\
        s.listen(16)\n\
        while True:\n\
        \x20   c, _ = s.accept()\n\
        \x20   c.sendall(b'HTTP/1.1 400 Bad Request\\r\\nContent-Length: 0\\r\\n\\r\\n')\n\
        \x20   c.close()\n";

    fn start(lab: &Lab, host: &str) -> HttpOnSshPort {
        let out = lab.exec(host, &["sh", "-c", "python3 -c \"$1\" </dev/null >/dev/null 2>&1 & echo $!", "sh", Self::SCRIPT]);
        assert!(out.status.success(), "starting python3 on {host}: {}", String::from_utf8_lossy(&out.stderr));
        let pid = String::from_utf8_lossy(&out.stdout).trim().parse().expect("the listener's PID");
        let server = HttpOnSshPort { pid };
        let addr = std::net::SocketAddr::from((lab.ip(host), 22));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut banner = String::new();
            if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                use std::io::Read;
                let _ = s.read_to_string(&mut banner);
            }
            if banner.starts_with("HTTP/1.1 400") {
                return server;
            }
            assert!(Instant::now() < deadline, "the HTTP listener on {addr} did not answer (python3 installed?)");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for HttpOnSshPort {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the PID of the listener this test started.
        unsafe {
            libc::kill(self.pid, libc::SIGTERM);
        }
    }
}

#[test]
fn a_host_answering_http_on_its_ssh_port_is_unreachable_and_named() {
    let lab = Lab::start("ban", 2);
    lab.ssh().stop_sshd("node02").expect("stopping node02's sshd");
    let _http = HttpOnSshPort::start(&lab, "node02");

    let run = lab.ferry(&["play", "site.yml", "--connect-timeout", "5"]).with_file("site.yml", PLAYBOOK).run();
    run.assert_exit(4);
    assert_eq!(run.recap("node02").unreachable, 1, "{}", run.transcript());
    let result = run.result("node02", "reached");
    assert_eq!(result["status"], "unreachable");
    assert_eq!(msg(result), format!("node02: cannot reach {}:22: not an SSH server (banner: \"HTTP/1.1 400 Bad Request\")", lab.ip("node02")));
    let took = Duration::from_millis(result["elapsed_ms"].as_u64().unwrap_or(u64::MAX));
    assert!(took < Duration::from_secs(3), "the banner is judged at once, not after the connect timeout: {took:?}");
    assert!(!lab.exists("node02", MARKER));
    assert_eq!(lab.read("node01", MARKER), Some("reached node01\n".into()));

    let human = lab.ferry(&["play", "site.yml"]).with_file("site.yml", PLAYBOOK).human().run();
    human.assert_exit(4);
    assert!(human.output().lines().any(|l| l.contains("node02") && l.contains("not an SSH server")), "{}", human.transcript());
}

/// What a run under `/usr/bin/time` gave.
struct Measured {
    code: Option<i32>,
    events: Vec<Value>,
    stderr: String,
    peak_kb: u64,
}

/// Runs `ferry play site.yml` in the lab's dir under `/usr/bin/time`, for ferry's
/// peak resident set size.
fn play_measured(lab: &Lab, playbook: &str) -> Measured {
    lab.write("site.yml", playbook);
    let rss_file = lab.dir().join("peak-rss-kb");
    let kh = lab.ssh().known_hosts();
    let out = Command::new("timeout")
        .arg("120")
        .arg("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss_file)
        .arg(FERRY)
        .args(["play", "site.yml", "--format", "json", "-i"])
        .arg(lab.inventory())
        .arg("--known-hosts")
        .arg(&kh)
        .current_dir(lab.dir())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("running ferry under /usr/bin/time (package `time`)");
    let events = String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect();
    let rss = std::fs::read_to_string(&rss_file).unwrap_or_else(|e| panic!("reading {}: {e}", rss_file.display()));
    // `time` puts "Command exited with non-zero status N" first when it did.
    let peak_kb = rss.lines().last().unwrap_or_default().trim().parse().unwrap_or_else(|e| panic!("{}: {rss:?}: {e}", rss_file.display()));
    Measured { code: out.status.code(), events, stderr: String::from_utf8_lossy(&out.stderr).into_owned(), peak_kb }
}

/// The peak resident set size ferry may reach while a host prints 100 MB: the
/// output kept is capped, so this does not grow with what the host prints.
const RSS_LIMIT_KB: u64 = 200 * 1024;

#[test]
fn a_command_printing_100_mb_keeps_ferrys_memory_bounded() {
    let lab = Lab::start("mem", 1);
    let cap_lines = (OUTPUT_CAP / (2 + LINE_COST)) as u64;
    // (what prints 100 MB, kept stdout length, kept lines)
    let cases: [(&str, std::ops::RangeInclusive<u64>, std::ops::RangeInclusive<u64>); 2] = [
        (r"head -c 100M /dev/zero | tr '\\0' x", OUTPUT_CAP as u64..=OUTPUT_CAP as u64, 1..=1),
        ("yes | head -c 100M", 2 * cap_lines - 3..=2 * cap_lines + 1, cap_lines - 1..=cap_lines + 1),
    ];
    for (command, kept_bytes, kept_lines) in cases {
        let playbook = format!(
            "- name: a flood of output\n  hosts: lab\n  gather_facts: false\n  tasks:\n    - name: print 100 MB\n      shell: \"{command}\"\n      register: out\n    - name: what was kept\n      debug:\n        msg: \"{{{{ out.stdout | length }}}} {{{{ out.stdout_lines | length }}}} {{{{ out.truncated }}}}\"\n"
        );
        let Measured { code, events, stderr, peak_kb } = play_measured(&lab, &playbook);
        eprintln!("`{command}`, registered and read again: ferry's peak RSS {} MB", peak_kb / 1024);
        assert_eq!(code, Some(0), "`{command}`: {stderr}");
        let kept = events.iter().find(|e| e["event"] == "task_result" && e["task"] == "what was kept").map(msg).unwrap_or_default();
        let words: Vec<&str> = kept.split_whitespace().collect();
        let number = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok()).unwrap_or(u64::MAX);
        assert!(kept_bytes.contains(&number(0)) && kept_lines.contains(&number(1)) && words.get(2) == Some(&"True"), "`{command}` kept: {kept:?}");
        assert!(peak_kb < RSS_LIMIT_KB, "`{command}`: ferry's peak RSS was {} MB (limit {} MB)", peak_kb / 1024, RSS_LIMIT_KB / 1024);
    }
}
