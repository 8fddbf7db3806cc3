//! `group_vars/` and `host_vars/` beside the inventory, found and read the way
//! ansible-core's `host_group_vars` plugin does.
//!
//! For an entity `NAME` the first of `NAME`, `NAME.yml`, `NAME.yaml`,
//! `NAME.json` that exists wins; if it is a folder, every file in it (and in
//! its sub-folders) with one of those extensions or none is read in sorted
//! order, skipping hidden files and `~` backups. Empty files are skipped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Location};
use crate::vars::{from_yaml, yaml_key_string, Vars};

use super::{yaml, Inventory, InventoryError};

/// One vars file and what it sets.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct VarsFile {
    /// Which searched location (in source order) it was found in.
    pub dir: usize,
    pub path: PathBuf,
    pub vars: Vars,
}

const EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// Reads the vars files of every group and host (and the implicit localhost)
/// from `group_vars/` and `host_vars/` inside each of `dirs`.
pub(super) fn load_all(inv: &mut Inventory, dirs: &[PathBuf]) -> Result<(), InventoryError> {
    inv.vars_dirs = dirs.len();
    let groups: Vec<String> = inv.groups.keys().cloned().collect();
    let hosts: Vec<String> = inv.hosts.keys().chain(inv.implicit.iter().map(|h| &h.name)).cloned().collect();
    for (i, dir) in dirs.iter().enumerate() {
        let group_dir = dir.join("group_vars");
        if group_dir.is_dir() {
            for g in &groups {
                let files = read_entity(&group_dir, g, i)?;
                inv.group_files.entry(g.clone()).or_default().extend(files);
            }
        }
        let host_dir = dir.join("host_vars");
        if host_dir.is_dir() {
            for h in &hosts {
                let files = read_entity(&host_dir, h, i)?;
                inv.host_files.entry(h.clone()).or_default().extend(files);
            }
        }
    }
    Ok(())
}

fn read_entity(dir: &Path, name: &str, index: usize) -> Result<Vec<VarsFile>, InventoryError> {
    // Names like `/srv/chroot` would escape the folder; ansible-core skips them.
    if name.starts_with('/') || name.is_empty() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for candidate in std::iter::once(name.to_string()).chain(EXTENSIONS.iter().map(|e| format!("{name}.{e}"))) {
        let path = dir.join(&candidate);
        if path.is_dir() {
            collect_dir(&path, &mut files)?;
            break;
        }
        if path.exists() {
            files.push(path);
            break;
        }
    }
    let mut out = Vec::new();
    for path in files {
        if let Some(vars) = read_vars_file(&path)? {
            out.push(VarsFile { dir: index, path, vars });
        }
    }
    Ok(out)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InventoryError> {
    let entries = std::fs::read_dir(dir).map_err(|source| InventoryError::Io { path: dir.to_path_buf(), source })?;
    let mut names: Vec<std::ffi::OsString> = entries.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let text = name.to_string_lossy();
        if text.starts_with('.') || text.ends_with('~') {
            continue;
        }
        let path = dir.join(&name);
        let ext = Path::new(&name).extension().map(|e| e.to_string_lossy().into_owned());
        if path.is_dir() && ext.is_none() {
            collect_dir(&path, out)?;
        } else if path.is_file() && ext.as_deref().is_none_or(|e| EXTENSIONS.contains(&e)) {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads one vars file: a YAML (or JSON) mapping. `None` for an empty file.
pub(super) fn read_vars_file(path: &Path) -> Result<Option<Vars>, InventoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Io { path: path.to_path_buf(), source })?;
    let file = Arc::new(path.to_path_buf());
    if text.trim_start().starts_with("$ANSIBLE_VAULT") {
        let d = Diagnostic::with_source(Location::new(file, 1, 1), "this file is encrypted with Ansible Vault, which ferry cannot read", &text)
            .help("decrypt it with `ansible-vault decrypt` or keep the secret outside the inventory");
        return Err(InventoryError::Yaml(d));
    }
    let value = yaml::parse_text(&file, &text)?;
    match value {
        serde_yaml::Value::Null => Ok(None),
        serde_yaml::Value::Mapping(m) => Ok(Some(m.into_iter().map(|(k, v)| (yaml_key_string(&k), from_yaml(v))).collect())),
        other => {
            let (line, col) = yaml::first_content(&text);
            let d = Diagnostic::with_source(
                Location::new(file, line, col),
                format!("a vars file must be a mapping of variable names to values, found {}", yaml::kind(&other)),
                &text,
            )
            .help("write one `name: value` per line");
            Err(InventoryError::Yaml(d))
        }
    }
}
