#!/usr/bin/env bash
# Fuzzes the NRPE packet decoder and the server's request handling for a
# bounded time each.
#
#   bash nrpe/fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
#
# Needs cargo-fuzz (installed here when missing). cargo-fuzz needs nightly
# features; RUSTC_BOOTSTRAP=1 lets the stable toolchain provide them.
# Exits non-zero if any target finds a crash or a hang (the input is kept
# under nrpe/fuzz/artifacts/TARGET/).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
targets=(packet_decode server_request)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "== fuzzing $t for ${secs}s" >&2
  # -timeout: one input taking over 10 s is a hang, reported as a failure.
  cargo fuzz run --sanitizer none "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=70000 -timeout=10 -rss_limit_mb=2048
done
echo "fuzzing: ${#targets[@]} targets ran ${secs}s each, no crash" >&2
