//! Data is never code, wherever it comes from: inventory variables and what a host
//! prints (registered output) holding quotes, `;`, `$(...)`, backticks, newlines,
//! NUL bytes or template syntax reach `command`, `shell` (with `| quote`),
//! `lineinfile`, `copy`, `template`, `set_fact`, `when` and `debug` as literal
//! text. Every value carries a canary (`touch /tmp/pwned-...`): no canary file may
//! appear on any host or on the controller, and the controller's secrets (an
//! environment variable, a file) never reach a host or the output.

mod common;

use std::path::Path;

use common::*;

const QUOTED: &str = r#"it's "quoted"; touch /tmp/pwned-quoted"#;
const SUBST: &str = "$(touch /tmp/pwned-subst) ${IFS} `touch /tmp/pwned-tick` && touch /tmp/pwned-and | touch /tmp/pwned-pipe";
const NEWLINE: &str = "first line\ntouch /tmp/pwned-newline\n";
const NUL: &str = "before\0; touch /tmp/pwned-nul";

/// What a host prints (the test plants it there): shell syntax, and templates
/// that would read the controller's secrets if ferry rendered host output.
const HOST_SAYS: &str = "'; touch /tmp/pwned-said; '\n$(touch /tmp/pwned-said-subst) `touch /tmp/pwned-said-tick`\n\
                         {{ lookup('env', 'FERRY_HOSTILE_SECRET') }} {{ lookup('file', 'controller-secret.txt') }}";

const ENV_SECRET: &str = "env-secret-5f1c0b";
const FILE_SECRET: &str = "file-secret-9a27d4";

const CANARIES: [&str; 10] = [
    "/tmp/pwned-quoted",
    "/tmp/pwned-subst",
    "/tmp/pwned-tick",
    "/tmp/pwned-and",
    "/tmp/pwned-pipe",
    "/tmp/pwned-newline",
    "/tmp/pwned-nul",
    "/tmp/pwned-said",
    "/tmp/pwned-said-subst",
    "/tmp/pwned-said-tick",
];

const PLAYBOOK: &str = r#"- name: hostile values stay data
  hosts: lab
  gather_facts: false
  tasks:
    - name: a folder for the files
      file:
        path: /tmp/hostile
        state: directory
    # --- inventory values
    - name: command string with an unbalanced quote
      command: "printf %s {{ quoted }}"
      ignore_errors: true
    - name: command argv
      command:
        argv: [printf, "%s|", "{{ quoted }}", "{{ subst }}", "{{ newline }}"]
    - name: command string with substitutions
      command: "echo {{ subst }}"
    - name: shell with quote
      shell: "printf '%s|' {{ quoted | quote }} {{ subst | quote }} {{ newline | quote }}"
    - name: lineinfile
      lineinfile:
        path: /tmp/hostile/line.conf
        line: "v={{ quoted }} {{ subst }}"
        create: true
    - name: copy content
      copy:
        content: "{{ quoted }}\n{{ subst }}\n{{ newline }}{{ nul }}\n"
        dest: /tmp/hostile/copy.txt
    - name: template
      template:
        src: values.j2
        dest: /tmp/hostile/template.txt
    - name: debug when
      debug:
        msg: "{{ subst }}"
      when: "'$(' in subst and quoted is search('touch') and newline.endswith('\n')"
    - name: nul in argv
      command:
        argv: [printf, "%s", "{{ nul }}"]
      ignore_errors: true
    - name: nul in shell
      shell: "printf %s {{ nul | quote }}"
      ignore_errors: true
    # --- what the host says
    - name: host says
      command: cat /tmp/host-says
      register: said
    - name: said through shell
      shell: "printf '%s' {{ said.stdout | quote }}"
    - name: said as argv
      command:
        argv: [printf, "%s", "{{ said.stdout }}"]
    - name: said in a line
      lineinfile:
        path: /tmp/hostile/said.conf
        line: "said={{ said.stdout_lines[0] }}"
        create: true
    - name: said copied
      copy:
        content: "{{ said.stdout }}\n"
        dest: /tmp/hostile/said.txt
    - name: said remembered
      set_fact:
        remembered: "{{ said.stdout }}"
    - name: said shown
      debug:
        msg: "{{ remembered }}"
      when: "said.stdout is search('lookup') and remembered == said.stdout"
    - name: said templated
      template:
        src: said.j2
        dest: /tmp/hostile/said-template.txt
"#;

const VALUES_J2: &str = "quoted={{ quoted }}\nsubst={{ subst }}\nnewline={{ newline }}nul={{ nul }}\n";
const SAID_J2: &str = "said={{ said.stdout }}\nremembered={{ remembered }}\n";

/// `s` as a YAML double-quoted scalar: `\"`, `\\`, `\n` and `\0` escaped.
fn yaml_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The lab's hosts, with the hostile values as group variables of `all`.
fn hostile_inventory(lab: &Lab) -> String {
    let key = lab.ssh().client_key().display().to_string();
    let mut y = String::from("all:\n  vars:\n");
    for (name, value) in [("quoted", QUOTED), ("subst", SUBST), ("newline", NEWLINE), ("nul", NUL)] {
        y.push_str(&format!("    {name}: {}\n", yaml_quoted(value)));
    }
    y.push_str("  children:\n    lab:\n      hosts:\n");
    for host in lab.hosts() {
        y.push_str(&format!(
            "        {host}:\n          ansible_host: {}\n          ansible_user: root\n          ansible_ssh_private_key_file: {}\n",
            lab.ip(&host),
            yaml_quoted(&key)
        ));
    }
    y
}

