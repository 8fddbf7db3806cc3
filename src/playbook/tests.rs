//! The parser against the fixture files in `tests/fixtures/playbook`: the good
//! playbook's AST, and the exact diagnostics the bad ones produce.

use super::parse::{parse_playbook, parse_task_file};
use super::*;
use crate::vars::Value;
use std::path::Path;

const DIR: &str = "tests/fixtures/playbook";

fn load(file: &str) -> Result<Playbook, PlaybookError> {
    load_playbook(Path::new(&format!("{DIR}/{file}")))
}

/// The rendered error of a fixture that must not load.
fn error_of(file: &str) -> String {
    match load(file) {
        Ok(_) => panic!("{file} loaded without error"),
        Err(e) => e.to_string(),
    }
}

fn module(task: &Task) -> &ModuleCall {
    match &task.kind {
        TaskKind::Module(m) => m,
        other => panic!("expected a module call, found {other:?}"),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn good_playbook_has_every_feature() {
    let pb = load("good/site.yml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pb.plays.len(), 2);

    let web = &pb.plays[0];
    assert_eq!(web.hosts, "web");
    assert_eq!(web.name, "web");
    assert_eq!(web.location.to_string(), format!("{DIR}/good/web.yml:1:3"));
    assert_eq!(web.tags, strings(&["http", "web"]));
    assert_eq!(web.tasks[0].tags, strings(&["http", "web"]));
    // The import's vars win over the imported play's.
    assert_eq!(web.vars["tier"], "front");
    assert_eq!(web.vars["port"], 80);

    let play = &pb.plays[1];
    assert_eq!(play.name, "Configure storage");
    assert_eq!(play.hosts, "ceph_src,ceph_dst");
    assert_eq!(play.location.to_string(), format!("{DIR}/good/site.yml:7:3"));
    assert_eq!(play.serial, Some(Serial::Steps(vec![Serial::Count(1), Serial::Percent(50.0)])));
    assert_eq!(play.max_fail_percentage, Some(25.0));
    assert!(play.any_errors_fatal);
    assert_eq!(play.connection.as_deref(), Some("ssh"));
    assert_eq!(play.gather_facts, Some(false));
    assert_eq!(play.vars_files, vec![Path::new(DIR).join("good/vars/common.yml"), Path::new(DIR).join("good/vars/fallback.yml")]);
    // vars_files win over vars.
    assert_eq!(play.vars["shared"], "from_vars_file");
    assert_eq!(play.vars["pool"], "rbd");
    assert_eq!(play.vars["fallback"], "used");

    let names: Vec<String> = play.tasks.iter().map(Task::display_name).collect();
    assert_eq!(
        names,
        strings(&[
            "ping",
            "Copy a file",
            "command ls -l /tmp",
            "Wait until ready",
            "Loop over images",
            "Guarded section",
            "First setup step",
            "Setup block",
            "include_tasks tasks/{{ pool }}.yml",
            "debug",
        ])
    );

    let copy = &play.tasks[1];
    assert_eq!(copy.location.to_string(), format!("{DIR}/good/site.yml:29:7"));
    let call = module(copy);
    assert_eq!((call.module.as_str(), call.written_as.as_str()), ("copy", "ansible.builtin.copy"));
    assert_eq!(call.location.to_string(), format!("{DIR}/good/site.yml:30:7"));
    assert_eq!(call.args["mode"], "0644");
    assert_eq!(copy.notify, strings(&["restart a"]));
    assert_eq!(copy.register.as_deref(), Some("copied"));
    assert_eq!(copy.tags, strings(&["conf", "files", "storage"]));
    assert_eq!(copy.when, strings(&["pool == \"rbd\""]));
    assert_eq!(copy.environment["LANG"], "C");

    let command = &play.tasks[2];
    let args = &module(command).args;
    assert_eq!(args["_raw_params"], "ls -l /tmp");
    assert_eq!(args["chdir"], "/var");
    assert_eq!(args["creates"], "/tmp/marker");
    assert_eq!(command.changed_when, strings(&["false"]));
    assert_eq!(command.failed_when, strings(&["result.rc != 0", "'oops' in result.stdout"]));
    // The task's environment wins over the play's.
    assert_eq!(command.environment["LANG"], "en_US.UTF-8");

    let wait = &play.tasks[3];
    assert_eq!(module(wait).args["_raw_params"], "ceph health | grep -q HEALTH_OK");
    assert_eq!((wait.retries, wait.delay, wait.timeout), (Some(5), Some(2.5), Some(30.0)));
    assert_eq!(wait.until, strings(&["result.rc == 0"]));
    assert_eq!(wait.delegate_to.as_deref(), Some("localhost"));
    assert!(wait.run_once && wait.no_log && wait.ignore_errors && wait.ignore_unreachable);
    assert_eq!(wait.check_mode, Some(false));

    let looped = &play.tasks[4];
    assert_eq!(module(looped).args["msg"], "image {{ item.0 }}");
    assert_eq!(looped.loop_items, Some(serde_json::json!(["a", "b", "c"])));
    assert_eq!(looped.loop_control.label.as_deref(), Some("{{ item }}"));
    assert_eq!(looped.loop_control.loop_var.as_deref(), Some("image"));
    assert_eq!(looped.loop_control.index_var.as_deref(), Some("idx"));

    let guarded = &play.tasks[5];
    assert_eq!(guarded.when, strings(&["pool is defined"]));
    let TaskKind::Block { block, rescue, always } = &guarded.kind else { panic!("not a block") };
    assert_eq!(block[0].tags, strings(&["7", "guarded", "storage"]));
    let TaskKind::Block { block: inner, .. } = &block[1].kind else { panic!("not a block") };
    assert_eq!(inner[0].tags, strings(&["inner", "guarded", "storage"]));
    assert_eq!(module(&rescue[0]).args["var"], "ansible_failed_result");
    assert_eq!(module(&always[0]).args["_raw_params"], "flush_handlers");

    // import_tasks: spliced in place, with the import's keywords applied.
    let setup = &play.tasks[6];
    assert_eq!(setup.location.to_string(), format!("{DIR}/good/tasks/setup.yml:1:3"));
    assert_eq!(setup.when, strings(&["do_setup | bool"]));
    assert_eq!(setup.tags, strings(&["setup", "storage"]));
    assert_eq!(setup.vars["step"], "mine");
    assert_eq!(module(setup).args["ready"], true);
    let setup_block = &play.tasks[7];
    assert_eq!(setup_block.vars["step"], "one");
    let TaskKind::Block { block, .. } = &setup_block.kind else { panic!("not a block") };
    assert_eq!(block[0].tags, strings(&["setup", "storage"]));

    let include = &play.tasks[8];
    match &include.kind {
        TaskKind::IncludeTasks { file, base_dir } => {
            assert_eq!(file, "tasks/{{ pool }}.yml");
            assert_eq!(base_dir, &Path::new(DIR).join("good"));
        }
        other => panic!("expected include_tasks, found {other:?}"),
    }
    assert_eq!(include.loop_items, Some(Value::from("{{ pools }}")));

    let handler = &play.handlers[0];
    assert_eq!(handler.listen, strings(&["restart things"]));
    assert!(handler.tags.is_empty(), "play tags do not reach handlers");
}

#[test]
fn task_file_loads_on_its_own() {
    let tasks = load_task_file(Path::new(&format!("{DIR}/good/tasks/setup.yml"))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].name.as_deref(), Some("First setup step"));
    let src = b"- block:\n    - ping:\n  tags: t\n".to_vec();
    let tasks = parse_task_file(Path::new("inline.yml"), src).unwrap_or_else(|e| panic!("{e}"));
    let TaskKind::Block { block, .. } = &tasks[0].kind else { panic!("not a block") };
    assert_eq!(block[0].tags, strings(&["t"]));
}

#[test]
fn unknown_task_keyword_suggests_the_keyword() {
    assert_eq!(
        error_of("bad/unknown_key.yml"),
        "\
error: unknown task keyword or module `whn`
 --> tests/fixtures/playbook/bad/unknown_key.yml:5:7
  |
5 |       whn: x == 1
  |       ^
  = help: did you mean `when`?"
    );
}

#[test]
fn unknown_module_suggests_the_module() {
    assert_eq!(
        error_of("bad/unknown_module.yml"),
        "\
error: unknown task keyword or module `cpy`
 --> tests/fixtures/playbook/bad/unknown_module.yml:4:7
  |
4 |       cpy:
  |       ^
  = help: did you mean `copy`?"
    );
}

#[test]
fn two_modules_are_reported_at_the_second() {
    assert_eq!(
        error_of("bad/two_modules.yml"),
        "\
error: task has two modules `copy` and `file`
 --> tests/fixtures/playbook/bad/two_modules.yml:4:7
  |
4 |       file: path=b state=file
  |       ^
  = help: a task runs one module: split it into two tasks"
    );
}

#[test]
fn wrong_keyword_type_points_at_the_value() {
    assert_eq!(
        error_of("bad/wrong_type.yml"),
        "\
error: `retries` must be a whole number, found the string `many`
 --> tests/fixtures/playbook/bad/wrong_type.yml:5:16
  |
5 |       retries: many
  |                ^"
    );
}

#[test]
fn yaml_syntax_error_has_no_repeated_position() {
    assert_eq!(
        error_of("bad/bad_indent.yml"),
        "\
error: invalid YAML: did not find expected '-' indicator, while parsing a block collection at line 3 column 5
 --> tests/fixtures/playbook/bad/bad_indent.yml:5:6
  |
5 |      - name: two
  |      ^
  = help: check this line's indentation against the lines above it"
    );
}

#[test]
fn tabs_get_their_own_hint() {
    assert!(error_of("bad/tabs.yml").ends_with("= help: indent with spaces: YAML does not allow tabs"));
}

#[test]
fn import_cycle_names_the_chain() {
    assert_eq!(
        error_of("bad/cycle_a.yml"),
        "\
error: import cycle: tests/fixtures/playbook/bad/cycle_a.yml -> tests/fixtures/playbook/bad/cycle_b.yml -> tests/fixtures/playbook/bad/cycle_a.yml
 --> tests/fixtures/playbook/bad/cycle_b.yml:4:20
  |
4 | - import_playbook: cycle_a.yml
  |                    ^
  = help: remove one of these imports"
    );
    let self_import = error_of("bad/self_import.yml");
    assert!(self_import.starts_with("error: import cycle: tests/fixtures/playbook/bad/self_tasks.yml -> tests/fixtures/playbook/bad/self_tasks.yml\n"));
}

#[test]
fn missing_import_is_reported_at_the_import() {
    assert_eq!(
        error_of("bad/missing_import.yml"),
        "\
error: `tests/fixtures/playbook/bad/nowhere.yml` does not exist
 --> tests/fixtures/playbook/bad/missing_import.yml:3:21
  |
3 |     - import_tasks: nowhere.yml
  |                     ^
  = help: relative paths are resolved against the folder of the file that names them, `tests/fixtures/playbook/bad`"
    );
}

#[test]
fn missing_playbook_is_an_io_error() {
    let err = load("bad/none_such.yml").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.starts_with("cannot read `tests/fixtures/playbook/bad/none_such.yml`: "), "{err}");
}

#[test]
fn a_mapping_is_not_a_playbook() {
    assert_eq!(
        error_of("bad/not_a_list.yml"),
        "\
error: expected a list of plays, found a mapping
 --> tests/fixtures/playbook/bad/not_a_list.yml:1:1
  |
1 | hosts: all
  | ^
  = help: start the play with `- ` to put it in a list: `- hosts: ...`"
    );
}

/// The module registry words the complaint; the parser says where.
#[test]
fn module_argument_errors_point_at_the_argument() {
    let complaint = |module: &str, args: serde_json::Value| match crate::modules::check_args(module, &args) {
        Err((_, msg)) => msg,
        Ok(()) => panic!("{module} accepted {args}"),
    };
    let mode = complaint("copy", serde_json::json!({"src": "a", "dest": "b", "mode": [1]}));
    let dst = complaint("copy", serde_json::json!({"src": "a", "dst": "b"}));
    assert_eq!(
        error_of("bad/bad_args.yml"),
        format!(
            "\
error: {mode}
 --> tests/fixtures/playbook/bad/bad_args.yml:4:37
  |
4 |       copy: {{src: a, dest: b, mode: [1]}}
  |                                     ^

error: {dst}
 --> tests/fixtures/playbook/bad/bad_args.yml:8:9
  |
8 |         dst: b
  |         ^"
        )
    );
}

#[test]
fn unquoted_templates_are_explained() {
    assert_eq!(
        error_of("bad/unquoted_template.yml"),
        "\
error: a value that starts with `{{` must be quoted
 --> tests/fixtures/playbook/bad/unquoted_template.yml:4:14
  |
4 |         msg: {{ greeting }}
  |              ^
  = help: YAML reads an unquoted `{{ x }}` as a mapping: write `\"{{ x }}\"`"
    );
    assert!(error_of("bad/unquoted_template2.yml").ends_with("= help: quote values that start with `{{`: YAML reads the braces as a mapping"));
}

#[test]
fn all_errors_of_a_file_are_reported_in_order() {
    let err = load("bad/many_errors.yml").err();
    let Some(PlaybookError::Several { diagnostics, omitted: 0 }) = &err else { panic!("{err:?}") };
    let summary: Vec<String> = diagnostics.iter().map(|d| format!("{}:{} {}", d.location.line, d.location.col, d.message)).collect();
    assert_eq!(
        summary,
        strings(&[
            "2:3 unknown play keyword `hots`",
            "6:13 `when` must be a condition or a list of conditions, found a mapping",
            "8:14 `debug` takes `key=value` arguments, not `hello world`",
            "10:7 `loop` cannot be used on a block",
            "14:17 `my-result` is not a valid variable name",
            "16:7 `rescue` needs a `block:` in the same task",
            "18:7 this task has no module",
            "19:3 this play has no `hosts:`",
            "21:3 `strategy` cannot be set in the playbook",
            "23:11 `become: true` is not supported yet",
        ])
    );
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("  |   ^\n  = help: did you mean `hosts`?\n\nerror: `when` must be"), "{text}");
}

