//! Hosts that cannot be reached: a stopped sshd, a host key that no longer matches
//! known_hosts. The others finish; the exit code says what happened (as
//! ansible-playbook: 4 when any host was unreachable — measured with ansible-core
//! 2.17: also when another host failed — else 2 when one failed).

mod common;

use common::*;

const MARKER: &str = "/tmp/ferry-marker";

const PLAYBOOK: &str = r#"- name: leave a marker
  hosts: lab
  gather_facts: false
  tasks:
    - name: marker
      copy:
        content: "ran on {{ inventory_hostname }}\n"
        dest: /tmp/ferry-marker
    - name: planned failure
      fail:
        msg: "failing {{ inventory_hostname }} on purpose"
      when: inventory_hostname in (fail_hosts | default([]))
    - name: after the marker
      command: "true"
      changed_when: false
"#;

fn play(lab: &Lab, extra: &[&str]) -> Run {
    lab.ferry(&["play", "site.yml"]).args(extra).with_file("site.yml", PLAYBOOK).run()
}

#[test]
fn a_host_with_sshd_down_is_unreachable_and_the_others_finish() {
    let lab = Lab::start("unr", 4);
    lab.ssh().stop_sshd("node03").expect("stopping sshd of node03");
    let run = play(&lab, &[]);
    run.assert_exit(4);

    let down = run.recap("node03");
    assert_eq!((down.unreachable, down.ok, down.changed), (1, 0, 0), "{down:?}\n{}", run.transcript());
    assert!(run.results_for("node03").iter().any(|e| e["status"] == "unreachable"), "an unreachable task_result for node03\n{}", run.transcript());
    assert!(!lab.exists("node03", MARKER));
    for host in ["node01", "node02", "node04"] {
        let recap = run.recap(host);
        assert_eq!((recap.changed, recap.failed, recap.unreachable), (1, 0, 0), "{host}: {recap:?}");
        assert_eq!(run.result(host, "after the marker")["status"], "ok");
        assert_eq!(lab.read(host, MARKER), Some(format!("ran on {host}\n")));
    }
}

#[test]
fn unreachable_wins_over_failed_in_the_exit_code() {
    let lab = Lab::start("unf", 3);
    lab.ssh().stop_sshd("node03").expect("stopping sshd of node03");
    let run = play(&lab, &["-e", r#"{"fail_hosts": ["node01"]}"#]);
    run.assert_exit(4);
    assert_eq!(run.recap("node01").failed, 1);
    assert_eq!(run.recap("node03").unreachable, 1);
    assert_eq!(run.recap("node02").failed, 0);
    assert!(run.results_for("node01").iter().all(|e| e["task"] != "after the marker"), "a failed host stops");
    assert_eq!(run.result("node02", "after the marker")["status"], "ok");
}

#[test]
fn a_failed_host_alone_exits_2() {
    let lab = Lab::start("fai", 2);
    let run = play(&lab, &["-e", r#"{"fail_hosts": ["node02"]}"#]);
    run.assert_exit(2);
    assert_eq!(run.recap("node02").failed, 1);
    assert_eq!(run.result("node02", "planned failure")["status"], "failed");
    assert_eq!(run.result("node01", "after the marker")["status"], "ok");
}

#[test]
fn a_changed_host_key_is_refused_and_nothing_runs_there() {
    let lab = Lab::start("hkm", 3);
    lab.ssh().regenerate_host_key("node02").expect("new host key for node02");
    let known_hosts = lab.ssh().known_hosts();
    let trusted = std::fs::read(&known_hosts).expect("reading known_hosts");

    let run = play(&lab, &[]);
    run.assert_exit(4);
    assert_eq!(run.recap("node02").unreachable, 1, "{}", run.transcript());
    let refusal = run.results_for("node02").iter().find(|e| e["status"] == "unreachable").and_then(|e| e["msg"].as_str()).unwrap_or_default().to_string();
    assert!(refusal.contains(&known_hosts.display().to_string()), "the refusal names the known_hosts file: {refusal:?}\n{}", run.transcript());
    assert!(!lab.exists("node02", MARKER), "a task ran on a host with a mismatched key");
    for host in ["node01", "node03"] {
        assert!(lab.exists(host, MARKER), "{host} should have run");
    }
    assert_eq!(std::fs::read(&known_hosts).expect("known_hosts"), trusted, "strict checking never rewrites known_hosts");

    // In human form one line names both the host and the file.
    let human = lab.ferry(&["play", "site.yml"]).with_file("site.yml", PLAYBOOK).human().run();
    human.assert_exit(4);
    let kh = known_hosts.display().to_string();
    assert!(human.output().lines().any(|l| l.contains("node02") && l.contains(&kh)), "one line names node02 and {kh}\n{}", human.transcript());

    // accept-new trusts unknown hosts, never a changed key.
    let accept_new = play(&lab, &["--host-key-checking", "accept-new"]);
    accept_new.assert_exit(4);
    assert!(!lab.exists("node02", MARKER));
    assert_eq!(std::fs::read(&known_hosts).expect("known_hosts"), trusted);
}
