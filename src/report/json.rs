//! `--format json`: one JSON object per event per line on stdout.

use super::event::Event;
use std::io::Write;

/// Writes JSON Lines; each line is flushed so a consumer can follow live.
pub struct JsonReporter {
    out: std::io::Stdout,
}

impl JsonReporter {
    /// A reporter on stdout.
    pub fn stdout() -> Self {
        JsonReporter { out: std::io::stdout() }
    }

    /// Handles one event.
    pub fn emit(&mut self, event: &Event) {
        // Straight to stdout: an event may carry megabytes of command output,
        // and a copy of it as one string would double that.
        let mut lock = self.out.lock();
        if serde_json::to_writer(&mut lock, event).is_ok() {
            let _ = writeln!(lock);
        }
        let _ = lock.flush();
        if let Event::Error { msg } = event {
            // Humans watching a JSON run still need to see why it stopped.
            let _ = writeln!(std::io::stderr(), "{msg}");
        }
    }
}