#[test]
fn errors_in_vars_files_point_into_them() {
    let err = load("bad/bad_vars_file.yml").err();
    let lines: Vec<String> = err.iter().flat_map(|e| e.diagnostics()).map(|d| format!("{} {}", d.location, d.message)).collect();
    assert_eq!(
        lines,
        strings(&[
            "tests/fixtures/playbook/bad/bad_vars.yml:2:1 `bad-name` is not a valid variable name",
            "tests/fixtures/playbook/bad/bad_vars_file.yml:4:7 templated `vars_files` entries are not supported yet",
            "tests/fixtures/playbook/bad/bad_vars_file.yml:5:7 `tests/fixtures/playbook/bad/absent.yml` does not exist",
        ])
    );
}

#[test]
fn plays_in_a_task_file_are_not_tasks() {
    let err = error_of("bad/task_file_play.yml");
    assert!(err.starts_with("error: unknown task keyword or module `hosts`\n --> tests/fixtures/playbook/bad/play_as_tasks.yml:1:3"));
}

#[test]
fn too_many_errors_are_capped() {
    let mut text = String::from("- hosts: all\n  tasks:\n");
    for i in 0..30 {
        text.push_str(&format!("    - whn{i}: x\n"));
    }
    match parse_playbook(Path::new("many.yml"), text.into_bytes()) {
        Err(PlaybookError::Several { diagnostics, omitted }) => {
            assert_eq!((diagnostics.len(), omitted), (20, 10));
        }
        other => panic!("{other:?}"),
    }
}

