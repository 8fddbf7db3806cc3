//! The migration's inputs as the phases will see them: the clusters and admin
//! hosts from the inventory, and the migration vars file's values
//! (`migration_images`, `migration_whole_pools`, `migration_renames`, `verify`,
//! `keep_source_online`), extra vars over inventory vars, with the defaults of
//! `playbooks/vars/migration.yml`.
//!
//! Every value is checked before a connection is opened; a bad one is reported
//! where the user wrote it: `file:line:col` inside an `-e @file`, the `-e`
//! argument, or the inventory's layer that set it.

use crate::ceph::ImageSpec;
use crate::diagnostic::{did_you_mean, Diagnostic, Location};
use crate::inventory::{Inventory, VarOrigin};
use crate::playbook::{Seg, SpanIndex};
use crate::template::{SharedContext, Templates};
use crate::vars::{Value, Vars};
use indexmap::IndexMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The group whose first host runs the source's commands.
pub const SOURCE_ADMIN: &str = "source_admin";
/// The group whose first host runs the target's commands (and the phases' plays).
pub const TARGET_ADMIN: &str = "target_admin";

/// The `migration_*` keys the phases read; another `migration_` key is a typo.
const MIGRATION_KEYS: [&str; 3] = ["migration_images", "migration_whole_pools", "migration_renames"];

/// How many times a templated value is rendered again when it renders to
/// another template (`a: "{{ b }}"`, `b: "{{ c }}"`).
const MAX_RENDER_DEPTH: usize = 8;

/// What the migration moves and how, resolved and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationInputs {
    /// The source cluster's name on its nodes (`source_cluster`, default `ceph`).
    pub source_cluster: String,
    /// The target cluster's name on its nodes (`target_cluster`, default `ceph`).
    pub target_cluster: String,
    /// `groups.source_admin[0]`: where the source's commands run.
    pub source_admin: String,
    /// `groups.target_admin[0]`: where the target's commands run.
    pub target_admin: String,
    /// `migration_images`, in the order given.
    pub images: Vec<ImageSpec>,
    /// `migration_whole_pools`.
    pub whole_pools: Vec<String>,
    /// `migration_renames`, in the order given.
    pub renames: Vec<Rename>,
    /// `verify`.
    pub verify: Verify,
    /// `keep_source_online`.
    pub keep_source_online: bool,
    /// `force_cutover`: the cutover skips its in-sync check.
    pub force_cutover: bool,
    /// `cutover_sync_timeout`: seconds the cutover waits for every image to be
    /// in sync before it refuses (cutover.yml's default: 120).
    pub cutover_sync_timeout: f64,
}

/// One `migration_renames` entry: after the cutover, `from` takes the name `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// The migrated image, as named on the source.
    pub from: ImageSpec,
    /// The new VM's volume on the target, whose name it takes.
    pub to: ImageSpec,
}

/// How the cutover proves the copy (`verify:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// `checksum`: sha256 of every image on both sides at the demoted point.
    Checksum,
    /// `status` (the default): mirror status, positions and `rbd du` only.
    Status,
}

impl Rename {
    /// Whether both names are in one pool: then a rename does it; otherwise
    /// `rbd migration` moves the image into the other pool.
    pub fn same_pool(&self) -> bool {
        self.from.pool == self.to.pool
    }

    /// What replace.yml does for this entry, in words.
    pub fn how(&self) -> String {
        if self.same_pool() {
            format!("same pool: {} goes to the trash (restorable), then {} is renamed to it", self.to, self.from)
        } else {
            format!("other pool: {} goes to the trash (restorable), then rbd migration prepare/execute/commit moves {} there", self.to, self.from)
        }
    }
}

impl Verify {
    /// The word `verify:` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Verify::Checksum => "checksum",
            Verify::Status => "status",
        }
    }
}

impl MigrationInputs {
    /// Whether the cutover compares checksums: asked for, and possible (a
    /// source that stays online keeps changing).
    pub fn checksum(&self) -> bool {
        self.verify == Verify::Checksum && !self.keep_source_online
    }

