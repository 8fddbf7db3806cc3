//! `sysctl` with the arguments of `ansible.posix.sysctl`.
//!
//! ferry's default differs from Ansible's on purpose: the value is set live
//! (`sysctl -w`) and NOT written to a file, because ferry's lab hosts are
//! network namespaces sharing one /etc/sysctl.d. `persist: true` (implied by
//! giving `sysctl_file`) also keeps the setting in `sysctl_file`, default
//! `/etc/sysctl.d/99-ferry.conf`, written atomically. `state: absent`
//! removes the key from that file and leaves the live value alone, as
//! Ansible does.
//!
//! Which keys the runbook's forwarding needs (measured in network namespaces):
//! DNAT in nat OUTPUT of traffic this host sends needs neither
//! `net.ipv4.ip_forward` nor `route_localnet`, but the host must have a
//! route to the ORIGINAL destination (the source cluster's mon address),
//! because the route is chosen before nat OUTPUT runs. DNAT in PREROUTING
//! of traffic passing through needs `net.ipv4.ip_forward = 1`.
//! `net.ipv4.conf.all.route_localnet = 1` is needed only when a 127.0.0.0/8
//! destination is translated to another host, and then also a
//! POSTROUTING MASQUERADE/SNAT; the runbook never does that.

use super::args::{self, Flag, Text};
use super::remote_file::{self, FileState, Kind};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::transport::{CommandOutput, RemoteCommand};
use crate::vars::Value;
use serde::Deserialize;

/// Where `persist: true` keeps settings unless `sysctl_file` says otherwise.
pub const DEFAULT_FILE: &str = "/etc/sysctl.d/99-ferry.conf";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(alias = "key")]
    name: Text,
    #[serde(alias = "val")]
    value: Option<Text>,
    #[serde(default)]
    state: Option<Text>,
    sysctl_set: Option<Flag>,
    reload: Option<Flag>,
    persist: Option<Flag>,
    sysctl_file: Option<Text>,
    ignoreerrors: Option<Flag>,
}

/// One `sysctl` task.
#[derive(Debug)]
pub struct SysctlModule {
    /// Dotted name (`net.ipv4.ip_forward`).
    name: String,
    /// Normalized value (blanks collapsed, Ansible's booleans as 1/0).
    value: Option<String>,
    present: bool,
    live: bool,
    file: Option<String>,
    ignore_errors: bool,
}

/// What the host has.
#[derive(Debug, Clone)]
pub struct SysctlState {
    /// `sysctl -n` output, normalized; `None` when the key does not exist (and errors are ignored).
    pub live: Option<String>,
    /// The persistence file, when the task keeps one.
    pub file: Option<FileState>,
}

fn arg_err(path: &str, msg: impl Into<String>) -> (String, String) {
    (path.to_string(), format!("invalid arguments for `sysctl`: {}", msg.into()))
}

/// Values compare the way the kernel prints them: tabs and runs of blanks are one space.
fn normalize(v: &str) -> String {
    let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => "1".into(),
        "false" | "no" | "off" => "0".into(),
        _ => v,
    }
}

/// `net/ipv4/ip_forward` and `net.ipv4.ip_forward` are the same key.
fn key_of(line: &str) -> Option<(String, String)> {
    let l = line.trim();
    if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
        return None;
    }
    let (k, v) = l.split_once('=')?;
    let k = k.trim().trim_start_matches('-').replace('/', ".");
    Some((k, v.trim().to_string()))
}

