//! `copy` and `template`: the desired bytes are known on the controller
//! (given, read from `src`, or rendered), so the plan is a sha256 compare.

use super::args::{self, Flag, Mode, Text};
use super::remote_file::DesiredFile;
use super::{run_stateful, Failure, ModuleContext, ModuleError, ModuleOutput};
use crate::vars::Value;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CopyArgs {
    src: Option<Text>,
    content: Option<Value>,
    dest: Text,
    mode: Option<Mode>,
    owner: Option<Text>,
    group: Option<Text>,
    #[serde(default = "yes")]
    force: Flag,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateArgs {
    src: Text,
    dest: Text,
    mode: Option<Mode>,
    owner: Option<Text>,
    group: Option<Text>,
    #[serde(default = "yes")]
    force: Flag,
}

fn yes() -> Flag {
    Flag(true)
}

#[derive(Debug)]
enum Source {
    Content(Vec<u8>),
    File(String),
    Template(String),
}

/// A file to put on the host.
#[derive(Debug)]
pub struct CopyModule {
    source: Source,
    dest: String,
    mode: Option<u32>,
    owner: Option<String>,
    group: Option<String>,
    force: bool,
}

impl CopyModule {
    /// The destination path.
    pub fn dest(&self) -> &str {
        &self.dest
    }

    /// From `copy:` arguments.
    pub fn from_copy_args(raw: &Value) -> Result<Self, (String, String)> {
        let a: CopyArgs = args::parse("copy", raw)?;
        let source = match (a.src, a.content) {
            (Some(_), Some(_)) => return Err(("content".into(), "`copy` takes `src` or `content`, not both".into())),
            (None, None) => return Err((String::new(), "`copy` needs `src` or `content`".into())),
            (Some(src), None) => Source::File(src.0),
            (None, Some(Value::String(s))) => Source::Content(s.into_bytes()),
            // Ansible writes structured content as JSON.
            (None, Some(other)) => Source::Content(serde_json::to_string(&other).unwrap_or_default().into_bytes()),
        };
        let mut dest = a.dest.0;
        if dest.ends_with('/') {
            if let Source::File(src) = &source {
                dest.push_str(std::path::Path::new(src).file_name().and_then(|n| n.to_str()).unwrap_or(src));
            }
        }
        Ok(CopyModule { source, dest, mode: a.mode.map(|m| m.0), owner: a.owner.map(|t| t.0), group: a.group.map(|t| t.0), force: a.force.0 })
    }

    /// From `template:` arguments.
    pub fn from_template_args(raw: &Value) -> Result<Self, (String, String)> {
        let a: TemplateArgs = args::parse("template", raw)?;
        Ok(CopyModule {
            source: Source::Template(a.src.0),
            dest: a.dest.0,
            mode: a.mode.map(|m| m.0),
            owner: a.owner.map(|t| t.0),
            group: a.group.map(|t| t.0),
            force: a.force.0,
        })
    }

    /// Resolves the bytes on the controller, then converges the remote file.
    pub async fn run(&self, cx: &ModuleContext<'_>, _is_template: bool) -> Result<ModuleOutput, ModuleError> {
        let content = match &self.source {
            Source::Content(c) => c.clone(),
            Source::File(name) => {
                let path = cx.find_file(name, "files")?;
                if path.is_dir() {
                    return Err(ModuleError::Failed(Failure::msg(format!(
                        "`src` {} is a directory; copying directories is not supported yet",
                        path.display()
                    ))));
                }
                std::fs::read(&path).map_err(|e| ModuleError::Failed(Failure::msg(format!("cannot read {}: {e}", path.display()))))?
            }
            Source::Template(name) => {
                let path = cx.find_file(name, "templates")?;
                cx.templates
                    .render_file(&path.to_string_lossy(), cx.vars_ctx)
                    .map_err(|e| ModuleError::Failed(Failure::msg(format!("template {}: {e}", path.display()))))?
                    .into_bytes()
            }
        };
        let desired =
            DesiredFile { path: self.dest.clone(), content, mode: self.mode, owner: self.owner.clone(), group: self.group.clone(), force: self.force };
        run_stateful(&desired, cx).await
    }
}