    /// Reads and checks the inputs. `extra_var_args` are the `-e` arguments as
    /// given (to point into them), `extra_vars` the same merged. Values are
    /// read as the phases' plays see them, on `groups.target_admin[0]`.
    ///
    /// # Errors
    ///
    /// Every problem found, each a message ready to print.
    pub fn resolve(inventory: &Inventory, extra_var_args: &[String], extra_vars: &Vars) -> Result<MigrationInputs, Vec<String>> {
        let mut errors = Vec::new();
        let mut admin = |group: &str, role: &str| match inventory.groups_map().get(group).and_then(|hosts| hosts.first()) {
            Some(host) => host.clone(),
            None => {
                errors.push(format!(
                    "error: the inventory has no host in group `{group}`: the migration's {role} commands run on its first host\n  = help: add a group `{group}` with that host"
                ));
                String::new()
            }
        };
        let source_admin = admin(SOURCE_ADMIN, "source");
        let target_admin = admin(TARGET_ADMIN, "target");
        if !errors.is_empty() {
            return Err(errors);
        }
        let origins = Origins::new(inventory, &target_admin, extra_var_args);
        let values = Values::new(inventory, &target_admin, extra_vars, origins);
        let inputs = values.inputs(source_admin, target_admin);
        if values.errors.borrow().is_empty() {
            if let Some(inputs) = inputs {
                return Ok(inputs);
            }
        }
        Err(values.errors.into_inner())
    }
}

/// One `-e` argument, parsed alone, to tell which one set a variable.
struct ExtraSource {
    arg: String,
    vars: Vars,
    /// An `@file`: its path, text and positions.
    file: Option<(PathBuf, String, SpanIndex)>,
}

/// Where each variable came from.
struct Origins {
    extra: Vec<ExtraSource>,
    inventory: IndexMap<String, (Value, VarOrigin)>,
    host: String,
}

impl Origins {
    fn new(inventory: &Inventory, host: &str, extra_var_args: &[String]) -> Origins {
        let extra = extra_var_args
            .iter()
            .map(|arg| {
                // Already parsed once by the CLI; errors cannot happen here.
                let vars = crate::cli::parse_extra_vars(arg).unwrap_or_default();
                let file = arg.strip_prefix('@').and_then(|p| {
                    let text = std::fs::read_to_string(p).ok()?;
                    let spans = SpanIndex::build(&text);
                    Some((PathBuf::from(p), text, spans))
                });
                ExtraSource { arg: arg.clone(), vars, file }
            })
            .collect();
        Origins { extra, inventory: inventory.host_vars_with_origin(host), host: host.to_string() }
    }

    /// `message` about the value of `name` at `path` inside it, pointing where
    /// the value was written.
    fn error(&self, name: &str, path: &[Seg], message: &str, help: &str) -> String {
        // Later `-e` arguments win, so the last one that sets `name` is the one used.
        if let Some(source) = self.extra.iter().rev().find(|s| s.vars.contains_key(name)) {
            if let Some((file, text, spans)) = &source.file {
                let mut at = vec![Seg::Key(name.to_string())];
                at.extend_from_slice(path);
                let pos = spans.value(&at);
                let location = Location::new(Arc::new(file.clone()), pos.line, pos.col);
                return Diagnostic::with_source(location, message, text).help(help).to_string();
            }
            return format!("error: {message}\n  = in: -e {}\n  = help: {help}", source.arg);
        }
        if let Some((_, origin)) = self.inventory.get(name) {
            return format!("error: {message}\n  = `{name}` comes from the {origin} (for host {})\n  = help: {help}", self.host);
        }
        format!("error: {message}\n  = help: {help}")
    }
}

/// The variables of the plays' host, rendered on demand, and the problems found.
struct Values {
    vars: Vars,
    templates: Templates,
    ctx: minijinja::Value,
    origins: Origins,
    errors: std::cell::RefCell<Vec<String>>,
}

impl Values {
    fn new(inventory: &Inventory, host: &str, extra_vars: &Vars, origins: Origins) -> Values {
        let shared = shared_context(inventory, extra_vars);
        let vars = host_context_vars(inventory, host, extra_vars);
        let templates = Templates::new(Vec::new());
        let ctx = templates.context(&vars, &shared);
        Values { vars, templates, ctx, origins, errors: std::cell::RefCell::new(Vec::new()) }
    }

    fn fail(&self, name: &str, path: &[Seg], message: impl AsRef<str>, help: &str) {
        self.errors.borrow_mut().push(self.origins.error(name, path, message.as_ref(), help));
    }

