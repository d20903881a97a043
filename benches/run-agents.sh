#!/usr/bin/env bash
# Issue 5's agent and hub benchmarks in one go: many simulated agents
# against a real `vedette run` (connections held, results/s applied), then
# one real `vedette-agent` with 30 checks a minute (its RSS and CPU).
# Prints every result line; the lines ending in `met`/`MISSED` are the
# targets.
#
#   bash benches/run-agents.sh                        # ~4 min
#   AGENTS=10000 RATE=50000 DURATION=30s FOOTPRINT_DURATION=120s bash benches/run-agents.sh
set -euo pipefail
cd "$(dirname "$0")/.."

agents="${AGENTS:-10000}"
rate="${RATE:-50000}"
duration="${DURATION:-30s}"
footprint_duration="${FOOTPRINT_DURATION:-120s}"
target="${CARGO_TARGET_DIR:-target}"

# 10,000 agents are 10,000 sockets in the tool and as many in the engine.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open files limit: $(ulimit -n)" >&2

cargo build --release -q -p vedette -p vedette-benches -p vedette-agent
bin="$target/release/vedette-benches"

echo "# $(date -u +%FT%TZ) $(nproc) cpus, load: $(cut -d' ' -f1-3 /proc/loadavg), $(git rev-parse --short HEAD)"
status=0
echo "## hub --agents $agents --rate $rate --duration $duration"
"$bin" hub --agents "$agents" --rate "$rate" --duration "$duration" || status=1
echo "## agent-footprint --duration $footprint_duration"
if [ -x "$target/release/vedette-agent" ]; then
  "$bin" agent-footprint --duration "$footprint_duration" || status=1
else
  echo "agent-footprint: not run: no $target/release/vedette-agent (the agent binary is not on this branch)"
  status=1
fi
exit "$status"
