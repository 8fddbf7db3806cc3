//! Fuzzing the parsers that read what users and hosts give ferry: inventories
//! (YAML and INI), playbooks, the Ceph/RBD JSON and stderr readers, and
//! templates. Whatever the bytes, each must return (a value or an error that
//! renders), never panic and never hang. How the inputs are made, and how to
//! replay a failure, is in `tests/fuzz/mod.rs`; the seed inputs are
//! `tests/fuzz/corpus/<target>/`.

mod fuzz;

use std::path::Path;

use ferry::ceph::{
    sync_verdict, CephStatus, CommandError, DiskUsage, ImageInfo, ImageSpec, MirrorImageStatus, MirrorPoolInfo, MirrorPoolStatus, MirrorState, MonDump,
    MonStat, RbdStatus, ReplayProgress, StatusDescription,
};
use ferry::inventory::Inventory;
use ferry::playbook::{load_playbook, load_task_file, Task, TaskKind};
use ferry::template::{SharedContext, Templates};
use ferry::vars::Vars;
use fuzz::{fuzz, MaxAlloc, Target, TempDir};

#[global_allocator]
static ALLOCATOR: fuzz::Allocator = fuzz::Allocator;

/// More than any parser needs for a 16 KiB input: asking for this much at
/// once is a bug (a host range once asked for 48 GiB and aborted the process).
const PARSER_ALLOC: MaxAlloc = MaxAlloc::Fail(256 << 20);

/// The main thread's stack, where ferry reads inventories and playbooks.
const MAIN_STACK: usize = 8 << 20;
/// A tokio worker's stack, where ferry renders templates.
const TASK_STACK: usize = 2 << 20;

const YAML_TOKENS: &[&[u8]] = &[
    b"&anchor ",
    b"*anchor",
    b"&a [*a, *a]",
    b"<<: ",
    b"<<: *anchor\n",
    b"<<: [*a, *b]\n",
    b"!!str ",
    b"!!int ",
    b"!!float ",
    b"!!bool ",
    b"!!null ",
    b"!!binary ",
    b"!!map ",
    b"!!seq ",
    b"!!set ",
    b"!!omap ",
    b"!custom ",
    b"!<tag:yaml.org,2002:str> ",
    b"? ",
    b"|",
    b"|-\n",
    b"|+\n",
    b">",
    b">2\n",
    b"---\n",
    b"...\n",
    b"%YAML 1.2\n",
    b"%TAG ! tag:x,2000:\n",
    b"--- !!map\n",
    b"key: &x value\n",
    b"[]",
    b"{}",
    b"- - - ",
    b"? [a]\n: b\n",
];

/// What an inventory line may hold, in both formats.
const INVENTORY_TOKENS: &[&[u8]] = &[
    b"all:",
    b"hosts:",
    b"children:",
    b"vars:",
    b"ungrouped:",
    b"ansible_host: ",
    b"ansible_port: ",
    b"ansible_group_priority: ",
    b"web[01:10]",
    b"[a:z]",
    b"[1:3:2]",
    b"[0:",
    b"10.0.0.[1:3]",
    b"[2001:db8::1]:22",
    b"web1:2222",
    b"[all:vars]\n",
    b"[web:children]\n",
    b"[web]\n",
    b"[web:vars]\n",
    b"[:vars]",
    b"ansible_host=",
    b"ansible_port=",
    b"a=b ",
    b"a='b c' ",
    b"a=\"b\\\"c\" ",
    b"k=[1, 2] ",
    b"k={'a': 1} ",
    b" # comment",
    b" ; comment",
    b"=",
];

const PLAYBOOK_TOKENS: &[&[u8]] = &[
    b"- hosts: all\n",
    b"tasks:\n",
    b"- name: x\n",
    b"block:\n",
    b"rescue:\n",
    b"always:\n",
    b"handlers:\n",
    b"pre_tasks:\n",
    b"post_tasks:\n",
    b"import_playbook: play.yml\n",
    b"import_tasks: play.yml\n",
    b"include_tasks: ",
    b"vars_files:\n  - ",
    b"loop: ",
    b"with_items: ",
    b"loop_control:\n  loop_var: ",
    b"when: ",
    b"register: r\n",
    b"notify: h\n",
    b"listen: ",
    b"tags: [a, b]\n",
    b"serial: ",
    b"serial: [1, '30%']\n",
    b"max_fail_percentage: ",
    b"become: yes\n",
    b"delegate_to: ",
    b"run_once: true\n",
    b"ignore_errors: yes\n",
    b"changed_when: false\n",
    b"failed_when: ",
    b"until: ",
    b"retries: ",
    b"delay: ",
    b"timeout: ",
    b"environment:\n",
    b"args:\n",
    b"shell: echo hi\n",
    b"command: ls\n",
    b"copy:\n  src: a\n  dest: b\n",
    b"debug: msg={{ x }}\n",
    b"set_fact:\n",
    b"template: src=a dest=b",
    b"k=v ",
    b"creates=/x ",
    b"\"{{ item }}\"",
    b"{{ x | default(omit) }}",
];

