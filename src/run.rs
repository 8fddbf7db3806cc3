//! The edge of the program: turns a parsed command line into work and an
//! exit status. Errors become one clear message; nothing below here exits.

use crate::cli::{Cli, Command, InventoryArgs, PlanArgs, PlanFormat, PlayArgs};
use crate::executor::{preflight, EventSink, Executor};
use crate::inventory::Inventory;
use crate::report::{Event, Format, Masker, Reporter};
use crate::template::Templates;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Exit status for usage and input errors (ansible-playbook uses 1 too).
pub const EXIT_INPUT: i32 = 1;

/// Runs a command line; returns the process exit status.
pub fn main(cli: Cli) -> i32 {
    match cli.command {
        Command::Play(args) => play(args),
        Command::Plan(args) => plan(args),
        Command::Inventory(args) => inventory(args),
        Command::Lab(args) => crate::lab::cli::run(&args.args),
    }
}

fn fail_input(format: Format, msg: &str) -> i32 {
    match format {
        Format::Json => {
            let mut r = Reporter::new(Format::Json, 0);
            r.emit(&Event::Error { msg: msg.to_string() });
        }
        Format::Human => eprintln!("{msg}"),
    }
    EXIT_INPUT
}

fn play(args: PlayArgs) -> i32 {
    let format = args.format;
    let cfg = match args.into_run_config() {
        Ok(c) => c,
        Err(e) => return fail_input(format, &format!("error: {e}")),
    };
    // Everything is parsed and checked before a single connection is opened.
    let mut playbooks = Vec::new();
    let mut errors = Vec::new();
    for p in &cfg.playbooks {
        match crate::playbook::load_playbook(p) {
            Ok(pb) => playbooks.push(pb),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let inventory = match Inventory::load(&cfg.inventories) {
        Ok(i) => Some(i),
        Err(e) => {
            errors.push(e.to_string());
            None
        }
    };
    if !errors.is_empty() {
        return fail_input(format, &errors.join("\n\n"));
    }
    let Some(inventory) = inventory else { return EXIT_INPUT };
    let templates = Arc::new(Templates::new(cfg.template_dirs.clone()));
    if let Err(diags) = preflight::check(&playbooks, &inventory, &cfg.extra_vars, &templates) {
        let text: Vec<String> = diags.iter().take(20).map(|d| d.to_string()).collect();
        return fail_input(format, &text.join("\n\n"));
    }
    if let Err(problems) = preflight::key_files(&playbooks, &inventory, &cfg.extra_vars, cfg.private_key.as_deref(), cfg.limit.as_deref()) {
        return fail_input(format, &format!("{}\nnothing was run: fix the key files first", problems.join("\n")));
    }
    for pb in &playbooks {
        for play in &pb.plays {
            if let Err(e) = inventory.select(&play.hosts) {
                if !play.hosts.contains("{{") {
                    return fail_input(format, &format!("error: play `{}` ({}): {e}", play.name, play.location));
                }
            }
        }
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail_input(format, &format!("error: cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let masker = Masker::default();
        let sink = EventSink::new(tx, masker);
        let verbosity = cfg.verbosity;
        let reporter = tokio::task::spawn_blocking(move || {
            let mut reporter = Reporter::new(format, verbosity);
            while let Some(ev) = rx.blocking_recv() {
                reporter.emit(&ev);
            }
        });
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = interrupted.clone();
        let signal_sink = sink.clone();
        let signal_task = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
                signal_sink.emit(Event::Warning { msg: "interrupted: no new tasks are started; waiting for running commands".into() });
            }
        });
        let executor = Executor::new(cfg, inventory, templates, sink, interrupted);
        let summary = executor.run(&playbooks).await;
        // The signal watcher holds a sender: end it so the reporter sees the channel close.
        signal_task.abort();
        let _ = signal_task.await;
        drop(executor);
        let _ = reporter.await;
        summary.exit_code()
    })
}

fn plan(args: PlanArgs) -> i32 {
    let format = args.format;
    let outcome =
        args.into_plan_config().map_err(|e| crate::plan::PlanError::input(format!("error: {e}"))).and_then(|cfg| Ok((crate::plan::make_plan(&cfg)?, cfg)));
    match (outcome, format) {
        (Ok((plan, cfg)), PlanFormat::Json) => print_json(&plan.to_json(&cfg), plan.exit_code()),
        (Ok((plan, cfg)), PlanFormat::Human) => {
            print!("{}", crate::plan::render_human(&plan, &cfg));
            plan.exit_code()
        }
        (Err(e), PlanFormat::Json) => {
            let doc = serde_json::json!({"changed": false, "exit": e.exit_code(), "error": {"kind": e.kind.to_string(), "message": e.message}});
            print_json(&doc, e.exit_code())
        }
        (Err(e), PlanFormat::Human) => {
            eprintln!("{e}\nnothing was changed");
            e.exit_code()
        }
    }
}

/// Prints one JSON document; returns `code`, or 1 if it cannot be printed.
fn print_json(doc: &serde_json::Value, code: i32) -> i32 {
    match serde_json::to_string_pretty(doc) {
        Ok(s) => {
            println!("{s}");
            code
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_INPUT
        }
    }
}

fn inventory(args: InventoryArgs) -> i32 {
    let inv = match Inventory::load(&args.inventory) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_INPUT;
        }
    };
    if args.list {
        match serde_json::to_string_pretty(&inv.to_list_json()) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_INPUT;
            }
        }
        return 0;
    }
    if let Some(root) = &args.graph {
        return match inv.graph(Some(root)) {
            Ok(g) => {
                print!("{g}");
                if !g.ends_with('\n') {
                    println!();
                }
                0
            }
            Err(e) => {
                eprintln!("{e}");
                EXIT_INPUT
            }
        };
    }
    if let Some(host) = &args.host {
        if inv.host(host).is_none() {
            eprintln!("error: host `{host}` is not in the inventory");
            return EXIT_INPUT;
        }
        let vars = inv.host_vars_with_origin(host);
        let width = vars.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, (v, origin)) in &vars {
            let shown = serde_json::to_string(v).unwrap_or_default();
            println!("{k:<width$}  {shown}    # {origin}");
        }
        return 0;
    }
    eprintln!("error: say what to show: --list, --graph [GROUP] or --host HOST");
    EXIT_INPUT
}
