//! Reporting: events in, human lines or JSON Lines out, through one seam.

pub mod event;
pub mod human;
pub mod json;
pub mod mask;

pub use event::{Event, FileDiff, HostStats, Status, TaskResult};
pub use mask::Masker;

/// The output format chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines and a recap table for people.
    Human,
    /// JSON Lines, one event per line.
    Json,
}

/// The one consumer of events.
pub enum Reporter {
    /// For people.
    Human(human::HumanReporter),
    /// For machines.
    Json(json::JsonReporter),
}

impl Reporter {
    /// The reporter for `format`.
    pub fn new(format: Format, verbosity: u8) -> Self {
        match format {
            Format::Human => Reporter::Human(human::HumanReporter::stdout(verbosity)),
            Format::Json => Reporter::Json(json::JsonReporter::stdout()),
        }
    }

    /// Handles one event.
    pub fn emit(&mut self, event: &Event) {
        match self {
            Reporter::Human(r) => r.emit(event),
            Reporter::Json(r) => r.emit(event),
        }
    }
}
