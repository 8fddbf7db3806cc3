//! Behaviour tests: real `ansible-inventory` output for Ansible's own
//! documentation examples and for our edge cases (see
//! `tests/fixtures/inventory/README.md`), then precedence, patterns and
//! error positions.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;

fn fixtures() -> PathBuf {
    // Relative, so diagnostics show short paths; cargo runs tests from the
    // package root.
    PathBuf::from("tests/fixtures/inventory")
}

fn load(sources: &[&str]) -> Inventory {
    let paths: Vec<PathBuf> = sources.iter().map(PathBuf::from).collect();
    match Inventory::load(&paths) {
        Ok(inv) => inv,
        Err(e) => panic!("loading {sources:?} failed:\n{e}"),
    }
}

fn fixture(rel: &str) -> String {
    fixtures().join(rel).to_string_lossy().into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// ansible-inventory's exact text: `json.dumps(indent=4, sort_keys=True)`.
fn python_json(v: &Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    v.serialize(&mut ser).expect("serializing a Value cannot fail");
    let text = String::from_utf8(buf).expect("serde_json writes UTF-8");
    // Python escapes non-ASCII (`ensure_ascii=True`).
    text.chars().map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) }).collect()
}

/// Compares `--list` and `--graph` with what ansible-inventory printed.
fn assert_matches_ansible(stem: &Path, sources: &[&str]) {
    let inv = load(sources);
    let expected_text = read(&stem.with_extension("expected.json"));
    let expected: Value = serde_json::from_str(&expected_text).expect("expected JSON parses");
    let actual = inv.to_list_json();
    assert_eq!(actual, expected, "--list differs for {}", stem.display());
    assert_eq!(python_json(&actual), expected_text.trim_end(), "--list text (key order) differs for {}", stem.display());
    let graph = read(&stem.with_extension("expected.graph"));
    assert_eq!(inv.graph(None).expect("all is a group"), graph.trim_end_matches('\n'), "--graph differs for {}", stem.display());
}

fn inventory_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixture folder exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "ini" || e == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn ansible_docs_examples_list_and_graph_like_ansible_inventory() {
    let dir = fixtures().join("ansible-docs");
    let mut checked = 0;
    for file in inventory_files(&dir) {
        let stem = file.with_extension("");
        if !stem.with_extension("expected.json").exists() {
            continue;
        }
        assert_matches_ansible(&stem, &[&file.to_string_lossy()]);
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} documentation examples were checked");
}

#[test]
fn edge_case_files_list_and_graph_like_ansible_inventory() {
    let dir = fixtures().join("cases");
    for file in inventory_files(&dir) {
        assert_matches_ansible(&file.with_extension(""), &[&file.to_string_lossy()]);
    }
}

#[test]
fn group_and_host_vars_dirs_match_ansible() {
    assert_matches_ansible(&fixtures().join("cases/vars-dirs"), &[&fixture("cases/vars-dirs/hosts.yml")]);
}

#[test]
fn directory_source_matches_ansible() {
    assert_matches_ansible(&fixtures().join("cases/dir-source"), &[&fixture("cases/dir-source")]);
}

#[test]
fn several_sources_merge_in_order() {
    assert_matches_ansible(
        &fixtures().join("cases/multi-source"),
        &[&fixture("ansible-docs/inventory_test.ini"), &fixture("ansible-docs/inventory_staging.ini")],
    );
}

#[test]
fn comma_separated_host_list_matches_ansible() {
    assert_matches_ansible(&fixtures().join("cases/host-list"), &["web1,web2:2222,10.0.0.1, db1 ,,"]);
}