impl SysctlModule {
    /// From `sysctl:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let a: Args = args::parse("sysctl", raw)?;
        let name = a.name.0.trim().replace('/', ".");
        if name.is_empty() || name.starts_with(['.', '-']) || name.contains("..") || !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(arg_err("name", format!("`{}` is not a sysctl key (like net.ipv4.ip_forward)", a.name.0)));
        }
        let present = match a.state.as_ref().map(|s| s.0.trim()).unwrap_or("present") {
            "present" => true,
            "absent" => false,
            other => return Err(arg_err("state", format!("`state` must be present or absent, not `{other}`"))),
        };
        let value = a.value.as_ref().map(|v| normalize(&v.0));
        if let Some(v) = &value {
            if v.is_empty() {
                return Err(arg_err("value", "`value` is empty"));
            }
        }
        if present && value.is_none() {
            return Err(arg_err("value", format!("`value` is required to set {name}")));
        }
        let persist = a.persist.map(|p| p.0).unwrap_or(a.sysctl_file.is_some());
        let file = match (persist, &a.sysctl_file) {
            (false, Some(_)) => return Err(arg_err("persist", "`sysctl_file` is given but `persist` is false")),
            (false, None) => None,
            (true, f) => {
                let f = f.as_ref().map(|f| f.0.trim().to_string()).unwrap_or_else(|| DEFAULT_FILE.into());
                if !f.starts_with('/') {
                    return Err(arg_err("sysctl_file", format!("`sysctl_file` must be an absolute path, not `{f}`")));
                }
                Some(f)
            }
        };
        // Ansible sets the live value with `sysctl_set`, or by reloading the file it wrote.
        let live = present && (a.sysctl_set.map(|f| f.0).unwrap_or(true) || (file.is_some() && a.reload.map(|f| f.0).unwrap_or(true)));
        if present && !live && file.is_none() {
            return Err(arg_err("sysctl_set", "nothing to do: with `sysctl_set: false` and no `persist`, the value would go nowhere"));
        }
        if !present && file.is_none() {
            return Err(arg_err(
                "state",
                "`state: absent` removes the key from `sysctl_file`; ferry sets values live only unless `persist: true`, so there is nothing to remove",
            ));
        }
        Ok(SysctlModule { name, value, present, live, file, ignore_errors: a.ignoreerrors.is_some_and(|f| f.0) })
    }

    /// The file's new content, or `None` when it already says what it should.
    fn new_content(&self, old: &str) -> Option<String> {
        let want_line = self.value.as_ref().filter(|_| self.present).map(|v| format!("{}={v}", self.name));
        let mut out = Vec::new();
        let mut placed = false;
        let mut changed = false;
        for line in old.lines() {
            match key_of(line) {
                Some((k, v)) if k == self.name => match &want_line {
                    Some(w) if !placed => {
                        placed = true;
                        if Some(normalize(&v)) == self.value {
                            out.push(line.to_string());
                        } else {
                            out.push(w.clone());
                            changed = true;
                        }
                    }
                    // Later duplicates would override the first line: they go.
                    _ => changed = true,
                },
                _ => out.push(line.to_string()),
            }
        }
        if let (Some(w), false) = (&want_line, placed) {
            out.push(w.clone());
            changed = true;
        }
        changed.then(|| out.iter().map(|l| format!("{l}\n")).collect())
    }
}

impl StatefulModule for SysctlModule {
    type State = SysctlState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<SysctlState, ModuleError> {
        let mut st = SysctlState { live: None, file: None };
        if self.live {
            let cmd = RemoteCommand::argv(["sysctl", "-n", &self.name]);
            let out = cx.run(&cmd).await?;
            if out.success() {
                st.live = Some(normalize(&out.stdout));
            } else if !self.ignore_errors {
                return Err(ModuleError::command_failed(&format!("could not read {}", self.name), &cmd, &out));
            }
        }
        if let Some(f) = &self.file {
            st.file = Some(remote_file::observe(cx, f, true).await?);
        }
        Ok(st)
    }

    fn plan(&self, st: &SysctlState) -> Result<Vec<Change>, Failure> {
        let mut changes = Vec::new();
        if let (true, Some(want)) = (self.live, &self.value) {
            match &st.live {
                Some(cur) if cur == want => {}
                // The kernel has no such key and errors are ignored (Ansible's `ignoreerrors`).
                None if self.ignore_errors => {}
                cur => changes.push(Change {
                    summary: format!("set {} = {want}{}", self.name, cur.as_ref().map(|c| format!(" (was {c})")).unwrap_or_default()),
                    commands: vec![RemoteCommand::argv(["sysctl".to_string(), "-w".to_string(), format!("{}={want}", self.name)])],
                    diff: None,
                }),
            }
        }
        if let (Some(path), Some(fs)) = (&self.file, &st.file) {
            let old = match fs.kind {
                Kind::Absent => Vec::new(),
                Kind::File => match &fs.content {
                    Some(c) => c.clone(),
                    None => return Err(Failure::msg(format!("{path} is too large to edit"))),
                },
                _ => return Err(Failure::msg(format!("{path} is not a regular file"))),
            };
            let old_text = String::from_utf8_lossy(&old);
            if let Some(new) = self.new_content(&old_text) {
                let summary = match &self.value {
                    Some(v) if self.present => format!("keep {}={v} in {path}", self.name),
                    _ => format!("remove {} from {path}", self.name),
                };
                changes.push(Change {
                    summary,
                    commands: vec![remote_file::write_command(path, new.as_bytes(), if fs.kind == Kind::Absent { Some(0o644) } else { None }, None, None)],
                    diff: Some(remote_file::diff(path, &old, new.as_bytes())),
                });
            }
        }
        Ok(changes)
    }

