#!/usr/bin/env bash
# CPU profiles (flamegraph SVGs) of the 1M-check dummy scenario and the
# tcp scenario (1M checks at 60 s = 16.7K/s, TCP_CHECKS to change), each
# recorded with perf (DWARF call graphs) for RECORD_S seconds once the
# engine is warm, folded and drawn with inferno. Writes
# benches/results/flamegraph-{dummy,tcp}.svg and, beside each, the frames
# with the most samples of their own (.top.txt). ~2 min per profile.
#
#   bash benches/flamegraph.sh                  # builds the release bench
#   BIN=/path/vedette-benches RECORD_S=10 TCP_CHECKS=250000 bash benches/flamegraph.sh
#
# Needs root (perf), perf (linux-perf) and inferno (installed with cargo
# when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

out="${OUT:-benches/results}"
record_s="${RECORD_S:-20}"
tcp_checks="${TCP_CHECKS:-1000000}"
mkdir -p "$out"

command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }
if ! command -v inferno-flamegraph >/dev/null || ! command -v inferno-collapse-perf >/dev/null; then
  cargo install inferno --locked --no-default-features --features cli
fi

bin="${BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release -q -p vedette-benches
  target=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  bin="$target/release/vedette-benches"
fi

# profile NAME KIND CHECKS FREQ: the sampling rate is per CPU-second
# used, so the light dummy run samples faster for as many stacks.
profile() {
  local name=$1 kind=$2 checks=$3 freq=$4
  local tmp
  tmp=$(mktemp -d /tmp/vedette-flamegraph.XXXXXX)
  # The run outlasts the recording; its own results are thrown away.
  "$bin" matrix --kinds "$kind" --sizes "$checks" --no-saturation --warmup 10s \
    --duration "$((record_s + 10))s" --out "$tmp/results" --label profile \
    >"$tmp/run.log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do
    grep -q '^loaded' "$tmp/run.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/run.log" >&2; rm -rf "$tmp"; return 1; }
    sleep 0.1
  done
  sleep 5 # the first seconds after start, not the config load
  echo "# $name: $kind x $checks checks at 60 s, perf for ${record_s}s, load: $(cut -d' ' -f1-3 /proc/loadavg)"
  perf record -q -e cpu-clock -F "$freq" --call-graph dwarf,8192 -p "$pid" -o "$tmp/perf.data" \
    -- sleep "$record_s" 2>&1 | grep -v '^\[' || true
  wait "$pid" || { cat "$tmp/run.log" >&2; rm -rf "$tmp"; return 1; }
  grep "^profile/" "$tmp/run.log" || true
  perf script -i "$tmp/perf.data" 2>/dev/null | inferno-collapse-perf >"$tmp/folded"
  # --minwidth drops frames under 0.1% so the SVG stays small.
  inferno-flamegraph --minwidth 0.1 \
    --title "vedette: $kind x $checks checks at 60 s (perf, ${record_s}s)" \
    <"$tmp/folded" >"$out/flamegraph-$name.svg"
  # Self time per function (the innermost frame of each stack).
  awk '{ n = $NF; $NF = ""; k = split($0, f, ";"); sub(/ +$/, "", f[k]); self[f[k]] += n; all += n }
       END { for (s in self) printf "%6.2f%%  %s\n", 100 * self[s] / all, s }' "$tmp/folded" \
    | sort -rn | head -15 >"$out/flamegraph-$name.top.txt"
  echo "wrote $out/flamegraph-$name.svg ($(du -k "$out/flamegraph-$name.svg" | cut -f1) KB); self time:"
  head -8 "$out/flamegraph-$name.top.txt"
  rm -rf "$tmp"
}

status=0
profile dummy dummy 1000000 999 || status=1
profile tcp tcp "$tcp_checks" 249 || status=1
exit "$status"
