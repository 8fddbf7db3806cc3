//! Which TCP sockets a process listens on, read from /proc (no tool, any namespace):
//! `/proc/PID/net/tcp` lists the sockets of the process's own network namespace,
//! `/proc/PID/fd` says which of them are its own.

use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// The addresses `pid` listens on (TCP, v4 and v6). Empty when it is gone.
pub(crate) fn listening(pid: u32) -> Vec<SocketAddr> {
    let inodes = socket_inodes(pid);
    let mut found = Vec::new();
    for (table, v6) in [("tcp", false), ("tcp6", true)] {
        let text = fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        found.extend(parse_table(&text, v6).into_iter().filter(|s| s.listening && inodes.contains(&s.inode)).map(|s| s.local));
    }
    found.sort();
    found.dedup();
    found
}

/// Inodes of the sockets among `pid`'s open files.
fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .filter_map(|target| target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok())
        .collect()
}

/// One row of `/proc/net/tcp[6]`.
#[derive(Debug, PartialEq)]
struct Row {
    local: SocketAddr,
    listening: bool,
    inode: u64,
}

/// Rows of `/proc/net/tcp` (`v6 = false`) or `/proc/net/tcp6`; unreadable rows are
/// skipped.
fn parse_table(text: &str, v6: bool) -> Vec<Row> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            let f: Vec<&str> = line.split_whitespace().collect();
            let (ip, port) = f.get(1)?.split_once(':')?;
            let port = u16::from_str_radix(port, 16).ok()?;
            let ip = if v6 { std::net::IpAddr::V6(parse_v6(ip)?) } else { std::net::IpAddr::V4(parse_v4(ip)?) };
            Some(Row { local: SocketAddr::new(ip, port), listening: *f.get(3)? == "0A", inode: f.get(9)?.parse().ok()? })
        })
        .collect()
}

/// The kernel prints each 32-bit word of an address as a host-order number, so the
/// bytes come back with `to_ne_bytes`.
fn word(hex: &str) -> Option<[u8; 4]> {
    Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
}

fn parse_v4(hex: &str) -> Option<Ipv4Addr> {
    (hex.len() == 8).then_some(())?;
    Some(Ipv4Addr::from(word(hex)?))
}

fn parse_v6(hex: &str) -> Option<Ipv6Addr> {
    (hex.len() == 32).then_some(())?;
    let mut bytes = [0u8; 16];
    for i in 0..4 {
        bytes[i * 4..i * 4 + 4].copy_from_slice(&word(hex.get(i * 8..i * 8 + 8)?)?);
    }
    Some(Ipv6Addr::from(bytes))
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    // /proc/PID/net/tcp of a site-b mon in lab host 172.31.237.2, captured here
    // (rows trimmed): the mon on 3300 and 6789, sshd on 22, an OSD on 6803, and a
    // client connection to the mon.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 02ED1FAC:0CE4 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 851977 1 0000000095df71a7 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 850835 1 00000000d7274177 100 0 0 10 0
   2: 02ED1FAC:1A93 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 852126 1 0000000018823156 100 0 0 10 0
  10: 02ED1FAC:1A85 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 851978 1 0000000041ff9862 100 0 0 10 0
  11: 02ED1FAC:0CE4 02ED1FAC:8680 01 00000000:00000000 00:00000000 00000000     0        0 852047 1 00000000528d574e 20 4 19 17 -1
";

    #[test]
    fn rows_give_address_state_and_inode() {
        let rows = parse_table(TCP, false);
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0], Row { local: "172.31.237.2:3300".parse().unwrap(), listening: true, inode: 851977 });
        assert_eq!(rows[1].local, "0.0.0.0:22".parse::<SocketAddr>().unwrap());
        assert_eq!(rows[2].local, "172.31.237.2:6803".parse::<SocketAddr>().unwrap());
        assert_eq!(rows[3].local, "172.31.237.2:6789".parse::<SocketAddr>().unwrap());
        assert!(!rows[4].listening);
    }

    #[test]
    fn v6_words_are_host_order() {
        let text = "header\n   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 77 1\n";
        let rows = parse_table(text, true);
        assert_eq!(rows[0].local, "[::1]:22".parse::<SocketAddr>().unwrap());
        assert_eq!(rows[0].inode, 77);
    }

    #[test]
    fn garbage_rows_are_skipped() {
        assert!(parse_table("header\nnot a row\n   0: 0B01:ZZ 0 0A\n", false).is_empty());
    }
}
