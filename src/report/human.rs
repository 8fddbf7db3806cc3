//! Output an operator can read at 3 a.m.: one line per result with a
//! right-aligned verb, a progress line on a TTY, a recap table, and the
//! failures again at the end as plain text.

use super::event::{Event, HostStats, Status, TaskResult};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;

/// Prints events for humans on stdout (diagnostics go to stderr).
pub struct HumanReporter {
    out: Box<dyn Write + Send>,
    progress: Option<ProgressBar>,
    tty: bool,
    verbosity: u8,
    failures: Vec<TaskResult>,
    current_task_hosts: usize,
    bars: indicatif::MultiProgress,
    progress_bars: std::collections::HashMap<(String, String), ProgressBar>,
    progress_printed: std::collections::HashMap<(String, String), (std::time::Instant, String)>,
}

impl HumanReporter {
    /// A reporter writing to stdout; progress bars only when stdout is a terminal.
    pub fn stdout(verbosity: u8) -> Self {
        use std::io::IsTerminal;
        let tty = std::io::stdout().is_terminal() && std::env::var_os("CI").is_none();
        HumanReporter {
            out: Box::new(std::io::stdout()),
            progress: None,
            tty,
            verbosity,
            failures: Vec::new(),
            current_task_hosts: 0,
            bars: indicatif::MultiProgress::new(),
            progress_bars: std::collections::HashMap::new(),
            progress_printed: std::collections::HashMap::new(),
        }
    }

    fn line(&mut self, text: &str) {
        match &self.progress {
            Some(pb) => pb.println(text),
            None => {
                let _ = writeln!(self.out, "{text}");
            }
        }
    }

    fn finish_progress(&mut self) {
        if let Some(pb) = self.progress.take() {
            pb.finish_and_clear();
        }
        for (_, pb) in self.progress_bars.drain() {
            pb.finish_and_clear();
        }
    }

    /// A bar per (host, key) on a terminal; elsewhere a plain line when the
    /// state changes, at most every 30 s per key, so CI logs stay readable.
    fn on_progress(&mut self, host: &str, key: &str, done: u64, total: u64, msg: &str) {
        let id = (host.to_string(), key.to_string());
        if self.tty {
            let bars = &self.bars;
            let pb = self.progress_bars.entry(id).or_insert_with(|| {
                let pb = bars.add(ProgressBar::new(total.max(1)));
                if let Ok(style) = ProgressStyle::with_template("  {prefix:30} [{bar:30}] {percent:>3}% {msg}") {
                    pb.set_style(style.progress_chars("=> "));
                }
                pb.set_prefix(format!("{host} {key}"));
                pb
            });
            pb.set_length(total.max(1));
            pb.set_position(done.min(total.max(1)));
            pb.set_message(msg.to_string());
            return;
        }
        let now = std::time::Instant::now();
        let due = match self.progress_printed.get(&id) {
            None => true,
            Some((at, last)) => last != msg && now.duration_since(*at).as_secs() >= 30,
        };
        if due {
            let pct = done.saturating_mul(100).checked_div(total).map(|p| format!(" {p:>3}%")).unwrap_or_default();
            self.line(&format!("{:>12}  {host}  {key}{pct}  {msg}", "progress"));
            self.progress_printed.insert(id, (now, msg.to_string()));
        }
    }

    /// Handles one event.
    pub fn emit(&mut self, event: &Event) {
        match event {
            Event::PlayStart { play, hosts } => {
                self.finish_progress();
                self.line(&format!("\nPLAY [{play}] ({} host{})", hosts.len(), if hosts.len() == 1 { "" } else { "s" }));
            }
            Event::HandlerStart { play } => {
                self.finish_progress();
                self.line(&format!("\nHANDLERS [{play}]"));
            }
            Event::TaskStart { task, location, host_count, .. } => {
                self.finish_progress();
                self.current_task_hosts = *host_count;
                self.line(&format!("\nTASK [{task}]  {location}"));
                if self.tty && *host_count > 1 {
                    let pb = ProgressBar::new(*host_count as u64);
                    if let Ok(style) = ProgressStyle::with_template("  {spinner} {pos}/{len} hosts {elapsed}") {
                        pb.set_style(style);
                    }
                    pb.enable_steady_tick(std::time::Duration::from_millis(120));
                    self.progress = Some(pb);
                }
            }
            Event::TaskResult(r) => {
                let text = self.result_line(r);
                self.line(&text);
                if let Some(pb) = &self.progress {
                    pb.inc(1);
                }
                if r.status == Status::Failed && !r.ignored || r.status == Status::Unreachable {
                    self.failures.push(r.clone());
                }
            }
            Event::Progress { host, key, done, total, msg, .. } => self.on_progress(host, key, *done, *total, msg),
            Event::Warning { msg } => {
                self.finish_progress();
                let _ = writeln!(std::io::stderr(), "warning: {msg}");
            }
            Event::Error { msg } => {
                self.finish_progress();
                let _ = writeln!(std::io::stderr(), "{msg}");
            }
            Event::Recap { hosts, elapsed_ms } => {
                self.finish_progress();
                let text = recap_text(hosts, *elapsed_ms);
                self.line(&text);
                if !self.failures.is_empty() {
                    let text = failures_text(&self.failures);
                    self.line(&text);
                }
            }
        }
    }

