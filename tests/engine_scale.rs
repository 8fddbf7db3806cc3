//! Scale (not timed): 200 real SSH hosts, a 3-task playbook, every host ok and the
//! recap right. Timing belongs to bench/, not here.

mod common;

use common::*;

const PLAYBOOK: &str = r#"- name: many hosts
  hosts: lab
  gather_facts: false
  tasks:
    - name: who am i
      command: hostname
      register: me
      changed_when: false
    - name: remember it
      copy:
        content: "{{ me.stdout }} {{ groups['lab'] | length }}\n"
        dest: /tmp/ferry-scale
    - name: check it
      assert:
        that:
          - me.stdout == inventory_hostname
"#;

#[test]
fn two_hundred_hosts_run_a_playbook_and_the_recap_adds_up() {
    let lab = Lab::start("scl", 200);
    let run = lab.ferry(&["play", "site.yml", "-f", "200"]).with_file("site.yml", PLAYBOOK).run();
    run.assert_exit(0);
    let hosts = lab.hosts();
    assert_eq!(hosts.len(), 200);
    assert_eq!(run.recap_hosts().len(), 200, "every host in the recap");
    for host in &hosts {
        let recap = run.recap(host);
        assert_eq!((recap.ok, recap.changed, recap.failed, recap.unreachable, recap.skipped), (3, 1, 0, 0, 0), "{host}: {recap:?}");
    }
    assert_eq!(run.events("task_result").len(), 600, "one result per host and task");
    for host in [&hosts[0], &hosts[99], &hosts[199]] {
        assert_eq!(lab.read(host, "/tmp/ferry-scale"), Some(format!("{host} 200\n")));
    }

    let again = lab.ferry(&["play", "site.yml", "-f", "200"]).with_file("site.yml", PLAYBOOK).run();
    again.assert_exit(0);
    for host in &hosts {
        assert_eq!(again.recap(host).changed, 0, "{host} changed on the second run");
    }
}
