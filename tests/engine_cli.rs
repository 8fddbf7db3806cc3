//! Selecting hosts and tasks (`-l`, `-t`, `--skip-tags`), the human recap, and the
//! JSON event schema that tools and these tests read.

mod common;

use common::*;
use serde_json::Value;

const PLAYBOOK: &str = r#"- name: tagged tasks
  hosts: lab
  gather_facts: false
  tasks:
    - name: alpha file
      copy:
        content: "alpha\n"
        dest: /tmp/ferry-i-alpha
      tags: [alpha]
    - name: beta file
      copy:
        content: "beta\n"
        dest: /tmp/ferry-i-beta
      tags: [beta]
    - name: untagged file
      copy:
        content: "plain\n"
        dest: /tmp/ferry-i-plain
"#;

/// Line of each task's `- name:` in PLAYBOOK.
const TASK_LINES: [(&str, u64); 3] = [("alpha file", 5), ("beta file", 10), ("untagged file", 15)];

fn play(lab: &Lab, extra: &[&str]) -> Ferry {
    lab.ferry(&["play", "site.yml"]).args(extra).with_file("site.yml", PLAYBOOK)
}

/// Which of alpha/beta/plain exist on `host`.
fn files_on(lab: &Lab, host: &str) -> [bool; 3] {
    ["alpha", "beta", "plain"].map(|f| lab.exists(host, &format!("/tmp/ferry-i-{f}")))
}

#[test]
fn limit_selects_hosts() {
    let lab = Lab::start("lim", 3);
    let run = play(&lab, &["-l", "node02"]).run();
    run.assert_exit(0);
    assert_eq!(run.recap_hosts(), ["node02"], "{}", run.transcript());
    assert!(run.events("task_result").iter().all(|e| e["host"] == "node02"));
    assert_eq!(files_on(&lab, "node02"), [true; 3]);
    for host in ["node01", "node03"] {
        assert_eq!(files_on(&lab, host), [false; 3], "-l node02 touched {host}");
    }

    let run = play(&lab, &["--limit", "node01,node03"]).run();
    run.assert_exit(0);
    let mut hosts = run.recap_hosts();
    hosts.sort();
    assert_eq!(hosts, ["node01", "node03"]);
    assert_eq!(files_on(&lab, "node01"), [true; 3]);
}

#[test]
fn tags_and_skip_tags_select_tasks() {
    let lab = Lab::start("tag", 2);
    play(&lab, &["-l", "node01", "-t", "alpha"]).run().assert_exit(0);
    assert_eq!(files_on(&lab, "node01"), [true, false, false], "-t alpha runs only alpha");

    play(&lab, &["-l", "node02", "--skip-tags", "alpha"]).run().assert_exit(0);
    assert_eq!(files_on(&lab, "node02"), [false, true, true], "--skip-tags alpha runs the rest");

    let run = play(&lab, &["-l", "node01", "--tags", "alpha,beta"]).run();
    run.assert_exit(0);
    assert_eq!(files_on(&lab, "node01"), [true, true, false]);
    assert!(run.results_of("untagged file").is_empty(), "a task left out by tags reports nothing");
}

#[test]
fn human_output_ends_with_a_recap_table() {
    let lab = Lab::start("hum", 2);
    let run = play(&lab, &[]).human().run();
    run.assert_exit(0);
    let lines = run.stdout_lines();
    assert!(lines.iter().all(|l| serde_json::from_str::<Value>(l).map_or(true, |v| !v.is_object())), "human output is not JSON\n{}", run.transcript());
    assert!(lines.iter().any(|l| l.to_lowercase().contains("recap")), "a recap heading\n{}", run.transcript());
    for host in lab.hosts() {
        let row = lines.iter().rfind(|l| l.contains(&host) && l.contains("ok=")).unwrap_or_else(|| panic!("no recap row for {host}\n{}", run.transcript()));
        for field in ["ok=", "changed=3", "unreachable=0", "failed=0", "skipped=", "rescued=", "ignored="] {
            assert!(row.contains(field), "recap row of {host} lacks {field}: {row}");
        }
    }
}

#[test]
fn json_events_follow_the_schema() {
    let lab = Lab::start("jsn", 2);
    let first = play(&lab, &[]).run();
    first.assert_exit(0);
    for line in first.stdout.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert!(v["event"].is_string(), "every event names its kind: {line}");
    }

    let play_start = first.events("play_start");
    assert_eq!(play_start.len(), 1, "{}", first.transcript());
    assert_eq!(play_start[0]["play"], "tagged tasks");
    assert_eq!(play_start[0]["hosts"], serde_json::json!(lab.hosts()));

    for (task, line) in TASK_LINES {
        let start =
            first.events("task_start").into_iter().find(|e| e["task"] == task).unwrap_or_else(|| panic!("no task_start for {task}\n{}", first.transcript()));
        assert_eq!(start["play"], "tagged tasks");
        assert_eq!(start["module"], "copy");
        let location = start["location"].as_str().unwrap_or_default();
        let mut parts = location.rsplitn(3, ':');
        let (col, at, file) = (parts.next(), parts.next(), parts.next());
        assert!(file.is_some_and(|f| f.ends_with("site.yml")), "location {location:?}");
        assert_eq!(at.and_then(|l| l.parse::<u64>().ok()), Some(line), "location {location:?} of {task}");
        assert!(col.and_then(|c| c.parse::<u64>().ok()).is_some_and(|c| c >= 1), "location {location:?}");

        for host in lab.hosts() {
            let r = first.result(&host, task);
            assert_eq!(r["module"], "copy");
            assert_eq!(r["status"], "changed");
            assert_eq!(r["changed"], true);
            assert!(r["msg"].is_string(), "msg is a string: {r}");
            assert!(r["elapsed_ms"].is_u64(), "elapsed_ms is a count: {r}");
        }
    }

    let recap = first.events("recap");
    assert_eq!(recap.len(), 1);
    for host in lab.hosts() {
        let counts = &recap[0]["hosts"][host.as_str()];
        for key in ["ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"] {
            assert!(counts[key].is_u64(), "recap {host}.{key}: {counts}");
        }
        assert_eq!(first.recap(&host).changed, 3);
    }

    let second = play(&lab, &[]).run();
    second.assert_exit(0);
    for host in lab.hosts() {
        for (task, _) in TASK_LINES {
            let r = second.result(&host, task);
            assert_eq!((r["status"].as_str(), r["changed"].as_bool()), (Some("ok"), Some(false)), "{r}");
        }
    }
}
