//! `ferry lab ...`: the lab's command-line face. `ferry lab up|down|status` drive
//! the two-site network lab ([`TwoSiteLab`]); `ferry lab hosts up|down` brings a
//! bare SSH lab up or down (benchmarks, manual rehearsal).

use std::io::Write;
use std::path::PathBuf;

use super::error::LabError;
use super::registry::{self, LabRecord};
use super::{SshLab, SshLabConfig, TwoSiteLab, TwoSiteLabConfig};

/// Usage of `ferry lab`, for the CLI's help text.
pub const USAGE: &str = "\
usage: ferry lab up [--name NAME] [--dir DIR] [--net A.B.C] [--sources N] [--targets M]
                    [--tool FILE]... [--inventory FILE]
       ferry lab down [--name NAME]
       ferry lab status [--name NAME]
       ferry lab hosts up|down ...   (a bare SSH lab: ferry lab hosts --help)
  up      the two-site network lab, left running: N source and M target nodes, each in
          its own network namespace with its own sshd on the management net A.B.C.0/24,
          a source LAN 10.C.1.0/24, a target LAN 10.C.2.0/24 and a WAN with public
          addresses in 198.51.100.0/24 (sources) and 203.0.113.0/24 (targets); no
          default routes. Defaults: --name lab --dir /tmp/ferry-lab --net 172.31.250
          --sources 3 --targets 3, the lab inventories/lab.yml describes. Writes
          DIR/inventory.yml (and FILE), DIR/ssh_config, DIR/known_hosts, DIR/id_ed25519.
          --tool FILE copies FILE into every node's private /usr/local/sbin (e.g. the
          ipvsadm stand-in tests/fixtures/bin/ipvsadm, for forward_method=ipvs)
  down    stops and removes the lab NAME (default lab)
  status  what the lab NAME has and which nodes' sshd answer";

/// Runs `ferry lab ARGS...` (`args` are the words after `lab`) and returns the exit
/// code: 0 done, 1 usage or lab error (printed on stderr).
pub fn run(args: &[String]) -> i32 {
    let result = match args.split_first() {
        Some((word, rest)) if word == "hosts" => hosts_command(rest),
        Some((word, rest)) if word == "up" => up_command(rest),
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
    let name = cfg.name.clone();
    let lab = TwoSiteLab::up(cfg)?;
    let mut out = std::io::stdout().lock();
    let mut lines = vec![format!(
        "lab {name}: {} source + {} target nodes up; management {}, no default routes",
        lab.site(super::Site::Source).len(),
        lab.site(super::Site::Target).len(),
        lab.management_net()
    )];
    for h in lab.hosts() {
        let offset = h.port_offset.map(|o| format!("  port_offset {o}")).unwrap_or_default();
        let line = format!("  {:<10} {:<6}  mgmt {:<15} lan {:<13} public {:<15}{offset}", h.host.name, h.site.as_str(), h.host.ip, h.lan_ip, h.public_ip);
        lines.push(line.trim_end().to_string());
    }
    if let Some(extra) = &opts.inventory {
        lab.write_inventory(&PathBuf::from(extra))?;
        lines.push(format!("inventory    {extra}"));
    }
    lines.push(format!("inventory    {}", lab.inventory().display()));
    lines.push(format!("ssh_config   {}", lab.ssh_config().display()));
    lines.push(format!("known_hosts  {}", lab.known_hosts().display()));
    lines.push(format!("try:         ferry play playbooks/network.yml -i {} --known-hosts {}", lab.inventory().display(), lab.known_hosts().display()));
    lines.push(format!("remove with: ferry lab down --name {name}"));
    lab.persist();
    for line in lines {
        // Losing stdout (a closed pipe) must not matter: the lab is up either way.
        let _ = writeln!(out, "{line}");
    }
    Ok(())
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
    Ok(())
}

#[derive(Debug, Default)]
struct Options {
    name: Option<String>,
    count: Option<String>,
    dir: Option<String>,
    net: Option<String>,
    inventory: Option<String>,
    sources: Option<String>,
    targets: Option<String>,
    tools: Vec<String>,
    bastion: bool,
}

impl Options {
    fn parse(args: &[String], usage: &str) -> Result<Options, LabError> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--bastion" {
                o.bastion = true;
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
