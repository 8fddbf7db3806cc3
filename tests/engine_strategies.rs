//! Scheduling: the free strategy, `any_errors_fatal`, `max_fail_percentage`, the
//! play's host lists after a failure, and a run interrupted by SIGINT (exit 130,
//! recap printed, no new task started).

mod common;

use common::*;
use std::time::Duration;

const STEPS: &str = r#"- name: three steps
  hosts: lab
  gather_facts: false
  tasks:
    - name: step one
      command: "touch /tmp/ferry-step1"
    - name: step two, slow on node01
      command: "sleep {{ 2 if inventory_hostname == 'node01' else 0 }}"
    - name: step three
      command: "touch /tmp/ferry-step3"
"#;

#[test]
fn free_strategy_lets_fast_hosts_finish_before_slow_ones() {
    let lab = Lab::start("fre", 3);
    let run = lab.ferry(&["play", "site.yml", "--strategy", "free"]).with_file("site.yml", STEPS).run();
    run.assert_exit(0);
    for host in lab.hosts() {
        assert!(lab.exists(&host, "/tmp/ferry-step3"), "{host} finished\n{}", run.transcript());
    }
    // With linear, no host starts step three before node01 ends step two; with
    // free, node02's step three result comes before node01's step two result.
    let order: Vec<(String, String)> = run
        .events("task_result")
        .iter()
        .map(|e| (e["host"].as_str().unwrap_or_default().to_string(), e["task"].as_str().unwrap_or_default().to_string()))
        .collect();
    let fast_done = order.iter().position(|(h, t)| h == "node02" && t == "step three").expect("node02 ran step three");
    let slow_two = order.iter().position(|(h, t)| h == "node01" && t.starts_with("step two")).expect("node01 ran step two");
    assert!(fast_done < slow_two, "free strategy: node02 finished before node01's slow step\n{}", run.transcript());

    let linear = lab.ferry(&["play", "site.yml"]).with_file("site.yml", STEPS).run();
    linear.assert_exit(0);
    let order: Vec<(String, String)> = linear
        .events("task_result")
        .iter()
        .map(|e| (e["host"].as_str().unwrap_or_default().to_string(), e["task"].as_str().unwrap_or_default().to_string()))
        .collect();
    let first_three = order.iter().position(|(_, t)| t == "step three").expect("step three ran");
    let last_two = order.iter().rposition(|(_, t)| t.starts_with("step two")).expect("step two ran");
    assert!(last_two < first_three, "linear strategy: a barrier between tasks\n{}", linear.transcript());
}

const FATAL: &str = r#"- name: one failure stops everyone
  hosts: lab
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: fail on node02
      fail:
        msg: "node02 fails"
      when: inventory_hostname == 'node02'
    - name: never reached
      command: "touch /tmp/ferry-after-fatal"
"#;

#[test]
fn any_errors_fatal_stops_every_host() {
    let lab = Lab::start("aef", 3);
    let run = lab.ferry(&["play", "site.yml"]).with_file("site.yml", FATAL).run();
    run.assert_exit(2);
    assert_eq!(run.recap("node02").failed, 1);
    lab.assert_absent_everywhere("/tmp/ferry-after-fatal");
}

const PERCENT: &str = r#"- name: too many failures
  hosts: lab
  gather_facts: false
  serial: 4
  max_fail_percentage: 30
  tasks:
    - name: fail on two of four
      fail:
        msg: "planned"
      when: inventory_hostname in ['node01', 'node02']
- name: a later play
  hosts: lab
  gather_facts: false
  tasks:
    - name: never reached
      command: "touch /tmp/ferry-after-percent"
"#;

#[test]
fn max_fail_percentage_ends_the_run() {
    let lab = Lab::start("mfp", 4);
    let run = lab.ferry(&["play", "site.yml"]).with_file("site.yml", PERCENT).run();
    run.assert_exit(2);
    assert!(run.events("warning").iter().any(|w| w["msg"].as_str().unwrap_or_default().contains("max_fail_percentage")), "{}", run.transcript());
    lab.assert_absent_everywhere("/tmp/ferry-after-percent");
}

const LISTS: &str = r#"- name: host lists
  hosts: lab
  gather_facts: false
  vars:
    play_hosts: "a play var of this name loses to the magic variable"
  tasks:
    - name: node02 fails
      fail:
        msg: "planned"
      when: inventory_hostname == 'node02'
    - name: lists
      debug:
        msg: "all={{ ansible_play_hosts_all | join(',') }} live={{ ansible_play_hosts | join(',') }} batch={{ ansible_play_batch | join(',') }} old={{ play_hosts | join(',') }} vars={{ vars['ansible_play_hosts'] | join(',') }}"
    - name: a loop variable of that name wins
      debug:
        msg: "{{ play_hosts }}"
      loop: ["the loop item"]
      loop_control:
        loop_var: play_hosts
"#;

#[test]
fn a_failed_host_leaves_the_play_host_lists_but_not_all_hosts() {
    let lab = Lab::start("phl", 3);
    let run = lab.ferry(&["play", "site.yml"]).with_file("site.yml", LISTS).run();
    run.assert_exit(2);
    let msgs = |task: &str| -> Vec<(String, String)> {
        run.events("task_result")
            .iter()
            .filter(|e| e["task"] == task)
            .map(|e| (e["host"].as_str().unwrap_or_default().to_string(), e["msg"].as_str().unwrap_or_default().to_string()))
            .collect()
    };
    let expected = "all=node01,node02,node03 live=node01,node03 batch=node01,node03 old=node01,node03 vars=node01,node03";
    assert_eq!(msgs("lists"), [("node01".to_string(), expected.to_string()), ("node03".to_string(), expected.to_string())], "{}", run.transcript());
    for (host, msg) in msgs("a loop variable of that name wins") {
        assert_eq!(msg, "the loop item", "{host}\n{}", run.transcript());
    }
}

const LONG: &str = r#"- name: long task
  hosts: lab
  gather_facts: false
  tasks:
    - name: slow
      command: "sleep 3"
    - name: never started after the interrupt
      command: "touch /tmp/ferry-after-sigint"
"#;

#[test]
fn sigint_finishes_running_commands_prints_the_recap_and_exits_130() {
    let lab = Lab::start("int", 2);
    let run = lab.ferry(&["play", "site.yml"]).with_file("site.yml", LONG).interrupt_after(Duration::from_millis(1500)).run();
    run.assert_exit(130);
    assert_eq!(run.events("recap").len(), 1, "the recap is printed\n{}", run.transcript());
    for host in lab.hosts() {
        assert_eq!(run.result(&host, "slow")["status"], "changed", "the running command finished on {host}");
    }
    lab.assert_absent_everywhere("/tmp/ferry-after-sigint");
}
