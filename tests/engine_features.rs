//! One playbook that uses every task feature (tests/fixtures/engine/features), on
//! five real SSH hosts: the first run changes them as asked, the second changes
//! nothing. The playbook is plain Ansible: ansible-playbook 2.17 gives the same
//! recap on it (changed=0 on the second run).

mod common;

use common::*;

const BASE: &str = "/tmp/ferry-a";
const SECRET: &str = "s3cr3t-TOKEN-4242";

#[test]
fn every_task_feature_converges_and_a_second_run_changes_nothing() {
    let lab = Lab::start("fea", 5);
    lab.with_groups(&[("web", &["node01", "node02"]), ("db", &["node03"])]).copy_fixture("engine/features");
    let out_dir = lab.dir().join("out");
    std::fs::create_dir_all(&out_dir).expect("creating the controller-side output dir");
    // State the play must change: a legacy line to drop, files to remove.
    lab.sh_all(&format!("mkdir -p {BASE} && printf 'keep=1\\nlegacy=1\\n' > {BASE}/legacy.ini && touch {BASE}/scratch.tmp {BASE}/obsolete"));
    let out = out_dir.display().to_string();
    let play = |run_id: &str| {
        lab.ferry(&["play", "site.yml"])
            .args(&["-e", &format!("run_id={run_id}"), "-e", &format!("out_dir={out}")])
            .args(&["-e", r#"{"app_port": 8080}"#, "-e", "@extra.yml"])
            .run()
    };

    let first = play("1");
    first.assert_exit(0).assert_output_lacks(SECRET);
    for host in lab.hosts() {
        let recap = first.recap(&host);
        assert!(recap.changed > 0, "{host} changed nothing: {recap:?}");
        assert_eq!((recap.failed, recap.unreachable, recap.rescued, recap.ignored), (0, 0, 1, 1), "{host}: {recap:?}\n{}", first.transcript());
    }
    every_host_is_configured(&lab);
    only_the_chosen_hosts_were_touched(&lab, &out_dir);
    the_events_tell_the_story(&lab, &first);
    for host in lab.hosts() {
        assert_eq!(lines(&lab, &host, "attempts-1"), 3, "until: retried to the third attempt on {host}");
    }

    let second = play("2");
    second.assert_exit(0).assert_output_lacks(SECRET);
    for host in lab.hosts() {
        let recap = second.recap(&host);
        assert_eq!(recap.changed, 0, "second run changed {host}: {recap:?}\n{}", second.transcript());
        assert_eq!((recap.failed, recap.unreachable), (0, 0), "{host}: {recap:?}");
        assert_eq!(lab.read(&host, &format!("{BASE}/handler.log")).as_deref(), Some("restarted\n"), "no change, no handler on {host}");
        assert_eq!(lines(&lab, &host, "attempts-2"), 3);
    }
}

fn lines(lab: &Lab, host: &str, file: &str) -> usize {
    lab.read(host, &format!("{BASE}/{file}")).unwrap_or_else(|| panic!("{BASE}/{file} missing on {host}")).lines().count()
}

fn file(lab: &Lab, host: &str, name: &str) -> String {
    lab.read(host, &format!("{BASE}/{name}")).unwrap_or_else(|| panic!("{BASE}/{name} missing on {host}"))
}

/// What every host must look like after the first run.
fn every_host_is_configured(lab: &Lab) {
    let members = lab.hosts().join(",");
    for host in lab.hosts() {
        let peer = if host == "node01" { "node02" } else { "node01" };
        let groups = match host.as_str() {
            "node01" | "node02" => "lab,web",
            "node03" => "db,lab",
            _ => "lab",
        };
        // template: vars_files, -e (JSON and @file), group_names, groups, hostvars, set_fact
        let conf: Vec<String> = file(lab, &host, "app.conf").lines().map(str::to_string).collect();
        assert_eq!(
            conf,
            vec![
                format!("# ferrydemo 2.4.1 on {host}"),
                format!("name={host}"),
                "port=8080".to_string(),
                format!("groups={groups}"),
                format!("members={members}"),
                format!("peer={peer}"),
                format!("peer_ip={}", lab.ip(peer)),
            ],
            "app.conf on {host}"
        );
        assert_eq!(lab.stat(&host, &format!("{BASE}/app.conf"), "%a %F"), "644 regular file");
        // copy: src + mode + owner, content + no_log
        assert_eq!(file(lab, &host, "motd"), "Welcome to a ferry lab host.\n");
        assert_eq!(lab.stat(&host, &format!("{BASE}/motd"), "%a %U"), "644 root");
        assert_eq!(file(lab, &host, "token"), format!("{SECRET}\n"));
        assert_eq!(lab.stat(&host, &format!("{BASE}/token"), "%a"), "600");
        // lineinfile: create, regexp + insertafter, insertbefore BOF, state absent
        assert_eq!(file(lab, &host, "settings.ini"), "# managed by ferry\n[main]\nport=8080\n");
        assert_eq!(file(lab, &host, "legacy.ini"), "keep=1\n");
        // file: directory (loop), link, absent, touch
        assert_eq!(lab.stat(&host, &format!("{BASE}/items/alpha"), "%a %F"), "755 directory");
        assert_eq!(lab.stat(&host, &format!("{BASE}/items/beta"), "%a %F"), "700 directory");
        assert_eq!(lab.sh(&host, &format!("readlink {BASE}/current.conf")).trim(), format!("{BASE}/app.conf"));
        assert!(!lab.exists(&host, &format!("{BASE}/obsolete")));
        assert!(lab.exists(&host, &format!("{BASE}/stamp")));
        // shell: creates, removes, chdir, stdin
        assert_eq!(file(lab, &host, "built.txt"), "built\n");
        assert!(!lab.exists(&host, &format!("{BASE}/scratch.tmp")));
        assert_eq!(file(lab, &host, "items/alpha/pwd.txt"), format!("{BASE}/items/alpha\n"));
        assert_eq!(file(lab, &host, "stdin.txt").trim_end(), "hello from stdin");
        // block/rescue/always, include_tasks, handler once at the end, imported play
        assert_eq!(file(lab, &host, "rescued"), "rescued\n");
        assert!(!lab.exists(&host, &format!("{BASE}/never")), "the task after the failure ran on {host}");
        assert_eq!(file(lab, &host, "included"), format!("included on {host}\n"));
        assert_eq!(file(lab, &host, "steps"), "one first\none second\ntwo first\n", "include_tasks with loop, item by item, on {host}");
        assert_eq!(file(lab, &host, "handler.log"), "restarted\n", "handler ran once, after the last task, on {host}");
        assert_eq!(file(lab, &host, "serial"), format!("batch member {host}\n"));
        // meta: end_play ends that play only, in every batch; the next play runs.
        assert!(!lab.exists(&host, &format!("{BASE}/after-end-play")), "a task after end_play ran on {host}");
        assert_eq!(file(lab, &host, "next-play"), format!("next play on {host}\n"));
    }
}

/// when, run_once, delegate_to another host and localhost.
fn only_the_chosen_hosts_were_touched(lab: &Lab, out_dir: &std::path::Path) {
    for host in lab.hosts() {
        assert_eq!(lab.exists(&host, &format!("{BASE}/only-node02")), host == "node02", "when: on {host}");
        assert_eq!(lab.exists(&host, &format!("{BASE}/elected")), host == "node01", "run_once on {host}");
        let guests = lab.sh(&host, &format!("ls -A {BASE}/guests"));
        if host == "node01" {
            assert_eq!(guests.split_whitespace().collect::<Vec<_>>().join(","), lab.hosts().join(","));
        } else {
            assert_eq!(guests.trim(), "", "delegated copies land on node01 only, not on {host}");
        }
        let note =
            std::fs::read_to_string(out_dir.join(format!("{host}.txt"))).unwrap_or_else(|e| panic!("delegate_to localhost wrote no note for {host}: {e}"));
        assert_eq!(note, format!("{host} at {}\n", lab.ip(&host)));
    }
    assert_eq!(file(lab, "node01", "elected"), "elected node01\n");
}

/// Loop labels, debug, skipped tasks and serial batches as events.
fn the_events_tell_the_story(lab: &Lab, run: &Run) {
    let labels: Vec<&str> = run.results_of("per-item directories").iter().filter(|e| e["host"] == "node01").filter_map(|e| e["item"].as_str()).collect();
    assert_eq!(labels, ["alpha", "beta"], "loop_control.label\n{}", run.transcript());
    let msg = run.result("node03", "show the peer")["msg"].as_str().unwrap_or_default().to_string();
    assert_eq!(msg, "node03 pairs with node01");
    assert_eq!(run.result("node01", "only on node02")["status"], "skipped");
    assert_eq!(run.result("node02", "only on node02")["status"], "changed");

    // serial: 2 -> both tasks finish on node01+node02 before node03 starts.
    let results = run.events("task_result");
    let position = |task: &str, host: &str| {
        results.iter().position(|e| e["task"] == task && e["host"] == host).unwrap_or_else(|| panic!("no {task:?} result for {host}\n{}", run.transcript()))
    };
    let first_batch_done = position("batch check", "node01").max(position("batch check", "node02"));
    for host in lab.hosts().iter().skip(2) {
        assert!(first_batch_done < position("batch start", host), "serial: {host} started before the first batch ended");
    }
}
