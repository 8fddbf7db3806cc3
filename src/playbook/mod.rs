//! STUB until the parser lands.
pub mod ast;
pub use ast::*;
#[derive(Debug, thiserror::Error)] #[error("x")] pub enum PlaybookError { X }
pub fn load_playbook(path: &std::path::Path) -> Result<Playbook, PlaybookError> { todo!() }
pub fn load_task_file(path: &std::path::Path) -> Result<Vec<Task>, PlaybookError> { todo!() }