    /// The value of `name`, its templates rendered; `None` when unset (or not renderable, reported).
    fn get(&self, name: &str) -> Option<Value> {
        let raw = self.vars.get(name)?;
        match render_fully(&self.templates, raw, &self.ctx) {
            Ok(v) => Some(v),
            Err(e) => {
                let shown = serde_json::to_string(raw).unwrap_or_default();
                self.fail(
                    name,
                    &[],
                    format!("`{name}` is {shown}, a template ferry plan cannot render from the inventory and extra vars: {e}"),
                    "give it a literal value (ferry plan reads no facts and runs no play)",
                );
                None
            }
        }
    }

    fn inputs(&self, source_admin: String, target_admin: String) -> Option<MigrationInputs> {
        self.unknown_migration_keys();
        let source_cluster = self.cluster("source_cluster");
        let target_cluster = self.cluster("target_cluster");
        let images = self.list("migration_images", |name, path, text| self.image(name, path, text));
        let whole_pools = self.list("migration_whole_pools", |name, path, text| self.pool(name, path, text));
        let renames = self.renames();
        let verify = self.verify();
        let keep_source_online = self.flag("keep_source_online", "true promotes the target with --force and leaves the source primary");
        let force_cutover = self.flag("force_cutover", "true demotes the source even when the target is behind; leave it unset to have the cutover refuse");
        let cutover_sync_timeout = self.cutover_sync_timeout();
        if images.is_empty() && whole_pools.is_empty() && self.errors.borrow().is_empty() {
            self.fail(
                "migration_images",
                &[],
                "nothing to migrate: `migration_images` and `migration_whole_pools` are both empty or unset",
                "pass the migration vars file with -e @FILE (inventories/lab-migration.yml is an example)",
            );
        }
        Some(MigrationInputs {
            source_cluster: source_cluster?,
            target_cluster: target_cluster?,
            source_admin,
            target_admin,
            images,
            whole_pools,
            renames: renames?,
            verify: verify?,
            keep_source_online: keep_source_online?,
            force_cutover: force_cutover?,
            cutover_sync_timeout: cutover_sync_timeout?,
        })
    }

    /// A `migration_` key that the phases do not read would silently do nothing.
    fn unknown_migration_keys(&self) {
        for name in self.vars.keys().filter(|k| k.starts_with("migration_") && !MIGRATION_KEYS.contains(&k.as_str())) {
            let help = match did_you_mean(name, MIGRATION_KEYS) {
                Some(known) => format!("did you mean `{known}`?"),
                None => format!("the migration reads {}", MIGRATION_KEYS.map(|k| format!("`{k}`")).join(", ")),
            };
            self.fail(name, &[], format!("unknown migration variable `{name}`: no phase reads it"), &help);
        }
    }

    fn cluster(&self, name: &str) -> Option<String> {
        let Some(value) = self.get(name) else {
            // vars/migration.yml: `source_cluster | default('ceph')`.
            return (!self.vars.contains_key(name)).then(|| "ceph".to_string());
        };
        let text = scalar(&value).unwrap_or_default();
        let ok = !text.is_empty() && !text.starts_with('-') && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if ok {
            return Some(text);
        }
        self.fail(
            name,
            &[],
            format!("`{name}` must be a cluster name (letters, digits, `-`, `_`, `.`), not {value}"),
            "the name of /etc/ceph/NAME.conf on the cluster's nodes",
        );
        None
    }

