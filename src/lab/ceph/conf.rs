//! Where a lab cluster's files live inside its host, and its `ceph.conf`.

use super::spec::{CephClusterSpec, OsdStore};

/// Fixed daemon ids: one of each per cluster. Two clusters may share them because
/// each runs in its own host.
pub(crate) const MON_ID: &str = "a";
pub(crate) const MGR_ID: &str = "x";
pub(crate) const OSD_ID: &str = "0";

/// Host-private dirs (under the host's own `/run`) that are bound over the shared
/// `/var/lib/ceph` and `/var/log/ceph` inside the host.
pub(crate) const PRIVATE_ROOT: &str = "/run/ferrylab-ceph";

/// Paths of one cluster inside its host, all absolute: with `-c` alone `$cluster`
/// would expand to `ceph` (G13), so the conf never relies on it.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    cluster: String,
}

impl Layout {
    pub(crate) fn new(cluster: &str) -> Layout {
        Layout { cluster: cluster.to_string() }
    }

    pub(crate) fn conf(&self) -> String {
        format!("/etc/ceph/{}.conf", self.cluster)
    }

    /// `/etc/ceph/<cluster>.<entity>.keyring`: the default keyring search path of
    /// every client started with `--cluster`.
    pub(crate) fn client_keyring(&self, entity: &str) -> String {
        format!("/etc/ceph/{}.{entity}.keyring", self.cluster)
    }

    pub(crate) fn admin_keyring(&self) -> String {
        self.client_keyring("client.admin")
    }

    /// `/var/lib/ceph/<kind>/<cluster>-<id>`, as Debian lays it out.
    pub(crate) fn data_dir(&self, kind: &str, id: &str) -> String {
        format!("/var/lib/ceph/{kind}/{}-{id}", self.cluster)
    }

    /// Scratch files for the mon's mkfs (monmap, mon keyring).
    pub(crate) fn bootstrap_file(&self, what: &str) -> String {
        format!("/var/lib/ceph/tmp/{}.{what}", self.cluster)
    }

    /// A daemon's stdout and stderr (its real log is `log_file`).
    pub(crate) fn stdout_log(&self, name: &str) -> String {
        format!("/var/log/ceph/{}-{name}.stdout", self.cluster)
    }

    /// The daemon's log file (Ceph's default naming, `$cluster-$name.log`).
    pub(crate) fn log(&self, name: &str) -> String {
        format!("/var/log/ceph/{}-{name}.log", self.cluster)
    }

    /// The cluster's data dirs and mkfs files, for removal at `down` (the conf
    /// and keyrings go separately; the logs stay).
    pub(crate) fn removable(&self) -> Vec<String> {
        vec![
            self.data_dir("mon", MON_ID),
            self.data_dir("mgr", MGR_ID),
            self.data_dir("osd", OSD_ID),
            self.bootstrap_file("monmap"),
            self.bootstrap_file("mon.keyring"),
        ]
    }
}

