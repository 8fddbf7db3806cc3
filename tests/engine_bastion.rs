//! A host the controller cannot reach directly, behind node01: ferry goes through
//! node01 (ProxyJump) from an inventory variable or from an OpenSSH client config.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;

const PLAYBOOK: &str = r#"- name: reach the inner host
  hosts: behind_bastion
  gather_facts: false
  tasks:
    - name: who is there
      command: hostname
      changed_when: false
    - name: marker
      copy:
        content: "reached through the bastion\n"
        dest: /tmp/ferry-e
"#;

fn assert_reached_inner(lab: &Lab, run: &Run) {
    run.assert_exit(0);
    let who = run.result("inner01", "who is there");
    assert_eq!(who["stdout"].as_str().map(str::trim), Some("inner01"), "{}", run.transcript());
    assert_eq!(lab.read("inner01", "/tmp/ferry-e").as_deref(), Some("reached through the bastion\n"));
    assert!(!lab.exists("node01", "/tmp/ferry-e"), "the bastion itself runs nothing");
}

#[test]
fn the_inner_host_is_not_reachable_directly() {
    let lab = Lab::start_with_bastion("bsd", 1);
    let inner = lab.ip("inner01");
    let direct = TcpStream::connect_timeout(&SocketAddr::from((inner, 22)), Duration::from_secs(2));
    assert!(direct.is_err(), "the controller reached {inner}:22 without the bastion");
}

#[test]
fn the_inventory_proxy_jump_variable_reaches_the_inner_host() {
    let lab = Lab::start_with_bastion("bsi", 2);
    let inventory = std::fs::read_to_string(lab.inventory()).expect("inventory");
    assert!(inventory.contains("ferry_proxy_jump:"), "{inventory}");
    assert!(!inventory.contains("ansible_ssh_common_args"), "{inventory}");
    let run = lab.ferry(&["play", "site.yml"]).with_file("site.yml", PLAYBOOK).run();
    assert_reached_inner(&lab, &run);
}

#[test]
fn an_ssh_config_proxy_jump_reaches_the_inner_host() {
    let lab = Lab::start_with_bastion("bss", 2);
    // The host is known only by name; its address and the jump come from ssh_config.
    let key = lab.ssh().client_key().display().to_string();
    let inventory = format!(
        "all:\n  children:\n    behind_bastion:\n      hosts:\n        inner01:\n          ansible_user: root\n          ansible_ssh_private_key_file: \"{key}\"\n"
    );
    let ssh_config = lab.ssh().ssh_config().display().to_string();
    let run = lab
        .ferry(&["play", "site.yml", "-i", "bastion.yml", "--ssh-config", &ssh_config])
        .with_file("site.yml", PLAYBOOK)
        .with_file("bastion.yml", &inventory)
        .run();
    assert_reached_inner(&lab, &run);
}