    /// A list of strings (one string is a list of one), each checked by `item`.
    fn list<T>(&self, name: &str, item: impl Fn(&str, &[Seg], &str) -> Option<T>) -> Vec<T> {
        let items = match self.get(name) {
            None | Some(Value::Null) => return Vec::new(),
            Some(Value::Array(items)) => items,
            Some(v @ Value::String(_)) => vec![v],
            Some(other) => {
                self.fail(name, &[], format!("`{name}` must be a list, not {other}"), "write one entry a line: `- volumes/vol1`");
                return Vec::new();
            }
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                Value::String(s) => item(name, &[Seg::Index(i)], s),
                other => {
                    self.fail(name, &[Seg::Index(i)], format!("`{name}[{i}]` must be a string, not {other}"), "quote it");
                    None
                }
            })
            .collect()
    }

    fn image(&self, name: &str, path: &[Seg], text: &str) -> Option<ImageSpec> {
        let at = label(name, path);
        match text.trim().parse::<ImageSpec>() {
            Ok(spec) if [Some(spec.pool.as_str()), spec.namespace.as_deref(), Some(spec.name.as_str())].into_iter().flatten().any(|p| p.starts_with('-')) => {
                self.fail(name, path, format!("`{at}`: `{spec}` has a part starting with `-`, which rbd would read as an option"), "rename the image or pool");
                None
            }
            Ok(spec) => Some(spec),
            Err(e) => {
                self.fail(name, path, format!("`{at}`: {e}"), "name the image as `rbd` does: pool/image, e.g. volumes/vol-clone");
                None
            }
        }
    }

    fn pool(&self, name: &str, path: &[Seg], text: &str) -> Option<String> {
        let v = text.trim();
        let bad = v.is_empty() || v.starts_with('-') || v.chars().any(|c| c == '/' || c == '@' || c.is_whitespace() || c.is_control());
        if bad {
            let at = label(name, path);
            self.fail(
                name,
                path,
                format!("`{at}` must be a pool name (no `/`, `@`, spaces, not starting with `-`), not `{v}`"),
                "list whole pools by name: `- volumes`",
            );
            return None;
        }
        Some(v.to_string())
    }

    fn renames(&self) -> Option<Vec<Rename>> {
        const NAME: &str = "migration_renames";
        let map = match self.get(NAME) {
            None | Some(Value::Null) => return Some(Vec::new()),
            Some(Value::Object(map)) => map,
            Some(other) => {
                self.fail(NAME, &[], format!("`{NAME}` must be a mapping old -> new, not {other}"), "write `volumes/vol1: volumes/vm-disk`, one a line");
                return None;
            }
        };
        let before = self.errors.borrow().len();
        let mut renames: Vec<Rename> = Vec::new();
        for (old, new) in &map {
            let path = [Seg::Key(old.clone())];
            let from = self.image(NAME, &path, old);
            let to = match new {
                Value::String(s) => self.image(NAME, &path, s),
                other => {
                    self.fail(NAME, &path, format!("`{NAME}.{old}` must be an image name, not {other}"), "pool/image of the new VM's volume on the target");
                    None
                }
            };
            if let (Some(from), Some(to)) = (from, to) {
                if let Some(twice) = renames.iter().find(|r| r.to == to) {
                    self.fail(
                        NAME,
                        &path,
                        format!("`{}` and `{from}` would both be renamed to `{to}`", twice.from),
                        "give each migrated volume its own new name",
                    );
                } else if from == to {
                    self.fail(NAME, &path, format!("`{from}` is renamed to itself"), "leave it out: it keeps its name");
                } else {
                    renames.push(Rename { from, to });
                }
            }
        }
        (self.errors.borrow().len() == before).then_some(renames)
    }

    fn verify(&self) -> Option<Verify> {
        let Some(value) = self.get("verify") else {
            return (!self.vars.contains_key("verify")).then_some(Verify::Status);
        };
        match scalar(&value).as_deref() {
            Some("checksum") => Some(Verify::Checksum),
            Some("status") => Some(Verify::Status),
            _ => {
                // The playbooks read anything but `checksum` as `status`: a typo
                // would quietly drop the checksum.
                self.fail(
                    "verify",
                    &[],
                    format!("`verify` must be `checksum` or `status`, not {value}"),
                    "checksum reads every byte on both sides at the cutover; status trusts rbd-mirror",
                );
                None
            }
        }
    }

    /// A true/false input (false when unset), read as Ansible's `| bool` reads it.
    fn flag(&self, name: &str, help: &str) -> Option<bool> {
        let Some(value) = self.get(name) else {
            return (!self.vars.contains_key(name)).then_some(false);
        };
        let truth = match &value {
            Value::Bool(b) => Some(*b),
            Value::Null => Some(false),
            Value::Number(n) => n.as_i64().and_then(|i| match i {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            }),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" | "y" => Some(true),
                "false" | "no" | "off" | "0" | "n" | "" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if truth.is_none() {
            self.fail(name, &[], format!("`{name}` must be true or false, not {value}"), help);
        }
        truth
    }

    fn cutover_sync_timeout(&self) -> Option<f64> {
        const NAME: &str = "cutover_sync_timeout";
        let Some(value) = self.get(NAME) else {
            return (!self.vars.contains_key(NAME)).then_some(120.0);
        };
        let seconds = match &value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match seconds {
            Some(s) if s.is_finite() && s > 0.0 => Some(s),
            _ => {
                self.fail(
                    NAME,
                    &[],
                    format!("`{NAME}` must be a number of seconds above 0, not {value}"),
                    "the cutover waits this long for every image to be in sync, then refuses (default 120)",
                );
                None
            }
        }
    }
}