#[test]
fn patterns_group_names_and_groups_match_ansible() {
    let queries: Value = serde_json::from_str(&read(&fixtures().join("cases/queries.expected.json"))).unwrap();
    let Value::Object(cases) = queries else { panic!("queries file is an object") };
    for (name, case) in cases {
        let sources: Vec<String> = case["sources"].as_array().unwrap().iter().map(|s| fixture(s.as_str().unwrap())).collect();
        let refs: Vec<&str> = sources.iter().map(String::as_str).collect();
        let inv = load(&refs);
        for (pattern, expected) in case["patterns"].as_object().unwrap() {
            match (inv.select(pattern), expected.get("error")) {
                (Ok(hosts), None) => {
                    assert_eq!(json!(hosts), *expected, "{name}: pattern `{pattern}`")
                }
                (Err(_), Some(_)) => {}
                (got, _) => {
                    panic!("{name}: pattern `{pattern}`: got {got:?}, ansible gave {expected}")
                }
            }
        }
        for (host, expected) in case["group_names"].as_object().unwrap() {
            assert_eq!(json!(inv.group_names(host)), *expected, "{name}: group_names of {host}");
        }
        assert_eq!(json!(inv.groups_map()), case["groups"], "{name}: groups");
    }
}

#[test]
fn precedence_reports_where_each_value_came_from() {
    let inv = load(&[&fixture("cases/vars-dirs/hosts.yml")]);
    let gv = |p: &str| VarOrigin::GroupVarsFile(fixtures().join("cases/vars-dirs/group_vars").join(p));
    let hv = |p: &str| VarOrigin::HostVarsFile(fixtures().join("cases/vars-dirs/host_vars").join(p));
    let origin = |host: &str, var: &str| inv.host_vars_with_origin(host).get(var).cloned();

    // Child group files beat parent and `all` files; folders merge in order.
    assert_eq!(origin("web2", "level"), Some((json!("web-dir-20"), gv("web/20-override.yaml"))));
    assert_eq!(origin("web2", "deep"), Some((json!("json in a nested folder"), gv("web/nested/30-deep.json"))));
    // group_vars/all beats every group's inventory vars, as in ansible-core.
    assert_eq!(origin("solo", "level"), Some((json!("all-file"), gv("all.yml"))));
    assert_eq!(origin("solo", "all_only"), Some((json!("from-inventory"), VarOrigin::Group("all".into()))));
    // Host files beat host inline vars, which beat every group.
    assert_eq!(origin("web1", "level"), Some((json!("web1-file"), hv("web1.yml"))));
    assert_eq!(origin("db1", "db_size"), Some((json!(20), hv("db1/b"))));
    assert_eq!(origin("db1", "ansible_host"), Some((json!("10.0.0.5"), VarOrigin::Host)));
    // Same depth: higher ansible_group_priority wins over the name order.
    assert_eq!(origin("app1", "prio"), Some((json!("a"), VarOrigin::Group("a_group".into()))));
    // The priority itself is not a variable.
    assert_eq!(origin("app1", "ansible_group_priority"), None);
    // No extension, shadowed `web.yml`, ignored hidden/backup/txt files.
    assert_eq!(origin("web1", "region").map(|o| o.1), Some(gv("europe")));
    let all_values = serde_json::to_string(&inv.to_list_json()).unwrap();
    for ignored in ["must-not-load", "no-such-group"] {
        assert!(!all_values.contains(ignored), "{ignored} leaked into the inventory");
    }
    assert_eq!(inv.host_vars("web2"), inv.host_vars_with_origin("web2").into_iter().map(|(k, (v, _))| (k, v)).collect::<Vars>());
    assert!(origin("web2", "level").is_some_and(|(_, o)| o.to_string().ends_with("20-override.yaml")));
}

#[test]
fn implicit_localhost_is_not_in_all() {
    let inv = Inventory::empty();
    assert_eq!(inv.select("all").unwrap(), Vec::<String>::new());
    assert_eq!(inv.select("localhost").unwrap(), ["localhost"]);
    assert_eq!(inv.select("127.0.0.1").unwrap(), ["127.0.0.1"]);
    assert_eq!(inv.select("all:localhost").unwrap(), ["localhost"]);
    assert_eq!(inv.hosts().count(), 0);
    let lh = inv.host("localhost").expect("implicit localhost");
    assert!(lh.is_implicit());
    assert_eq!(inv.host_vars("localhost"), Vars::from_iter([("ansible_connection".to_string(), json!("local"))]));
    assert_eq!(inv.host_vars_with_origin("localhost")["ansible_connection"].1, VarOrigin::ImplicitLocalhost);
    assert!(inv.group_names("localhost").is_empty());
    assert_eq!(inv.to_list_json(), json!({"_meta": {"hostvars": {}, "profile": "inventory_legacy"}, "all": {"children": ["ungrouped"]}}));
    assert_eq!(inv.graph(None).unwrap(), "@all:\n  |--@ungrouped:");
}