/// Inline snippets: (playbook text, expected first diagnostic "line:col message").
#[test]
fn keyword_checks() {
    let cases = [
        ("- hosts: all\n  tasks:\n    - ping:\n      when: {a: 1}\n", "4:13 `when` must be a condition or a list of conditions, found a mapping"),
        ("- hosts: all\n  tasks:\n    - ping:\n      tags: {a: 1}\n", "4:13 `tags` must be a tag or a list of tags, found a mapping"),
        (
            "- hosts: all\n  tasks:\n    - ping:\n      ignore_errors: \"{{ x }}\"\n",
            "4:22 `ignore_errors` must be `true` or `false`, found the string `{{ x }}`",
        ),
        ("- hosts: all\n  tasks:\n    - ping:\n      loop: [1]\n      with_items: [2]\n", "5:7 `with_items` repeats this task's loop"),
        ("- hosts: all\n  tasks:\n    - ping:\n      with_dict: {a: 1}\n", "4:7 `with_dict` is not supported in a task"),
        ("- hosts: all\n  tasks:\n    - ping:\n      loop_control: {lable: x}\n", "4:22 unknown `loop_control` keyword `lable`"),
        ("- hosts: all\n  tasks:\n    - args: {a: 1}\n      block: []\n", "3:7 `args` needs a module in the same task"),
        ("- hosts: all\n  tasks:\n    - import_tasks: \"{{ f }}\"\n", "3:21 `import_tasks` cannot take a templated file name"),
        ("- hosts: all\n  tasks:\n    - command: echo \"unclosed\n", "3:16 the arguments of `command` have an unclosed quote or `{{`"),
        ("- hosts: all\n  serial: 0%\n", "2:11 `serial` must be a number of hosts, a percentage like \"30%\", or a list of them, found the string `0%`"),
        ("- hosts: all\n  connection: winrm\n", "2:15 connection `winrm` is not supported"),
        ("- hosts: all\n  ping:\n", "2:3 unknown play keyword `ping`"),
        ("- hosts: all\n  vars:\n    1x: 2\n", "3:5 `1x` is not a valid variable name"),
        ("- hosts: []\n", "1:10 `hosts` is empty"),
        ("- 3\n", "1:3 expected a play (a mapping with `hosts:` and `tasks:`), found the number `3`"),
        ("", "1:1 expected a list of plays, found an empty file"),
        ("- hosts: all\n  tasks:\n    - ping:\n  tasks: []\n", "4:3 duplicate key `tasks`"),
        ("- import_playbook: tests/fixtures/playbook/good/web.yml\n  hosts: all\n", "2:3 `hosts` cannot be combined with `import_playbook`"),
    ];
    for (text, expected) in cases {
        let err = parse_playbook(Path::new("inline.yml"), text.as_bytes().to_vec()).err();
        let first = err.iter().flat_map(|e| e.diagnostics()).next();
        let got = first.map(|d| format!("{}:{} {}", d.location.line, d.location.col, d.message));
        assert_eq!(got.as_deref(), Some(expected), "for {text:?}");
    }
}

