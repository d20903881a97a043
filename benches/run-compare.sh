#!/usr/bin/env bash
# Issue 6: the same check_tcp and check_http workload (against one local
# nginx on 127.54.0.1) through Vedette's native probes, Vedette forking the
# plugin, Nagios 4 and Icinga 2, each run by hand and stopped by PID.
# Prints every run's line, then per engine and per ratio to Vedette; the
# ratio lines end in `met`/`MISSED`. Needs root (the daemons run as root)
# and installs icinga2 and nagios4-core when missing.
#
# Expected runtime: about 15-16 minutes with the build (two workloads,
# four engines, 4-5 runs of ~25 s each: a 10 s interval of warm-up, 10 s
# measured (one whole interval: every service once), start and stop).
# Measured: 15-16 min with 9 s windows, 17 with DURATION=12s, on a
# loaded machine.
#
#   bash benches/run-compare.sh
#   DURATION=30s STEPS=3 bash benches/run-compare.sh      # longer, ~25 min
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${DURATION:-10s}"
interval="${INTERVAL:-10s}"
checks="${CHECKS:-2500}"
steps="${STEPS:-2}"

missing=()
[ -x /usr/sbin/icinga2 ] || missing+=(icinga2)
[ -x /usr/sbin/nagios4 ] || missing+=(nagios4-core)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/lib/nagios/plugins/check_http ] || missing+=(monitoring-plugins-basic)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # Debian's policy-rc.d (or no init system) keeps the packaged services
  # from starting: the bench runs its own daemons.
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cargo build --release -q -p vedette-benches
# A private copy: a shared target dir may be rebuilt from another branch
# while this runs.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "${CARGO_TARGET_DIR:-target}/release/vedette-benches" "$tmp/"
bin="$tmp/vedette-benches"
# Thousands of native checks in flight hold a socket each; an engine at
# these rates is given descriptors (the engine raises its soft limit to
# this hard one).
ulimit -Hn 1048576 2>/dev/null || echo "# could not raise the open files limit: $(ulimit -Hn)"

echo "# $(date -u +%FT%TZ) $(nproc) cpus, load: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
for kind in tcp http; do
  echo "## compare --kind $kind --checks $checks --interval $interval --duration $duration --steps $steps"
  "$bin" compare --kind "$kind" --checks "$checks" --interval "$interval" \
    --duration "$duration" --steps "$steps" || status=1
  echo "# load after $kind: $(cut -d' ' -f1-3 /proc/loadavg)"
done
exit "$status"