/// The cluster's conf, written to `/etc/ceph/<cluster>.conf` in its host. The
/// settings are the ones CEPH-LAB-NOTES.md measured: a one-OSD cluster that is
/// healthy, keeps the mgr's HTTP modules off (G16), and puts crash dumps in the
/// host's own dirs (G15).
pub(crate) fn render(spec: &CephClusterSpec, fsid: &str) -> String {
    let c = &spec.cluster;
    let ip = spec.addr;
    let l = Layout::new(c);
    let mut s = format!(
        "# Ceph cluster {c} on lab host {host}: written by ferry's lab (src/lab/ceph).\n\
         # Paths are absolute, and all of them are private to this host.\n\
         [global]\n\
         fsid = {fsid}\n\
         mon_host = {mon_host}\n\
         mon_initial_members = {MON_ID}\n\
         # Bind and advertise the lab address only, never another interface.\n\
         public_addr = {ip}\n\
         cluster_addr = {ip}\n\
         public_network = {ip}/32\n\
         ms_bind_msgr2 = true\n\
         ms_bind_ipv6 = false\n\
         auth_cluster_required = cephx\n\
         auth_service_required = cephx\n\
         auth_client_required = cephx\n\
         auth_allow_insecure_global_id_reclaim = false\n\
         run_dir = /run/ceph\n\
         crash_dir = /var/lib/ceph/crash\n\
         # One OSD: single-copy pools, no autoscaler, no warnings about either.\n\
         osd_pool_default_size = 1\n\
         osd_pool_default_min_size = 1\n\
         osd_pool_default_pg_num = 8\n\
         osd_pool_default_pgp_num = 8\n\
         osd_pool_default_pg_autoscale_mode = off\n\
         osd_crush_chooseleaf_type = 0\n\
         mon_allow_pool_size_one = true\n\
         mon_allow_pool_delete = true\n\
         mon_warn_on_pool_no_redundancy = false\n\
         # The lab dir shares a disk with the machine: do not warn about its free space.\n\
         mon_data_avail_warn = 2\n\
         mon_data_avail_crit = 1\n\
         # restful and dashboard would listen on every address (G16).\n\
         mgr_initial_modules = iostat\n\
         # layering, exclusive-lock, object-map, fast-diff, deep-flatten\n\
         rbd_default_features = 61\n\
         \n\
         [mon]\n\
         mon_data = {mon}\n\
         keyring = {mon}/keyring\n\
         log_file = /var/log/ceph/{c}-$name.log\n\
         admin_socket = /run/ceph/{c}-$name.asok\n\
         \n\
         [mgr]\n\
         mgr_data = {mgr}\n\
         keyring = {mgr}/keyring\n\
         log_file = /var/log/ceph/{c}-$name.log\n\
         admin_socket = /run/ceph/{c}-$name.asok\n\
         \n\
         [osd]\n\
         osd_data = {osd}\n\
         keyring = {osd}/keyring\n\
         log_file = /var/log/ceph/{c}-$name.log\n\
         admin_socket = /run/ceph/{c}-$name.asok\n\
         osd_objectstore = {store}\n\
         osd_memory_target = 939524096\n",
        host = spec.host,
        mon_host = spec.mon_host(),
        mon = l.data_dir("mon", MON_ID),
        mgr = l.data_dir("mgr", MGR_ID),
        osd = l.data_dir("osd", OSD_ID),
        store = spec.osd_store.as_str(),
    );
    match spec.osd_store {
        OsdStore::Memstore => s.push_str("memstore_device_bytes = 4294967296\n"),
        OsdStore::Bluestore => s.push_str(&format!(
            "bluestore_block_path = {osd}/block.img\n\
             bluestore_block_size = 8589934592\n\
             bluestore_block_create = true\n\
             bluestore_cache_size = 134217728\n",
            osd = l.data_dir("osd", OSD_ID)
        )),
    }
    // rbd-mirror daemons are clients named client.rbd-mirror.<id>; as daemons they
    // log to /var/log/ceph/<cluster>-$name.log and put their socket in run_dir by
    // default. These options mean nothing to the ceph and rbd tools.
    s.push_str("\n[client]\ndebug_rbd_mirror = 5\n");
    if spec.fast_mirror {
        s.push_str(
            "# Test speed (defaults 30/30/5/30 s): new pools, peers and images, and failed\n\
             # bootstraps (a clone whose parent still syncs, G3), are retried sooner.\n\
             rbd_mirror_pool_replayers_refresh_interval = 5\n\
             rbd_mirror_image_state_check_interval = 5\n\
             rbd_mirror_journal_poll_age = 1\n\
             rbd_mirror_delete_retry_interval = 5\n",
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn spec(store: OsdStore, fast: bool) -> CephClusterSpec {
        CephClusterSpec { osd_store: store, fast_mirror: fast, ..CephClusterSpec::new("site-a", "node01", Ipv4Addr::new(10, 7, 1, 11)) }
    }

    fn value<'a>(conf: &'a str, key: &str) -> Option<&'a str> {
        conf.lines().find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix('=').map(str::trim))
    }

    #[test]
    fn daemons_bind_and_advertise_the_lab_address_only() {
        let conf = render(&spec(OsdStore::Memstore, true), "f00d");
        assert_eq!(value(&conf, "fsid"), Some("f00d"));
        assert_eq!(value(&conf, "mon_host"), Some("[v2:10.7.1.11:3300,v1:10.7.1.11:6789]"));
        assert_eq!(value(&conf, "public_addr"), Some("10.7.1.11"));
        assert_eq!(value(&conf, "cluster_addr"), Some("10.7.1.11"));
        assert_eq!(value(&conf, "ms_bind_ipv6"), Some("false"));
        assert_eq!(value(&conf, "mgr_initial_modules"), Some("iostat"));
        assert_eq!(value(&conf, "crash_dir"), Some("/var/lib/ceph/crash"));
    }

    #[test]
    fn paths_are_absolute_and_name_the_cluster() {
        let conf = render(&spec(OsdStore::Memstore, true), "f00d");
        assert!(!conf.contains("$cluster"), "{conf}");
        assert_eq!(value(&conf, "mon_data"), Some("/var/lib/ceph/mon/site-a-a"));
        assert_eq!(value(&conf, "osd_data"), Some("/var/lib/ceph/osd/site-a-0"));
        for line in conf.lines().filter(|l| l.contains(" = /")) {
            assert!(line.contains("site-a") || line.contains("/run/ceph") || line.contains("/crash"), "{line}");
        }
    }

    #[test]
    fn the_store_and_the_mirror_knobs_follow_the_spec() {
        let mem = render(&spec(OsdStore::Memstore, false), "f");
        assert_eq!(value(&mem, "osd_objectstore"), Some("memstore"));
        assert_eq!(value(&mem, "memstore_device_bytes"), Some("4294967296"));
        assert_eq!(value(&mem, "bluestore_block_path"), None);
        assert_eq!(value(&mem, "rbd_mirror_pool_replayers_refresh_interval"), None);
        let blue = render(&spec(OsdStore::Bluestore, true), "f");
        assert_eq!(value(&blue, "osd_objectstore"), Some("bluestore"));
        assert_eq!(value(&blue, "bluestore_block_path"), Some("/var/lib/ceph/osd/site-a-0/block.img"));
        assert_eq!(value(&blue, "rbd_mirror_pool_replayers_refresh_interval"), Some("5"));
    }

    #[test]
    fn the_layout_is_debians() {
        let l = Layout::new("site-b");
        assert_eq!(l.conf(), "/etc/ceph/site-b.conf");
        assert_eq!(l.admin_keyring(), "/etc/ceph/site-b.client.admin.keyring");
        assert_eq!(l.client_keyring("client.rbd-mirror.b1"), "/etc/ceph/site-b.client.rbd-mirror.b1.keyring");
        assert_eq!(l.log("mon.a"), "/var/log/ceph/site-b-mon.a.log");
    }
}
