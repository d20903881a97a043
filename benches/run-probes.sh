#!/usr/bin/env bash
# Issue 3's probe benchmarks in one go: every probe's bare floor, native
# and forked runs (one process run each), then the mixed 60K scenario.
# Prints every result line; the lines ending in `met`/`MISSED` are the
# targets. Needs root (raw ICMP, dnsmasq on port 53, the network
# namespace) and the packages in .ci/deps (plus snmpd and snmp).
#
#   bash benches/run-probes.sh              # ~10 s per run, 30 s mixed; ~15 min
#   DURATION=20s MIXED_DURATION=30s bash benches/run-probes.sh
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${DURATION:-10s}"
mixed_duration="${MIXED_DURATION:-30s}"

cargo build --release -q -p vedette-benches
bin=target/release/vedette-benches

echo "# $(date -u +%FT%TZ) $(nproc) cpus, load: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
for kind in tcp http http-keepalive icmp dns snmp; do
  echo "## probe --kind $kind --duration $duration"
  "$bin" probe --kind "$kind" --duration "$duration" || status=1
done
# The control first: the same load with no bad hosts, so the lateness
# the timeouts add (if any) shows against the machine's own noise.
echo "## mixed --duration $mixed_duration --bad-percent 0"
"$bin" mixed --duration "$mixed_duration" --bad-percent 0 || status=1
echo "## mixed --duration $mixed_duration"
"$bin" mixed --duration "$mixed_duration" || status=1
exit "$status"
