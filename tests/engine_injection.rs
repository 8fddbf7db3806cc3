//! Data is never code: a variable holding shell syntax, given to `command` as one
//! string or as argv, reaches the program as literal words.

mod common;

use std::path::Path;

use common::*;

const PLAYBOOK: &str = r#"- name: hostile data stays data
  hosts: lab
  gather_facts: false
  vars:
    evil: "; touch /tmp/pwned"
    evil_sub: "$(touch /tmp/pwned-sub) `touch /tmp/pwned-tick`"
  tasks:
    - name: one string
      command: "echo {{ evil }}"
    - name: one string with substitutions
      command: "echo {{ evil_sub }}"
    - name: argv
      command:
        argv: [echo, "{{ evil }}", "{{ evil_sub }}", "{{ evil_extra }}"]
"#;

const PWNED: [&str; 4] = ["/tmp/pwned", "/tmp/pwned-sub", "/tmp/pwned-tick", "/tmp/pwned-extra"];

#[test]
fn shell_syntax_in_variables_is_passed_as_literal_text() {
    let lab = Lab::start("inj", 2);
    let controller_had: Vec<bool> = PWNED.iter().map(|p| Path::new(p).exists()).collect();
    let run = lab.ferry(&["play", "site.yml", "-e", r#"{"evil_extra": "&& touch /tmp/pwned-extra"}"#]).with_file("site.yml", PLAYBOOK).run();
    run.assert_exit(0);
    for host in lab.hosts() {
        let stdout = |task: &str| run.result(&host, task)["stdout"].as_str().unwrap_or_default().trim().to_string();
        assert_eq!(stdout("one string"), "; touch /tmp/pwned", "{}", run.transcript());
        assert_eq!(stdout("one string with substitutions"), "$(touch /tmp/pwned-sub) `touch /tmp/pwned-tick`");
        assert_eq!(stdout("argv"), "; touch /tmp/pwned $(touch /tmp/pwned-sub) `touch /tmp/pwned-tick` && touch /tmp/pwned-extra");
        for path in PWNED {
            assert!(!lab.exists(&host, path), "{path} was created on {host}: data ran as code");
        }
    }
    for (path, had) in PWNED.iter().zip(controller_had) {
        assert!(had || !Path::new(path).exists(), "{path} was created on the controller");
    }
}
