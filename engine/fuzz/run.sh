#!/usr/bin/env bash
# Fuzzes each of Vedette's untrusted-input parsers for a bounded time.
#
#   bash engine/fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
#
# Needs cargo-fuzz (installed here when missing). cargo-fuzz needs nightly
# features; RUSTC_BOOTSTRAP=1 lets the stable toolchain provide them.
# Exits non-zero if any target finds a crash (the input is kept under
# engine/fuzz/artifacts/TARGET/).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
targets=(passive_result plugin_output command_line nagios_objects toml_config agent_wire)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "== fuzzing $t for ${secs}s" >&2
  cargo fuzz run --sanitizer none "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048
done
echo "fuzzing: ${#targets[@]} targets ran ${secs}s each, no crash" >&2
