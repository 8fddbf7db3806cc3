//! Observing ahead (issue 5): the observes of consecutive file, template,
//! lineinfile and iptables tasks go to a host in one round trip, each with its
//! own exit status, and a task never plans from a state another task changed
//! since. Real sshd hosts in network namespaces; round trips are the
//! `commands` ferry counts per host in its JSON recap.

mod common;

use common::*;

const TEMPLATE: &str = "name={{ inventory_hostname }}\n";

/// Six tasks that only look at the host's files and tables when nothing is
/// to change. The iptables rule goes into each lab host's own network namespace.
const SIX_OBSERVES: &str = r#"- name: observes
  hosts: lab
  gather_facts: false
  tasks:
    - name: dir
      file:
        path: /tmp/ferry-ahead
        state: directory
        mode: "0755"
    - name: from a template
      template:
        src: host.conf.j2
        dest: /tmp/ferry-ahead/host.conf
    - name: from content
      copy:
        content: "{{ inventory_hostname }}\n"
        dest: /tmp/ferry-ahead/name
    - name: a name sha256sum escapes
      copy:
        content: "x\n"
        dest: '/tmp/ferry-ahead/back\slash'
    - name: a line
      lineinfile:
        path: /tmp/ferry-ahead/settings
        line: "ahead=1"
        create: true
    - name: a rule
      iptables:
        chain: INPUT
        protocol: tcp
        source: 198.51.100.9
        destination_port: "9998"
        jump: ACCEPT
"#;

fn commands(run: &Run, host: &str) -> u64 {
    let recap = run.events("recap").into_iter().last().unwrap_or_else(|| panic!("no recap\n{}", run.transcript()));
    recap["hosts"][host]["commands"].as_u64().unwrap_or_else(|| panic!("no command count for {host}\n{}", run.transcript()))
}

#[test]
fn a_run_with_nothing_to_change_reads_six_tasks_in_one_round_trip() {
    let lab = Lab::start("ahd", 3);
    lab.write("templates/host.conf.j2", TEMPLATE);
    let play = || lab.ferry(&["play", "site.yml"]).with_file("site.yml", SIX_OBSERVES).run();

    let first = play();
    first.assert_exit(0);
    for host in lab.hosts() {
        assert_eq!(first.recap(&host).changed, 6, "{host}\n{}", first.transcript());
        assert_eq!(lab.read(&host, "/tmp/ferry-ahead/host.conf"), Some(format!("name={host}\n")));
        assert_eq!(lab.read(&host, "/tmp/ferry-ahead/settings").as_deref(), Some("ahead=1\n"));
        assert_eq!(lab.read(&host, "/tmp/ferry-ahead/back\\slash").as_deref(), Some("x\n"));
        assert!(lab.sh(&host, "iptables -S INPUT").contains("-A INPUT -s 198.51.100.9/32 -p tcp -m tcp --dport 9998 -j ACCEPT"));
    }

    let second = play();
    second.assert_exit(0);
    for host in lab.hosts() {
        let recap = second.recap(&host);
        assert_eq!((recap.ok, recap.changed, recap.failed), (6, 0, 0), "{host}: {recap:?}\n{}", second.transcript());
        // One batch: dir, template, 2 copies, lineinfile, `iptables -S` and `-C`.
        assert_eq!(commands(&second, &host), 1, "{host}: round trips on a run with nothing to change\n{}", second.transcript());
    }

    // Something changed on one host between runs: only what changed is
    // changed, and every other task still sees the host as it is.
    let host = &lab.hosts()[1];
    lab.sh(host, "echo edited > /tmp/ferry-ahead/name; iptables -D INPUT -s 198.51.100.9 -p tcp --dport 9998 -j ACCEPT");
    let third = play();
    third.assert_exit(0);
    assert_eq!(third.result(host, "from content")["status"], "changed", "{}", third.transcript());
    assert_eq!(third.result(host, "a rule")["status"], "changed", "{}", third.transcript());
    assert_eq!(third.result(host, "a line")["status"], "ok", "{}", third.transcript());
    assert_eq!(third.recap(host).changed, 2);
    assert_eq!(lab.read(host, "/tmp/ferry-ahead/name"), Some(format!("{host}\n")));
    for other in lab.hosts().iter().filter(|h| *h != host) {
        assert_eq!(third.recap(other).changed, 0, "{other}");
    }
}

