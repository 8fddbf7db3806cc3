//! `ferry lab ...`: the lab's command-line face. `ferry lab up|down|status` drive
//! the two-site lab ([`TwoSiteLab`], with Ceph on both sites unless `--no-ceph`);
//! `ferry lab demo` rehearses a whole migration on it ([`super::demo`]);
//! `ferry lab hosts up|down` brings a bare SSH lab up or down (benchmarks,
//! manual rehearsal).

use std::io::Write;
use std::path::PathBuf;

use std::time::Instant;

use super::ceph::ensure_packages;
use super::error::LabError;
use super::registry::{self, LabRecord};
use super::{SshLab, SshLabConfig, TwoSiteLab, TwoSiteLabConfig};

/// Usage of `ferry lab`, for the CLI's help text.
pub const USAGE: &str = "\
usage: ferry lab up [--name NAME] [--dir DIR] [--net A.B.C] [--sources N] [--targets M]
                    [--tool FILE]... [--inventory FILE] [--no-ceph] [--project DIR]
       ferry lab demo [the same options as up]
       ferry lab verify [--name NAME] [--project DIR]
       ferry lab down [--name NAME]
       ferry lab status [--name NAME]
       ferry lab hosts up|down ...   (a bare SSH lab: ferry lab hosts --help)
  up      the two-site lab, left running (run as root): N source and M target nodes, each
          in its own network namespace with its own sshd on the management net A.B.C.0/24,
          a source LAN 10.C.1.0/24, a target LAN 10.C.2.0/24 and a WAN with public
          addresses in 198.51.100.0/24 (sources) and 203.0.113.0/24 (targets); no
          default routes. Then a real Ceph cluster per site (site-src on src-node1,
          site-dst on dst-node1, bound to their LAN addresses) seeded with the
          rehearsal's volumes by playbooks/lab/ceph-seed.yml. Installs the Debian
          packages it lacks first (apt-get) and says which. Defaults: --name lab
          --dir /tmp/ferry-lab --net 172.31.250 --sources 3 --targets 3, the lab
          inventories/lab.yml describes. Writes DIR/inventory.yml (and FILE),
          DIR/ssh_config, DIR/known_hosts, DIR/id_ed25519.
          --tool FILE copies FILE into every node's private /usr/local/sbin (e.g. the
          ipvsadm stand-in tests/fixtures/bin/ipvsadm, for forward_method=ipvs);
          --no-ceph builds the network lab only; --project DIR is ferry's source tree
          (its playbooks/; default: the current dir, else the tree ferry was built from)
  demo    a full rehearsal: a fresh lab as `up` builds it, then playbooks/site.yml with
          inventories/lab-migration.yml, then ferry's own independent checks (checksums
          on both sides, new names, promoted and writable, nothing of the migration
          left); prints a summary and leaves the lab up for inspection
  verify  demo's checks alone, on the lab NAME after a site.yml run
  down    stops and removes the lab NAME (default lab)
  status  what the lab NAME has, which nodes' sshd answer and which Ceph daemons run";

