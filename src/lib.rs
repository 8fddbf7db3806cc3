//! ferry: an agentless push orchestrator for moving Ceph RBD volumes between
//! clusters. Data flows one way: inventory + playbook -> per-host plan ->
//! executor -> modules -> transport -> events -> reporters.

pub mod ceph;
pub mod cli;
pub mod diagnostic;
pub mod executor;
pub mod inventory;
pub mod lab;
pub mod modules;
pub mod plan;
pub mod playbook;
pub mod report;
pub mod run;
pub mod template;
pub mod transport;
pub mod vars;