/// The first task writes the file the second one reads: observed ahead, the
/// second would see no file and write one of its own; it must see the first's.
const WRITE_THEN_READ: &str = r#"- name: write then read
  hosts: lab
  gather_facts: false
  tasks:
    - name: write it
      copy:
        content: "keep=1\nmore=2\n"
        dest: /tmp/ferry-ahead-wr
    - name: the line is there already
      lineinfile:
        path: /tmp/ferry-ahead-wr
        line: "keep=1"
    - name: its mode
      file:
        path: /tmp/ferry-ahead-wr
        state: file
        mode: "0600"
"#;

#[test]
fn a_task_sees_what_the_task_before_it_changed() {
    let lab = Lab::start("ahw", 2);
    let play = |args: &[&str]| lab.ferry(&["play", "site.yml"]).args(args).with_file("site.yml", WRITE_THEN_READ).run();

    // Check mode on fresh hosts: nothing exists, so the line and mode tasks
    // cannot be told; ferry says what it would do and touches nothing.
    let check = play(&["--check"]);
    for host in lab.hosts() {
        assert_eq!(check.result(&host, "write it")["status"], "changed", "{}", check.transcript());
    }
    lab.assert_absent_everywhere("/tmp/ferry-ahead-wr");

    let first = play(&[]);
    first.assert_exit(0);
    for host in lab.hosts() {
        assert_eq!(first.result(&host, "write it")["status"], "changed", "{}", first.transcript());
        // Planned from the file the first task wrote, not from the absent one observed ahead.
        assert_eq!(first.result(&host, "the line is there already")["status"], "ok", "{}", first.transcript());
        assert_eq!(first.result(&host, "its mode")["status"], "changed", "{}", first.transcript());
        assert_eq!(lab.read(&host, "/tmp/ferry-ahead-wr").as_deref(), Some("keep=1\nmore=2\n"));
        assert_eq!(lab.stat(&host, "/tmp/ferry-ahead-wr", "%a"), "600");
    }
    let second = play(&[]);
    second.assert_exit(0);
    for host in lab.hosts() {
        assert_eq!(second.recap(&host).changed, 0, "{host}\n{}", second.transcript());
        assert_eq!(commands(&second, &host), 1, "{host}\n{}", second.transcript());
    }
}

/// A later task's observe that no command line can carry (a NUL byte in its
/// path) is not the current task's failure: it fails where it belongs.
const NUL_AHEAD: &str = r#"- name: bad input further down
  hosts: lab
  gather_facts: false
  tasks:
    - name: first
      file:
        path: /tmp/ferry-ahead-nul
        state: directory
    - name: second
      copy:
        content: "x"
        dest: "/tmp/ferry-ahead-nul/a\0b"
"#;

#[test]
fn a_later_task_that_cannot_be_sent_fails_on_its_own() {
    let lab = Lab::start("ahn", 1);
    let host = &lab.hosts()[0];
    let run = lab.ferry(&["play", "site.yml"]).with_file("site.yml", NUL_AHEAD).run();
    run.assert_exit(2);
    assert_eq!(run.result(host, "first")["status"], "changed", "{}", run.transcript());
    let second = run.result(host, "second");
    assert_eq!(second["status"], "failed", "{}", run.transcript());
    assert!(second["msg"].as_str().is_some_and(|m| m.contains("NUL")), "{}", run.transcript());
    assert!(lab.exists(host, "/tmp/ferry-ahead-nul"));
}
