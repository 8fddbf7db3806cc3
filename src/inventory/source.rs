//! Turning `-i` arguments into an inventory: files, directories and host
//! lists, in the order given, then the vars files beside them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Location};

use super::{address, ini, vars_files, yaml, Inventory, InventoryError, UNGROUPED};

/// Directory entries ansible-core never reads as inventory: its
/// `INVENTORY_IGNORE_EXTS` default (which includes `~` backups).
const IGNORED_SUFFIXES: [&str; 12] = [".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry"];
const IGNORED_NAMES: [&str; 3] = ["host_vars", "group_vars", "vars_plugins"];

pub(super) fn load(sources: &[PathBuf]) -> Result<Inventory, InventoryError> {
    let mut inv = Inventory::base();
    // Where group_vars/ and host_vars/ are looked for, one per source.
    let mut vars_dirs: Vec<PathBuf> = Vec::new();
    for source in sources {
        if source.as_os_str().is_empty() {
            continue;
        }
        let text = source.to_string_lossy();
        if text.contains(',') && !source.exists() {
            parse_host_list(&mut inv, &text);
            continue;
        }
        let meta = std::fs::metadata(source).map_err(|e| InventoryError::Io { path: source.clone(), source: e })?;
        if meta.is_dir() {
            parse_dir(&mut inv, source)?;
            vars_dirs.push(source.clone());
        } else {
            parse_file(&mut inv, source)?;
            vars_dirs.push(source.parent().map(Path::to_path_buf).unwrap_or_default());
        }
    }
    inv.reconcile();
    inv.finish();
    vars_files::load_all(&mut inv, &vars_dirs)?;
    Ok(inv)
}

/// `"web1,web2:2222,"`: each name goes to `ungrouped`; ranges are not
/// expanded (ansible-core's `host_list` plugin).
fn parse_host_list(inv: &mut Inventory, list: &str) {
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (host, port) = address::parse_address(item, false).unwrap_or_else(|_| (item.to_string(), None));
        if !inv.hosts.contains_key(&host) {
            inv.add_host(&host, Some(UNGROUPED), port, None);
        }
    }
}

fn is_ignored(name: &str) -> bool {
    name.starts_with('.') || IGNORED_NAMES.contains(&name) || IGNORED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Every entry of `dir` in byte order, recursing into sub-directories (whose
/// own `group_vars/` are not read, as in ansible-core).
fn parse_dir(inv: &mut Inventory, dir: &Path) -> Result<(), InventoryError> {
    let entries = std::fs::read_dir(dir).map_err(|source| InventoryError::Io { path: dir.to_path_buf(), source })?;
    let mut names: Vec<std::ffi::OsString> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| InventoryError::Io { path: dir.to_path_buf(), source })?;
        names.push(entry.file_name());
    }
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        if is_ignored(&name.to_string_lossy()) {
            continue;
        }
        let path = dir.join(&name);
        if path.is_dir() {
            parse_dir(inv, &path)?;
        } else {
            parse_file(inv, &path)?;
        }
    }
    Ok(())
}

/// One inventory file. `.yml`/`.yaml`/`.json` are YAML; a file without an
/// extension is YAML if it parses as a mapping, else INI (ansible-core tries
/// its YAML plugin first for those); anything else is INI. Executable
/// scripts and TOML, which ansible-core has plugins for, are refused rather
/// than misread.
fn parse_file(inv: &mut Inventory, path: &Path) -> Result<(), InventoryError> {
    let bytes = std::fs::read(path).map_err(|source| InventoryError::Io { path: path.to_path_buf(), source })?;
    let file = Arc::new(path.to_path_buf());
    let text = String::from_utf8(bytes).map_err(|e| {
        let before = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let d = Diagnostic::new(Location::new(Arc::clone(&file), line, 1), "inventory files must be UTF-8 text").help("convert the file to UTF-8");
        InventoryError::Invalid(d)
    })?;
    if text.starts_with("#!") && is_executable(path) {
        return Err(unsupported(
            &file,
            &text,
            "dynamic inventory scripts are not supported",
            "save its output once with `ansible-inventory -i SCRIPT --list -y > hosts.yml` and use that",
        ));
    }
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("yml" | "yaml" | "json") => {
            let value = yaml::parse_text(&file, &text)?;
            yaml::parse(inv, path, &text, value)
        }
        Some("toml") => Err(unsupported(&file, &text, "TOML inventories are not supported", "convert it to YAML or INI")),
        None => match yaml::sniff(&file, &text) {
            Some(value) => yaml::parse(inv, path, &text, value),
            None => ini::parse(inv, path, &text),
        },
        Some(_) => ini::parse(inv, path, &text),
    }
}

fn unsupported(file: &Arc<PathBuf>, text: &str, message: &str, help: &str) -> InventoryError {
    InventoryError::Invalid(Diagnostic::with_source(Location::new(Arc::clone(file), 1, 1), message, text).help(help))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    false
}
