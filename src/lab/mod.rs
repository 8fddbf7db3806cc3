//! STUB until the lab lands.
pub mod cli;
