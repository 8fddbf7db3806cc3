//! `file`: directories, empty files, links, removal and attributes.

use super::args::{Flag, Mode, Text};
use super::remote_file::{self, FileState, Kind};
use super::{Change, Failure, ModuleContext, ModuleError, StatefulModule};
use crate::transport::RemoteCommand;
use serde::Deserialize;

/// `state:` of the file module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// Only attributes of an existing file.
    #[default]
    File,
    /// A directory (with parents).
    Directory,
    /// Nothing at the path.
    Absent,
    /// An (empty, if new) file.
    Touch,
    /// A symbolic link to `src`.
    Link,
}

/// Arguments of `file`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileModule {
    #[serde(alias = "dest", alias = "name")]
    path: Text,
    #[serde(default)]
    state: FileKind,
    mode: Option<Mode>,
    owner: Option<Text>,
    group: Option<Text>,
    src: Option<Text>,
    #[serde(default)]
    force: Flag,
    #[serde(default)]
    follow: Option<Flag>,
}

impl FileModule {
    /// The path the task is about.
    pub fn path(&self) -> &str {
        &self.path.0
    }

    fn attr_changes(&self, st: &FileState, changes: &mut Vec<Change>) {
        let path = &self.path.0;
        if let Some(Mode(mode)) = self.mode {
            if st.mode != Some(mode) && st.kind != Kind::Link {
                changes.push(Change {
                    summary: format!("chmod {mode:o} {path}{}", st.mode.map(|m| format!(" (was {m:o})")).unwrap_or_default()),
                    commands: vec![RemoteCommand::argv(["chmod".to_string(), format!("{mode:o}"), "--".into(), path.clone()])],
                    diff: None,
                });
            }
        }
        if let Some(owner) = &self.owner {
            if st.owner.as_deref() != Some(owner.0.as_str()) {
                changes.push(Change {
                    summary: format!("chown {} {path}", owner.0),
                    commands: vec![RemoteCommand::argv(["chown", "-h", "--", &owner.0, path])],
                    diff: None,
                });
            }
        }
        if let Some(group) = &self.group {
            if st.group.as_deref() != Some(group.0.as_str()) {
                changes.push(Change {
                    summary: format!("chgrp {} {path}", group.0),
                    commands: vec![RemoteCommand::argv(["chgrp", "-h", "--", &group.0, path])],
                    diff: None,
                });
            }
        }
    }

    /// The state a freshly created object will have, so attributes are planned in the same run.
    fn fresh(&self, kind: Kind) -> FileState {
        FileState::bare(&self.path.0, kind)
    }
}

impl StatefulModule for FileModule {
    type State = FileState;

    async fn observe(&self, cx: &ModuleContext<'_>) -> Result<FileState, ModuleError> {
        let _ = self.follow;
        remote_file::observe(cx, &self.path.0, false).await
    }

    fn plan(&self, st: &FileState) -> Result<Vec<Change>, Failure> {
        let path = &self.path.0;
        let mut changes = Vec::new();
        match self.state {
            FileKind::Absent => {
                if st.kind != Kind::Absent {
                    changes.push(Change { summary: format!("remove {path}"), commands: vec![RemoteCommand::argv(["rm", "-rf", "--", path])], diff: None });
                }
            }
            FileKind::Directory => match st.kind {
                Kind::Directory => self.attr_changes(st, &mut changes),
                Kind::Absent => {
                    changes.push(Change {
                        summary: format!("create directory {path}"),
                        commands: vec![RemoteCommand::argv(["mkdir", "-p", "--", path])],
                        diff: None,
                    });
                    self.attr_changes(&self.fresh(Kind::Directory), &mut changes);
                }
                _ => return Err(Failure::msg(format!("{path} exists and is not a directory"))),
            },
            FileKind::Touch => match st.kind {
                // Ansible's touch reports a change on every run; ferry creates the
                // file when it is missing and otherwise leaves timestamps alone, so
                // a second run is `changed=0`.
                Kind::Absent => {
                    changes.push(Change {
                        summary: format!("create empty file {path}"),
                        commands: vec![RemoteCommand::argv(["touch", "--", path])],
                        diff: None,
                    });
                    self.attr_changes(&self.fresh(Kind::File), &mut changes);
                }
                _ => self.attr_changes(st, &mut changes),
            },
            FileKind::File => match st.kind {
                Kind::Absent => return Err(Failure::msg(format!("file {path} is absent; use `state: touch` to create it"))),
                _ => self.attr_changes(st, &mut changes),
            },
            FileKind::Link => {
                let Some(src) = &self.src else { return Err(Failure::msg("`state: link` needs `src`".to_string())) };
                match st.kind {
                    Kind::Link if st.link_target.as_deref() == Some(src.0.as_str()) => self.attr_changes(st, &mut changes),
                    Kind::Absent | Kind::Link => {
                        changes.push(Change {
                            summary: format!("link {path} -> {}", src.0),
                            commands: vec![RemoteCommand::argv(["ln", "-sfn", "--", &src.0, path])],
                            diff: None,
                        });
                    }
                    _ if self.force.0 => {
                        changes.push(Change {
                            summary: format!("replace {path} with a link to {}", src.0),
                            commands: vec![RemoteCommand::argv(["rm", "-rf", "--", path]), RemoteCommand::argv(["ln", "-sfn", "--", &src.0, path])],
                            diff: None,
                        });
                    }
                    _ => return Err(Failure::msg(format!("{path} exists and is not a link; set `force: true` to replace it"))),
                }
            }
        }
        Ok(changes)
    }

    fn result(&self, _st: &FileState, _applied: &[crate::transport::CommandOutput]) -> serde_json::Map<String, crate::vars::Value> {
        let mut m = serde_json::Map::new();
        m.insert("path".into(), self.path.0.clone().into());
        m.insert(
            "state".into(),
            match self.state {
                FileKind::File | FileKind::Touch => "file",
                FileKind::Directory => "directory",
                FileKind::Absent => "absent",
                FileKind::Link => "link",
            }
            .into(),
        );
        m
    }
}
