//! `lineinfile`, with Ansible's matching rules: the new content is computed
//! on the controller (pure), then written atomically like `copy`.

use super::args::{self, Flag, Mode, Text};
use super::remote_file::{self, FileState, Kind};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::vars::Value;
use regex::Regex;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    path: Text,
    #[serde(alias = "value")]
    line: Option<Text>,
    #[serde(alias = "regex")]
    regexp: Option<Text>,
    search_string: Option<Text>,
    #[serde(default)]
    state: Option<Text>,
    insertafter: Option<Text>,
    insertbefore: Option<Text>,
    #[serde(default)]
    create: Flag,
    #[serde(default)]
    backrefs: Flag,
    #[serde(default)]
    firstmatch: Flag,
    mode: Option<Mode>,
    owner: Option<Text>,
    group: Option<Text>,
}

#[derive(Debug, Clone)]
enum Anchor {
    Bof,
    Eof,
    After(Regex),
    Before(Regex),
}

/// A line that must (or must not) be in a file.
#[derive(Debug)]
pub struct LineInFileModule {
    path: String,
    line: Option<String>,
    regexp: Option<Regex>,
    search_string: Option<String>,
    present: bool,
    anchor: Anchor,
    create: bool,
    backrefs: bool,
    firstmatch: bool,
    mode: Option<u32>,
    owner: Option<String>,
    group: Option<String>,
}

impl LineInFileModule {
    /// The file the line belongs in.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// From `lineinfile:` arguments.
    pub fn from_args(raw: &Value) -> Result<Self, (String, String)> {
        let a: Args = args::parse("lineinfile", raw)?;
        let present = match a.state.as_ref().map(|s| s.0.as_str()).unwrap_or("present") {
            "present" => true,
            "absent" => false,
            other => return Err(("state".into(), format!("`lineinfile` state must be present or absent, not `{other}`"))),
        };
        let regexp = match &a.regexp {
            Some(r) => Some(Regex::new(&r.0).map_err(|e| ("regexp".to_string(), format!("invalid regexp: {e}")))?),
            None => None,
        };
        let compile = |field: &str, r: &str| Regex::new(r).map_err(|e| (field.to_string(), format!("invalid {field}: {e}")));
        let anchor = match (&a.insertafter, &a.insertbefore) {
            (Some(_), Some(_)) => return Err(("insertbefore".into(), "`insertafter` and `insertbefore` exclude each other".into())),
            (Some(t), None) if t.0 == "EOF" => Anchor::Eof,
            (Some(t), None) => Anchor::After(compile("insertafter", &t.0)?),
            (None, Some(t)) if t.0 == "BOF" => Anchor::Bof,
            (None, Some(t)) => Anchor::Before(compile("insertbefore", &t.0)?),
            (None, None) => Anchor::Eof,
        };
        if present && a.line.is_none() {
            return Err(("line".into(), "`lineinfile` with state present needs `line`".into()));
        }
        if !present && a.line.is_none() && a.regexp.is_none() && a.search_string.is_none() {
            return Err((String::new(), "`lineinfile` with state absent needs `line`, `regexp` or `search_string`".into()));
        }
        if a.backrefs.0 && regexp.is_none() {
            return Err(("backrefs".into(), "`backrefs` needs `regexp`".into()));
        }
        Ok(LineInFileModule {
            path: a.path.0,
            line: a.line.map(|t| t.0),
            regexp,
            search_string: a.search_string.map(|t| t.0),
            present,
            anchor,
            create: a.create.0,
            backrefs: a.backrefs.0,
            firstmatch: a.firstmatch.0,
            mode: a.mode.map(|m| m.0),
            owner: a.owner.map(|t| t.0),
            group: a.group.map(|t| t.0),
        })
    }

    fn matches(&self, cur: &str) -> bool {
        if let Some(re) = &self.regexp {
            re.is_match(cur)
        } else if let Some(s) = &self.search_string {
            cur.contains(s.as_str())
        } else {
            self.line.as_deref() == Some(cur)
        }
    }

