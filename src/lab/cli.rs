//! `ferry lab ...`: the lab's command-line face. `ferry lab hosts up|down` brings a
//! bare SSH lab up or down (benchmarks, manual rehearsal).

use std::io::Write;
use std::path::PathBuf;

use super::error::LabError;
use super::registry::{self, LabRecord};
use super::{SshLab, SshLabConfig};

/// Runs `ferry lab ARGS...` (`args` are the words after `lab`) and returns the exit
/// code: 0 done, 1 usage or lab error (printed on stderr).
pub fn run(args: &[String]) -> i32 {
    let result = match args.split_first() {
        Some((word, rest)) if word == "hosts" => hosts_command(rest),
        _ => Err(LabError::Config(HOSTS_USAGE.to_string())),
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
    let opts = Options::parse(rest)?;
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

#[derive(Debug, Default)]
struct Options {
    name: Option<String>,
    count: Option<String>,
    dir: Option<String>,
    net: Option<String>,
    inventory: Option<String>,
    bastion: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, LabError> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--bastion" {
                o.bastion = true;
                continue;
            }
            let slot = match flag.as_str() {
                "--name" => &mut o.name,
                "--count" => &mut o.count,
                "--dir" => &mut o.dir,
                "--net" => &mut o.net,
                "--inventory" => &mut o.inventory,
                _ => return Err(LabError::Config(format!("unknown option {flag:?}\n{HOSTS_USAGE}"))),
            };
            let value = it.next().ok_or_else(|| LabError::Config(format!("{flag} needs a value\n{HOSTS_USAGE}")))?;
            *slot = Some(value.clone());
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
        assert!(Options::parse(&words("--name a --bogus 1")).is_err());
        assert!(Options::parse(&words("--name")).is_err());
        let o = Options::parse(&words("--name a --bastion --count 3")).ok();
        assert!(o.is_some_and(|o| o.bastion && o.count.as_deref() == Some("3")));
    }
}