#[test]
fn hostile_inventory_values_and_host_output_stay_literal_text() {
    let lab = Lab::start("hos", 2);
    let controller_had: Vec<bool> = CANARIES.iter().map(|p| Path::new(p).exists()).collect();
    for host in lab.hosts() {
        let out = lab.exec(&host, &["sh", "-c", "printf '%s' \"$1\" > /tmp/host-says", "sh", HOST_SAYS]);
        assert!(out.status.success(), "planting what {host} says: {}", String::from_utf8_lossy(&out.stderr));
    }
    lab.write("controller-secret.txt", FILE_SECRET);
    let run = lab
        .ferry(&["play", "site.yml", "-i", "hostile.yml"])
        .with_file("hostile.yml", &hostile_inventory(&lab))
        .with_file("site.yml", PLAYBOOK)
        .with_file("templates/values.j2", VALUES_J2)
        .with_file("templates/said.j2", SAID_J2)
        .env("FERRY_HOSTILE_SECRET", ENV_SECRET)
        .run();
    run.assert_exit(0);

    for host in lab.hosts() {
        let result = |task: &str| run.result(&host, task);
        let stdout = |task: &str| result(task)["stdout"].as_str().unwrap_or_default().to_string();

        // Inventory values.
        let refused = result("command string with an unbalanced quote");
        assert_eq!((refused["status"].as_str(), refused["ignored"].as_bool()), (Some("failed"), Some(true)), "{}", run.transcript());
        assert!(refused["msg"].as_str().unwrap_or_default().contains("unterminated single quote"), "{refused}");
        // `command` takes the newline as a word break, printf repeats its format.
        assert_eq!(stdout("command argv"), format!("{QUOTED}|{SUBST}|{NEWLINE}|"));
        assert_eq!(stdout("command string with substitutions"), SUBST);
        assert_eq!(stdout("shell with quote"), format!("{QUOTED}|{SUBST}|{NEWLINE}|"));
        assert_eq!(lab.read(&host, "/tmp/hostile/line.conf"), Some(format!("v={QUOTED} {SUBST}\n")));
        assert_eq!(lab.read(&host, "/tmp/hostile/copy.txt"), Some(format!("{QUOTED}\n{SUBST}\n{NEWLINE}{NUL}\n")), "NUL bytes are file content like any other");
        assert_eq!(lab.read(&host, "/tmp/hostile/template.txt"), Some(format!("quoted={QUOTED}\nsubst={SUBST}\nnewline={NEWLINE}nul={NUL}\n")));
        assert_eq!((result("debug when")["status"].as_str(), result("debug when")["msg"].as_str()), (Some("ok"), Some(SUBST)));
        // A NUL byte cannot travel in a command line: the task fails and says so,
        // nothing runs, and the host stays reachable for the next tasks.
        for task in ["nul in argv", "nul in shell"] {
            let r = result(task);
            assert_eq!((r["status"].as_str(), r["ignored"].as_bool()), (Some("failed"), Some(true)), "{task}\n{}", run.transcript());
            let msg = r["msg"].as_str().unwrap_or_default();
            assert!(msg.starts_with(&format!("{host}: cannot run")) && msg.contains("NUL byte") && msg.contains("nothing was run"), "{task}: {msg}");
        }

        // What the host said.
        assert_eq!(stdout("host says"), HOST_SAYS);
        assert_eq!(stdout("said through shell"), HOST_SAYS);
        assert_eq!(stdout("said as argv"), HOST_SAYS);
        let first_line = HOST_SAYS.lines().next().unwrap_or_default();
        assert_eq!(lab.read(&host, "/tmp/hostile/said.conf"), Some(format!("said={first_line}\n")));
        assert_eq!(lab.read(&host, "/tmp/hostile/said.txt"), Some(format!("{HOST_SAYS}\n")));
        assert_eq!(result("said shown")["msg"].as_str(), Some(HOST_SAYS), "host output is never rendered as a template\n{}", run.transcript());
        assert_eq!(lab.read(&host, "/tmp/hostile/said-template.txt"), Some(format!("said={HOST_SAYS}\nremembered={HOST_SAYS}\n")));

        let pwned = lab.sh(&host, "ls /tmp");
        assert!(!pwned.lines().any(|f| f.starts_with("pwned")), "canaries on {host}: data ran as code\n{pwned}");
        let leaked = lab.sh(&host, &format!("grep -rlE '{ENV_SECRET}|{FILE_SECRET}' /tmp || true"));
        assert!(leaked.trim().is_empty(), "the controller's secrets reached {host}: {leaked}");
    }
    for secret in [ENV_SECRET, FILE_SECRET] {
        run.assert_output_lacks(secret);
    }
    for (path, had) in CANARIES.iter().zip(controller_had) {
        assert!(had || !Path::new(path).exists(), "{path} was created on the controller");
    }
}