const CEPH_TOKENS: &[&[u8]] = &[
    b"\"state\":",
    b"\"description\":",
    b"\"replaying, ",
    b"{\"replay_state\":\"syncing\",\"syncing_percent\":",
    b"\"entries_behind_primary\":",
    b"\"watchers\":",
    b"\"migration\":",
    b"\"mons\":",
    b"\"public_addrs\":{\"addrvec\":[{\"type\":\"v2\",\"addr\":\"",
    b"\"quorum\":",
    b"\"peers\":",
    b"\"images\":",
    b"\"health\":",
    b"\"checks\":",
    b"\"pgs_by_state\":",
    b"\"features\":",
    b"\"parent\":",
    b"\"mirroring\":",
    b"\"snapshots\":",
    b"\"mirror_uuids\":",
    b"\"provisioned_size\":",
    b"\"used_size\":",
    b"up+replaying",
    b"up+stopped",
    b"down+unknown",
    b"rbd: ",
    b"(2) No such file or directory",
    b"(16) Device or resource busy",
    b"(30) Read-only file system",
    b"\\u0000",
    b"\\ud800",
    b"\\\"",
    b"[]",
    b"{}",
    b"null",
    b"-0",
    b"1.5e400",
];

const TEMPLATE_TOKENS: &[&[u8]] = &[
    b"{{ ",
    b" }}",
    b"{% ",
    b" %}",
    b"{%- ",
    b" -%}",
    b"{{- ",
    b"{# ",
    b" #}",
    b"{% if x %}",
    b"{% else %}",
    b"{% endif %}",
    b"{% for x in y %}",
    b"{% endfor %}",
    b"{% set x = 1 %}",
    b"{% macro m(a) %}",
    b"{% endmacro %}",
    b"{% call m() %}",
    b"{% endcall %}",
    b"{% filter upper %}",
    b"{% endfilter %}",
    b"{% raw %}",
    b"{% endraw %}",
    b"{% include 'x' %}",
    b"{% import 'x' as y %}",
    b"{% extends 'x' %}",
    b"{% block b %}",
    b"{% endblock %}",
    b"{% with %}",
    b"{% endwith %}",
    b"| default('a')",
    b"| int",
    b"| float",
    b"| bool",
    b"| to_json",
    b"| from_json",
    b"| to_yaml",
    b"| from_yaml",
    b"| from_yaml_all",
    b"| b64decode",
    b"| b64encode",
    b"| regex_replace('(a+)+', '\\\\1')",
    b"| regex_search('[')",
    b"| regex_findall('x*')",
    b"| hash('sha256')",
    b"| combine({})",
    b"| combine({'a': {'b': 1}}, recursive=true)",
    b"| flatten",
    b"| flatten(levels=",
    b"| ternary(1, 2)",
    b"| quote",
    b"| mandatory",
    b"| dict2items",
    b"| items2dict",
    b"| union([1])",
    b"| difference([1])",
    b"| path_join",
    b"| basename",
    b"| dirname",
    b"| extract(x)",
    b"| type_debug",
    b"| join(',')",
    b"| split(',')",
    b"| list",
    b"| length",
    b"| first",
    b"| last",
    b"| sort",
    b"| unique",
    b"| map('int')",
    b"| select('defined')",
    b"| selectattr('a', 'eq', 1)",
    b"| replace('a', 'b')",
    b"| indent(4)",
    b"| round",
    b"| abs",
    b"range(",
    b"range(10)",
    b"lookup('env', 'FERRY_FUZZ_UNSET')",
    b"lookup('file', 'no-such-file')",
    b"query('nope')",
    b"omit",
    b"loop.index",
    b"namespace()",
    b"dict(a=1)",
    b"x.y",
    b"x['y']",
    b"x[0]",
    b"[1, 2, 3]",
    b"{'a': 1}",
    b"(1, 2)",
    b"1 + 2",
    b"'a' ~ 'b'",
    b"2 ** 64",
    b"10 // 0",
    b"1 / 0",
    b"1 % 0",
    b"'ab' * 3",
    b"not ",
    b" and ",
    b" or ",
    b" in ",
    b" is defined",
    b" is string",
    b" is match('a')",
    b" if ",
    b" else ",
    b".upper()",
    b"'a b'.split()",
    b"caller()",
    b"super()",
    b"varargs",
    b"hostvars",
    b"groups",
    b"vars",
    b"undefined_var",
    b"\x00inline:",
];