    /// The new content for `old` (pure; unit-tested).
    pub fn edit(&self, old: &str) -> String {
        let mut lines: Vec<String> = old.lines().map(str::to_owned).collect();
        let trailing_newline = old.is_empty() || old.ends_with('\n');
        if !self.present {
            lines.retain(|l| !self.matches(l));
            return join(&lines, trailing_newline || lines.is_empty());
        }
        let line = self.line.clone().unwrap_or_default();
        let mut found: Option<usize> = None;
        let mut insert_at: Option<usize> = None;
        for (i, cur) in lines.iter().enumerate() {
            if self.matches(cur) {
                found = Some(i);
                if self.firstmatch {
                    break;
                }
            } else {
                match &self.anchor {
                    // With firstmatch the first anchor line wins; else the last one.
                    Anchor::After(re) if re.is_match(cur) && !(self.firstmatch && insert_at.is_some()) => insert_at = Some(i + 1),
                    Anchor::Before(re) if re.is_match(cur) && !(self.firstmatch && insert_at.is_some()) => insert_at = Some(i),
                    _ => {}
                }
            }
        }
        if let Some(i) = found {
            let new_line = match (&self.regexp, self.backrefs) {
                (Some(re), true) => match re.captures(&lines[i]) {
                    Some(caps) => {
                        let mut out = String::new();
                        caps.expand(&ansible_backrefs(&line), &mut out);
                        out
                    }
                    None => line.clone(),
                },
                _ => line.clone(),
            };
            lines[i] = new_line;
            return join(&lines, trailing_newline);
        }
        if self.backrefs {
            return old.to_string();
        }
        // A regexp that matches nothing while the exact line is already there:
        // adding it again would make every run a change.
        if self.regexp.is_some() && lines.contains(&line) {
            return old.to_string();
        }
        let at = match &self.anchor {
            Anchor::Bof => 0,
            Anchor::Eof => lines.len(),
            Anchor::After(_) | Anchor::Before(_) => insert_at.unwrap_or(lines.len()),
        };
        lines.insert(at, line);
        join(&lines, true)
    }
}

/// Ansible writes backreferences as `\1`; the regex crate wants `${1}`.
fn ansible_backrefs(line: &str) -> String {
    let re = Regex::new(r"\\(\d+)").expect("static regex");
    re.replace_all(&line.replace('$', "$$"), "$${$1}").into_owned()
}

fn join(lines: &[String], trailing_newline: bool) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut s = lines.join("\n");
    if trailing_newline {
        s.push('\n');
    }
    s
}

impl StatefulModule for LineInFileModule {
    type State = FileState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<FileState, ModuleError> {
        let st = remote_file::observe(cx, &self.path, true).await?;
        if st.kind == Kind::File && st.content.is_none() {
            return Err(ModuleError::Failed(Failure::msg(format!(
                "{} is larger than {} bytes; lineinfile will not edit it",
                self.path,
                remote_file::CONTENT_LIMIT
            ))));
        }
        Ok(st)
    }

    fn plan(&self, st: &FileState) -> Result<Vec<Change>, Failure> {
        let old = match st.kind {
            Kind::File => String::from_utf8_lossy(st.content.as_deref().unwrap_or_default()).into_owned(),
            Kind::Absent if !self.present => return Ok(Vec::new()),
            Kind::Absent if self.create => String::new(),
            Kind::Absent => return Err(Failure::msg(format!("{} does not exist; set `create: true` to create it", self.path))),
            _ => return Err(Failure::msg(format!("{} is not a regular file", self.path))),
        };
        let new = self.edit(&old);
        let mut changes = Vec::new();
        if new != old || st.kind == Kind::Absent {
            let summary = if self.present { format!("set line in {}", self.path) } else { format!("remove line(s) from {}", self.path) };
            changes.push(Change {
                summary,
                commands: vec![remote_file::write_command(&self.path, new.as_bytes(), self.mode, self.owner.as_deref(), self.group.as_deref())],
                diff: Some(remote_file::diff(&self.path, old.as_bytes(), new.as_bytes())),
            });
        } else if let Some(mode) = self.mode.filter(|m| st.mode != Some(*m)) {
            changes.push(Change {
                summary: format!("chmod {mode:o} {}", self.path),
                commands: vec![crate::transport::RemoteCommand::argv(["chmod".to_string(), format!("{mode:o}"), "--".into(), self.path.clone()])],
                diff: None,
            });
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(args: serde_json::Value) -> LineInFileModule {
        LineInFileModule::from_args(&args).unwrap()
    }

    #[test]
    fn replaces_matching_line_and_is_idempotent() {
        let l = m(json!({"path": "/x", "regexp": "^port=", "line": "port=22"}));
        let once = l.edit("a\nport=21\nb\n");
        assert_eq!(once, "a\nport=22\nb\n");
        assert_eq!(l.edit(&once), once);
    }

    #[test]
    fn appends_when_missing_and_inserts_after() {
        assert_eq!(m(json!({"path": "/x", "line": "c"})).edit("a\nb"), "a\nb\nc\n");
        assert_eq!(m(json!({"path": "/x", "line": "x", "insertafter": "^a"})).edit("a\nb\n"), "a\nx\nb\n");
        assert_eq!(m(json!({"path": "/x", "line": "x", "insertbefore": "BOF"})).edit("a\n"), "x\na\n");
    }

    #[test]
    fn absent_and_backrefs() {
        assert_eq!(m(json!({"path": "/x", "regexp": "^#", "state": "absent"})).edit("#c\nk\n"), "k\n");
        assert_eq!(m(json!({"path": "/x", "regexp": "^(\\w+)=.*", "line": "\\1=on", "backrefs": true})).edit("debug=off\n"), "debug=on\n");
    }
}