#[test]
fn implicit_localhost_gets_all_group_vars() {
    let inv = load(&[&fixture("cases/vars-dirs/hosts.yml")]);
    let vars = inv.host_vars("localhost");
    assert_eq!(vars["level"], json!("all-file"));
    assert_eq!(vars["ansible_connection"], json!("local"));
    assert!(!vars.contains_key("europe_only"));
}

#[test]
fn explicit_localhost_answers_for_its_aliases() {
    let inv = load(&[&fixture("ansible-docs/connection-vars.ini")]);
    assert_eq!(inv.select("127.0.0.1").unwrap(), ["localhost"]);
    assert_eq!(inv.host("::1").map(Host::name), Some("localhost"));
}

#[test]
fn malformed_patterns_are_errors() {
    let inv = load(&[&fixture("cases/vars-dirs/hosts.yml")]);
    for bad in ["", "  ", ",", "~(", "web[", "web[9]"] {
        let err = inv.select(bad).expect_err(bad);
        assert!(matches!(err, InventoryError::Pattern { .. }), "{bad}: {err}");
    }
    assert_eq!(inv.select("web[9]").unwrap_err().to_string(), "invalid host pattern `web[9]`: `web[9]` asks for a host past the end: only 2 matched");
    assert_eq!(inv.select("nosuch").unwrap(), Vec::<String>::new());
    assert_eq!(inv.select("web:web1:web").unwrap(), ["web1", "web2"]);
}

#[test]
fn graph_can_start_at_a_group() {
    let inv = load(&[&fixture("cases/vars-dirs/hosts.yml")]);
    assert_eq!(inv.graph(Some("europe")).unwrap(), "@europe:\n  |--@web:\n  |  |--web1\n  |  |--web2\n  |--@db:\n  |  |--db1");
    let err = inv.graph(Some("web1")).unwrap_err();
    assert_eq!(err.to_string(), "invalid host pattern `web1`: `--graph` needs a group name");
}

#[test]
fn hosts_keep_inventory_order_and_source() {
    let inv = load(&[&fixture("cases/vars-dirs/hosts.yml")]);
    let names: Vec<&str> = inv.hosts().map(Host::name).collect();
    assert_eq!(names, ["solo", "web1", "web2", "db1", "app1"]);
    let web1 = inv.host("web1").unwrap();
    assert_eq!(web1.inventory_file(), Some(fixtures().join("cases/vars-dirs/hosts.yml").as_path()));
    assert_eq!(web1.inline_vars()["level"], json!("web1-inline"));
    assert!(inv.has_group("europe") && !inv.has_group("web1"));
}

/// The rendered error for a fixture in `errors/`.
fn load_error(rel: &str) -> String {
    match Inventory::load(&[fixtures().join("errors").join(rel)]) {
        Ok(_) => panic!("{rel} loaded without error"),
        Err(e) => {
            assert!(e.diagnostic().is_some(), "{rel}: no diagnostic in {e}");
            e.to_string()
        }
    }
}

