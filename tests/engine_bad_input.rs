//! Bad input is refused before anything runs: exit 1, one clear error that points
//! into the file (file:line:col) or names the task and variable, and no task on any
//! host. Every playbook here starts with a task that would leave a marker.

mod common;

use common::*;

const MARKER: &str = "/tmp/ferry-f-marker";

/// A first task that would leave the marker, then `rest` (tasks, 4-space indent).
fn playbook(rest: &str) -> String {
    format!(
        "- name: bad input\n  hosts: lab\n  gather_facts: false\n  tasks:\n    - name: marker\n      copy:\n        content: \"ran\\n\"\n        dest: {MARKER}\n{rest}"
    )
}

const GOOD_PLAYBOOK_TASK: &str = "    - name: say hello\n      command: echo hello\n";

#[track_caller]
fn assert_refused(lab: &Lab, run: &Run, must_name: &[&str]) {
    run.assert_exit(1);
    for needle in must_name {
        run.assert_output_contains(needle);
    }
    assert!(run.events("task_result").is_empty(), "no task may run\n{}", run.transcript());
    assert!(run.events("error").len() <= 1, "one clear error, not a cascade\n{}", run.transcript());
    assert!(!run.stderr.trim().is_empty(), "the error is on stderr too\n{}", run.transcript());
    lab.assert_absent_everywhere(MARKER);
}

#[test]
fn a_malformed_yaml_inventory_is_refused() {
    let lab = Lab::start("byi", 2);
    let key = lab.ssh().client_key().display().to_string();
    // Line 5 puts a mapping inside a plain scalar.
    let inventory = format!(
        "all:\n  hosts:\n    node01:\n      ansible_host: {}\n      ansible_user: root: admin\n      ansible_ssh_private_key_file: \"{key}\"\n",
        lab.ip("node01")
    );
    let run = lab
        .ferry(&["play", "site.yml", "-i", "bad-inventory.yml"])
        .with_file("site.yml", &playbook(GOOD_PLAYBOOK_TASK))
        .with_file("bad-inventory.yml", &inventory)
        .run();
    assert_refused(&lab, &run, &["bad-inventory.yml:5:"]);
}

#[test]
fn an_ini_inventory_with_a_bad_line_is_refused() {
    let lab = Lab::start("bii", 2);
    let key = lab.ssh().client_key().display().to_string();
    // Line 3: a host variable without `=`.
    let inventory = format!(
        "[lab]\nnode01 ansible_host={} ansible_user=root ansible_ssh_private_key_file={key}\nnode02 ansible_host={} ansible_user root\n",
        lab.ip("node01"),
        lab.ip("node02")
    );
    let run = lab.ferry(&["play", "site.yml", "-i", "bad.ini"]).with_file("site.yml", &playbook(GOOD_PLAYBOOK_TASK)).with_file("bad.ini", &inventory).run();
    assert_refused(&lab, &run, &["bad.ini:3"]);
}

#[test]
fn an_unknown_task_key_is_refused() {
    let lab = Lab::start("buk", 2);
    // `regster` sits on line 11, column 7.
    let site = playbook("    - name: say hello\n      command: echo hello\n      regster: greeting\n");
    assert_eq!(site.lines().nth(10), Some("      regster: greeting"));
    let run = lab.ferry(&["play", "site.yml"]).with_file("site.yml", &site).run();
    assert_refused(&lab, &run, &["site.yml:11:", "regster"]);
}

#[test]
fn an_undefined_template_variable_is_refused() {
    let lab = Lab::start("bun", 2);
    let site = playbook("    - name: say hello\n      command: \"echo {{ not_defined_anywhere }}\"\n");
    let run = lab.ferry(&["play", "site.yml"]).with_file("site.yml", &site).run();
    assert_refused(&lab, &run, &["not_defined_anywhere", "say hello"]);
}

#[test]
fn a_module_argument_of_the_wrong_type_is_refused() {
    let lab = Lab::start("bty", 2);
    // Line 10 each time: a list where a mode belongs, a word where a port belongs.
    let cases = [
        ("    - name: make a dir\n      file: {path: /tmp/ferry-f-dir, state: directory, mode: [1]}\n", "mode"),
        ("    - name: wait for a port\n      wait_for: {port: many, timeout: 1}\n", "port"),
    ];
    for (tasks, arg) in cases {
        let site = playbook(tasks);
        let run = lab.ferry(&["play", "site.yml"]).with_file("site.yml", &site).run();
        assert_refused(&lab, &run, &["site.yml:10:", arg]);
        lab.assert_absent_everywhere("/tmp/ferry-f-dir");
    }
}