/// Runs `ferry lab ARGS...` (`args` are the words after `lab`) and returns the exit
/// code: 0 done, 1 usage or lab error (printed on stderr).
pub fn run(args: &[String]) -> i32 {
    let result = match args.split_first() {
        Some((word, rest)) if word == "hosts" => hosts_command(rest),
        Some((word, rest)) if word == "up" => up_command(rest),
        Some((word, rest)) if word == "demo" => super::demo::demo_command(rest),
        Some((word, rest)) if word == "verify" => super::demo::verify_command(rest),
        Some((word, rest)) if word == "down" => down_command(rest),
        Some((word, rest)) if word == "status" => status_command(rest),
        Some((word, _)) if matches!(word.as_str(), "help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(LabError::Config(USAGE.to_string())),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Usage of [`hosts_command`], for the CLI's help text.
pub const HOSTS_USAGE: &str = "\
usage: ferry lab hosts up --name NAME --count N --dir DIR --net A.B.C [--bastion] [--inventory FILE]
       ferry lab hosts down --name NAME [--dir DIR]
  up    N hosts node01.. in network namespaces NAME-hNN on A.B.C.0/24 (RFC 1918), each
        with its own sshd; writes DIR/inventory.yml (or FILE), DIR/ssh_config,
        DIR/known_hosts, DIR/id_ed25519, and leaves the lab running
  down  stops and removes the lab NAME (its record is in /run/ferry-lab/NAME.json,
        or DIR/lab.json)";

/// Runs `ferry lab hosts ARGS...` where `args` are the words after `hosts`
/// (`["up", "--name", "b10", "--count", "10", "--dir", "/tmp/b10", "--net", "172.31.230"]`).
/// Prints what it did on stdout.
pub fn hosts_command(args: &[String]) -> Result<(), LabError> {
    let Some((verb, rest)) = args.split_first() else {
        return Err(LabError::Config(HOSTS_USAGE.to_string()));
    };
    if matches!(verb.as_str(), "help" | "-h" | "--help") {
        println!("{HOSTS_USAGE}");
        return Ok(());
    }
    let opts = Options::parse(rest, HOSTS_USAGE)?;
    let mut out = std::io::stdout().lock();
    let say = |out: &mut std::io::StdoutLock<'_>, line: String| {
        // Losing stdout (a closed pipe) must not abort a half-built lab.
        let _ = writeln!(out, "{line}");
    };
    match verb.as_str() {
        "up" => {
            let name = opts.required("--name", &opts.name)?;
            let dir = PathBuf::from(opts.required("--dir", &opts.dir)?);
            let count: usize = opts.required("--count", &opts.count)?.parse().map_err(|_| LabError::Config("--count takes a number (1..=250)".into()))?;
            let net = parse_net(opts.required("--net", &opts.net)?)?;
            let lab = SshLab::up(SshLabConfig { name: name.to_string(), dir: dir.clone(), net, hosts: count, bastion: opts.bastion })?;
            let inventory = opts.inventory.as_ref().map(PathBuf::from).unwrap_or_else(|| lab.dir().join("inventory.yml"));
            lab.write_inventory(&inventory, &[])?;
            say(
                &mut out,
                format!(
                    "lab {name}: {count} hosts up on {}.{}.{}.0/24{}",
                    net[0],
                    net[1],
                    net[2],
                    if opts.bastion { " (+ inner01 behind node01)" } else { "" }
                ),
            );
            say(&mut out, format!("inventory    {}", inventory.display()));
            say(&mut out, format!("ssh_config   {}", lab.ssh_config().display()));
            say(&mut out, format!("known_hosts  {}", lab.known_hosts().display()));
            say(&mut out, format!("key          {}", lab.client_key().display()));
            let dir = lab.persist();
            say(&mut out, format!("remove with: ferry lab hosts down --name {name} --dir {}", dir.display()));
            Ok(())
        }
        "down" => {
            let name = opts.required("--name", &opts.name)?;
            if SshLab::down_named(name)? {
                say(&mut out, format!("lab {name}: down"));
                return Ok(());
            }
            if let Some(dir) = &opts.dir {
                let path = LabRecord::dir_copy_path(&PathBuf::from(dir));
                if let Some(record) = LabRecord::load(&path)? {
                    if record.name != name {
                        return Err(LabError::Config(format!("{} holds lab {}, not {name}", path.display(), record.name)));
                    }
                    let _lock = registry::try_lock(name)?.ok_or_else(|| LabError::InUse(format!("lab {name} is held by a running process")))?;
                    registry::teardown(&record, Vec::new(), false)?;
                    say(&mut out, format!("lab {name}: down"));
                    return Ok(());
                }
            }
            say(&mut out, format!("lab {name}: nothing recorded, nothing to do"));
            Ok(())
        }
        other => Err(LabError::Config(format!("unknown lab hosts command {other:?}\n{HOSTS_USAGE}"))),
    }
}

/// Runs `ferry lab up ARGS...`: the two-site lab, left running.
fn up_command(args: &[String]) -> Result<(), LabError> {
    let opts = Options::parse(args, USAGE)?;
    let (lab, _project) = bring_up(&opts)?;
    let name = lab.name().to_string();
    say(format!("inventory    {}", lab.inventory().display()));
    say(format!("ssh_config   {}", lab.ssh_config().display()));
    say(format!("known_hosts  {}", lab.known_hosts().display()));
    let inventory = lab.inventory().display().to_string();
    let known_hosts = lab.known_hosts().display().to_string();
    if lab.clusters().is_empty() {
        say(format!("try:         ferry play playbooks/network.yml -i {inventory} --known-hosts {known_hosts}"));
    } else {
        say(format!("plan:        ferry plan -i {inventory} --known-hosts {known_hosts} -e @inventories/lab-migration.yml"));
        say(format!("migrate:     ferry play playbooks/site.yml -i {inventory} --known-hosts {known_hosts} -e @inventories/lab-migration.yml"));
    }
    say(format!("remove with: ferry lab down --name {name}"));
    lab.persist();
    Ok(())
}

/// Prints a line on stdout. Losing stdout (a closed pipe) must not abort a
/// half-built lab: the lab is up or torn down either way.
pub(crate) fn say(line: String) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// What `up` and `demo` share: the packages, the lab `opts` describe (torn down
/// again if a step fails), its Ceph clusters and their seed data. Returns the
/// lab, still owned (dropping it tears it down), and ferry's source tree when
/// the lab has Ceph (its playbooks seeded it).
pub(crate) fn bring_up(opts: &Options) -> Result<(TwoSiteLab, Option<PathBuf>), LabError> {
    if opts.bastion || opts.count.is_some() {
        return Err(LabError::Config(format!("--bastion and --count belong to `ferry lab hosts up`\n{USAGE}")));
    }
    let mut cfg = TwoSiteLabConfig::default_lab();
    if let Some(name) = &opts.name {
        if *name != cfg.name {
            cfg.dir = PathBuf::from(format!("/tmp/ferry-lab-{name}"));
        }
        cfg.name = name.clone();
    }
    if let Some(dir) = &opts.dir {
        cfg.dir = PathBuf::from(dir);
    }
    if let Some(net) = &opts.net {
        cfg.net = parse_net(net)?;
    }
    let count = |flag: &str, v: &Option<String>, default: usize| -> Result<usize, LabError> {
        match v {
            None => Ok(default),
            Some(t) => t.parse().map_err(|_| LabError::Config(format!("{flag} takes a number of nodes (1..=50), not {t:?}"))),
        }
    };
    cfg.sources = count("--sources", &opts.sources, cfg.sources)?;
    cfg.targets = count("--targets", &opts.targets, cfg.targets)?;
    cfg.tools = opts.tools.iter().map(PathBuf::from).collect();
    cfg.ceph = !opts.no_ceph;
    // Found before anything is built: a missing tree fails in a second, not after the lab.
    let project = if cfg.ceph { Some(project_dir(opts.project.as_deref())?) } else { None };
    if cfg.ceph {
        let installed = ensure_packages(|line| say(line.to_string()))?;
        if installed.is_empty() {
            say("packages: all installed".into());
        }
    }
    let name = cfg.name.clone();
    let started = Instant::now();
    let lab = TwoSiteLab::up(cfg)?;
    say(format!(
        "lab {name}: {} source + {} target nodes up; management {}, no default routes",
        lab.site(super::Site::Source).len(),
        lab.site(super::Site::Target).len(),
        lab.management_net()
    ));
    for h in lab.hosts() {
        let offset = h.port_offset.map(|o| format!("  port_offset {o}")).unwrap_or_default();
        let line = format!("  {:<10} {:<6}  mgmt {:<15} lan {:<13} public {:<15}{offset}", h.host.name, h.site.as_str(), h.host.ip, h.lan_ip, h.public_ip);
        say(line.trim_end().to_string());
    }
    for c in lab.clusters() {
        let daemons: Vec<&str> = c.daemons.iter().map(|d| d.name.as_str()).collect();
        say(format!("  ceph {:<9} on {:<10} {:<13} {} (fsid {})", c.spec.cluster, c.spec.host, c.spec.addr, daemons.join(" "), c.fsid));
    }
    if let Some(extra) = &opts.inventory {
        lab.write_inventory(&PathBuf::from(extra))?;
        say(format!("inventory    {extra}"));
    }
    if let Some(project) = &project {
        say(format!("seeding the rehearsal's volumes with {}", project.join(SEED_PLAYBOOK).display()));
        let code = ferry_play(&[
            project.join(SEED_PLAYBOOK).display().to_string(),
            "-i".into(),
            lab.inventory().display().to_string(),
            "--known-hosts".into(),
            lab.known_hosts().display().to_string(),
        ]);
        if code != 0 {
            return Err(LabError::Config(format!("{SEED_PLAYBOOK} failed (exit {code}, see above); the lab was taken down again")));
        }
    }
    say(format!("lab {name}: up in {:.0} s", started.elapsed().as_secs_f64()));
    Ok((lab, project))
}

/// The playbook that gives the lab's clusters their pools and volumes.
const SEED_PLAYBOOK: &str = "playbooks/lab/ceph-seed.yml";

/// Runs `ferry play ARGS...` in this process: the lab's data, and the demo's
/// migration, go through ferry's own engine. Returns its exit code.
pub(crate) fn ferry_play(args: &[String]) -> i32 {
    let argv = ["ferry".to_string(), "play".to_string()].into_iter().chain(args.iter().cloned());
    match <crate::cli::Cli as clap::Parser>::try_parse_from(argv) {
        Ok(cli) => crate::run::main(cli),
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// Ferry's source tree (see [`crate::cli::source_tree`]), for the lab's playbooks.
pub(crate) fn project_dir(given: Option<&str>) -> Result<PathBuf, LabError> {
    let tree = crate::cli::source_tree(given.map(std::path::Path::new)).map_err(|e| match given {
        Some(_) => LabError::Config(format!("--project {e}")),
        None => LabError::Config(format!("cannot find ferry's playbooks: {e}")),
    })?;
    // Absolute, so the paths the lab prints can be pasted from anywhere.
    if tree.as_os_str().is_empty() {
        return std::env::current_dir().map_err(|e| LabError::io("reading the current dir", e));
    }
    Ok(std::path::absolute(&tree).unwrap_or(tree))
}

/// Runs `ferry lab down ARGS...`.
fn down_command(args: &[String]) -> Result<(), LabError> {
    let opts = Options::parse(args, USAGE)?;
    let name = opts.name.as_deref().unwrap_or("lab");
    let mut out = std::io::stdout().lock();
    if TwoSiteLab::down_named(name)? {
        let _ = writeln!(out, "lab {name}: down");
    } else {
        let _ = writeln!(out, "lab {name}: nothing recorded, nothing to do");
    }
    Ok(())
}

/// Runs `ferry lab status ARGS...`.
fn status_command(args: &[String]) -> Result<(), LabError> {
    let opts = Options::parse(args, USAGE)?;
    let name = opts.name.as_deref().unwrap_or("lab");
    let mut out = std::io::stdout().lock();
    let Some(st) = super::status(name)? else {
        let _ = writeln!(out, "lab {name}: not up (nothing recorded in {}/{name}.json)", registry::REGISTRY);
        return Ok(());
    };
    let (present, recorded) = st.netns_present;
    let state = if present == recorded { "up" } else { "partly up" };
    let holder = if st.held { ", held by a running process" } else { "" };
    let _ = writeln!(out, "lab {}: {state} ({present} of {recorded} namespaces{holder}), dir {}", st.name, st.dir.display());
    for line in &st.hosts {
        let _ = writeln!(out, "  {line}");
    }
    for line in &st.clusters {
        let _ = writeln!(out, "  ceph {line}");
    }
    Ok(())
}

#[derive(Debug, Default)]
pub(crate) struct Options {
    pub(crate) name: Option<String>,
    count: Option<String>,
    dir: Option<String>,
    net: Option<String>,
    inventory: Option<String>,
    sources: Option<String>,
    targets: Option<String>,
    tools: Vec<String>,
    bastion: bool,
    pub(crate) no_ceph: bool,
    pub(crate) project: Option<String>,
}

impl Options {
    pub(crate) fn parse(args: &[String], usage: &str) -> Result<Options, LabError> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--bastion" {
                o.bastion = true;
                continue;
            }
            if flag == "--no-ceph" {
                o.no_ceph = true;
                continue;
            }
            let value = |it: &mut std::slice::Iter<'_, String>| it.next().cloned().ok_or_else(|| LabError::Config(format!("{flag} needs a value\n{usage}")));
            if flag == "--tool" {
                o.tools.push(value(&mut it)?);
                continue;
            }
            let slot = match flag.as_str() {
                "--name" => &mut o.name,
                "--count" => &mut o.count,
                "--dir" => &mut o.dir,
                "--net" => &mut o.net,
                "--inventory" => &mut o.inventory,
                "--sources" => &mut o.sources,
                "--targets" => &mut o.targets,
                "--project" => &mut o.project,
                _ => return Err(LabError::Config(format!("unknown option {flag:?}\n{usage}"))),
            };
            *slot = Some(value(&mut it)?);
        }
        Ok(o)
    }

    fn required<'a>(&self, flag: &str, value: &'a Option<String>) -> Result<&'a str, LabError> {
        value.as_deref().ok_or_else(|| LabError::Config(format!("{flag} is required\n{HOSTS_USAGE}")))
    }
}