#[test]
fn ini_errors_point_at_the_line_and_column() {
    assert_eq!(
        load_error("bad-range.ini"),
        "error: host range `[3:1]` ends before it starts, so it names no host
 --> tests/fixtures/inventory/errors/bad-range.ini:2:1
  |
2 | web[3:1].example.com
  | ^
  = help: ranges look like `web[01:10]`, `web[1:10:2]` or `db-[a:f]`"
    );
    assert_eq!(
        load_error("vars-without-equals.ini"),
        "error: expected `key=value` in `[web:vars]`, found `http_port 8080`
 --> tests/fixtures/inventory/errors/vars-without-equals.ini:5:1
  |
5 | http_port 8080
  | ^
  = help: each line of a `:vars` section sets one variable, like `http_port=8080`"
    );
    assert_eq!(
        load_error("unknown-section.ini"),
        "error: unknown section type `var` in `[web:var]`
 --> tests/fixtures/inventory/errors/unknown-section.ini:4:6
  |
4 | [web:var]
  |      ^
  = help: did you mean `[web:vars]`?"
    );
    assert!(load_error("host-word.ini").contains("host-word.ini:2:22\n"));
    assert!(load_error("unclosed-quote.ini").contains("unclosed-quote.ini:2:11\n"));
    assert!(load_error("vars-for-undefined-group.ini").contains(
        "error: `[web:vars]` sets variables for group `web`, which is never defined\n --> tests/fixtures/inventory/errors/vars-for-undefined-group.ini:1:1\n"
    ));
}

#[test]
fn ansible_docs_example_with_undefined_children_is_an_error() {
    // ansible-core also rejects this example from its own docs: `northeast`
    // and friends are listed under `[usa:children]` but never defined.
    let err = Inventory::load(&[fixtures().join("ansible-docs/nested-group-vars-undefined.ini")]).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("error: group `northeast` is listed in `[usa:children]` but never defined\n"), "{text}");
    assert!(text.contains("nested-group-vars-undefined.ini:21:1\n"), "{text}");
}

#[test]
fn yaml_errors_point_at_the_key() {
    assert_eq!(
        load_error("hosts-as-list.yml"),
        "error: `hosts` of group `web` must be a mapping, found a list
 --> tests/fixtures/inventory/errors/hosts-as-list.yml:4:7
  |
4 |       hosts:
  |       ^
  = help: list hosts as mapping keys (`web1:` on its own line), not as `- web1` items"
    );
    assert_eq!(
        load_error("unknown-key.yml"),
        "error: unknown key `host` in group `web`
 --> tests/fixtures/inventory/errors/unknown-key.yml:2:3
  |
2 |   host:
  |   ^
  = help: did you mean `hosts`?"
    );
    let syntax = load_error("bad-indent.yml");
    assert!(syntax.starts_with("error: invalid YAML: "), "{syntax}");
    assert!(syntax.contains("bad-indent.yml:7:10\n"), "{syntax}");
    let dup = load_error("duplicate-key.yml");
    assert!(dup.contains("duplicate entry with key \"hosts\""), "{dup}");
    assert!(dup.contains("duplicate-key.yml:4:3\n"), "{dup}");
    let cycle = load_error("group-loop.yml");
    assert!(cycle.contains("creates a loop") && cycle.contains("group-loop.yml:3:5\n"), "{cycle}");
}

#[test]
fn group_vars_errors_point_into_the_vars_file() {
    let text = load_error("bad-group-vars/hosts.ini");
    assert!(text.contains("bad-group-vars/group_vars/web.yml:3:1\n"), "{text}");
}

#[test]
fn missing_source_is_an_io_error() {
    let err = Inventory::load(&[PathBuf::from("tests/fixtures/inventory/no-such-file")]).unwrap_err();
    assert!(matches!(err, InventoryError::Io { .. }));
    assert!(err.to_string().starts_with("cannot read inventory source `tests/fixtures/inventory/no-such-file`: "));
}

/// A scratch directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ferry-inventory-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn vault_files_and_scripts_are_refused_clearly() {
    let dir = TempDir::new("refused");
    let hosts = dir.write("hosts", "[web]\nweb1\n");
    dir.write("group_vars/web.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162\n");
    let err = Inventory::load(&[hosts]).unwrap_err();
    assert!(err.to_string().contains("Ansible Vault"), "{err}");

    let script = dir.write("inv/ec2.py", "#!/usr/bin/env python3\nprint('{}')\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = Inventory::load(&[dir.0.join("inv")]).unwrap_err();
        assert!(err.to_string().contains("dynamic inventory scripts are not supported"), "{err}");
    }
    let plugin = dir.write("aws_ec2.yml", "plugin: amazon.aws.aws_ec2\n");
    let err = Inventory::load(&[plugin]).unwrap_err();
    assert!(err.to_string().contains("inventory plugin configuration"), "{err}");
}