/// Any bytes in, an error (never a panic) out: every fixture mutated at many
/// places, and random bytes.
#[test]
fn mangled_input_never_panics() {
    let mut files = Vec::new();
    for sub in ["good", "good/tasks", "bad"] {
        for entry in std::fs::read_dir(format!("{DIR}/{sub}")).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|e| e == "yml") {
                files.push(entry.path());
            }
        }
    }
    let inserts: [&[u8]; 10] = [b" ", b"\t", b"- ", b": ", b"{", b"[", b"\"", b"\n", b"*a", b"{{"];
    for path in &files {
        let text = std::fs::read(path).unwrap_or_default();
        for at in (0..text.len()).step_by(23) {
            let _ = parse_playbook(path, text[..at].to_vec());
            let _ = parse_task_file(path, [&text[..at], &text[at + 1..]].concat());
            for insert in inserts {
                let _ = parse_playbook(path, [&text[..at], insert, &text[at..]].concat());
            }
        }
    }
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..64)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                const CHARS: &[u8] = b"- :{}[]\"'&*!|>\n\t #abc{{%}}";
                CHARS[(seed % CHARS.len() as u64) as usize]
            })
            .collect();
        let _ = parse_playbook(Path::new("random.yml"), bytes);
    }
}

#[test]
fn hostile_yaml_is_an_error() {
    let deep = "[".repeat(100_000);
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n\
                  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
                  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
    let mut nested_blocks = String::new();
    for depth in 0..200 {
        nested_blocks.push_str(&format!("{}- block:\n", "    ".repeat(depth)));
    }
    for text in [deep.as_str(), laughs, nested_blocks.as_str()] {
        assert!(parse_playbook(Path::new("hostile.yml"), text.as_bytes().to_vec()).is_err());
    }
}
