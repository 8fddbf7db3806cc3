//! `ferry plan`: what a migration would do, found without changing anything.
//!
//! Every input is read and checked first (inventory, `-e` values, the
//! playbook), so a typo ends the plan before any connection, pointing into
//! the file. Then one SSH connection to `groups.source_admin[0]` runs the
//! `rbd_chain` module, which only reads (`rbd info`, `rbd ls`), exactly as the
//! playbook's own first play does; the target is not contacted. The result:
//! the clone chains as a tree, each pool's mirror mode and why, the issues,
//! the source's enabling steps, the renames, the cutover's proof, and the
//! playbook's phases with the command that runs each one.

mod chain_view;
mod config;
mod error;
mod inputs;
mod migration_plan;
mod phases;
mod render;
#[cfg(test)]
mod tests;

pub use chain_view::{ChainView, IssueView, PoolView};
pub use config::PlanConfig;
pub use error::{PlanError, PlanErrorKind};
pub use inputs::{MigrationInputs, Rename, Verify, SOURCE_ADMIN, TARGET_ADMIN};
pub use migration_plan::MigrationPlan;
pub use phases::{Phase, PhasePlay};
pub use render::render_human;

use crate::executor::{preflight, ConnectionPool};
use crate::inventory::Inventory;
use crate::modules::{ModuleCall, ModuleContext, ModuleError};
use crate::template::Templates;
use crate::transport::TransportError;
use serde_json::json;

/// Exit status when an issue blocks the migration (or the source's chains
/// could not be read): as `ferry play`'s failed task.
pub const EXIT_BLOCKED: i32 = 2;
/// Exit status when the source admin host cannot be reached: as `ferry play`'s
/// unreachable host.
pub const EXIT_UNREACHABLE: i32 = 4;

/// How many problems of one kind are printed at most.
const MAX_SHOWN: usize = 20;

/// Reads the inputs, then the source's chains, and puts the plan together.
///
/// # Errors
///
/// Bad input (before any connection), an unreachable source admin host, or
/// chains the source could not list.
pub fn make_plan(cfg: &PlanConfig) -> Result<MigrationPlan, PlanError> {
    let mut errors = Vec::new();
    let playbook = crate::playbook::load_playbook(&cfg.playbook).map_err(|e| errors.push(e.to_string())).ok();
    let inventory = Inventory::load(&cfg.inventories).map_err(|e| errors.push(e.to_string())).ok();
    let (Some(playbook), Some(inventory)) = (playbook, inventory) else {
        return Err(PlanError::input(errors.join("\n\n")));
    };
    // The migration's own values first: they are what the user just wrote.
    let inputs = MigrationInputs::resolve(&inventory, &cfg.extra_var_args, &cfg.extra_vars)
        .map_err(|e| PlanError::input(e.into_iter().take(MAX_SHOWN).collect::<Vec<_>>().join("\n\n")))?;
    // Then the checks `ferry play` makes: a plan for a playbook that cannot run is no plan.
    let templates = Templates::new(crate::executor::default_template_dirs(std::slice::from_ref(&cfg.playbook)));
    if let Err(diags) = preflight::check(std::slice::from_ref(&playbook), &inventory, &cfg.extra_vars, &templates) {
        let text: Vec<String> = diags.iter().take(MAX_SHOWN).map(ToString::to_string).collect();
        return Err(PlanError::input(text.join("\n\n")));
    }
    let phases = Phase::of_playbook(&playbook);
    let chain = read_chain(cfg, &inventory, &inputs)?;
    Ok(MigrationPlan::new(inputs, chain, cfg.playbook.clone(), phases))
}

/// Runs `rbd_chain` on the source admin host, read-only.
fn read_chain(cfg: &PlanConfig, inventory: &Inventory, inputs: &MigrationInputs) -> Result<ChainView, PlanError> {
    let args = json!({
        "cluster": inputs.source_cluster,
        "images": inputs.images.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "whole_pools": inputs.whole_pools,
        // As the playbooks call it: mirror.yml turns journaling on first.
        "enables_journaling": true,
    });
    let module = ModuleCall::from_args("rbd_chain", &args).map_err(|(_, msg)| PlanError::input(format!("error: {msg}")))?;
    let host = inputs.source_admin.as_str();
    let templates = Templates::new(Vec::new());
    let shared = inputs::shared_context(inventory, &cfg.extra_vars);
    let raw = inputs::host_context_vars(inventory, host, &cfg.extra_vars);
    let ctx = templates.context(&raw, &shared);
    // Connection variables may be templates too (`ansible_host: "{{ mgmt_ip }}"`).
    let vars: crate::vars::Vars = raw.iter().map(|(k, v)| (k.clone(), inputs::render_fully(&templates, v, &ctx).unwrap_or_else(|_| v.clone()))).collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| PlanError::input(format!("error: cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let pool = ConnectionPool::new(cfg.ssh.clone(), cfg.remote_user.clone(), cfg.private_key.clone());
        let result = async {
            let spec = pool.spec_for(host, &vars, false).map_err(|e| unreachable_or_input(host, e))?;
            let conn = pool.get(host, &spec).await.map_err(|e| unreachable_or_input(host, e))?;
            let no_progress = |_: &str, _: u64, _: u64, _: &str| {};
            let cx = ModuleContext {
                host,
                conn: &conn,
                timeout: cfg.command_timeout,
                env: &[],
                diff: false,
                check: true,
                templates: &templates,
                vars_ctx: &ctx,
                search_dirs: &[],
                progress: &no_progress,
            };
            match module.run(&cx).await {
                Ok(out) => ChainView::from_result(&out.result).map_err(|e| {
                    let why = if out.failed { out.msg } else { e };
                    source_error(host, format!("error: cannot plan the clone chains on cluster {}: {why}", inputs.source_cluster))
                }),
                Err(ModuleError::Transport(e)) if e.is_unreachable() => Err(unreachable(host, &e)),
                Err(ModuleError::Transport(e)) => Err(source_error(host, format!("error: {e}"))),
                Err(ModuleError::Failed(f)) => {
                    let mut text = format!("error: on {host}: {}", f.msg);
                    if let Some(cmd) = &f.command {
                        text.push_str(&format!("\n  command: {cmd}"));
                    }
                    if let Some(rc) = f.rc {
                        text.push_str(&format!("\n  exit status: {rc}"));
                    }
                    let stderr: Vec<&str> = f.stderr.as_deref().unwrap_or_default().lines().filter(|l| !l.trim().is_empty()).collect();
                    for line in &stderr[stderr.len().saturating_sub(5)..] {
                        text.push_str(&format!("\n  stderr: {line}"));
                    }
                    Err(source_error(host, text))
                }
            }
        }
        .await;
        pool.close_all().await;
        result
    })
}

fn unreachable(host: &str, e: &TransportError) -> PlanError {
    PlanError {
        kind: PlanErrorKind::Unreachable { host: host.to_string() },
        message: format!("error: cannot reach the source admin host {host} (groups.{SOURCE_ADMIN}[0]): {e}"),
    }
}

/// A local connection setting that is wrong (an unreadable key, a bad ssh
/// config) is bad input; anything else means the host did not let us in.
fn unreachable_or_input(host: &str, e: TransportError) -> PlanError {
    match e {
        TransportError::Config { .. } => PlanError::input(format!("error: {e}")),
        other => unreachable(host, &other),
    }
}

fn source_error(host: &str, message: String) -> PlanError {
    PlanError { kind: PlanErrorKind::Source { host: host.to_string() }, message }
}