    fn result(&self, st: &SysctlState, _applied: &[CommandOutput]) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), self.name.clone().into());
        if let Some(v) = &self.value {
            m.insert("value".into(), v.clone().into());
        }
        if let Some(v) = &st.live {
            m.insert("previous".into(), v.clone().into());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::CommandBody;

    fn module(yaml: &str) -> Result<SysctlModule, (String, String)> {
        SysctlModule::from_args(&serde_yaml::from_str::<Value>(yaml).unwrap())
    }

    fn live(v: &str) -> SysctlState {
        SysctlState { live: Some(normalize(v)), file: None }
    }

    fn file(content: Option<&str>) -> FileState {
        let kind = if content.is_some() { Kind::File } else { Kind::Absent };
        FileState { content: content.map(|c| c.as_bytes().to_vec()), ..FileState::bare(DEFAULT_FILE, kind) }
    }

    #[test]
    fn sets_the_live_value_only_by_default() {
        let m = module("{name: net.ipv4.ip_forward, value: 1, sysctl_set: yes}").unwrap();
        assert!(m.file.is_none());
        let c = m.plan(&live("0\n")).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].summary, "set net.ipv4.ip_forward = 1 (was 0)");
        assert_eq!(c[0].commands[0].body, CommandBody::Argv(vec!["sysctl".into(), "-w".into(), "net.ipv4.ip_forward=1".into()]));
        assert!(m.plan(&live("1\n")).unwrap().is_empty());
    }

    #[test]
    fn values_compare_as_the_kernel_prints_them() {
        // Real `sysctl -n net.ipv4.tcp_rmem` output separates numbers with tabs.
        let m = module("{name: net/ipv4/tcp_rmem, value: '4096 131072  33554432'}").unwrap();
        assert_eq!(m.name, "net.ipv4.tcp_rmem");
        assert!(m.plan(&live("4096\t131072\t33554432\n")).unwrap().is_empty());
        let b = module("{name: net.ipv4.ip_forward, value: true}").unwrap();
        assert!(b.plan(&live("1\n")).unwrap().is_empty());
    }

    #[test]
    fn persist_writes_the_file_with_a_diff() {
        let m = module("{name: net.ipv4.ip_forward, value: 1, persist: true}").unwrap();
        assert_eq!(m.file.as_deref(), Some(DEFAULT_FILE));
        let st = SysctlState { live: Some("1".into()), file: Some(file(None)) };
        let c = m.plan(&st).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].summary, "keep net.ipv4.ip_forward=1 in /etc/sysctl.d/99-ferry.conf");
        assert_eq!(c[0].diff.as_ref().unwrap().after, "net.ipv4.ip_forward=1\n");
        assert_eq!(c[0].commands[0].stdin.as_deref(), Some(&b"net.ipv4.ip_forward=1\n"[..]));
        // An equal line in the other spelling is left alone; duplicates and other values are fixed.
        let same = SysctlState { live: Some("1".into()), file: Some(file(Some("# forwarding\nnet/ipv4/ip_forward = 1\n"))) };
        assert!(m.plan(&same).unwrap().is_empty());
        let dup = SysctlState { live: Some("1".into()), file: Some(file(Some("net.ipv4.ip_forward = 0\nvm.swappiness=10\nnet.ipv4.ip_forward=1\n"))) };
        assert_eq!(c_after(&m, &dup), "net.ipv4.ip_forward=1\nvm.swappiness=10\n");
    }

    fn c_after(m: &SysctlModule, st: &SysctlState) -> String {
        m.plan(st).unwrap().iter().find_map(|c| c.diff.clone()).unwrap().after
    }

    #[test]
    fn absent_removes_the_key_from_the_file_only() {
        let m = module("{name: net.ipv4.ip_forward, state: absent, sysctl_file: /etc/sysctl.d/90-lab.conf}").unwrap();
        assert!(!m.live);
        let st = SysctlState { live: None, file: Some(file(Some("vm.swappiness=10\nnet.ipv4.ip_forward=1\n"))) };
        let c = m.plan(&st).unwrap();
        assert_eq!(c[0].summary, "remove net.ipv4.ip_forward from /etc/sysctl.d/90-lab.conf");
        assert_eq!(c[0].diff.as_ref().unwrap().after, "vm.swappiness=10\n");
        assert!(m.plan(&SysctlState { live: None, file: Some(file(None)) }).unwrap().is_empty());
        assert!(m.plan(&SysctlState { live: None, file: Some(file(Some("vm.swappiness=10\n"))) }).unwrap().is_empty());
    }

    #[test]
    fn ignoreerrors_tolerates_unknown_keys() {
        let m = module("{name: net.ipv4.nope, value: 1, ignoreerrors: true}").unwrap();
        assert!(m.plan(&SysctlState { live: None, file: None }).unwrap().is_empty());
        let strict = module("{name: net.ipv4.nope, value: 1}").unwrap();
        assert_eq!(strict.plan(&SysctlState { live: None, file: None }).unwrap()[0].summary, "set net.ipv4.nope = 1");
    }

    fn err(yaml: &str) -> String {
        module(yaml).unwrap_err().1
    }

    #[test]
    fn bad_arguments() {
        assert!(err("{name: net.ipv4.ip_forward}").contains("`value` is required"));
        assert!(err("{name: 'net.ipv4; reboot', value: 1}").contains("not a sysctl key"));
        assert!(err("{name: ../../etc/passwd, value: 1}").contains("not a sysctl key"));
        assert!(err("{name: net.ipv4.ip_forward, state: absent}").contains("nothing to remove"));
        assert!(err("{name: net.ipv4.ip_forward, value: 1, sysctl_set: no}").contains("nothing to do"));
        assert!(err("{name: net.ipv4.ip_forward, value: 1, sysctl_file: relative.conf}").contains("absolute"));
        assert!(err("{name: net.ipv4.ip_forward, value: 1, persist: no, sysctl_file: /etc/x.conf}").contains("`persist` is false"));
        assert!(err("{name: net.ipv4.ip_forward, value: 1, frobnicate: 1}").contains("unknown field `frobnicate`"));
    }
}