/// `migration_images[0]`, `migration_renames.volumes/a`.
fn label(name: &str, path: &[Seg]) -> String {
    let mut out = name.to_string();
    for seg in path {
        match seg {
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Key(k) => out.push_str(&format!(".{k}")),
        }
    }
    out
}

/// A string, number or bool as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `host`'s inventory vars under the extra vars, with the magic names a
/// template may read.
pub(crate) fn host_context_vars(inventory: &Inventory, host: &str, extra_vars: &Vars) -> Vars {
    let mut vars = inventory.host_vars(host);
    crate::vars::overlay(&mut vars, extra_vars);
    vars.insert("inventory_hostname".into(), Value::from(host));
    vars.insert("inventory_hostname_short".into(), Value::from(host.split('.').next().unwrap_or(host)));
    vars.insert("group_names".into(), Value::Array(inventory.group_names(host).into_iter().map(Value::from).collect()));
    vars
}

/// `hostvars` and `groups` for templates.
pub(crate) fn shared_context(inventory: &Inventory, extra_vars: &Vars) -> SharedContext {
    let hostvars: IndexMap<String, Vars> = inventory.hosts().map(|h| (h.name().to_string(), host_context_vars(inventory, h.name(), extra_vars))).collect();
    SharedContext::new(Arc::new(hostvars), &inventory.groups_map())
}

/// `value` rendered until no template is left in it.
pub(crate) fn render_fully(templates: &Templates, value: &Value, ctx: &minijinja::Value) -> Result<Value, crate::template::TemplateError> {
    let mut current = value.clone();
    for _ in 0..MAX_RENDER_DEPTH {
        if !has_template(&current) {
            break;
        }
        let next = templates.render_value(&current, ctx)?;
        if next == current {
            break;
        }
        current = next;
    }
    Ok(current)
}

