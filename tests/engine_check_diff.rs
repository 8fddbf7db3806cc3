//! `--check` reports what would change and changes nothing; `--diff` shows unified
//! diffs for copy, template and lineinfile.

mod common;

use common::*;

const PLAYBOOK: &str = r#"- name: versioned files
  hosts: lab
  gather_facts: false
  vars:
    base: /tmp/ferry-b
  tasks:
    - name: base directory
      file:
        path: "{{ base }}"
        state: directory
        mode: "0755"
    - name: release file
      copy:
        content: "version={{ version }}\n"
        dest: "{{ base }}/release"
    - name: rendered config
      template:
        src: conf.j2
        dest: "{{ base }}/conf"
    - name: setting line
      lineinfile:
        path: "{{ base }}/settings"
        regexp: "^version="
        line: "version={{ version }}"
        create: true
"#;

const TEMPLATE: &str = "# config of {{ inventory_hostname }}\nversion={{ version }}\n";

const TASKS: [&str; 4] = ["base directory", "release file", "rendered config", "setting line"];
const DIFFED: [&str; 3] = ["release file", "rendered config", "setting line"];

fn play(lab: &Lab, extra: &[&str]) -> Ferry {
    lab.ferry(&["play", "site.yml"]).args(extra).with_file("site.yml", PLAYBOOK).with_file("templates/conf.j2", TEMPLATE)
}

fn versions_on(lab: &Lab, host: &str) -> Vec<Option<String>> {
    ["release", "conf", "settings"]
        .iter()
        .map(|f| lab.read(host, &format!("/tmp/ferry-b/{f}")))
        .map(|text| text.and_then(|t| t.lines().find(|l| l.starts_with("version=")).map(str::to_string)))
        .collect()
}

#[test]
fn check_mode_on_fresh_hosts_reports_changes_and_changes_nothing() {
    let lab = Lab::start("chk", 3);
    let run = play(&lab, &["--check", "-e", "version=1"]).run();
    run.assert_exit(0);
    for host in lab.hosts() {
        for task in TASKS {
            let result = run.result(&host, task);
            assert_eq!(result["status"], "changed", "{host} / {task} in check mode\n{}", run.transcript());
            assert_eq!(result["changed"], true);
        }
        assert_eq!(run.recap(&host).changed, 4, "{host}");
        assert!(!lab.exists(&host, "/tmp/ferry-b"), "--check created /tmp/ferry-b on {host}");
    }
}

#[test]
fn diff_shows_unified_diffs_for_copy_template_and_lineinfile() {
    let lab = Lab::start("dif", 2);
    play(&lab, &["-e", "version=1"]).run().assert_exit(0);
    let v1 = Some("version=1".to_string());
    for host in lab.hosts() {
        assert_eq!(versions_on(&lab, &host), vec![v1.clone(), v1.clone(), v1.clone()]);
    }

    // Human output: the diff of every file, and the hosts untouched (--check).
    let human = play(&lab, &["--check", "--diff", "-e", "version=2"]).human().run();
    human.assert_exit(0);
    let lines = human.stdout_lines();
    let has = |prefix: &str| lines.iter().filter(|l| l.trim_start().starts_with(prefix)).count();
    let files = DIFFED.len() * lab.hosts().len();
    assert!(has("---") >= files, "a --- line per file and host\n{}", human.transcript());
    assert!(has("+++") >= files, "a +++ line per file and host\n{}", human.transcript());
    assert!(has("-version=1") >= files, "the old line\n{}", human.transcript());
    assert!(has("+version=2") >= files, "the new line\n{}", human.transcript());
    for host in lab.hosts() {
        assert_eq!(versions_on(&lab, &host), vec![v1.clone(), v1.clone(), v1.clone()], "--check --diff changed {host}");
    }

    // JSON: each diff entry carries path, before, after and the unified text.
    let json = play(&lab, &["--check", "--diff", "-e", "version=2"]).run();
    json.assert_exit(0);
    for task in DIFFED {
        let result = json.result("node01", task);
        assert_eq!(result["status"], "changed");
        let diffs = result["diff"].as_array().unwrap_or_else(|| panic!("{task}: no diff array\n{}", json.transcript()));
        let entry = diffs
            .iter()
            .find(|d| d["after"].as_str().is_some_and(|a| a.contains("version=2")))
            .unwrap_or_else(|| panic!("{task}: no diff entry with the new content: {result}"));
        assert!(entry["path"].as_str().is_some_and(|p| p.starts_with("/tmp/ferry-b/")), "{task}: {entry}");
        assert!(entry["before"].as_str().is_some_and(|b| b.contains("version=1")), "{task}: {entry}");
        let unified = entry["unified"].as_str().unwrap_or_default();
        assert!(unified.contains("-version=1") && unified.contains("+version=2"), "{task}: {entry}");
    }

    // --diff without --check applies the change and still shows it.
    let applied = play(&lab, &["--diff", "-e", "version=3"]).human().run();
    applied.assert_exit(0).assert_output_contains("+version=3");
    let v3 = Some("version=3".to_string());
    for host in lab.hosts() {
        assert_eq!(versions_on(&lab, &host), vec![v3.clone(), v3.clone(), v3.clone()]);
    }
}
