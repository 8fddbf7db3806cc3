//! The root namespace's view: which links, namespaces and routes exist, and `ip -batch`.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use super::error::LabError;
use super::process::{run, run_with_input, PATH};

/// A /24 given by its first three octets.
pub(crate) type Net24 = [u8; 3];

/// `net.last` as an address.
pub(crate) fn addr(net: Net24, last: u8) -> Ipv4Addr {
    Ipv4Addr::new(net[0], net[1], net[2], last)
}

/// `net` as `a.b.c.0/24`.
pub(crate) fn cidr(net: Net24) -> String {
    format!("{}/24", addr(net, 0))
}

/// True for the RFC 1918 ranges: the lab never puts a public address on a link.
pub(crate) fn is_private(net: Net24) -> bool {
    net[0] == 10 || (net[0] == 172 && (16..=31).contains(&net[1])) || (net[0] == 192 && net[1] == 168)
}

/// A link of that name exists in the root namespace.
pub(crate) fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// A named network namespace of that name exists.
pub(crate) fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Runs `ip -batch -` with one command per line, all in one process: creating 200
/// namespaces and veths this way takes milliseconds instead of 600 process starts.
pub(crate) fn ip_batch(lines: &[String]) -> Result<(), LabError> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut input = lines.join("\n");
    input.push('\n');
    run_with_input(Command::new("ip").args(["-batch", "-"]).env_clear().env("PATH", PATH), input.as_bytes())?;
    Ok(())
}

/// [`ip_batch`] inside the named network namespace `netns` (`ip -n NETNS -batch -`).
pub(crate) fn ip_batch_in(netns: &str, lines: &[String]) -> Result<(), LabError> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut input = lines.join("\n");
    input.push('\n');
    run_with_input(Command::new("ip").args(["-n", netns, "-batch", "-"]).env_clear().env("PATH", PATH), input.as_bytes())?;
    Ok(())
}

/// Routes of the root namespace (all tables) that overlap `net`, as readable text.
/// A lab must not shadow a subnet that something else on this machine uses.
pub(crate) fn routes_overlapping(net: Net24) -> Result<Vec<String>, LabError> {
    let out = run(Command::new("ip").args(["-j", "-4", "route", "show", "table", "all"]).env_clear().env("PATH", PATH))?;
    let routes: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| LabError::io("parsing `ip -j -4 route show table all`", std::io::Error::other(e)))?;
    let mut hits = Vec::new();
    for route in routes.as_array().into_iter().flatten() {
        let Some(dst) = route.get("dst").and_then(|d| d.as_str()) else {
            continue;
        };
        if dst == "default" {
            continue;
        }
        let (ip, len) = match dst.split_once('/') {
            Some((ip, len)) => (ip, len.parse::<u32>().unwrap_or(32)),
            None => (dst, 32),
        };
        let Ok(ip) = ip.parse::<Ipv4Addr>() else {
            continue;
        };
        if overlaps(ip, len, net) {
            let dev = route.get("dev").and_then(|d| d.as_str()).unwrap_or("-");
            let kind = route.get("type").and_then(|d| d.as_str()).unwrap_or("unicast");
            hits.push(format!("{kind} {dst} dev {dev}"));
        }
    }
    Ok(hits)
}

/// Whether prefix `ip/len` and the /24 `net` share any address.
fn overlaps(ip: Ipv4Addr, len: u32, net: Net24) -> bool {
    let common = len.min(24);
    if common == 0 {
        return true;
    }
    let mask = u32::MAX << (32 - common);
    (u32::from(ip) & mask) == (u32::from(addr(net, 0)) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_decided_on_the_shorter_prefix() {
        let net = [172, 31, 210];
        assert!(overlaps(Ipv4Addr::new(172, 31, 210, 7), 32, net));
        assert!(overlaps(Ipv4Addr::new(172, 16, 0, 0), 12, net));
        assert!(!overlaps(Ipv4Addr::new(172, 31, 211, 0), 24, net));
        assert!(!overlaps(Ipv4Addr::new(192, 0, 2, 0), 24, net));
    }

    #[test]
    fn only_rfc1918_nets_are_private() {
        assert!(is_private([172, 31, 210]));
        assert!(is_private([10, 1, 2]));
        assert!(!is_private([172, 32, 0]));
        assert!(!is_private([198, 51, 100]));
    }
}