fn tokens(parts: &[&'static [&'static [u8]]]) -> &'static [&'static [u8]] {
    Box::leak(parts.concat().into_boxed_slice())
}

/// An inventory file of `text`, loaded the way `-i FILE` does, then queried
/// the way `ferry play` and `ferry inventory` do.
fn load_inventory(dir: &Path, file: &str, text: &[u8]) {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match Inventory::load(&[path]) {
        // A range may name up to 100000 hosts; querying each of them is a
        // test of scale, not of parsing.
        Ok(inv) if inv.hosts().count() > 1000 => {}
        Ok(inv) => {
            for pattern in ["all", "*", "web*:!db*", "~^[a-m]", "all[0]", "all[-1]", "all[1:3]", "ungrouped:&all"] {
                let _ = inv.select(pattern);
            }
            let names: Vec<String> = inv.hosts().map(|h| h.name().to_string()).collect();
            for name in &names {
                let _ = inv.host_vars_with_origin(name);
                let _ = inv.group_names(name);
            }
            let _ = inv.to_list_json().to_string();
            let _ = inv.graph(None);
        }
        Err(e) => drop(e.to_string()),
    }
}

/// An inventory target: each input is written to one of `files` (chosen by
/// its length) in a folder of its own, and loaded from there.
fn fuzz_inventory(name: &'static str, tokens: &'static [&'static [u8]], files: &'static [&'static str]) {
    let dir = TempDir::new(name);
    let root = dir.0.clone();
    fuzz(Target {
        name,
        tokens,
        stack_size: MAIN_STACK,
        max_alloc: PARSER_ALLOC,
        make: move || {
            let root = root.clone();
            move |input: &[u8]| load_inventory(&root, files[input.len() % files.len()], input)
        },
    });
}

#[test]
fn inventory_yaml() {
    // `.yml`, `.json` and no extension (YAML when it parses as a mapping,
    // else INI) take different roads into the parser.
    fuzz_inventory("inventory_yaml", tokens(&[YAML_TOKENS, INVENTORY_TOKENS]), &["hosts.yml", "hosts.json", "hosts"]);
}

#[test]
fn inventory_ini() {
    fuzz_inventory("inventory_ini", tokens(&[INVENTORY_TOKENS]), &["hosts.ini", "hosts"]);
}

fn walk_tasks(tasks: &[Task]) {
    for task in tasks {
        let _ = (task.display_name(), task.module_name(), task.location.to_string());
        if let TaskKind::Block { block, rescue, always, .. } = &task.kind {
            walk_tasks(block);
            walk_tasks(rescue);
            walk_tasks(always);
        }
    }
}

#[test]
fn playbook() {
    let dir = TempDir::new("playbook");
    let path = dir.0.join("play.yml");
    fuzz(Target {
        name: "playbook",
        tokens: tokens(&[YAML_TOKENS, PLAYBOOK_TOKENS]),
        stack_size: MAIN_STACK,
        max_alloc: PARSER_ALLOC,
        make: move || {
            let path = path.clone();
            move |input: &[u8]| {
                std::fs::write(&path, input).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                match load_playbook(&path) {
                    Ok(pb) => {
                        for play in &pb.plays {
                            let _ = play.location.to_string();
                            walk_tasks(&play.tasks);
                            walk_tasks(&play.handlers);
                        }
                    }
                    Err(e) => drop(e.to_string()),
                }
                match load_task_file(&path) {
                    Ok(tasks) => walk_tasks(&tasks),
                    Err(e) => drop(e.to_string()),
                }
            }
        },
    });
}

/// Every reader of `ceph`/`rbd` output on the same text, then what callers
/// ask of the values they return.
fn read_ceph(text: &str) {
    if let Ok(s) = CephStatus::parse(text) {
        let _ = (s.health_status(), s.is_health_ok(), s.all_osds_up(), s.all_pgs_active_clean(), s.health_messages());
    }
    if let Ok(i) = ImageInfo::parse(text) {
        let _ = (i.has_feature("journaling"), i.is_journaling(), i.is_mirroring_enabled(), i.is_primary());
        if let Some(parent) = &i.parent {
            let _ = (parent.spec().map(|s| s.to_string()), parent.namespace(), parent.in_trash());
        }
    }
    match MirrorImageStatus::parse(text) {
        Ok(s) => {
            let _ = (s.progress().map(ReplayProgress::summary), s.description_text(), s.has_state(), s.newest_snapshot_lacks_peer());
            let _ = (s.peer_site("site-a").map(|p| p.progress().is_some()), s.newest_primary_snapshot().map(|n| n.is_primary()));
            let verdict = sync_verdict(Ok(&s), Some(&s), None);
            let _ = (verdict.to_string(), verdict.should_keep_polling());
        }
        Err(e) => {
            let err = CommandError::classify(1, &e.to_string());
            let _ = sync_verdict(Err(&err), None, None).to_string();
        }
    }
    if let Ok(p) = MirrorPoolInfo::parse(text) {
        let _ = (p.is_enabled(), p.peer_for_site("site-b").is_some(), p.peer_uuids());
        let _ = p.peers.iter().filter(|peer| peer.is_auto_registered()).count();
    }
    if let Ok(p) = MirrorPoolStatus::parse(text) {
        let _ = (p.image("vol1").is_some(), p.is_healthy(), p.has_healthy_daemon(), p.callouts());
    }
    if let Ok(d) = DiskUsage::parse(text) {
        let _ = (d.head("vol1").is_some(), d.usage_of("vol1").map(|u| u.total()), d.total_used());
    }
    if let Ok(m) = MonDump::parse(text) {
        let _ = (m.mon_host(), m.endpoints());
    }
    if let Ok(m) = MonStat::parse(text) {
        let _ = (m.quorum_names(), m.full_quorum());
    }
    if let Ok(r) = RbdStatus::parse(text) {
        let _ = r.is_in_use();
        if let Some(m) = &r.migration {
            let _ = (m.source().map(|s| s.to_string()), m.destination().map(|s| s.to_string()));
        }
    }
    if let Some(p) = ReplayProgress::from_json(text) {
        let _ = (p.mode(), p.positions_match(), p.summary());
    }
    let description = StatusDescription::new(text);
    let _ = (description.percent(), description.says("replaying"));
    let state = MirrorState::parse(text);
    let _ = (state.is_up(), state.to_string());
    let _ = text.parse::<ImageSpec>().map(|s| s.to_string());
    for rc in [1, 2, 16, 22, 110] {
        let e = CommandError::classify(rc, text);
        let _ = (e.to_string(), e.is_retryable(), e.means_already_done(), e.kind.explanation(), e.kind.remedy(), e.kind.gotcha());
    }
}

#[test]
fn ceph_output() {
    fuzz(Target {
        name: "ceph_output",
        tokens: tokens(&[CEPH_TOKENS]),
        stack_size: MAIN_STACK,
        max_alloc: PARSER_ALLOC,
        make: || |input: &[u8]| read_ceph(&String::from_utf8_lossy(input)),
    });
}

#[test]
fn template() {
    fuzz(Target {
        name: "template",
        tokens: tokens(&[TEMPLATE_TOKENS]),
        stack_size: TASK_STACK,
        // Jinja can double a string in a loop or a filter chain; that is the
        // template's own cost, not a bug, and such inputs are skipped.
        max_alloc: MaxAlloc::Skip(16 << 20),
        make: || {
            let mut templates = Templates::new(Vec::new());
            let ctx = templates.context(&Vars::new(), &SharedContext::default());
            let mut renders = 0u32;
            move |input: &[u8]| {
                // minijinja 2 folds constants at compile time, and folds each
                // sub-expression again at every level above it: `'ab' * 3 *
                // 3 * … * x` rebuilds an 86 MB string once per level (20
                // levels: 4 s to compile). A cost of the dependency that a
                // playbook author would have to write on purpose; skipped.
                if input.iter().filter(|b| **b == b'*').count() > 3 {
                    return;
                }
                // The environment caches every distinct string it compiles;
                // a run has a few hundred, the fuzzer millions.
                renders += 1;
                if renders % 1000 == 0 {
                    templates = Templates::new(Vec::new());
                }
                let text = String::from_utf8_lossy(input);
                let _ = templates.render_str(&text, &ctx).map_err(|e| e.to_string());
                let _ = templates.eval_condition(&text, &ctx).map_err(|e| e.to_string());
                let _ = templates.eval_expr(&text, &ctx).map_err(|e| e.to_string());
                let _ = templates.referenced_vars(&text, false);
                let _ = templates.referenced_vars(&text, true);
            }
        },
    });
}