    fn result_line(&self, r: &TaskResult) -> String {
        let verb = if r.ignored { "ignored" } else { r.status.verb() };
        let mut host = r.host.clone();
        if let Some(d) = &r.delegated_to {
            host = format!("{host} -> {d}");
        }
        let mut text = format!("{verb:>12}  {host}");
        if let Some(item) = &r.item {
            text.push_str(&format!("  ({item})"));
        }
        let show_msg = !r.msg.is_empty() && (r.status != Status::Ok || self.verbosity > 0 || r.module == "debug");
        if show_msg {
            let first = r.msg.lines().next().unwrap_or("");
            text.push_str("  ");
            text.push_str(first);
            if r.module == "debug" || self.verbosity > 0 {
                for more in r.msg.lines().skip(1) {
                    text.push_str("\n              ");
                    text.push_str(more);
                }
            }
        }
        if self.verbosity > 0 {
            if let Some(out) = &r.stdout {
                if !out.is_empty() {
                    text.push_str(&indent_block("stdout", out));
                }
            }
            if let Some(err) = &r.stderr {
                if !err.is_empty() {
                    text.push_str(&indent_block("stderr", err));
                }
            }
        }
        for d in &r.diff {
            text.push('\n');
            text.push_str(d.unified.trim_end());
        }
        text
    }
}

fn indent_block(label: &str, body: &str) -> String {
    let mut s = format!("\n              {label}:");
    for l in body.trim_end().lines() {
        s.push_str("\n                ");
        s.push_str(l);
    }
    s
}

/// The recap, one row per host in Ansible's `name : ok=N changed=N ...` form,
/// which operators already know how to read and grep.
pub fn recap_text(hosts: &indexmap::IndexMap<String, HostStats>, elapsed_ms: u64) -> String {
    let width = hosts.keys().map(|h| h.len()).max().unwrap_or(4).max(4);
    let mut s = format!("\nRECAP ({:.1}s)", elapsed_ms as f64 / 1000.0);
    for (h, st) in hosts {
        let cells = [
            ("ok", st.ok),
            ("changed", st.changed),
            ("unreachable", st.unreachable),
            ("failed", st.failed),
            ("skipped", st.skipped),
            ("rescued", st.rescued),
            ("ignored", st.ignored),
        ];
        s.push_str(&format!("\n{h:<width$} :"));
        for (name, n) in cells {
            s.push_str(&format!(" {:<w$}", format!("{name}={n}"), w = name.len() + 5));
        }
        let trimmed = s.trim_end().len();
        s.truncate(trimmed);
    }
    s
}

/// Failures printed once more, as text: host, task, location, command, status, stderr tail.
pub fn failures_text(failures: &[TaskResult]) -> String {
    let mut s = String::from("\nFAILURES");
    for f in failures {
        s.push_str(&format!("\n  {} | {} | {}", f.host, f.task, f.location));
        s.push_str(&format!("\n    {}: {}", f.status.verb(), f.msg.lines().next().unwrap_or("")));
        for l in f.msg.lines().skip(1) {
            s.push_str("\n    ");
            s.push_str(l);
        }
        if let Some(cmd) = &f.command {
            s.push_str(&format!("\n    command: {cmd}"));
        }
        if let Some(rc) = f.rc {
            s.push_str(&format!("\n    exit status: {rc}"));
        }
        if let Some(err) = f.stderr.as_deref().filter(|e| !e.trim().is_empty()) {
            let lines: Vec<&str> = err.trim_end().lines().collect();
            for l in &lines[lines.len().saturating_sub(5)..] {
                s.push_str("\n    | ");
                s.push_str(l);
            }
        }
    }
    s
}
