//! `ferry plan`'s text for people.

use super::config::PlanConfig;
use super::migration_plan::MigrationPlan;
use std::fmt::Write;

/// The plan as text: header, chains, pools, issues, steps, renames, proof,
/// phases, and a last line that says whether it can go ahead.
pub fn render_human(plan: &MigrationPlan, cfg: &PlanConfig) -> String {
    let mut out = String::new();
    let i = &plan.inputs;
    let _ = writeln!(out, "ferry plan: {} (via {}) -> {} (via {})", i.source_cluster, i.source_admin, i.target_cluster, i.target_admin);
    let _ = writeln!(out, "read the source with `rbd info` and `rbd ls` on {}; nothing was changed", i.source_admin);

    section(&mut out, "Clone chains, mirrored root first:");
    if plan.chain.tree.is_empty() {
        let _ = writeln!(out, "  (no images)");
    }
    for line in plan.chain.tree.lines() {
        let _ = writeln!(out, "  {line}");
    }

    section(&mut out, "Pools:");
    let width = plan.chain.pools.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in &plan.chain.pools {
        let _ = writeln!(out, "  {:<width$}  {} mode: {}", p.name, p.mode, p.reason);
    }

    let issues: Vec<_> = plan.issues().collect();
    if issues.is_empty() {
        section(&mut out, "Issues: none");
    } else {
        section(&mut out, "Issues:");
        for issue in &issues {
            let tag = if issue.blocking { "error" } else { "warning" };
            let _ = writeln!(out, "  {tag}: {}", issue.message);
        }
    }

    section(&mut out, "Mirroring, enabled in this order:");
    for (n, step) in plan.chain.steps.iter().enumerate() {
        let _ = writeln!(out, "  {:>2}. {step}", n + 1);
    }

    if i.renames.is_empty() {
        section(&mut out, "Renames: none (the migrated volumes keep their names)");
    } else {
        section(&mut out, "Renames after the cutover (old -> new):");
        for r in &i.renames {
            let _ = writeln!(out, "  {} -> {}", r.from, r.to);
            let _ = writeln!(out, "      {}", r.how());
        }
    }

    section(&mut out, &format!("Proof at the cutover (verify: {}, keep_source_online: {}):", i.verify.as_str(), i.keep_source_online));
    let _ = writeln!(out, "  {}", plan.proof());

    section(&mut out, "Before the demotion:");
    let _ = writeln!(out, "  {}", plan.gate());

    section(&mut out, &format!("Phases of {}, in order:", plan.playbook.display()));
    let width = plan.phases.iter().map(|p| p.tag.as_deref().map_or(1, str::len)).max().unwrap_or(0);
    let pad = " ".repeat(width + 4);
    for phase in &plan.phases {
        let tag = phase.tag.as_deref().unwrap_or("-");
        for (n, play) in phase.plays.iter().enumerate() {
            let head = if n == 0 { format!("  {tag:<width$}  ") } else { pad.clone() };
            let _ = writeln!(out, "{head}{}", play.name);
        }
        let how = match &phase.tag {
            _ if phase.always => "runs with every phase".to_string(),
            Some(tag) => format!("$ {}", cfg.phase_command(tag)),
            None => "untagged: runs only when no --tags is given".to_string(),
        };
        let _ = writeln!(out, "{pad}{how}");
    }

    out.push('\n');
    let blocking = issues.iter().filter(|i| i.blocking).count();
    let counts = format!("{} image(s), {} pool(s), {} step(s)", plan.chain.order.len(), plan.chain.pools.len(), plan.chain.steps.len());
    if blocking == 0 {
        let _ = writeln!(out, "plan: {counts}; nothing blocks the migration");
    } else {
        let _ = writeln!(out, "plan: {counts}; BLOCKED by {blocking} issue(s) above: fix them before running the phases");
    }
    out
}

fn section(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n{title}");
}
