#!/usr/bin/env bash
# The whole test suite: dependencies, formatting, lints, unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --features fault-injection -- -D warnings
# The in-process A/B harness (scripts/ab.sh) builds, so it cannot rot.
cargo clippy --all-targets --features ab -- -D warnings
# The tests' build carries the fault-injection hook (HANDOFF_FAULT); release builds do not.
cargo test --all-targets --features fault-injection
# The benchmark script itself, short, so it cannot rot (no timing is judged here).
scripts/bench.sh --ci --bin target/debug/handoff
