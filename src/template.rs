//! Templating: the one minijinja environment of a run, with the filters, tests
//! and lookups Ansible playbooks rely on.
//!
//! Strings are compiled once and cached by their source text (the same task
//! string on 200 hosts compiles once). Undefined variables are errors (strict
//! mode) that name the variable, so a typo reads like a compiler error.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use indexmap::IndexMap;
use minijinja::value::{Kwargs, Object, ObjectExt, Rest, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};
use regex::Regex;
use serde::Serialize as _;
use sha2::Digest as _;

use crate::vars::{Value, Vars};

/// A minijinja value (the render context and everything inside it).
type MjValue = minijinja::Value;

/// What the `omit` variable holds. A module argument whose rendered value is
/// exactly this string must be dropped, as Ansible does for `default(omit)`.
pub const OMIT: &str = "__ferry_omit_placeholder__";

/// Loader-name prefix of an inline template string; the rest of the name is the
/// source. The NUL byte keeps these names apart from any file name.
const INLINE: &str = "\u{0}inline:";
/// Loader-name prefix of a bare expression; the rest of the name is the expression.
const EXPR: &str = "\u{0}expr:";
/// The variable an expression's value is assigned to inside its wrapper template.
const RESULT_VAR: &str = "__ferry_result";
/// Names the environment defines itself: never reported as undefined variables.
const GLOBALS: &str = "range dict debug namespace lookup query q omit";
/// Jinja words that look like identifiers but never name a variable.
const KEYWORDS: &str = "and or not in is if else elif endif for endfor set endset \
    true false none True False None block endblock macro endmacro call endcall \
    filter endfilter with endwith include import from as recursive raw endraw \
    extends ignore missing context without autoescape endautoescape do continue break";

