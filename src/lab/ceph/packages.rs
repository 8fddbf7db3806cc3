//! The Debian packages the lab runs (its hosts and Ceph), and installing the
//! missing ones.

use std::process::Command;

use crate::lab::process::{run, PATH};
use crate::lab::LabError;

/// What the two-site lab with Ceph needs from Debian 12: the hosts' sshd and
/// tools, the firewalls the network phase drives, and Ceph 16.2 (Pacific) (about
/// 70 MB to download, 280 MB on disk).
pub const PACKAGES: [&str; 11] =
    ["openssh-server", "openssh-client", "iproute2", "util-linux", "iptables", "ufw", "ceph-mon", "ceph-mgr", "ceph-osd", "rbd-mirror", "ceph-common"];

/// The [`PACKAGES`] that dpkg does not report as installed.
pub fn missing_packages() -> Result<Vec<String>, LabError> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Package} ${Status}\\n"])
        .args(PACKAGES)
        .env_clear()
        .env("PATH", PATH)
        .output()
        .map_err(|e| LabError::Prerequisite(format!("cannot run dpkg-query ({e}): the Ceph lab needs Debian's ceph packages")))?;
    // dpkg-query exits 1 when some package is unknown and still lists the others.
    Ok(missing_from(&String::from_utf8_lossy(&out.stdout)))
}

fn missing_from(dpkg_query: &str) -> Vec<String> {
    let installed: Vec<&str> = dpkg_query.lines().filter(|l| l.ends_with(" install ok installed")).filter_map(|l| l.split_whitespace().next()).collect();
    PACKAGES.iter().filter(|p| !installed.contains(p)).map(|p| p.to_string()).collect()
}

/// Installs whichever of [`PACKAGES`] are missing with `apt-get install -y
/// --no-install-recommends` (running `apt-get update` first when the install fails)
/// and returns their names; says what it does through `log`. Nothing to do: `Ok([])`.
pub fn ensure_packages(mut log: impl FnMut(&str)) -> Result<Vec<String>, LabError> {
    let missing = missing_packages()?;
    if missing.is_empty() {
        return Ok(missing);
    }
    log(&format!("installing {} with apt-get (Debian's packages)", missing.join(" ")));
    let install = || {
        let mut cmd = Command::new("apt-get");
        cmd.args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env_clear()
            .env("PATH", PATH)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("LANG", "C.UTF-8");
        run(&mut cmd)
    };
    if install().is_err() {
        log("apt-get install failed; running apt-get update and trying again");
        run(Command::new("apt-get").args(["update"]).env_clear().env("PATH", PATH).env("DEBIAN_FRONTEND", "noninteractive"))?;
        install()?;
    }
    let still = missing_packages()?;
    if !still.is_empty() {
        return Err(LabError::Prerequisite(format!("apt-get install finished but {} are still not installed", still.join(" "))));
    }
    log(&format!("installed {}", missing.join(" ")));
    Ok(missing)
}

/// An error unless every package is installed, naming the command that fixes it.
pub(crate) fn require_packages() -> Result<(), LabError> {
    let missing = missing_packages()?;
    if missing.is_empty() {
        return Ok(());
    }
    Err(LabError::Prerequisite(format!(
        "the Ceph lab needs {m}: apt-get install -y --no-install-recommends {m} (or `ferry lab up`, which installs them)",
        m = missing.join(" ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fully_installed_packages_count() {
        let mut text = String::from(
            "ceph-mon install ok installed\nceph-mgr install ok unpacked\nrbd-mirror deinstall ok config-files\nceph-common install ok installed\n",
        );
        for p in ["openssh-server", "openssh-client", "iproute2", "util-linux", "iptables", "ufw"] {
            text.push_str(&format!("{p} install ok installed\n"));
        }
        assert_eq!(missing_from(&text), ["ceph-mgr", "ceph-osd", "rbd-mirror"]);
        assert_eq!(missing_from(""), PACKAGES.to_vec());
    }
}