#[test]
fn directory_sources_skip_what_ansible_skips() {
    let dir = TempDir::new("skips");
    dir.write("inv/10-hosts", "[web]\nweb1\n");
    // Each of these would be a parse error if it were read.
    for name in [".hidden", "x.retry", "x.orig", "x~", "x.md", "x.txt", "x.rst", "x.bak", "x.swp", "x.cfg", "x.pyc", "x.rpm"] {
        dir.write(&format!("inv/{name}"), "[broken\n");
    }
    dir.write("inv/group_vars/web.yml", "from_dir: 1\n");
    dir.write("inv/host_vars/web1", "h: 2\n");
    dir.write("inv/sub/20-more.yml", "db:\n  hosts:\n    db1:\n");
    // A sub-folder's own group_vars/ is not read, as in ansible-core.
    dir.write("inv/sub/group_vars/db.yml", "sub_vars: 3\n");
    let inv = Inventory::load(&[dir.0.join("inv")]).unwrap();
    assert_eq!(inv.select("all").unwrap(), ["web1", "db1"]);
    assert_eq!(inv.host_vars("web1"), Vars::from_iter([("from_dir".into(), json!(1)), ("h".into(), json!(2))]));
    assert!(inv.host_vars("db1").is_empty());
}

#[test]
fn sources_later_on_the_command_line_win() {
    let dir = TempDir::new("order");
    let staging = dir.write("staging/hosts", "[all:vars]\nmyvar=1\n[web]\nweb1\n");
    let production = dir.write("production/hosts", "[all:vars]\nmyvar=2\n[web]\nweb1\n");
    let inv = Inventory::load(&[staging.clone(), production.clone()]).unwrap();
    assert_eq!(inv.host_vars("web1")["myvar"], json!(2));
    let inv = Inventory::load(&[production, staging]).unwrap();
    assert_eq!(inv.host_vars("web1")["myvar"], json!(1));
}

#[test]
fn ini_children_may_come_before_the_group() {
    let dir = TempDir::new("pending");
    let hosts = dir.write("hosts.ini", "[prod:children]\nweb\n\n[web:vars]\nport=80\n\n[web]\nweb1\n\n[web:children]\n");
    let inv = Inventory::load(&[hosts]).unwrap();
    assert_eq!(inv.select("prod").unwrap(), ["web1"]);
    assert_eq!(inv.host_vars("web1")["port"], json!(80));
    assert_eq!(inv.group_names("web1"), ["prod", "web"]);
}

#[test]
fn empty_and_comment_only_files_are_empty_inventories() {
    let dir = TempDir::new("empty");
    let a = dir.write("a.yml", "");
    let b = dir.write("b.ini", "# nothing here\n; nor here\n");
    let c = dir.write("c.yml", "---\n# only a comment\n");
    let inv = Inventory::load(&[a, b, c]).unwrap();
    assert_eq!(inv.hosts().count(), 0);
}

#[test]
fn large_ranges_load_in_linear_time() {
    // tests/fuzz_parsers.rs hung on `10.0.0.[1:65536]`: every host was
    // checked against every other one in its group, and each one leaving
    // `ungrouped` scanned it again. This load took over a minute in a debug
    // build; now under a second.
    let dir = TempDir::new("large");
    let hosts = dir.write("hosts.ini", "web[1:50000]\n[db]\nweb[1:50000]\n");
    let inv = Inventory::load(&[hosts]).unwrap();
    assert_eq!(inv.select("db").unwrap().len(), 50_000);
    assert!(inv.select("ungrouped").unwrap().is_empty());
    assert_eq!(inv.group_names("web50000"), ["db"]);
}