fn is_word_in(words: &str, name: &str) -> bool {
    words.split_whitespace().any(|w| w == name)
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TemplateError {
    /// An undefined variable or attribute. `name` is the undefined path as
    /// written (`ceph_fsid`, `hostvars['x'].foo`); `detail` is one sentence,
    /// e.g. "undefined variable `ceph_fsid`".
    #[error("{detail} in {}", excerpt(.template))]
    Undefined {
        /// The undefined variable, or the path to the missing attribute.
        name: String,
        /// The template text (or file name) being rendered.
        template: String,
        /// What is undefined, and where.
        detail: String,
    },
    /// Syntax error in a template string, with the template text and minijinja's line info.
    #[error("syntax error: {detail} in {}", excerpt(.template))]
    Syntax {
        /// The template text (or file name).
        template: String,
        /// minijinja's message with the line.
        detail: String,
    },
    /// Any other render error (filter failure, type error).
    #[error("{detail} in {}", excerpt(.template))]
    Render {
        /// The template text (or file name).
        template: String,
        /// What went wrong.
        detail: String,
    },
}

/// The first line of a template, shortened, for one-line messages.
fn excerpt(template: &str) -> String {
    let first = template.lines().next().unwrap_or("");
    let mut short: String = first.chars().take(80).collect();
    if short.len() < first.len() || template.lines().nth(1).is_some() {
        short.push('…');
    }
    format!("`{short}`")
}

/// What was being rendered when an error occurred.
#[derive(Clone, Copy)]
enum Origin<'a> {
    /// An inline template string.
    Str(&'a str),
    /// A bare expression.
    Expr(&'a str),
    /// A template file, by the name it was asked for.
    File(&'a str),
}

impl Origin<'_> {
    fn text(&self) -> &str {
        match self {
            Origin::Str(s) | Origin::Expr(s) | Origin::File(s) => s,
        }
    }
}

/// The one template environment of a run. Cheap to share (`Arc<Templates>`), Send + Sync.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    dirs: Arc<Vec<PathBuf>>,
    /// How many inline strings and expressions were compiled: proves the cache works.
    #[cfg(test)]
    compiles: Arc<std::sync::atomic::AtomicUsize>,
}

impl Templates {
    /// Strict undefined behaviour (an undefined variable is an error, `default`
    /// filter and `is defined` still work). `templates_dirs`: where the
    /// `template` module looks up files; also the loader for `{% include %}`.
    pub fn new(templates_dirs: Vec<PathBuf>) -> Templates {
        let dirs = Arc::new(templates_dirs);
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Ansible's environment: trim_blocks on, trailing newlines kept.
        env.set_trim_blocks(true);
        env.set_keep_trailing_newline(true);
        // minijinja would pick HTML or JSON escaping from the name's extension
        // (`x.yml.j2`, or an inline string ending in `.html`); config files
        // must come out verbatim.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_formatter(ansible_formatter);
        env.set_unknown_method_callback(py_method);

        #[cfg(test)]
        let compiles = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        #[cfg(test)]
        let counter = Arc::clone(&compiles);
        let loader_dirs = Arc::clone(&dirs);
        // Only parses; used to reject an expression before wrapping it in a
        // `{% set %}` tag, so `a %}{% b` cannot pass as one.
        let checker = Environment::empty();
        env.set_loader(move |name| {
            #[cfg(test)]
            if name.starts_with('\u{0}') {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if let Some(source) = name.strip_prefix(INLINE) {
                return Ok(Some(source.to_string()));
            }
            if let Some(expr) = name.strip_prefix(EXPR) {
                compile_expression(&checker, expr)?;
                return Ok(Some(format!("{{% set {RESULT_VAR} = {expr} %}}")));
            }
            load_file(&loader_dirs, name)
        });

        register_filters(&mut env);
        register_tests(&mut env);
        let lookup_dirs = Arc::clone(&dirs);
        let query_dirs = Arc::clone(&dirs);
        env.add_function("lookup", move |plugin: &str, terms: Rest<MjValue>, kwargs: Kwargs| lookup(&lookup_dirs, plugin, &terms, &kwargs, false));
        let query = move |plugin: &str, terms: Rest<MjValue>, kwargs: Kwargs| lookup(&query_dirs, plugin, &terms, &kwargs, true);
        env.add_function("query", query.clone());
        env.add_function("q", query);
        env.add_global("omit", OMIT);

        Templates {
            env,
            dirs,
            #[cfg(test)]
            compiles,
        }
    }

    /// Builds the render context from variables: every var of `vars` as a
    /// top-level name, plus `hostvars`, `groups` and `vars` (all of them, for
    /// `vars['x_' + name]`). Shared parts are reference-counted, not copied.
    pub fn context(&self, vars: &Vars, shared: &SharedContext) -> MjValue {
        self.build_context(vars, None, shared)
    }

    /// Like [`context`](Self::context) for a task's vars: where they refer to
    /// the play's host lists ([`PLAY_HOSTS_ALL`], [`PLAY_HOSTS_LIVE`]), the
    /// context holds `hosts`' lists, shared, not copied.
    pub fn play_context(&self, vars: &Vars, hosts: &PlayHosts, shared: &SharedContext) -> MjValue {
        self.build_context(vars, Some(hosts), shared)
    }

    fn build_context(&self, vars: &Vars, hosts: Option<&PlayHosts>, shared: &SharedContext) -> MjValue {
        let own = vars.iter().map(|(k, v)| (k.clone(), hosts.and_then(|h| h.resolve(v)).unwrap_or_else(|| json_to_value(v)))).collect();
        MjValue::from_object(HostContext { vars: MjValue::from_object(OrderedMap(own)), hostvars: shared.hostvars.clone(), groups: shared.groups.clone() })
    }

    /// Renders one string. Strings without `{{`, `{%` or `{#` are returned as-is.
    pub fn render_str(&self, source: &str, ctx: &MjValue) -> Result<String, TemplateError> {
        if !has_template_syntax(source) {
            return Ok(source.to_string());
        }
        let origin = Origin::Str(source);
        let tmpl = self.env.get_template(&format!("{INLINE}{source}")).map_err(|e| self.error(&e, origin, ctx))?;
        tmpl.render(ctx).map_err(|e| self.error(&e, origin, ctx))
    }

    /// Renders every string inside a JSON value (keys too). A string that is
    /// exactly one `{{ expr }}` yields the expression's value with its type
    /// (list, dict, number, bool); anything else renders to a string.
    pub fn render_value(&self, value: &Value, ctx: &MjValue) -> Result<Value, TemplateError> {
        match value {
            Value::String(s) => {
                if let Some(expr) = single_expression(s) {
                    match self.eval_value(expr, ctx) {
                        // A string result keeps the text around the braces
                        // (`"{{ token }}\n"` must end with its newline).
                        Ok(v) if v.kind() == ValueKind::String && s.trim() != s => {}
                        Ok(v) => return self.to_json(&v, Origin::Expr(expr), ctx),
                        // `{{ a }} b }}` looks like one expression but is a
                        // template; let the template parser have the last word.
                        Err(TemplateError::Syntax { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                self.render_str(s, ctx).map(Value::String)
            }
            Value::Array(items) => items.iter().map(|v| self.render_value(v, ctx)).collect::<Result<Vec<_>, _>>().map(Value::Array),
            Value::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    out.insert(self.render_str(k, ctx)?, self.render_value(v, ctx)?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// Evaluates a bare Jinja expression (`when:`, `changed_when:`,
    /// `failed_when:`, `until:`) to a bool with Jinja truthiness. A
    /// `{{ }}`-wrapped expression is accepted too.
    pub fn eval_condition(&self, expr: &str, ctx: &MjValue) -> Result<bool, TemplateError> {
        Ok(self.eval_value(expr, ctx)?.is_true())
    }

    /// Evaluates an expression to a JSON value (`loop: "{{ x }}"` etc.).
    pub fn eval_expr(&self, expr: &str, ctx: &MjValue) -> Result<Value, TemplateError> {
        let expr = single_expression(expr).unwrap_or(expr);
        let value = self.eval_value(expr, ctx)?;
        self.to_json(&value, Origin::Expr(expr.trim()), ctx)
    }

    /// Renders a template file (for the `template` module): `name` resolved in
    /// the templates dirs, or an absolute/relative path.
    pub fn render_file(&self, name: &str, ctx: &MjValue) -> Result<String, TemplateError> {
        let origin = Origin::File(name);
        let tmpl = self.env.get_template(name).map_err(|e| self.error(&e, origin, ctx))?;
        tmpl.render(ctx).map_err(|e| self.error(&e, origin, ctx))
    }

    /// Top-level variable names a template string (or, with `is_expr`, an
    /// expression) reads without defining them itself. Static analysis: every
    /// branch counts, and variables read by included files are not seen.
    pub fn referenced_vars(&self, source: &str, is_expr: bool) -> Result<BTreeSet<String>, TemplateError> {
        let names = if is_expr {
            let expr = single_expression(source).unwrap_or(source);
            let origin = Origin::Expr(expr);
            compile_expression(&self.env, expr).map_err(|e| self.error(&e, origin, &MjValue::UNDEFINED))?.undeclared_variables(false)
        } else {
            if !has_template_syntax(source) {
                return Ok(BTreeSet::new());
            }
            let origin = Origin::Str(source);
            self.env.template_from_str(source).map_err(|e| self.error(&e, origin, &MjValue::UNDEFINED))?.undeclared_variables(false)
        };
        Ok(names.into_iter().filter(|n| !is_word_in(GLOBALS, n)).collect())
    }

    /// Evaluates an expression through a cached `{% set %}` wrapper template:
    /// minijinja caches templates but not expressions, and an `Expression`
    /// borrows the environment so it cannot be stored beside it.
    fn eval_value(&self, expr: &str, ctx: &MjValue) -> Result<MjValue, TemplateError> {
        let expr = single_expression(expr).unwrap_or(expr).trim();
        let origin = Origin::Expr(expr);
        if expr.is_empty() {
            return Err(TemplateError::Syntax { template: expr.to_string(), detail: "empty expression".to_string() });
        }
        let tmpl = self.env.get_template(&format!("{EXPR}{expr}")).map_err(|e| self.error(&e, origin, ctx))?;
        let captured = tmpl.render_captured(ctx).map_err(|e| self.error(&e, origin, ctx))?;
        let value = captured.state().lookup(RESULT_VAR).unwrap_or(MjValue::UNDEFINED);
        if value.is_undefined() {
            // Strict mode lets `x = foo` through; the caller needs the value.
            return Err(self.undefined(None, origin, ctx));
        }
        Ok(value)
    }

    /// Converts an evaluated value to JSON, naming the variable if part of it is undefined.
    fn to_json(&self, v: &MjValue, origin: Origin<'_>, ctx: &MjValue) -> Result<Value, TemplateError> {
        value_to_json(v).map_err(|e| self.error(&e, origin, ctx))
    }

    /// Turns a minijinja error into a `TemplateError` that names the culprit.
    fn error(&self, err: &Error, origin: Origin<'_>, ctx: &MjValue) -> TemplateError {
        let template = origin.text().to_string();
        match err.kind() {
            ErrorKind::UndefinedError => self.undefined(Some(err), origin, ctx),
            ErrorKind::SyntaxError => {
                TemplateError::Syntax { template, detail: format!("{}{}", err.detail().unwrap_or("invalid syntax"), location(err, origin)) }
            }
            ErrorKind::TemplateNotFound => {
                let mut places: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
                places.push("the current directory".to_string());
                TemplateError::Render {
                    detail: format!("{} (looked in {}){}", err.detail().unwrap_or("template not found"), places.join(", "), location(err, origin)),
                    template,
                }
            }
            _ => TemplateError::Render { template, detail: format!("{}{}", describe(err), location(err, origin)) },
        }
    }

    /// Finds which variable or attribute is undefined. minijinja only says
    /// "undefined value", so the failing span (or the whole source) is scanned
    /// for variable paths, and each is walked through the context.
    fn undefined(&self, err: Option<&Error>, origin: Origin<'_>, ctx: &MjValue) -> TemplateError {
        let template = origin.text().to_string();
        let from_err = err.and_then(|e| e.template_source());
        let source = from_err.unwrap_or(origin.text());
        let span = err.and_then(|e| e.range()).and_then(|r| source.get(r)).unwrap_or("");
        // Errors raised while converting a value carry no source: then the
        // origin is the text, and an expression must be parsed as one.
        let declared_free = match (from_err, origin) {
            (None, Origin::Expr(expr)) => compile_expression(&self.env, expr).ok().map(|e| e.undeclared_variables(false)),
            _ => self.env.template_from_str(source).ok().map(|t| t.undeclared_variables(false)),
        };
        let is_free = |name: &str| !is_word_in(GLOBALS, name) && declared_free.as_ref().is_none_or(|free| free.contains(name));
        let at = err.map(|e| location(e, origin)).unwrap_or_default();
        for text in [span, source] {
            for path in scan_paths(text) {
                if let Some((name, detail)) = missing_part(&path, ctx, &is_free) {
                    return TemplateError::Undefined { name, template, detail: format!("{detail}{at}") };
                }
            }
        }
        let what = span.trim();
        TemplateError::Undefined {
            name: what.to_string(),
            detail: if what.is_empty() { format!("undefined value{at}") } else { format!("`{what}` is undefined{at}") },
            template,
        }
    }
}

/// Where an error happened, as a suffix: the file and line for files (and
/// includes), the line for multi-line strings, nothing for one-liners.
fn location(err: &Error, origin: Origin<'_>) -> String {
    let line = err.line().unwrap_or(0);
    match err.name() {
        // Internal names: ours start with NUL, minijinja's own with `<`.
        Some(name) if !name.starts_with(['\u{0}', '<']) => format!(" ({name} line {line})"),
        _ => match origin {
            Origin::Str(s) | Origin::Expr(s) if s.trim_end().contains('\n') => {
                format!(" (line {line})")
            }
            _ => String::new(),
        },
    }
}

/// minijinja's message and its causes, without its internal template names.
fn describe(err: &Error) -> String {
    let mut out = match err.detail() {
        Some(d) => format!("{}: {d}", err.kind()),
        None => err.kind().to_string(),
    };
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        match c.downcast_ref::<Error>() {
            Some(e) => match e.detail() {
                Some(d) => out.push_str(&format!(": {}: {d}", e.kind())),
                None => out.push_str(&format!(": {}", e.kind())),
            },
            None => out.push_str(&format!(": {c}")),
        }
        cause = c.source();
    }
    out
}

/// Does the string contain anything minijinja would interpret?
fn has_template_syntax(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// `env.compile_expression(expr)` without minijinja 2's panic ("empty lexer
/// stack") on text after a `}}` that closes the expression (`a }} b`, found by
/// tests/fuzz_parsers.rs); minijinja 3 reports a syntax error there, and so
/// does this.
fn compile_expression<'env, 'source>(env: &'env Environment<'source>, expr: &'source str) -> Result<minijinja::Expression<'env, 'source>, Error> {
    if closes_expression_early(expr) {
        return Err(Error::new(ErrorKind::SyntaxError, "unexpected `}}`: it ends the expression, but more text follows"));
    }
    env.compile_expression(expr)
}

/// Whether `expr` holds a `}}` outside brackets and string literals, which
/// minijinja's lexer takes as the end of the expression.
fn closes_expression_early(expr: &str) -> bool {
    let bytes = expr.as_bytes();
    let mut depth = 0isize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b'}' if depth == 0 && bytes.get(i + 1) == Some(&b'}') => return true,
            b')' | b']' | b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    false
}

/// The expression inside a string that is exactly one `{{ expr }}`
/// (surrounding whitespace and `-`/`+` whitespace control allowed).
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    if has_template_syntax(inner) || inner.trim().is_empty() {
        return None;
    }
    Some(inner.trim())
}

/// Reads a template file: absolute paths as they are, relative ones from each
/// templates dir, then from the current directory.
fn load_file(dirs: &[PathBuf], name: &str) -> Result<Option<String>, Error> {
    let path = Path::new(name);
    let candidates: Vec<PathBuf> =
        if path.is_absolute() { vec![path.to_path_buf()] } else { dirs.iter().map(|d| d.join(path)).chain(std::iter::once(path.to_path_buf())).collect() };
    for candidate in candidates {
        match std::fs::read_to_string(&candidate) {
            Ok(text) => return Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::new(ErrorKind::InvalidOperation, format!("cannot read template {}: {e}", candidate.display()))),
        }
    }
    Ok(None)
}

/// Prints values as Ansible does: `none` as nothing, booleans as Python's
/// `True`/`False`.
fn ansible_formatter(out: &mut minijinja::Output, state: &State, value: &MjValue) -> Result<(), Error> {
    match value.kind() {
        ValueKind::None => Ok(()),
        ValueKind::Bool => {
            out.write_str(if value.is_true() { "True" } else { "False" })?;
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

// ---------------------------------------------------------------------------
// Context values
// ---------------------------------------------------------------------------

/// Parts of the context shared by all hosts of a play: built once per play.
#[derive(Debug, Clone)]
pub struct SharedContext {
    /// A lazy map host -> vars; each host's vars are converted on first access.
    hostvars: MjValue,
    /// group -> host names.
    groups: MjValue,
}

impl SharedContext {
    /// Wraps the hosts' variables (not copied) and converts the groups once.
    pub fn new(hostvars: Arc<IndexMap<String, Vars>>, groups: &IndexMap<String, Vec<String>>) -> SharedContext {
        let cache = (0..hostvars.len()).map(|_| OnceLock::new()).collect();
        let groups = groups
            .iter()
            .map(|(g, hosts)| {
                let hosts: Vec<MjValue> = hosts.iter().map(|h| MjValue::from(h.as_str())).collect();
                (g.clone(), MjValue::from(hosts))
            })
            .collect();
        SharedContext { hostvars: MjValue::from_object(HostVars { hosts: hostvars, cache }), groups: MjValue::from_object(OrderedMap(groups)) }
    }
}

impl Default for SharedContext {
    fn default() -> Self {
        SharedContext::new(Arc::new(IndexMap::new()), &IndexMap::new())
    }
}

/// What a task's vars hold under `ansible_play_hosts_all` in place of the list.
pub const PLAY_HOSTS_ALL: &str = "__ferry_play_hosts_all__";
/// What a task's vars hold under `ansible_play_hosts`, `play_hosts` and
/// `ansible_play_batch` in place of the list.
pub const PLAY_HOSTS_LIVE: &str = "__ferry_play_hosts_live__";

/// The play's host lists as of the current task, the same for every host.
/// Converted once per task and shared by every host's context
/// ([`Templates::play_context`]): copied and converted per host, they made
/// each host's task cost grow with the number of hosts.
#[derive(Debug, Clone)]
pub struct PlayHosts {
    /// `ansible_play_hosts_all`.
    all: MjValue,
    /// `ansible_play_hosts`, `play_hosts`, `ansible_play_batch`.
    live: MjValue,
}

impl PlayHosts {
    /// The lists of a play: all its hosts, and those still in it.
    pub fn new(all: &[String], live: &[String]) -> PlayHosts {
        let list = |hosts: &[String]| MjValue::from(hosts.iter().map(|h| MjValue::from(h.as_str())).collect::<Vec<_>>());
        PlayHosts { all: list(all), live: list(live) }
    }

    /// The list `v` refers to, if it is one of the references.
    fn resolve(&self, v: &Value) -> Option<MjValue> {
        match v.as_str()? {
            PLAY_HOSTS_ALL => Some(self.all.clone()),
            PLAY_HOSTS_LIVE => Some(self.live.clone()),
            _ => None,
        }
    }
}

/// A map that keeps insertion order. minijinja's own maps are sorted unless
/// its `preserve_order` feature is on; Ansible users expect YAML order.
#[derive(Debug, Default)]
struct OrderedMap(IndexMap<String, MjValue>);

/// The string form of a map key: JSON keys are strings, and YAML's `1:` became "1".
fn key_string(key: &MjValue) -> Option<String> {
    match key.kind() {
        ValueKind::String => key.as_str().map(str::to_string),
        ValueKind::Number | ValueKind::Bool => Some(key.to_string()),
        _ => None,
    }
}

impl Object for OrderedMap {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        match key.as_str() {
            Some(k) => self.0.get(k).cloned(),
            None => self.0.get(&key_string(key)?).cloned(),
        }
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<MjValue> {
        self.0.get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        self.mapped_enumerator(|this| Box::new(this.0.keys().map(|k| MjValue::from(k.as_str()))))
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }
}

/// `hostvars`: host name -> that host's vars, converted once on first access.
#[derive(Debug)]
struct HostVars {
    hosts: Arc<IndexMap<String, Vars>>,
    cache: Vec<OnceLock<MjValue>>,
}

impl Object for HostVars {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<MjValue> {
        let (index, _, vars) = self.hosts.get_full(key)?;
        let slot = self.cache.get(index)?;
        Some(slot.get_or_init(|| MjValue::from_object(OrderedMap(vars.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect()))).clone())
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        self.mapped_enumerator(|this| Box::new(this.hosts.keys().map(|k| MjValue::from(k.as_str()))))
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.hosts.len())
    }
}

/// Names every host's context has besides its vars; they win over vars of the
/// same name, as Ansible's magic variables do.
const MAGIC: [&str; 3] = ["hostvars", "groups", "vars"];

/// The render context of one host: its own vars plus the play's shared parts.
#[derive(Debug)]
struct HostContext {
    /// An `OrderedMap`, also exposed as `vars`.
    vars: MjValue,
    hostvars: MjValue,
    groups: MjValue,
}

impl HostContext {
    fn own(&self) -> Option<&OrderedMap> {
        self.vars.downcast_object_ref::<OrderedMap>()
    }
}

impl Object for HostContext {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<MjValue> {
        match key {
            "hostvars" => Some(self.hostvars.clone()),
            "groups" => Some(self.groups.clone()),
            "vars" => Some(self.vars.clone()),
            _ => self.own()?.0.get(key).cloned(),
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        self.mapped_enumerator(|this| {
            let own = this.own().into_iter().flat_map(|m| m.0.keys()).filter(|k| !MAGIC.contains(&k.as_str())).map(|k| MjValue::from(k.as_str()));
            Box::new(MAGIC.iter().map(|m| MjValue::from(*m)).chain(own))
        })
    }
}

/// Converts a variable to a template value, keeping map order.
fn json_to_value(v: &Value) -> MjValue {
    match v {
        Value::Null => MjValue::from(()),
        Value::Bool(b) => MjValue::from(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                MjValue::from(i)
            } else if let Some(u) = n.as_u64() {
                MjValue::from(u)
            } else {
                MjValue::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => MjValue::from(s.as_str()),
        Value::Array(items) => MjValue::from(items.iter().map(json_to_value).collect::<Vec<_>>()),
        Value::Object(map) => MjValue::from_object(OrderedMap(map.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect())),
    }
}

/// Converts a template value back to JSON. An undefined value anywhere inside
/// is an error (strict mode); functions and other plain objects become strings.
fn value_to_json(v: &MjValue) -> Result<Value, Error> {
    Ok(match v.kind() {
        ValueKind::Undefined => return Err(Error::from(ErrorKind::UndefinedError)),
        ValueKind::None => Value::Null,
        ValueKind::Bool => Value::Bool(v.is_true()),
        ValueKind::Number => {
            if v.is_integer() {
                if let Ok(i) = i64::try_from(v.clone()) {
                    return Ok(Value::from(i));
                }
                if let Ok(u) = u64::try_from(v.clone()) {
                    return Ok(Value::from(u));
                }
            }
            f64::try_from(v.clone()).ok().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
        }
        ValueKind::String => Value::String(v.as_str().unwrap_or_default().to_string()),
        ValueKind::Bytes => Value::String(String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned()),
        ValueKind::Seq | ValueKind::Iterable => Value::Array(v.try_iter()?.map(|item| value_to_json(&item)).collect::<Result<_, _>>()?),
        ValueKind::Map => {
            let mut out = serde_json::Map::new();
            for key in v.try_iter()? {
                let item = v.get_item(&key)?;
                let key = key_string(&key).unwrap_or_else(|| key.to_string());
                out.insert(key, value_to_json(&item)?);
            }
            Value::Object(out)
        }
        _ => Value::String(v.to_string()),
    })
}

/// The entries of a map value, in its order.
fn map_entries(v: &MjValue) -> Result<IndexMap<String, MjValue>, Error> {
    if v.kind() != ValueKind::Map {
        return Err(invalid(format!("expected a dictionary, got {}", v.kind())));
    }
    let mut out = IndexMap::new();
    for key in v.try_iter()? {
        let item = v.get_item(&key)?;
        out.insert(key_string(&key).unwrap_or_else(|| key.to_string()), item);
    }
    Ok(out)
}

fn map_value(entries: IndexMap<String, MjValue>) -> MjValue {
    MjValue::from_object(OrderedMap(entries))
}

// ---------------------------------------------------------------------------
// Naming the undefined variable
// ---------------------------------------------------------------------------

/// One step after a variable name: `.attr`, `['key']` or `[0]`.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Attr(String),
    Key(String),
    Index(i64),
}

/// A variable path as written in a template: `hostvars['x'].foo`.
#[derive(Debug, Clone, PartialEq)]
struct VarPath {
    head: String,
    steps: Vec<Step>,
}

fn show_path(head: &str, steps: &[Step]) -> String {
    let mut out = head.to_string();
    for step in steps {
        match step {
            Step::Attr(a) => {
                out.push('.');
                out.push_str(a);
            }
            Step::Key(k) => out.push_str(&format!("['{k}']")),
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Walks a path through the context; returns the undefined name and a sentence
/// if a part of it is missing. `is_free` says whether a name is read from the
/// context (rather than set by the template itself, like a loop variable).
fn missing_part(path: &VarPath, ctx: &MjValue, is_free: &dyn Fn(&str) -> bool) -> Option<(String, String)> {
    let head = ctx.get_attr(&path.head).ok().filter(|v| !v.is_undefined());
    let mut value = match head {
        Some(v) => v,
        None if is_free(&path.head) => return Some((path.head.clone(), format!("undefined variable `{}`", path.head))),
        None => return None,
    };
    for (i, step) in path.steps.iter().enumerate() {
        let next = match step {
            Step::Attr(a) => value.get_attr(a),
            Step::Key(k) => value.get_item(&MjValue::from(k.as_str())),
            Step::Index(n) => value.get_item(&MjValue::from(*n)),
        };
        match next.ok().filter(|v| !v.is_undefined()) {
            Some(v) => value = v,
            None => {
                let parent = show_path(&path.head, &path.steps[..i]);
                let detail = match step {
                    Step::Attr(a) | Step::Key(a) => format!("`{parent}` has no attribute `{a}`"),
                    Step::Index(n) => format!("`{parent}` has no item {n}"),
                };
                return Some((show_path(&path.head, &path.steps[..=i]), detail));
            }
        }
    }
    None
}

/// The code parts of a template (inside `{{ }}` and `{% %}`); an expression is all code.
fn code_regions(text: &str) -> Vec<&str> {
    if !text.contains("{{") && !text.contains("{%") {
        return vec![text];
    }
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start + 1..];
        let close = if after.starts_with('{') {
            "}}"
        } else if after.starts_with('%') {
            "%}"
        } else if after.starts_with('#') {
            "#}"
        } else {
            rest = after;
            continue;
        };
        let body = &after[1..];
        let end = body.find(close).unwrap_or(body.len());
        if close != "#}" {
            out.push(&body[..end]);
        }
        rest = body.get(end + 2..).unwrap_or("");
    }
    out
}

/// Variable paths in template code, skipping strings, keywords, filter and
/// test names, keyword-argument names and called functions.
fn scan_paths(text: &str) -> Vec<VarPath> {
    #[derive(PartialEq, Clone, Copy)]
    enum Prev {
        Other,
        Pipe,
        Dot,
        Is,
    }
    let mut paths = Vec::new();
    for code in code_regions(text) {
        let b = code.as_bytes();
        let mut i = 0;
        let mut prev = Prev::Other;
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_whitespace() || c == b'-' || c == b'+' {
                // `{{-` and `-}}` whitespace control leave a sign at the edges.
                if c != b' ' && !c.is_ascii_whitespace() {
                    prev = Prev::Other;
                }
                i += 1;
                continue;
            }
            if c == b'\'' || c == b'"' {
                i = skip_string(b, i);
                prev = Prev::Other;
                continue;
            }
            if c.is_ascii_digit() {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                    i += 1;
                }
                prev = Prev::Other;
                continue;
            }
            if c.is_ascii_alphabetic() || c == b'_' {
                let start = i;
                i = skip_ident(b, i);
                let word = &code[start..i];
                let next = next_non_space(b, i);
                let was = prev;
                prev = Prev::Other;
                if was == Prev::Pipe || was == Prev::Dot {
                    continue;
                }
                if was == Prev::Is {
                    if word == "not" {
                        prev = Prev::Is;
                    }
                    continue;
                }
                if word == "is" {
                    prev = Prev::Is;
                    continue;
                }
                if is_word_in(KEYWORDS, word) {
                    continue;
                }
                let is_call = next.map(|(_, ch)| ch == b'(').unwrap_or(false);
                let is_kwarg = next.map(|(j, ch)| ch == b'=' && b.get(j + 1) != Some(&b'=')).unwrap_or(false);
                if is_call || is_kwarg {
                    continue;
                }
                let (steps, end) = parse_steps(code, i);
                i = end;
                paths.push(VarPath { head: word.to_string(), steps });
                continue;
            }
            prev = match c {
                b'|' => Prev::Pipe,
                b'.' => Prev::Dot,
                _ => Prev::Other,
            };
            i += 1;
        }
    }
    paths
}

fn skip_ident(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    i
}

/// Index just past the string literal starting at `i`.
fn skip_string(b: &[u8], i: usize) -> usize {
    let quote = b[i];
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == quote {
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

fn next_non_space(b: &[u8], mut i: usize) -> Option<(usize, u8)> {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    b.get(i).map(|&c| (i, c))
}

/// Parses `.attr`, `['key']` and `[0]` steps after a name; stops before a method call.
fn parse_steps(code: &str, mut i: usize) -> (Vec<Step>, usize) {
    let b = code.as_bytes();
    let mut steps = Vec::new();
    loop {
        match b.get(i) {
            Some(b'.') if b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') => {
                let end = skip_ident(b, i + 1);
                if next_non_space(b, end).is_some_and(|(_, c)| c == b'(') {
                    break;
                }
                steps.push(Step::Attr(code[i + 1..end].to_string()));
                i = end;
            }
            Some(b'[') => {
                let Some((j, c)) = next_non_space(b, i + 1) else {
                    break;
                };
                let (step, after) = if c == b'\'' || c == b'"' {
                    let end = skip_string(b, j);
                    let literal = code.get(j + 1..end.saturating_sub(1)).unwrap_or("");
                    (Step::Key(literal.to_string()), end)
                } else if c.is_ascii_digit() {
                    let mut end = j;
                    while end < b.len() && b[end].is_ascii_digit() {
                        end += 1;
                    }
                    match code[j..end].parse() {
                        Ok(n) => (Step::Index(n), end),
                        Err(_) => break,
                    }
                } else {
                    break;
                };
                match next_non_space(b, after) {
                    Some((k, b']')) => {
                        steps.push(step);
                        i = k + 1;
                    }
                    _ => break,
                }
            }
            _ => break,
        }
    }
    (steps, i)
}

// ---------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Strict mode for filters that take any value: an undefined input is an
/// error (the caller then names the variable).
fn defined(v: &MjValue) -> Result<(), Error> {
    if v.is_undefined() {
        Err(Error::from(ErrorKind::UndefinedError))
    } else {
        Ok(())
    }
}

/// A string argument: strings as they are, other scalars in their printed form.
fn text_of(v: &MjValue) -> Result<String, Error> {
    defined(v)?;
    Ok(match v.as_str() {
        Some(s) => s.to_string(),
        None => py_str(v),
    })
}

/// Python's `str()` of a value, as Ansible filters see their inputs.
fn py_str(v: &MjValue) -> String {
    match v.kind() {
        ValueKind::None => "None".to_string(),
        ValueKind::Bool if v.is_true() => "True".to_string(),
        ValueKind::Bool => "False".to_string(),
        _ => v.to_string(),
    }
}

/// A positional argument, or else the keyword argument of the same name.
fn opt_arg<'a, T>(pos: Option<T>, kwargs: &'a Kwargs, name: &'a str) -> Result<Option<T>, Error>
where
    T: minijinja::value::ArgType<'a, Output = T>,
{
    match pos {
        Some(v) => Ok(Some(v)),
        None => kwargs.get::<Option<T>>(name),
    }
}

fn register_filters(env: &mut Environment<'static>) {
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json);
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("to_nice_yaml", to_yaml);
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("from_yaml_all", from_yaml_all);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", |s: &str| regex::escape(s));
    env.add_filter("basename", |p: &str| basename(p).to_string());
    env.add_filter("dirname", |p: &str| dirname(p).to_string());
    env.add_filter("path_join", path_join);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("bool", to_bool);
    env.add_filter("int", to_int);
    env.add_filter("float", to_float);
    env.add_filter("string", |v: &MjValue| text_of(v));
    env.add_filter("union", union);
    env.add_filter("intersect", intersect);
    env.add_filter("difference", difference);
    env.add_filter("symmetric_difference", symmetric_difference);
    env.add_filter("combine", combine);
    env.add_filter("flatten", flatten);
    env.add_filter("ternary", ternary);
    env.add_filter("quote", |v: &MjValue| -> Result<String, Error> { Ok(shell_quote(&text_of(v)?)) });
    env.add_filter("hash", hash);
    env.add_filter("mandatory", mandatory);
    env.add_filter("extract", extract);
    env.add_filter("type_debug", type_debug);
}

/// JSON's data model of a value, with map keys sorted when `sort`.
fn json_for_dump(v: &MjValue, sort: bool) -> Result<Value, Error> {
    defined(v)?;
    let json = value_to_json(v)?;
    Ok(if sort { sort_keys(json) } else { json })
}

fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sort_keys(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// Python's `json.dumps` default layout: `{"a": 1, "b": [1, 2]}`.
struct PythonCompact;

impl serde_json::ser::Formatter for PythonCompact {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

fn dump_json(json: &Value, indent: Option<usize>) -> Result<String, Error> {
    let mut buf = Vec::new();
    let result = match indent {
        Some(n) => {
            let pad = vec![b' '; n];
            let fmt = serde_json::ser::PrettyFormatter::with_indent(&pad);
            json.serialize(&mut serde_json::Serializer::with_formatter(&mut buf, fmt))
        }
        None => json.serialize(&mut serde_json::Serializer::with_formatter(&mut buf, PythonCompact)),
    };
    result.map_err(|e| invalid(format!("cannot serialize to JSON: {e}")))?;
    String::from_utf8(buf).map_err(|e| invalid(format!("cannot serialize to JSON: {e}")))
}

/// `to_json(indent=None, sort_keys=False)`.
fn to_json(v: &MjValue, kwargs: Kwargs) -> Result<String, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?;
    let sort = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    dump_json(&json_for_dump(v, sort)?, indent)
}

/// `to_nice_json(indent=4, sort_keys=True)`.
fn to_nice_json(v: &MjValue, indent: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let indent = opt_arg(indent, &kwargs, "indent")?.unwrap_or(4);
    let sort = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    dump_json(&json_for_dump(v, sort)?, Some(indent))
}

fn from_json(s: &str) -> Result<MjValue, Error> {
    serde_json::from_str::<Value>(s).map(|v| json_to_value(&v)).map_err(|e| invalid(format!("from_json: {e}")))
}

/// `to_yaml` and `to_nice_yaml`: block style, keys sorted as PyYAML does.
/// `indent` and `width` are accepted but serde_yaml has one fixed layout.
fn to_yaml(v: &MjValue, kwargs: Kwargs) -> Result<String, Error> {
    let _ = kwargs.get::<Option<usize>>("indent")?;
    let _ = kwargs.get::<Option<usize>>("width")?;
    let _ = kwargs.get::<Option<bool>>("default_flow_style")?;
    let _ = kwargs.get::<Option<bool>>("allow_unicode")?;
    let sort = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    serde_yaml::to_string(&json_for_dump(v, sort)?).map_err(|e| invalid(format!("to_yaml: {e}")))
}

fn from_yaml(s: &str) -> Result<MjValue, Error> {
    serde_yaml::from_str::<serde_yaml::Value>(s).map(|y| json_to_value(&crate::vars::from_yaml(y))).map_err(|e| invalid(format!("from_yaml: {e}")))
}

fn from_yaml_all(s: &str) -> Result<MjValue, Error> {
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(s) {
        let y = <serde_yaml::Value as serde::Deserialize>::deserialize(doc).map_err(|e| invalid(format!("from_yaml_all: {e}")))?;
        docs.push(json_to_value(&crate::vars::from_yaml(y)));
    }
    Ok(MjValue::from(docs))
}

fn b64encode(v: &MjValue) -> Result<String, Error> {
    Ok(base64::engine::general_purpose::STANDARD.encode(text_of(v)?))
}

/// Like Python's `b64decode`: characters outside the alphabet (newlines) are skipped.
fn b64decode(s: &str) -> Result<String, Error> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(clean).map_err(|e| invalid(format!("b64decode: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Compiled regexes by flags and pattern: templates repeat on every host.
fn regex(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Regex, Error> {
    /// (ignorecase, multiline, pattern)
    type Key = (bool, bool, String);
    static CACHE: OnceLock<Mutex<HashMap<Key, Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (ignorecase, multiline, pattern.to_string());
    if let Some(re) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(re.clone());
    }
    let re = regex::RegexBuilder::new(pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| invalid(format!("invalid regular expression {pattern:?}: {e}")))?;
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, re.clone());
    Ok(re)
}

fn regex_flags(kwargs: &Kwargs) -> Result<(bool, bool), Error> {
    Ok((kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false), kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false)))
}

/// Rewrites a Python replacement (`\1`, `\g<1>`, `\g<name>`) into the regex crate's (`${1}`).
fn python_replacement(repl: &str) -> String {
    let mut out = String::with_capacity(repl.len());
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut group = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        if group.len() == 2 {
                            break;
                        }
                        group.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|&ch| ch != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

/// `regex_replace(pattern, replacement='', ignorecase=False, multiline=False, count=0)`.
fn regex_replace(value: &MjValue, pattern: Option<&str>, replacement: Option<&str>, kwargs: Kwargs) -> Result<String, Error> {
    let text = text_of(value)?;
    let pattern = opt_arg(pattern, &kwargs, "pattern")?.unwrap_or("");
    let replacement = opt_arg(replacement, &kwargs, "replacement")?.unwrap_or("");
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    kwargs.assert_all_used()?;
    let re = regex(pattern, ignorecase, multiline)?;
    Ok(re.replacen(&text, count, python_replacement(replacement).as_str()).into_owned())
}

/// `regex_search(pattern, '\\1', '\\g<name>', ignorecase=False, multiline=False)`:
/// the match (or the listed groups), or none.
fn regex_search(value: &MjValue, pattern: &str, groups: Rest<String>, kwargs: Kwargs) -> Result<MjValue, Error> {
    let text = text_of(value)?;
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let re = regex(pattern, ignorecase, multiline)?;
    let Some(caps) = re.captures(&text) else {
        return Ok(MjValue::from(()));
    };
    if groups.is_empty() {
        return Ok(MjValue::from(caps.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::new();
    for g in groups.iter() {
        let m = if let Some(name) = g.strip_prefix("\\g<").and_then(|n| n.strip_suffix('>')) {
            match name.parse::<usize>() {
                Ok(n) => caps.get(n),
                Err(_) => caps.name(name),
            }
        } else if let Some(n) = g.strip_prefix('\\').and_then(|n| n.parse::<usize>().ok()) {
            caps.get(n)
        } else {
            return Err(invalid(format!("regex_search: unknown group argument {g:?} (use '\\\\1' or '\\\\g<name>')")));
        };
        out.push(m.map_or(MjValue::from(()), |m| MjValue::from(m.as_str())));
    }
    Ok(MjValue::from(out))
}

/// `regex_findall` with Python's `re.findall` shapes: whole matches without
/// groups, the group with one, lists of groups with several.
fn regex_findall(value: &MjValue, pattern: &str, kwargs: Kwargs) -> Result<MjValue, Error> {
    let text = text_of(value)?;
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let re = regex(pattern, ignorecase, multiline)?;
    let groups = re.captures_len() - 1;
    let group = |caps: &regex::Captures<'_>, i: usize| MjValue::from(caps.get(i).map_or("", |m| m.as_str()));
    let found: Vec<MjValue> = re
        .captures_iter(&text)
        .map(|caps| match groups {
            0 => group(&caps, 0),
            1 => group(&caps, 1),
            n => MjValue::from((1..=n).map(|i| group(&caps, i)).collect::<Vec<_>>()),
        })
        .collect();
    Ok(MjValue::from(found))
}

/// Python's `os.path.basename`.
fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Python's `os.path.dirname`: trailing slashes of the head go, unless it is all slashes.
fn dirname(p: &str) -> &str {
    let head = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => return "",
    };
    let trimmed = head.trim_end_matches('/');
    if trimmed.is_empty() {
        head
    } else {
        trimmed
    }
}

/// `path_join`: Python's `os.path.join` of a list (a later absolute part restarts the path).
fn path_join(v: &MjValue) -> Result<String, Error> {
    defined(v)?;
    if let Some(s) = v.as_str() {
        return Ok(s.to_string());
    }
    let mut out = String::new();
    for part in v.try_iter()? {
        let part = text_of(&part)?;
        if part.starts_with('/') || out.is_empty() {
            out = part;
        } else {
            if !out.ends_with('/') {
                out.push('/');
            }
            out.push_str(&part);
        }
    }
    Ok(out)
}

fn dict2items(v: &MjValue, key_name: Option<&str>, value_name: Option<&str>, kwargs: Kwargs) -> Result<MjValue, Error> {
    defined(v)?;
    let key_name = opt_arg(key_name, &kwargs, "key_name")?.unwrap_or("key");
    let value_name = opt_arg(value_name, &kwargs, "value_name")?.unwrap_or("value");
    kwargs.assert_all_used()?;
    if v.kind() != ValueKind::Map {
        return Err(invalid(format!("dict2items requires a dictionary, got {}", v.kind())));
    }
    let items: Vec<MjValue> = map_entries(v)?
        .into_iter()
        .map(|(k, val)| map_value(IndexMap::from([(key_name.to_string(), MjValue::from(k)), (value_name.to_string(), val)])))
        .collect();
    Ok(MjValue::from(items))
}

fn items2dict(v: &MjValue, key_name: Option<&str>, value_name: Option<&str>, kwargs: Kwargs) -> Result<MjValue, Error> {
    defined(v)?;
    let key_name = opt_arg(key_name, &kwargs, "key_name")?.unwrap_or("key");
    let value_name = opt_arg(value_name, &kwargs, "value_name")?.unwrap_or("value");
    kwargs.assert_all_used()?;
    let mut out = IndexMap::new();
    for item in v.try_iter()? {
        let get = |name: &str| {
            item.get_attr(name).ok().filter(|x| !x.is_undefined()).ok_or_else(|| invalid(format!("items2dict: an item has no `{name}` key: {item}")))
        };
        let key = get(key_name)?;
        out.insert(key_string(&key).unwrap_or_else(|| key.to_string()), get(value_name)?);
    }
    Ok(map_value(out))
}

/// Ansible's `bool`: true for true, 1, and the strings yes/on/1/true (any case).
fn to_bool(v: &MjValue) -> Result<bool, Error> {
    defined(v)?;
    Ok(match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::String => matches!(v.as_str().unwrap_or("").trim().to_lowercase().as_str(), "yes" | "on" | "1" | "true"),
        ValueKind::Number => f64::try_from(v.clone()).is_ok_and(|n| n == 1.0),
        _ => false,
    })
}

/// Parses an integer the way Python's `int(s, base)` does (sign, prefix for the base).
fn parse_int(s: &str, base: u32) -> Option<i64> {
    let s = s.trim().replace('_', "");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    let lower = digits.to_ascii_lowercase();
    let (base, digits) = match (base, lower.get(..2)) {
        (16 | 0, Some("0x")) => (16, &lower[2..]),
        (8 | 0, Some("0o")) => (8, &lower[2..]),
        (2 | 0, Some("0b")) => (2, &lower[2..]),
        (0, _) => (10, lower.as_str()),
        (b, _) => (b, lower.as_str()),
    };
    if !(2..=36).contains(&base) {
        return None;
    }
    let n = i64::from_str_radix(digits, base).ok()?;
    Some(if neg { -n } else { n })
}

/// Jinja's `int(default=0, base=10)`: strings parse (through float if needed),
/// anything unparsable gives the default.
fn to_int(v: &MjValue, default: Option<MjValue>, base: Option<u32>, kwargs: Kwargs) -> Result<MjValue, Error> {
    defined(v)?;
    let default = opt_arg(default, &kwargs, "default")?.unwrap_or(MjValue::from(0));
    let base = opt_arg(base, &kwargs, "base")?.unwrap_or(10);
    kwargs.assert_all_used()?;
    let parsed = match v.kind() {
        ValueKind::String => {
            let s = v.as_str().unwrap_or("");
            parse_int(s, base).or_else(|| s.trim().parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f.trunc() as i64))
        }
        ValueKind::Bool => Some(i64::from(v.is_true())),
        ValueKind::Number => i64::try_from(v.clone()).ok().or_else(|| f64::try_from(v.clone()).ok().filter(|f| f.is_finite()).map(|f| f.trunc() as i64)),
        _ => None,
    };
    Ok(parsed.map_or(default, MjValue::from))
}

/// Jinja's `float(default=0.0)`.
fn to_float(v: &MjValue, default: Option<MjValue>, kwargs: Kwargs) -> Result<MjValue, Error> {
    defined(v)?;
    let default = opt_arg(default, &kwargs, "default")?.unwrap_or(MjValue::from(0.0));
    kwargs.assert_all_used()?;
    let parsed = match v.kind() {
        ValueKind::String => v.as_str().unwrap_or("").trim().parse::<f64>().ok(),
        ValueKind::Bool => Some(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        _ => None,
    };
    Ok(parsed.map_or(default, MjValue::from))
}

/// The items of a list argument.
fn list_of(v: &MjValue, filter: &str) -> Result<Vec<MjValue>, Error> {
    defined(v)?;
    match v.kind() {
        ValueKind::Seq | ValueKind::Iterable => Ok(v.try_iter()?.collect()),
        other => Err(invalid(format!("{filter} expects a list, got {other}"))),
    }
}

/// The items in order, each once (case-sensitive, as Ansible's set filters are).
fn dedup(items: Vec<MjValue>) -> Vec<MjValue> {
    let mut seen = BTreeSet::new();
    items.into_iter().filter(|v| seen.insert(v.clone())).collect()
}

fn union(a: &MjValue, b: &MjValue) -> Result<MjValue, Error> {
    let mut items = list_of(a, "union")?;
    items.extend(list_of(b, "union")?);
    Ok(MjValue::from(dedup(items)))
}

fn intersect(a: &MjValue, b: &MjValue) -> Result<MjValue, Error> {
    let other: BTreeSet<MjValue> = list_of(b, "intersect")?.into_iter().collect();
    let items = dedup(list_of(a, "intersect")?);
    Ok(MjValue::from(items.into_iter().filter(|v| other.contains(v)).collect::<Vec<_>>()))
}

fn difference(a: &MjValue, b: &MjValue) -> Result<MjValue, Error> {
    let other: BTreeSet<MjValue> = list_of(b, "difference")?.into_iter().collect();
    let items = dedup(list_of(a, "difference")?);
    Ok(MjValue::from(items.into_iter().filter(|v| !other.contains(v)).collect::<Vec<_>>()))
}

fn symmetric_difference(a: &MjValue, b: &MjValue) -> Result<MjValue, Error> {
    let left: BTreeSet<MjValue> = list_of(a, "symmetric_difference")?.into_iter().collect();
    let right: BTreeSet<MjValue> = list_of(b, "symmetric_difference")?.into_iter().collect();
    let mut all = list_of(a, "symmetric_difference")?;
    all.extend(list_of(b, "symmetric_difference")?);
    Ok(MjValue::from(dedup(all).into_iter().filter(|v| !(left.contains(v) && right.contains(v))).collect::<Vec<_>>()))
}

/// How `combine` merges two lists under the same key.
#[derive(Clone, Copy)]
enum ListMerge {
    Replace,
    Keep,
    Append,
    Prepend,
    AppendRp,
    PrependRp,
}

fn merge_maps(base: &mut IndexMap<String, MjValue>, top: IndexMap<String, MjValue>, recursive: bool, lists: ListMerge) -> Result<(), Error> {
    for (key, new) in top {
        let Some(old) = base.get(&key) else {
            base.insert(key, new);
            continue;
        };
        let merged = match (old.kind(), new.kind()) {
            (ValueKind::Map, ValueKind::Map) if recursive => {
                let mut inner = map_entries(old)?;
                merge_maps(&mut inner, map_entries(&new)?, recursive, lists)?;
                map_value(inner)
            }
            (ValueKind::Seq, ValueKind::Seq) => {
                let old_items: Vec<MjValue> = old.try_iter()?.collect();
                let new_items: Vec<MjValue> = new.try_iter()?.collect();
                let old_rp = || old_items.iter().filter(|x| !new_items.contains(x)).cloned();
                MjValue::from(match lists {
                    ListMerge::Replace => new_items.clone(),
                    ListMerge::Keep => old_items.clone(),
                    ListMerge::Append => old_items.iter().chain(&new_items).cloned().collect(),
                    ListMerge::Prepend => new_items.iter().chain(&old_items).cloned().collect(),
                    ListMerge::AppendRp => old_rp().chain(new_items.iter().cloned()).collect(),
                    ListMerge::PrependRp => new_items.iter().cloned().chain(old_rp()).collect(),
                })
            }
            _ => new,
        };
        base.insert(key, merged);
    }
    Ok(())
}

/// `combine(*dicts, recursive=False, list_merge='replace')`; a list of dicts counts as its items.
fn combine(v: &MjValue, others: Rest<MjValue>, kwargs: Kwargs) -> Result<MjValue, Error> {
    defined(v)?;
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let lists = match kwargs.get::<Option<&str>>("list_merge")?.unwrap_or("replace") {
        "replace" => ListMerge::Replace,
        "keep" => ListMerge::Keep,
        "append" => ListMerge::Append,
        "prepend" => ListMerge::Prepend,
        "append_rp" => ListMerge::AppendRp,
        "prepend_rp" => ListMerge::PrependRp,
        other => return Err(invalid(format!("combine: unknown list_merge {other:?}"))),
    };
    kwargs.assert_all_used()?;
    let mut terms = Vec::new();
    for term in std::iter::once(v).chain(others.iter()) {
        defined(term)?;
        match term.kind() {
            ValueKind::Seq | ValueKind::Iterable => terms.extend(term.try_iter()?),
            _ => terms.push(term.clone()),
        }
    }
    let mut out = IndexMap::new();
    for term in terms {
        if term.kind() != ValueKind::Map {
            return Err(invalid(format!("combine expects dictionaries, got {}", term.kind())));
        }
        merge_maps(&mut out, map_entries(&term)?, recursive, lists)?;
    }
    Ok(map_value(out))
}

fn flatten_into(out: &mut Vec<MjValue>, v: &MjValue, levels: Option<usize>, skip_nulls: bool) -> Result<(), Error> {
    for item in v.try_iter()? {
        if skip_nulls && (item.is_none() || matches!(item.as_str(), Some("None" | "null"))) {
            continue;
        }
        if item.kind() == ValueKind::Seq && levels != Some(0) {
            flatten_into(out, &item, levels.map(|l| l - 1), skip_nulls)?;
        } else {
            out.push(item);
        }
    }
    Ok(())
}

/// `flatten(levels=None, skip_nulls=True)`.
fn flatten(v: &MjValue, levels: Option<usize>, kwargs: Kwargs) -> Result<MjValue, Error> {
    let levels = opt_arg(levels, &kwargs, "levels")?;
    let skip_nulls = kwargs.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    list_of(v, "flatten")?;
    let mut out = Vec::new();
    flatten_into(&mut out, v, levels, skip_nulls)?;
    Ok(MjValue::from(out))
}

/// `ternary(true_val, false_val, none_val=None)`.
fn ternary(v: &MjValue, yes: MjValue, no: MjValue, none: Option<MjValue>) -> Result<MjValue, Error> {
    defined(v)?;
    Ok(match none {
        Some(n) if v.is_none() => n,
        _ if v.is_true() => yes,
        _ => no,
    })
}

/// Python's `shlex.quote`.
fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".to_string();
    }
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// `hash('sha256')`: the SHA-2 family (Ansible's default sha1 is not built in).
fn hash(v: &MjValue, kind: Option<&str>) -> Result<String, Error> {
    let data = text_of(v)?;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    match kind.unwrap_or("sha1") {
        "sha224" => Ok(hex(&sha2::Sha224::digest(data.as_bytes()))),
        "sha256" => Ok(hex(&sha2::Sha256::digest(data.as_bytes()))),
        "sha384" => Ok(hex(&sha2::Sha384::digest(data.as_bytes()))),
        "sha512" => Ok(hex(&sha2::Sha512::digest(data.as_bytes()))),
        other => Err(invalid(format!("hash type {other:?} is not supported; use sha224, sha256, sha384 or sha512"))),
    }
}

/// `mandatory(msg=None)`: without a message the undefined error names the variable.
fn mandatory(v: &MjValue, msg: Option<&str>) -> Result<MjValue, Error> {
    match (v.is_undefined(), msg) {
        (false, _) => Ok(v.clone()),
        (true, Some(msg)) => Err(invalid(msg.to_string())),
        (true, None) => Err(Error::from(ErrorKind::UndefinedError)),
    }
}

/// `extract(container, morekeys=None)`: `container[item]`, then deeper keys.
fn extract(item: &MjValue, container: &MjValue, morekeys: Option<MjValue>) -> Result<MjValue, Error> {
    defined(item)?;
    let mut value = container.get_item(item)?;
    if let Some(keys) = morekeys {
        let keys: Vec<MjValue> = if keys.kind() == ValueKind::Seq { keys.try_iter()?.collect() } else { vec![keys] };
        for key in keys {
            value = value.get_item(&key)?;
        }
    }
    Ok(value)
}

/// Python's type names, as `type_debug` shows them.
fn type_debug(v: &MjValue) -> Result<&'static str, Error> {
    defined(v)?;
    Ok(match v.kind() {
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    })
}

// ---------------------------------------------------------------------------
// Tests (the Jinja kind)
// ---------------------------------------------------------------------------

fn register_tests(env: &mut Environment<'static>) {
    env.add_test("match", |v: &MjValue, pattern: &str, kwargs: Kwargs| regex_test(v, pattern, Some("match"), kwargs));
    env.add_test("search", |v: &MjValue, pattern: &str, kwargs: Kwargs| regex_test(v, pattern, Some("search"), kwargs));
    env.add_test("regex", |v: &MjValue, pattern: &str, kwargs: Kwargs| regex_test(v, pattern, None, kwargs));
    env.add_test("version", version_test);
    env.add_test("version_compare", version_test);
    for name in ["failed", "failure"] {
        env.add_test(name, |v: &MjValue| result_flag(v, "failed"));
    }
    for name in ["succeeded", "success", "successful"] {
        env.add_test(name, |v: &MjValue| result_flag(v, "failed").map(|f| !f));
    }
    for name in ["changed", "change"] {
        env.add_test(name, |v: &MjValue| result_flag(v, "changed"));
    }
    for name in ["skipped", "skip"] {
        env.add_test(name, |v: &MjValue| result_flag(v, "skipped"));
    }
    env.add_test("truthy", |v: &MjValue| -> Result<bool, Error> {
        defined(v)?;
        Ok(v.is_true())
    });
    env.add_test("falsy", |v: &MjValue| -> Result<bool, Error> {
        defined(v)?;
        Ok(!v.is_true())
    });
    env.add_test("contains", |seq: &MjValue, item: &MjValue| -> Result<bool, Error> { Ok(list_of(seq, "contains")?.contains(item)) });
    env.add_test("subset", |a: &MjValue, b: &MjValue| -> Result<bool, Error> {
        let b = list_of(b, "subset")?;
        Ok(list_of(a, "subset")?.iter().all(|x| b.contains(x)))
    });
    env.add_test("superset", |a: &MjValue, b: &MjValue| -> Result<bool, Error> {
        let a = list_of(a, "superset")?;
        Ok(list_of(b, "superset")?.iter().all(|x| a.contains(x)))
    });
}

/// `match` (anchored at the start, like `re.match`), `search`, and
/// `regex(match_type='search'|'match'|'fullmatch')`.
fn regex_test(v: &MjValue, pattern: &str, fixed: Option<&str>, kwargs: Kwargs) -> Result<bool, Error> {
    let text = text_of(v)?;
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    let match_type = match fixed {
        Some(t) => t.to_string(),
        None => kwargs.get::<Option<&str>>("match_type")?.unwrap_or("search").to_string(),
    };
    kwargs.assert_all_used()?;
    let anchored = match match_type.as_str() {
        "search" => pattern.to_string(),
        "match" => format!(r"\A(?:{pattern})"),
        "fullmatch" => format!(r"\A(?:{pattern})\z"),
        other => return Err(invalid(format!("unknown match_type {other:?}"))),
    };
    Ok(regex(&anchored, ignorecase, multiline)?.is_match(&text))
}

/// One part of a loose version: numbers compare as numbers, words as text.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum VersionPart {
    // Declared first so a word sorts below a number: `1.0rc1` < `1.0.1`.
    Word(String),
    Num(u64),
}

fn version_parts(v: &str) -> Vec<VersionPart> {
    let mut parts = Vec::new();
    let mut chars = v.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut n = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                n.push(d);
                chars.next();
            }
            parts.push(VersionPart::Num(n.parse().unwrap_or(u64::MAX)));
        } else if c.is_alphabetic() {
            let mut w = String::new();
            while let Some(a) = chars.peek().copied().filter(|c| c.is_alphabetic()) {
                w.push(a);
                chars.next();
            }
            parts.push(VersionPart::Word(w));
        } else {
            chars.next();
        }
    }
    parts
}

/// `version('1.2.3', '>=')`: loose version comparison.
fn version_test(v: &MjValue, other: &MjValue, op: Option<&str>, kwargs: Kwargs) -> Result<bool, Error> {
    let op = opt_arg(op, &kwargs, "operator")?.unwrap_or("eq");
    let _ = kwargs.get::<Option<bool>>("strict")?;
    let _ = kwargs.get::<Option<&str>>("version_type")?;
    kwargs.assert_all_used()?;
    let ord = version_parts(&text_of(v)?).cmp(&version_parts(&text_of(other)?));
    use std::cmp::Ordering::{Equal, Greater, Less};
    Ok(match op {
        "<" | "lt" => ord == Less,
        "<=" | "le" => ord != Greater,
        ">" | "gt" => ord == Greater,
        ">=" | "ge" => ord != Less,
        "==" | "=" | "eq" => ord == Equal,
        "!=" | "<>" | "ne" => ord != Equal,
        other => return Err(invalid(format!("version: unknown operator {other:?}"))),
    })
}

/// `failed`, `changed`, `skipped` on a registered result. `changed` also looks
/// into the `results` of a loop, as Ansible does.
fn result_flag(v: &MjValue, key: &str) -> Result<bool, Error> {
    defined(v)?;
    if v.kind() != ValueKind::Map {
        return Err(invalid(format!("the '{key}' test expects a registered result (a dictionary), got {}", v.kind())));
    }
    let flag = |r: &MjValue| r.get_attr(key).map(|f| !f.is_undefined() && f.is_true());
    if key == "changed" {
        if let Ok(results) = v.get_attr("results") {
            if results.kind() == ValueKind::Seq {
                for r in results.try_iter()? {
                    if r.kind() == ValueKind::Map && flag(&r)? {
                        return Ok(true);
                    }
                }
            }
        }
    }
    flag(v)
}

// ---------------------------------------------------------------------------
// Lookups and Python methods
// ---------------------------------------------------------------------------

/// `lookup('env', 'X')` and `lookup('file', 'path')`; `query` returns a list.
fn lookup(dirs: &[PathBuf], plugin: &str, terms: &[MjValue], kwargs: &Kwargs, list: bool) -> Result<MjValue, Error> {
    let mut results = Vec::new();
    match plugin {
        "env" => {
            let default = kwargs.get::<Option<String>>("default")?;
            for term in terms {
                let name = text_of(term)?;
                results.push(std::env::var(&name).ok().or_else(|| default.clone()).unwrap_or_default());
            }
        }
        "file" => {
            let rstrip = kwargs.get::<Option<bool>>("rstrip")?.unwrap_or(true);
            let lstrip = kwargs.get::<Option<bool>>("lstrip")?.unwrap_or(false);
            for term in terms {
                let name = text_of(term)?;
                let text = read_lookup_file(dirs, &name)?;
                let text = if rstrip { text.trim_end() } else { text.as_str() };
                let text = if lstrip { text.trim_start() } else { text };
                results.push(text.to_string());
            }
        }
        other => return Err(invalid(format!("lookup plugin {other:?} is not supported (supported: env, file)"))),
    }
    kwargs.assert_all_used()?;
    Ok(if list { MjValue::from(results.into_iter().map(MjValue::from).collect::<Vec<_>>()) } else { MjValue::from(results.join(",")) })
}

/// A `lookup('file')` path: absolute as is; relative, from `files/` beside each
/// templates dir, beside it, inside it, then from the current directory.
fn read_lookup_file(dirs: &[PathBuf], name: &str) -> Result<String, Error> {
    let path = Path::new(name);
    let mut candidates = Vec::new();
    if !path.is_absolute() {
        for d in dirs {
            if let Some(parent) = d.parent() {
                candidates.push(parent.join("files").join(path));
                candidates.push(parent.join(path));
            }
            candidates.push(d.join(path));
        }
    }
    candidates.push(path.to_path_buf());
    for c in &candidates {
        match std::fs::read_to_string(c) {
            Ok(text) => return Ok(text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(invalid(format!("lookup('file'): cannot read {}: {e}", c.display()))),
        }
    }
    Err(invalid(format!("lookup('file'): could not find {name:?}")))
}

/// The Python methods Ansible templates call on strings, dicts and lists
/// (`x.split(',')`, `d.items()`, `s.startswith('a')`); minijinja has none.
fn py_method(_state: &State, value: &MjValue, method: &str, args: &[MjValue]) -> Result<MjValue, Error> {
    let arg = |i: usize| args.get(i).filter(|a| !a.is_none() && !a.is_undefined());
    let str_arg = |i: usize| -> Result<Option<String>, Error> { arg(i).map(text_of).transpose() };
    match value.kind() {
        ValueKind::String => {
            let s = value.as_str().unwrap_or("");
            let strip_set = |i: usize| -> Result<Option<Vec<char>>, Error> { Ok(str_arg(i)?.map(|c| c.chars().collect())) };
            Ok(match method {
                "split" => {
                    let max = arg(1).and_then(MjValue::as_i64).filter(|n| *n >= 0);
                    MjValue::from(py_split(s, str_arg(0)?.as_deref(), max.map(|n| n as usize)))
                }
                "strip" | "lstrip" | "rstrip" => {
                    let set = strip_set(0)?;
                    let is_strip = |c: char| match &set {
                        Some(cs) => cs.contains(&c),
                        None => c.is_whitespace(),
                    };
                    MjValue::from(match method {
                        "strip" => s.trim_matches(is_strip),
                        "lstrip" => s.trim_start_matches(is_strip),
                        _ => s.trim_end_matches(is_strip),
                    })
                }
                "startswith" | "endswith" => {
                    let prefixes: Vec<String> = match arg(0) {
                        Some(a) if a.kind() == ValueKind::Seq => a.try_iter()?.map(|p| text_of(&p)).collect::<Result<_, _>>()?,
                        Some(a) => vec![text_of(a)?],
                        None => return Err(Error::from(ErrorKind::MissingArgument)),
                    };
                    MjValue::from(prefixes.iter().any(|p| if method == "startswith" { s.starts_with(p.as_str()) } else { s.ends_with(p.as_str()) }))
                }
                "lower" => MjValue::from(s.to_lowercase()),
                "upper" => MjValue::from(s.to_uppercase()),
                "replace" => {
                    let (Some(old), Some(new)) = (str_arg(0)?, str_arg(1)?) else {
                        return Err(Error::from(ErrorKind::MissingArgument));
                    };
                    match arg(2).and_then(MjValue::as_i64).filter(|n| *n >= 0) {
                        Some(n) => MjValue::from(s.replacen(&old, &new, n as usize)),
                        None => MjValue::from(s.replace(&old, &new)),
                    }
                }
                "splitlines" => MjValue::from(s.lines().map(MjValue::from).collect::<Vec<_>>()),
                "join" => {
                    let items = arg(0).ok_or_else(|| Error::from(ErrorKind::MissingArgument))?;
                    let parts: Vec<String> = items.try_iter()?.map(|p| text_of(&p)).collect::<Result<_, _>>()?;
                    MjValue::from(parts.join(s))
                }
                "find" => {
                    let needle = str_arg(0)?.ok_or_else(|| Error::from(ErrorKind::MissingArgument))?;
                    MjValue::from(s.find(&needle).map_or(-1, |b| s[..b].chars().count() as i64))
                }
                "count" => {
                    let needle = str_arg(0)?.ok_or_else(|| Error::from(ErrorKind::MissingArgument))?;
                    MjValue::from(if needle.is_empty() { s.chars().count() + 1 } else { s.matches(needle.as_str()).count() })
                }
                "isdigit" => MjValue::from(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())),
                _ => return Err(Error::from(ErrorKind::UnknownMethod)),
            })
        }
        ValueKind::Map => {
            let entries = map_entries(value)?;
            Ok(match method {
                "keys" => MjValue::from(entries.keys().map(|k| MjValue::from(k.as_str())).collect::<Vec<_>>()),
                "values" => MjValue::from(entries.into_values().collect::<Vec<_>>()),
                "items" => MjValue::from(entries.into_iter().map(|(k, v)| MjValue::from(vec![MjValue::from(k), v])).collect::<Vec<_>>()),
                "get" => {
                    let key = args.first().ok_or_else(|| Error::from(ErrorKind::MissingArgument))?;
                    let found = key_string(key).and_then(|k| entries.get(&k).cloned());
                    found.unwrap_or_else(|| args.get(1).cloned().unwrap_or(MjValue::from(())))
                }
                _ => return Err(Error::from(ErrorKind::UnknownMethod)),
            })
        }
        ValueKind::Seq => {
            let items: Vec<MjValue> = value.try_iter()?.collect();
            let needle = args.first().ok_or_else(|| Error::from(ErrorKind::MissingArgument));
            Ok(match method {
                "index" => {
                    let needle = needle?;
                    let pos = items.iter().position(|x| x == needle).ok_or_else(|| invalid(format!("{needle} is not in list")))?;
                    MjValue::from(pos)
                }
                "count" => {
                    let needle = needle?;
                    MjValue::from(items.iter().filter(|x| *x == needle).count())
                }
                _ => return Err(Error::from(ErrorKind::UnknownMethod)),
            })
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

/// Python's `str.split(sep=None, maxsplit=-1)`.
fn py_split(s: &str, sep: Option<&str>, max: Option<usize>) -> Vec<MjValue> {
    match sep {
        Some(sep) if !sep.is_empty() => match max {
            Some(n) => s.splitn(n + 1, sep).map(MjValue::from).collect(),
            None => s.split(sep).map(MjValue::from).collect(),
        },
        _ => {
            let mut out = Vec::new();
            let mut rest = s.trim_start();
            while !rest.is_empty() {
                if max.is_some_and(|n| out.len() == n) {
                    out.push(MjValue::from(rest));
                    break;
                }
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                out.push(MjValue::from(&rest[..end]));
                rest = rest[end..].trim_start();
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::Ordering;

    fn vars(v: Value) -> Vars {
        serde_json::from_value(v).expect("test vars are an object")
    }

    fn setup(v: Value) -> (Templates, MjValue) {
        let t = Templates::new(vec![]);
        let ctx = t.context(&vars(v), &SharedContext::default());
        (t, ctx)
    }

    fn render(t: &Templates, ctx: &MjValue, s: &str) -> String {
        t.render_str(s, ctx).unwrap_or_else(|e| panic!("{s:?} failed: {e}"))
    }

    fn value(t: &Templates, ctx: &MjValue, s: &str) -> Value {
        t.eval_expr(s, ctx).unwrap_or_else(|e| panic!("{s:?} failed: {e}"))
    }

    fn undefined_name(r: Result<impl std::fmt::Debug, TemplateError>) -> (String, String) {
        match r {
            Err(TemplateError::Undefined { name, detail, .. }) => (name, detail),
            other => panic!("expected an undefined error, got {other:?}"),
        }
    }

    #[test]
    fn strings_without_syntax_skip_minijinja() {
        let (t, ctx) = setup(json!({}));
        assert_eq!(render(&t, &ctx, "plain {text} 100%"), "plain {text} 100%");
        assert_eq!(t.compiles.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn same_source_compiles_once() {
        let (t, ctx) = setup(json!({"x": 1}));
        for _ in 0..3 {
            assert_eq!(render(&t, &ctx, "x={{ x }}"), "x=1");
        }
        assert_eq!(t.compiles.load(Ordering::Relaxed), 1);
        for _ in 0..3 {
            assert!(t.eval_condition("x == 1", &ctx).expect("evaluates"));
        }
        assert_eq!(t.compiles.load(Ordering::Relaxed), 2);
        // `{{ x }}` and `x` are the same expression.
        t.eval_expr("{{ x }}", &ctx).expect("evaluates");
        t.eval_expr("x", &ctx).expect("evaluates");
        assert_eq!(t.compiles.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn single_expressions_keep_their_type() {
        let (t, ctx) = setup(json!({"port": 22, "flag": true, "d": {"z": 1, "a": [1, 2]}, "s": "x"}));
        let rendered = t
            .render_value(
                &json!({
                    "list": "{{ [1, 2] }}",
                    "port": " {{ port }} ",
                    "flag": "{{- flag -}}",
                    "dict": "{{ d }}",
                    "str": "{{ s }}",
                    "mixed": "port {{ port }} {{ flag }}",
                    "{{ s }}key": ["{{ port + 1 }}", 3, null],
                    "nested_braces": "{{ {'a': {'b': 1}} }}",
                }),
                &ctx,
            )
            .expect("renders");
        assert_eq!(
            rendered,
            json!({
                "list": [1, 2],
                "port": 22,
                "flag": true,
                "dict": {"z": 1, "a": [1, 2]},
                "str": "x",
                "mixed": "port 22 True",
                "xkey": [23, 3, null],
                "nested_braces": {"a": {"b": 1}},
            })
        );
        // Map order survives: Ansible users expect YAML order.
        let keys: Vec<String> = rendered["dict"].as_object().expect("object").keys().cloned().collect();
        assert_eq!(keys, ["z", "a"]);
        assert_eq!(render(&t, &ctx, "{{ d | dict2items | map(attribute='key') | join(',') }}"), "z,a");
        assert_eq!(render(&t, &ctx, "{{ none }}|{{ 1.5 }}"), "|1.5");
    }

    #[test]
    fn undefined_variables_are_named() {
        let (t, ctx) = setup(json!({"a": {"b": 1}, "hosts": ["h1"]}));
        let (name, detail) = undefined_name(t.render_str("{{ foo.bar }}", &ctx));
        assert_eq!((name.as_str(), detail.as_str()), ("foo", "undefined variable `foo`"));
        assert_eq!(undefined_name(t.render_str("x {{ a.c }}", &ctx)).1, "`a` has no attribute `c`");
        assert_eq!(undefined_name(t.render_str("{{ a.c.d }}", &ctx)).0, "a.c");
        assert_eq!(undefined_name(t.render_str("{{ nope | lower }}", &ctx)).0, "nope");
        assert_eq!(undefined_name(t.render_str("{% for x in missing %}{{ x }}{% endfor %}", &ctx)).0, "missing");
        assert_eq!(undefined_name(t.eval_condition("a.b == 1 and zz", &ctx)).0, "zz");
        assert_eq!(undefined_name(t.eval_expr("{{ foo }}", &ctx)).0, "foo");
        assert_eq!(undefined_name(t.eval_expr("[a.nope]", &ctx)).0, "a.nope");
        let (_, detail) = undefined_name(t.render_str("one\ntwo {{ gone }}", &ctx));
        assert_eq!(detail, "undefined variable `gone` (line 2)");
        let err = t.render_str("{{ foo }}", &ctx).expect_err("undefined");
        assert_eq!(err.to_string(), "undefined variable `foo` in `{{ foo }}`");
    }

    #[test]
    fn default_and_defined_still_work_in_strict_mode() {
        let (t, ctx) = setup(json!({"a": {"b": 1}, "empty": ""}));
        assert_eq!(render(&t, &ctx, "{{ foo | default('x') }}"), "x");
        assert_eq!(render(&t, &ctx, "{{ foo | d(1) }}"), "1");
        assert_eq!(render(&t, &ctx, "{{ a.zz | default('y') }}"), "y");
        assert_eq!(render(&t, &ctx, "{{ empty | default('z') }}"), "");
        assert_eq!(render(&t, &ctx, "{{ empty | default('z', true) }}"), "z");
        assert!(!t.eval_condition("foo is defined", &ctx).expect("evaluates"));
        assert!(t.eval_condition("foo is undefined", &ctx).expect("evaluates"));
        assert!(t.eval_condition("a.zz is not defined", &ctx).expect("evaluates"));
        assert_eq!(value(&t, &ctx, "foo | default(omit)"), json!(OMIT));
        assert!(matches!(t.render_str("{{ foo | mandatory }}", &ctx), Err(TemplateError::Undefined { .. })));
        let err = t.render_str("{{ foo | mandatory('set foo') }}", &ctx).expect_err("fails");
        assert!(err.to_string().contains("set foo"), "{err}");
    }

    #[test]
    fn conditions_use_jinja_truthiness() {
        let (t, ctx) = setup(json!({"port": 22, "list": [], "s": "no", "result": {"rc": 0}}));
        let yes = |e: &str| t.eval_condition(e, &ctx).unwrap_or_else(|err| panic!("{e}: {err}"));
        assert!(yes("port == 22"));
        assert!(yes("{{ port > 1 }}"));
        assert!(!yes("list"));
        assert!(yes("s"));
        assert!(!yes("s | bool"));
        assert!(yes("result.rc == 0 and 'x' in ['x']"));
        assert!(matches!(t.eval_condition("port ==", &ctx), Err(TemplateError::Syntax { .. })));
        // An expression cannot close the wrapper tag it is evaluated in.
        assert!(matches!(t.eval_condition("port %}{% set x = 1", &ctx), Err(TemplateError::Syntax { .. })));
        assert!(matches!(t.eval_condition("  ", &ctx), Err(TemplateError::Syntax { .. })));
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let (t, ctx) = setup(json!({}));
        match t.render_str("a\n{{ x + }}", &ctx) {
            Err(TemplateError::Syntax { template, detail }) => {
                assert_eq!(template, "a\n{{ x + }}");
                assert!(detail.ends_with("(line 2)"), "{detail}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
        assert!(matches!(t.referenced_vars("{% if %}", false), Err(TemplateError::Syntax { .. })));
    }

    #[test]
    fn text_after_a_closing_brace_pair_is_a_syntax_error_not_a_panic() {
        // tests/fuzz_parsers.rs found `}}}`: minijinja 2 panicked with
        // "empty lexer stack" on text after a `}}` that ends an expression.
        let (t, ctx) = setup(json!({"a": 1}));
        for expr in ["}}}", "a }} b", "a -}} b", "x }} ", "(a) }} 1"] {
            assert!(matches!(t.eval_condition(expr, &ctx), Err(TemplateError::Syntax { .. })), "{expr:?}");
            assert!(matches!(t.eval_expr(expr, &ctx), Err(TemplateError::Syntax { .. })), "{expr:?}");
            assert!(matches!(t.referenced_vars(expr, true), Err(TemplateError::Syntax { .. })), "{expr:?}");
        }
        // Braces that close a dict, or sit in a string, are not that end.
        assert_eq!(value(&t, &ctx, "{'k': {'a': a}}"), json!({"k": {"a": 1}}));
        assert_eq!(value(&t, &ctx, "'}} x' ~ \"}}\""), json!("}} x}}"));
        assert!(t.eval_condition("a == 1 and '}}' in '}}}'", &ctx).expect("evaluates"));
    }

    #[test]
    fn hostvars_are_lazy_and_groups_shared() {
        let hosts: IndexMap<String, Vars> =
            [("h1", json!({"ansible_host": "10.0.0.1", "x": 1})), ("h2", json!({"ansible_host": "10.0.0.2"})), ("h3", json!({"ansible_host": "10.0.0.3"}))]
                .into_iter()
                .map(|(h, v)| (h.to_string(), vars(v)))
                .collect();
        let groups = IndexMap::from([
            ("all".to_string(), vec!["h1".to_string(), "h2".to_string(), "h3".to_string()]),
            ("mons".to_string(), vec!["h1".to_string(), "h2".to_string()]),
        ]);
        let shared = SharedContext::new(Arc::new(hosts), &groups);
        let t = Templates::new(vec![]);
        let ctx = t.context(&vars(json!({"inventory_hostname": "h1"})), &shared);
        assert_eq!(render(&t, &ctx, "{{ hostvars['h1']['ansible_host'] }}"), "10.0.0.1");
        assert_eq!(render(&t, &ctx, "{{ hostvars.h1.x }}"), "1");
        assert_eq!(render(&t, &ctx, "{{ hostvars[inventory_hostname].x }}"), "1");
        let lazy = shared.hostvars.downcast_object_ref::<HostVars>().expect("hostvars object");
        let converted: Vec<bool> = lazy.cache.iter().map(|c| c.get().is_some()).collect();
        assert_eq!(converted, [true, false, false]);
        assert_eq!(render(&t, &ctx, "{{ groups.mons | map('extract', hostvars, 'ansible_host') | join(' ') }}"), "10.0.0.1 10.0.0.2");
        assert_eq!(render(&t, &ctx, "{{ groups['all'] | length }} {{ hostvars | length }}"), "3 3");
        assert_eq!(render(&t, &ctx, "{{ vars['inventory_' + 'hostname'] }}"), "h1");
        let (name, detail) = undefined_name(t.render_str("{{ hostvars['h2'].foo }}", &ctx));
        assert_eq!(name, "hostvars['h2'].foo");
        assert_eq!(detail, "`hostvars['h2']` has no attribute `foo`");
        let (name, _) = undefined_name(t.render_str("{{ hostvars['nohost'].foo }}", &ctx));
        assert_eq!(name, "hostvars['nohost']");
    }

    #[test]
    fn play_host_lists_are_shared_by_every_host_context() {
        let t = Templates::new(vec![]);
        let names = |list: &[&str]| list.iter().map(|h| h.to_string()).collect::<Vec<_>>();
        let hosts = PlayHosts::new(&names(&["h1", "h2", "h3"]), &names(&["h1", "h3"]));
        let v = vars(json!({"ansible_play_hosts_all": PLAY_HOSTS_ALL, "play_hosts": PLAY_HOSTS_LIVE, "note": "plain"}));
        let ctx = t.play_context(&v, &hosts, &SharedContext::default());
        assert_eq!(render(&t, &ctx, "{{ ansible_play_hosts_all | join(',') }} {{ play_hosts | join(',') }} {{ note }}"), "h1,h2,h3 h1,h3 plain");
        assert_eq!(value(&t, &ctx, "vars['play_hosts']"), json!(["h1", "h3"]));
        // One list, not a copy per host.
        let other = t.play_context(&v, &hosts, &SharedContext::default());
        let list = |ctx: &MjValue| ctx.get_attr("play_hosts").ok().and_then(|l| l.downcast_object::<Vec<MjValue>>()).expect("a list");
        assert!(Arc::ptr_eq(&list(&ctx), &list(&other)));
        // Without the play's lists, a reference is just text.
        assert_eq!(render(&t, &t.context(&v, &SharedContext::default()), "{{ play_hosts }}"), PLAY_HOSTS_LIVE);
    }

    #[test]
    fn referenced_vars_are_the_free_names() {
        let t = Templates::new(vec![]);
        let names = t.referenced_vars("{{ a.b }} {% for x in y %}{{ x }}{% endfor %}", false).expect("parses");
        assert_eq!(names, BTreeSet::from(["a".to_string(), "y".to_string()]));
        let names = t.referenced_vars("x is defined and lookup('env', 'H') and z | default(omit)", true).expect("parses");
        assert_eq!(names, BTreeSet::from(["x".to_string(), "z".to_string()]));
        assert_eq!(t.referenced_vars("{{ q1 }}", true).expect("parses").len(), 1);
        let names = t
            .referenced_vars("{% set s = 1 %}{% for i in items %}{{ loop.index }}{{ s }}{% endfor %}{{ hostvars[inventory_hostname].x }}", false)
            .expect("parses");
        assert_eq!(names, BTreeSet::from(["hostvars".to_string(), "inventory_hostname".to_string(), "items".to_string()]));
        assert!(t.referenced_vars("no templates", false).expect("parses").is_empty());
    }

    #[test]
    fn serialization_filters() {
        let (t, ctx) = setup(json!({"d": {"b": [1, "x"], "a": true}, "y": "a: 1\nb: [2, 3]\n"}));
        assert_eq!(render(&t, &ctx, "{{ d | to_json }}"), r#"{"b": [1, "x"], "a": true}"#);
        assert_eq!(render(&t, &ctx, "{{ d | to_nice_json }}"), "{\n    \"a\": true,\n    \"b\": [\n        1,\n        \"x\"\n    ]\n}");
        assert_eq!(render(&t, &ctx, "{{ d | to_nice_json(indent=2) | from_json | to_json }}"), r#"{"a": true, "b": [1, "x"]}"#);
        assert_eq!(render(&t, &ctx, "{{ d | to_yaml }}"), "a: true\nb:\n- 1\n- x\n");
        assert_eq!(render(&t, &ctx, "{{ d | to_nice_yaml(indent=2) }}"), "a: true\nb:\n- 1\n- x\n");
        assert_eq!(value(&t, &ctx, "y | from_yaml"), json!({"a": 1, "b": [2, 3]}));
        assert_eq!(value(&t, &ctx, "'a: 1\n---\nb: 2' | from_yaml_all"), json!([{"a": 1}, {"b": 2}]));
        assert_eq!(render(&t, &ctx, "{{ 'ceph:key' | b64encode }}"), "Y2VwaDprZXk=");
        assert_eq!(render(&t, &ctx, "{{ 'Y2Vw\naDprZXk=' | b64decode }}"), "ceph:key");
        assert!(matches!(t.render_str("{{ '{' | from_json }}", &ctx), Err(TemplateError::Render { .. })));
    }

    #[test]
    fn regex_filters() {
        let (t, ctx) = setup(json!({"s": "rbd/vol-01 rbd/vol-22"}));
        assert_eq!(render(&t, &ctx, r"{{ s | regex_replace('vol-(\\d+)', 'v\\1') }}"), "rbd/v01 rbd/v22");
        assert_eq!(render(&t, &ctx, r"{{ s | regex_replace('(?P<n>\\d+)', '<\\g<n>>', count=1) }}"), "rbd/vol-<01> rbd/vol-22");
        assert_eq!(render(&t, &ctx, r"{{ 'a$b' | regex_replace('B', '$', ignorecase=true) }}"), "a$$");
        assert_eq!(render(&t, &ctx, r"{{ s | regex_search('vol-\\d+') }}"), "vol-01");
        assert_eq!(value(&t, &ctx, r"s | regex_search('(\\w+)/vol-(?P<n>\\d+)', '\\1', '\\g<n>')"), json!(["rbd", "01"]));
        assert_eq!(value(&t, &ctx, "s | regex_search('nomatch')"), Value::Null);
        assert_eq!(value(&t, &ctx, r"s | regex_findall('vol-\\d+')"), json!(["vol-01", "vol-22"]));
        assert_eq!(value(&t, &ctx, r"s | regex_findall('vol-(\\d)(\\d)')"), json!([["0", "1"], ["2", "2"]]));
        assert_eq!(render(&t, &ctx, "{{ 'a.b' | regex_escape }}"), r"a\.b");
        assert!(matches!(t.render_str("{{ s | regex_search('(') }}", &ctx), Err(TemplateError::Render { .. })));
    }

    #[test]
    fn path_and_dict_filters() {
        let (t, ctx) = setup(json!({"d": {"b": 1, "a": 2}, "items": [{"key": "k", "value": "v"}, {"name": "n", "v": 1}]}));
        assert_eq!(render(&t, &ctx, "{{ '/etc/ceph/ceph.conf' | basename }}"), "ceph.conf");
        assert_eq!(render(&t, &ctx, "{{ '/etc/ceph/ceph.conf' | dirname }}"), "/etc/ceph");
        assert_eq!(render(&t, &ctx, "{{ '/x' | dirname }}|{{ 'x' | dirname }}|{{ '/a/' | basename }}"), "/||");
        assert_eq!(render(&t, &ctx, "{{ ['/etc', 'ceph', 'x.conf'] | path_join }}"), "/etc/ceph/x.conf");
        assert_eq!(value(&t, &ctx, "d | dict2items"), json!([{"key": "b", "value": 1}, {"key": "a", "value": 2}]));
        assert_eq!(value(&t, &ctx, "d | dict2items(key_name='k', value_name='v')"), json!([{"k": "b", "v": 1}, {"k": "a", "v": 2}]));
        assert_eq!(value(&t, &ctx, "items[:1] | items2dict"), json!({"k": "v"}));
        assert_eq!(value(&t, &ctx, "items[1:] | items2dict(key_name='name', value_name='v')"), json!({"n": 1}));
        assert!(matches!(t.render_str("{{ [1] | dict2items }}", &ctx), Err(TemplateError::Render { .. })));
        assert_eq!(value(&t, &ctx, "d.items() | list"), json!([["b", 1], ["a", 2]]));
        assert_eq!(value(&t, &ctx, "d.keys() | list"), json!(["b", "a"]));
        assert_eq!(value(&t, &ctx, "d.get('zz', 5)"), json!(5));
    }

    #[test]
    fn conversion_filters() {
        let (t, ctx) = setup(json!({"no": "no", "on": "On", "one": 1, "two": 2}));
        assert_eq!(
            value(&t, &ctx, "[no | bool, on | bool, one | bool, two | bool, 'TRUE' | bool, none | bool]"),
            json!([false, true, true, false, true, false])
        );
        assert_eq!(
            value(&t, &ctx, "['42' | int, ' 7 ' | int, '3.9' | int, 'x' | int, 'x' | int(5), '0x1f' | int(base=16), true | int]"),
            json!([42, 7, 3, 0, 5, 31, 1])
        );
        assert_eq!(value(&t, &ctx, "['1.5' | float, 'x' | float, 2 | float]"), json!([1.5, 0.0, 2.0]));
        assert_eq!(render(&t, &ctx, "{{ (true | string) ~ (none | string) ~ (3 | string) }}"), "TrueNone3");
        assert_eq!(render(&t, &ctx, "{{ ' A ' | trim | lower }}{{ 'b' | upper }}"), "aB");
        assert_eq!(render(&t, &ctx, "{{ 1 | type_debug }} {{ 'x' | type_debug }} {{ {} | type_debug }}"), "int str dict");
    }

    #[test]
    fn list_filters() {
        let (t, ctx) = setup(json!({"a": [3, 1, 2, 1], "b": [2, 4], "users": [{"n": "x", "on": true}, {"n": "y", "on": false}]}));
        assert_eq!(value(&t, &ctx, "a | unique"), json!([3, 1, 2]));
        assert_eq!(value(&t, &ctx, "a | union(b)"), json!([3, 1, 2, 4]));
        assert_eq!(value(&t, &ctx, "a | intersect(b)"), json!([2]));
        assert_eq!(value(&t, &ctx, "a | difference(b)"), json!([3, 1]));
        assert_eq!(value(&t, &ctx, "a | symmetric_difference(b)"), json!([3, 1, 4]));
        assert_eq!(value(&t, &ctx, "a | sort"), json!([1, 1, 2, 3]));
        assert_eq!(value(&t, &ctx, "[a | first, a | last, a | length, a | min, a | max]"), json!([3, 1, 4, 1, 3]));
        assert_eq!(value(&t, &ctx, "users | selectattr('on') | map(attribute='n') | list"), json!(["x"]));
        assert_eq!(value(&t, &ctx, "users | rejectattr('on') | map(attribute='n') | list"), json!(["y"]));
        assert_eq!(value(&t, &ctx, "a | select('gt', 1) | list"), json!([3, 2]));
        assert_eq!(value(&t, &ctx, "['a1', 'b', 'a2'] | select('match', 'a') | list"), json!(["a1", "a2"]));
        assert_eq!(value(&t, &ctx, "a | zip(b) | list"), json!([[3, 2], [1, 4]]));
        assert_eq!(value(&t, &ctx, "[1, [2, [3, none]], 'null'] | flatten"), json!([1, 2, 3]));
        assert_eq!(value(&t, &ctx, "[1, [2, [3]]] | flatten(levels=1)"), json!([1, 2, [3]]));
        assert_eq!(value(&t, &ctx, "[1, [2, [3]]] | flatten(1)"), json!([1, 2, [3]]));
        assert_eq!(value(&t, &ctx, "range(3) | list"), json!([0, 1, 2]));
        assert_eq!(render(&t, &ctx, "{{ a | join('-') }}"), "3-1-2-1");
    }

    #[test]
    fn combine_ternary_quote_hash() {
        let (t, ctx) = setup(json!({"x": {"a": 1, "n": {"p": 1}, "l": [1, 2]}, "y": {"n": {"q": 2}, "b": 2, "l": [2, 3]}}));
        assert_eq!(value(&t, &ctx, "x | combine(y)"), json!({"a": 1, "n": {"q": 2}, "l": [2, 3], "b": 2}));
        assert_eq!(value(&t, &ctx, "x | combine(y, recursive=true)"), json!({"a": 1, "n": {"p": 1, "q": 2}, "l": [2, 3], "b": 2}));
        assert_eq!(value(&t, &ctx, "x | combine(y, list_merge='append_rp')")["l"], json!([1, 2, 3]));
        assert_eq!(value(&t, &ctx, "x | combine(y, list_merge='prepend')")["l"], json!([2, 3, 1, 2]));
        assert_eq!(value(&t, &ctx, "[x, y] | combine")["b"], json!(2));
        assert!(matches!(t.eval_expr("x | combine(1)", &ctx), Err(TemplateError::Render { .. })));
        assert_eq!(value(&t, &ctx, "[true | ternary('a', 'b'), 0 | ternary('a', 'b'), none | ternary('a', 'b', 'c')]"), json!(["a", "b", "c"]));
        assert_eq!(render(&t, &ctx, "{{ \"it's a test\" | quote }} {{ 'safe/path-1' | quote }} {{ '' | quote }}"), r#"'it'"'"'s a test' safe/path-1 ''"#);
        assert_eq!(render(&t, &ctx, "{{ 'abc' | hash('sha256') }}"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(matches!(t.render_str("{{ 'abc' | hash('md5') }}", &ctx), Err(TemplateError::Render { .. })));
    }

    #[test]
    fn jinja_tests() {
        let (t, ctx) = setup(json!({
            "ok": {"changed": false, "failed": false},
            "bad": {"failed": true, "changed": true},
            "skip": {"skipped": true, "changed": false},
            "loop": {"changed": false, "results": [{"changed": false}, {"changed": true}]},
            "v": "17.2.6",
        }));
        let yes = |e: &str| t.eval_condition(e, &ctx).unwrap_or_else(|err| panic!("{e}: {err}"));
        assert!(yes("ok is succeeded and ok is success and ok is not failed and ok is not changed"));
        assert!(yes("bad is failed and bad is changed and bad is not succeeded"));
        assert!(yes("skip is skipped and ok is not skipped"));
        assert!(yes("loop is changed"));
        assert!(matches!(t.eval_condition("v is failed", &ctx), Err(TemplateError::Render { .. })));
        assert!(yes("v is version('17.2', '>') and v is version('18', 'lt') and v is version_compare('17.2.6', '==')"));
        assert!(yes("v is version('17.2.6', operator='ge') and '1.0rc1' is version('1.0.1', '<')"));
        assert!(yes("v is match('17') and v is not match('2') and v is search('2\\.6')"));
        assert!(yes("v is regex('^17') and v is not regex('2', match_type='match') and 'ABC' is match('abc', ignorecase=true)"));
        assert!(yes("none is none and x is undefined and v is defined"));
        assert!(yes("[1, 2] is contains(2) and [1] is subset([1, 2]) and [1, 2] is superset([2])"));
        assert!(yes("'x' is truthy and '' is falsy"));
    }

    #[test]
    fn python_string_methods() {
        let (t, ctx) = setup(json!({"out": "  a b\tc \n", "csv": "x,y,z"}));
        assert_eq!(value(&t, &ctx, "out.split()"), json!(["a", "b", "c"]));
        assert_eq!(value(&t, &ctx, "csv.split(',')"), json!(["x", "y", "z"]));
        assert_eq!(value(&t, &ctx, "csv.split(',', 1)"), json!(["x", "y,z"]));
        assert_eq!(value(&t, &ctx, "out.strip()"), json!("a b\tc"));
        assert_eq!(value(&t, &ctx, "csv.startswith('x') and csv.endswith(('q', 'z'))"), json!(true));
        assert_eq!(value(&t, &ctx, "[csv.find('y'), csv.find('q'), csv.count(','), csv.replace(',', ';')]"), json!([2, -1, 2, "x;y;z"]));
        assert_eq!(value(&t, &ctx, "'-'.join(['a', 'b'])"), json!("a-b"));
        assert_eq!(value(&t, &ctx, "'a\nb'.splitlines()"), json!(["a", "b"]));
        assert_eq!(value(&t, &ctx, "[1, 2].index(2)"), json!(1));
        assert!(matches!(t.eval_expr("csv.nosuch()", &ctx), Err(TemplateError::Render { .. })));
    }

    #[test]
    fn lookups() {
        let dir = std::env::temp_dir().join(format!("ferry-template-lookup-{}", std::process::id()));
        let templates = dir.join("templates");
        std::fs::create_dir_all(dir.join("files")).expect("mkdir");
        std::fs::create_dir_all(&templates).expect("mkdir");
        std::fs::write(dir.join("files/key.txt"), "secret\n").expect("write");
        let t = Templates::new(vec![templates]);
        let ctx = t.context(&Vars::new(), &SharedContext::default());
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(render(&t, &ctx, "{{ lookup('env', 'PATH') }}"), path);
        assert_eq!(render(&t, &ctx, "{{ lookup('env', 'FERRY_SURELY_UNSET_VAR', default='d') }}"), "d");
        assert_eq!(value(&t, &ctx, "query('env', 'FERRY_SURELY_UNSET_VAR')"), json!([""]));
        assert_eq!(render(&t, &ctx, "{{ lookup('file', 'key.txt') }}"), "secret");
        assert!(matches!(t.render_str("{{ lookup('file', 'nope.txt') }}", &ctx), Err(TemplateError::Render { .. })));
        assert!(matches!(t.render_str("{{ lookup('pipe', 'ls') }}", &ctx), Err(TemplateError::Render { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn template_files() {
        let dir = std::env::temp_dir().join(format!("ferry-template-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
        std::fs::write(dir.join("ceph.conf.j2"), "[global]\n{% for m in mons %}\nmon = {{ m }}\n{% endfor %}\n{% include 'sub/extra.j2' %}").expect("write");
        std::fs::write(dir.join("sub/extra.j2"), "fsid = {{ fsid }}\n").expect("write");
        std::fs::write(dir.join("page.html.j2"), "<{{ v }}>\n").expect("write");
        std::fs::write(dir.join("vars.yml.j2"), "key: {{ v }}\n").expect("write");
        std::fs::write(dir.join("broken.j2"), "ok\n{{ fsid }}\n{{ nothere }}\n").expect("write");
        let t = Templates::new(vec![dir.clone()]);
        let ctx = t.context(&vars(json!({"mons": ["a", "b"], "fsid": "f-1", "v": "<&>"})), &SharedContext::default());
        let conf = t.render_file("ceph.conf.j2", &ctx).expect("renders");
        assert_eq!(conf, "[global]\nmon = a\nmon = b\nfsid = f-1\n");
        // No auto-escaping whatever the file's extension.
        assert_eq!(t.render_file("page.html.j2", &ctx).expect("renders"), "<<&>>\n");
        assert_eq!(t.render_file("vars.yml.j2", &ctx).expect("renders"), "key: <&>\n");
        let absolute = dir.join("sub/extra.j2");
        assert_eq!(t.render_file(&absolute.to_string_lossy(), &ctx).expect("renders"), "fsid = f-1\n");
        let (name, detail) = undefined_name(t.render_file("broken.j2", &ctx));
        assert_eq!(name, "nothere");
        assert_eq!(detail, "undefined variable `nothere` (broken.j2 line 3)");
        match t.render_file("missing.j2", &ctx) {
            Err(TemplateError::Render { detail, .. }) => {
                assert!(detail.contains("does not exist (looked in"), "{detail}")
            }
            other => panic!("expected not found, got {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn templates_are_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Templates>();
        assert_send_sync::<SharedContext>();
        assert_send_sync::<TemplateError>();
    }

    #[test]
    fn scanner_finds_paths() {
        let paths = scan_paths("{{ hostvars['h1'].x | default(y, true) }} {% if a is defined and b[0] %}{{ f(c) }}{% endif %} {{ d.m() }}");
        let shown: Vec<String> = paths.iter().map(|p| show_path(&p.head, &p.steps)).collect();
        assert_eq!(shown, ["hostvars['h1'].x", "y", "a", "b[0]", "c", "d"]);
    }
}
