#!/usr/bin/env bash
# Prints mtlbench's performance figures (release build): W1 step times against the
# matmul rate of the same run, and the 1- vs 2-thread sweep throughput.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -- bench "$@"
