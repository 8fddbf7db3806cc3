# bench/lib.sh - what every bench script starts with. Source it after `cd` to the
# project root, with BENCH_TAG set to the script's name for log lines:
#   log MSG / die MSG      progress and errors on stderr
#   require_root           the labs build network namespaces
#   release_ferry          $FERRY, or a release build of this tree
#   need_gnu_time          /usr/bin/time (installed from Debian if missing)

log() { printf '%s\n' "${BENCH_TAG:-bench}: $*" >&2; }
die() { log "error: $*"; exit 1; }

require_root() {
  [ "$(id -u)" = 0 ] || die "must run as root (the lab builds network namespaces)"
}

need_gnu_time() {
  if [ ! -x /usr/bin/time ]; then
    log "installing GNU time"
    DEBIAN_FRONTEND=noninteractive apt-get install -y time >&2
  fi
}

release_ferry() {
  if [ -z "${FERRY:-}" ]; then
    log "building ferry (release)"
    cargo build --release --locked >&2
    FERRY=target/release/ferry
  fi
  [ -x "$FERRY" ] || die "$FERRY is not an executable"
}
