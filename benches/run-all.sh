#!/usr/bin/env bash
# Issue 6's benchmark suite, the one command:
#
#   bash benches/run-all.sh            # full: ~75-85 min on 2 vCPUs (from its pieces), plus run-compare.sh
#   QUICK=1 bash benches/run-all.sh    # 60K checks only, short windows: ~28 min (14:25-14:54 UTC in a fresh clone, ~12 of them run-compare.sh)
#
# 1. release builds of the bench (mimalloc, and the system allocator);
# 2. the matrix: dummy, tcp, http, icmp, snmp and a mix at 60K, 250K and
#    1M checks at 60 s (one interval of warm-up, 60 s measured), then a
#    saturation search per probe (`vedette-benches matrix`);
# 3. the restart run: 250K checks, stop and start on the same state dir;
# 4. ablations: dummy 1M and tcp 60K with the shard threads pinned,
#    unpinned (`[engine] pin_cores = false`) and on the system allocator,
#    alternating in rounds, as medians and ratios (`vedette-benches ablation`);
# 5. the CPU profiles (benches/flamegraph.sh);
# 6. benches/run-compare.sh (Icinga 2 / Nagios 4) when it exists;
# 7. benches/results/summary.md: every table, written from the JSON
#    records (`vedette-benches summary`), plus this run's log.
#
# Results: benches/results/<label>/<kind>-<checks>.{json,csv,svg},
# saturation-<kind>.json, restart/, flamegraph-*.svg, summary.md.
# Needs root; installs the packages in .ci/deps (nginx, snmpd, dnsmasq,
# perf) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${OUT:-benches/results}"
if [ "${QUICK:-0}" = 1 ]; then
  sizes=60000 warmup=10s duration=20s sat=4s
  restart=(--checks 60000 --warmup 10s --steady 20s --after 30s)
  ablation=(--scenarios dummy:60000,tcp:60000 --rounds 1 --warmup 10s --duration 20s)
  record_s=10 tcp_profile=250000
else
  sizes=60000,250000,1000000 warmup=60s duration=60s sat=10s
  restart=(--checks 250000 --warmup 60s --steady 60s --after 60s)
  ablation=(--scenarios dummy:1000000,tcp:60000 --rounds 3 --warmup 10s --duration 30s)
  record_s=20 tcp_profile=1000000
fi

bindir=$(mktemp -d /tmp/vedette-run-all.XXXXXX)
trap 'rm -rf "$bindir"' EXIT
log="$bindir/run.log"
note() { echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg): $*" | tee -a "$log"; }

# The peers and tools (nginx, snmpd, dnsmasq, perf, ...), when missing.
note "packages: .ci/deps"
bash .ci/deps

# The binaries are copied out of the target dir: other builds may share it.
target=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
note "building (release, system allocator, then mimalloc)"
cargo build --release -q -p vedette-benches --no-default-features
cp "$target/release/vedette-benches" "$bindir/vedette-benches-sysalloc"
cargo build --release -q -p vedette-benches
cp "$target/release/vedette-benches" "$bindir/vedette-benches"
bin="$bindir/vedette-benches"

mkdir -p "$out"
status=0
run() { "$@" 2>>"$bindir/stderr.log" | tee -a "$log" || status=1; }

note "matrix: sizes $sizes, warm-up $warmup, measured $duration; saturation steps $sat"
run "$bin" matrix --sizes "$sizes" --warmup "$warmup" --duration "$duration" \
  --saturation-duration "$sat" --out "$out"

note "restart: ${restart[*]}"
run "$bin" restart "${restart[@]}" --out "$out"

note "ablation: pinned, unpinned, system allocator: ${ablation[*]}"
run "$bin" ablation "${ablation[@]}" --sysalloc-bin "$bindir/vedette-benches-sysalloc" --out "$out"

note "profiles: dummy 1M, tcp $tcp_profile"
BIN="$bin" OUT="$out" RECORD_S="$record_s" TCP_CHECKS="$tcp_profile" \
  bash benches/flamegraph.sh 2>&1 | tee -a "$log" || status=1

if [ -f benches/run-compare.sh ]; then
  note "comparison: benches/run-compare.sh"
  bash benches/run-compare.sh 2>&1 | tee -a "$log" || status=1
else
  note "comparison: benches/run-compare.sh is not there; skipped"
fi

run "$bin" summary --out "$out"
{
  echo "## This run"
  echo
  echo "\`$([ "${QUICK:-0}" = 1 ] && echo "QUICK=1 ")bash benches/run-all.sh\` on $(nproc) CPUs, exit status $status:"
  echo
  echo '```'
  cat "$log"
  echo '```'
} >>"$out/summary.md"
if [ "$status" != 0 ]; then
  echo "# the runs' stderr, last lines:" >&2
  tail -40 "$bindir/stderr.log" >&2
fi
note "done: $out/summary.md (exit status $status)"
exit "$status"