/// `A.B.C` -> `[A, B, C]`.
fn parse_net(text: &str) -> Result<[u8; 3], LabError> {
    let parts: Vec<Option<u8>> = text.split('.').map(|p| p.parse().ok()).collect();
    match parts.as_slice() {
        [Some(a), Some(b), Some(c)] => Ok([*a, *b, *c]),
        _ => Err(LabError::Config(format!("--net {text:?}: give the first three octets of a /24, e.g. 172.31.230"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nets_are_three_octets() {
        assert_eq!(parse_net("172.31.230").ok(), Some([172, 31, 230]));
        assert!(parse_net("172.31.230.0").is_err());
        assert!(parse_net("172.31.300").is_err());
    }

    #[test]
    fn unknown_flags_and_missing_values_are_refused() {
        let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(Options::parse(&words("--name a --bogus 1"), USAGE).is_err());
        assert!(Options::parse(&words("--name"), USAGE).is_err());
        let o = Options::parse(&words("--name a --bastion --count 3"), HOSTS_USAGE).ok();
        assert!(o.is_some_and(|o| o.bastion && o.count.as_deref() == Some("3")));
        let o = Options::parse(&words("--tool a --tool b --sources 2"), USAGE).ok();
        assert!(o.is_some_and(|o| o.tools == ["a", "b"] && o.sources.as_deref() == Some("2")));
    }
}