fn has_template(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{") || s.contains("{%"),
        Value::Array(items) => items.iter().any(has_template),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains("{{") || has_template(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory(dir: &std::path::Path, text: &str) -> Inventory {
        let path = dir.join("inventory.yml");
        std::fs::write(&path, text).unwrap();
        Inventory::load(&[path]).unwrap()
    }

    const LAB: &str = "all:\n  vars:\n    source_cluster: site-src\n    target_cluster: site-dst\n  children:\n    source_admin:\n      hosts:\n        src-node1: {}\n    target_admin:\n      hosts:\n        dst-node1: {}\n";

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferry-plan-inputs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn resolve(dir: &std::path::Path, inventory_text: &str, args: &[String]) -> Result<MigrationInputs, Vec<String>> {
        let inv = inventory(dir, inventory_text);
        let extra = crate::cli::merge_extra_vars(args).unwrap();
        MigrationInputs::resolve(&inv, args, &extra)
    }

    #[test]
    fn the_lab_migration_file_as_the_phases_read_it() {
        let dir = scratch("lab");
        let file = format!("@{}/inventories/lab-migration.yml", env!("CARGO_MANIFEST_DIR"));
        let inputs = resolve(&dir, LAB, &[file]).unwrap();
        assert_eq!((inputs.source_cluster.as_str(), inputs.target_cluster.as_str()), ("site-src", "site-dst"));
        assert_eq!((inputs.source_admin.as_str(), inputs.target_admin.as_str()), ("src-node1", "dst-node1"));
        let images: Vec<String> = inputs.images.iter().map(ToString::to_string).collect();
        assert_eq!(images, ["volumes/vol-clone", "volumes/vol-grandchild", "volumes/vol-plain"]);
        assert_eq!(inputs.whole_pools, ["volumes"]);
        let renames: Vec<(String, String, bool)> = inputs.renames.iter().map(|r| (r.from.to_string(), r.to.to_string(), r.same_pool())).collect();
        assert_eq!(renames, [("volumes/vol-clone".into(), "volumes/vm-web-disk".into(), true), ("volumes/vol-plain".into(), "vms/vm-db-disk".into(), false)]);
        assert_eq!(inputs.verify, Verify::Checksum);
        assert!(!inputs.keep_source_online && inputs.checksum());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_image_without_a_pool_points_into_the_file() {
        let dir = scratch("nopool");
        let file = dir.join("migration.yml");
        std::fs::write(&file, "migration_images:\n  - volumes/ok\n  - vol-clone\n").unwrap();
        let errors = resolve(&dir, LAB, &[format!("@{}", file.display())]).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        let text = &errors[0];
        assert!(text.starts_with("error: `migration_images[1]`: `vol-clone` is not an image spec: the pool is missing"), "{text}");
        assert!(text.contains(&format!("{}:3:5", file.display())), "{text}");
        assert!(text.contains("3 |   - vol-clone\n  |     ^"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn defaults_and_inline_extra_vars() {
        let dir = scratch("inline");
        let inv = "all:\n  children:\n    source_admin:\n      hosts:\n        a: {}\n    target_admin:\n      hosts:\n        b: {}\n";
        let inputs = resolve(&dir, inv, &[r#"{"migration_whole_pools": "volumes"}"#.to_string()]).unwrap();
        assert_eq!((inputs.source_cluster.as_str(), inputs.target_cluster.as_str()), ("ceph", "ceph"));
        assert_eq!(inputs.whole_pools, ["volumes"]);
        assert!(inputs.images.is_empty() && inputs.renames.is_empty());
        assert_eq!(inputs.verify, Verify::Status);

        let errors = resolve(&dir, inv, &["migration_image=volumes/a verify=checksums keep_source_online=maybe".to_string()]).unwrap_err();
        let all = errors.join("\n");
        assert!(all.contains("unknown migration variable `migration_image`") && all.contains("did you mean `migration_images`?"), "{all}");
        assert!(all.contains("`verify` must be `checksum` or `status`, not \"checksums\""), "{all}");
        assert!(all.contains("`keep_source_online` must be true or false"), "{all}");
        assert!(all.contains("= in: -e migration_image=volumes/a"), "{all}");
        assert_eq!((inputs.force_cutover, inputs.cutover_sync_timeout), (false, 120.0), "defaults");

        let inputs = resolve(&dir, inv, &["migration_whole_pools=volumes force_cutover=yes cutover_sync_timeout=300".to_string()]).unwrap();
        assert!(inputs.force_cutover);
        assert_eq!(inputs.cutover_sync_timeout, 300.0);
        let errors = resolve(&dir, inv, &["migration_whole_pools=volumes force_cutover=please cutover_sync_timeout=-5".to_string()]).unwrap_err();
        let all = errors.join("\n");
        assert!(all.contains("`force_cutover` must be true or false, not \"please\""), "{all}");
        assert!(all.contains("`cutover_sync_timeout` must be a number of seconds above 0"), "{all}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn templates_render_from_the_inventory_or_are_refused() {
        let dir = scratch("tmpl");
        let inv =
            LAB.replace("target_cluster: site-dst\n", "target_cluster: site-dst\n    tenant_pool: volumes\n    images_of_tenant: [\"{{ tenant_pool }}/a\"]\n");
        let args = [r#"{"migration_images": "{{ images_of_tenant }}", "source_cluster": "{{ target_cluster | replace('dst', 'src') }}"}"#.to_string()];
        let inputs = resolve(&dir, &inv, &args).unwrap();
        assert_eq!(inputs.images, ["volumes/a".parse::<ImageSpec>().unwrap()]);
        assert_eq!(inputs.source_cluster, "site-src");

        let errors = resolve(&dir, LAB, &[r#"{"migration_images": "{{ ansible_facts.disks }}"}"#.to_string()]).unwrap_err();
        assert!(errors[0].contains("a template ferry plan cannot render"), "{errors:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn renames_must_be_images_each_with_its_own_new_name() {
        let dir = scratch("ren");
        let file = dir.join("m.yml");
        std::fs::write(&file, "migration_images: [volumes/a, volumes/b]\nmigration_renames:\n  volumes/a: volumes/new\n  volumes/b: volumes/new\n").unwrap();
        let errors = resolve(&dir, LAB, &[format!("@{}", file.display())]).unwrap_err();
        assert!(errors[0].contains("`volumes/a` and `volumes/b` would both be renamed to `volumes/new`"), "{errors:?}");
        assert!(errors[0].contains(":4:14"), "{errors:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn admin_groups_are_required() {
        let dir = scratch("groups");
        let errors = resolve(&dir, "all:\n  hosts:\n    a: {}\n", &["migration_images=volumes/a".to_string()]).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("no host in group `source_admin`") && errors[1].contains("`target_admin`"), "{errors:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
