#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs (DynamoDB Local, a JRE if
# missing, moto, cfn-lint, SAM CLI, Schemathesis), starts the backends on free loopback ports,
# checks formatting and lints, lints the SAM template (cfn-lint, sam validate --lint), runs
# every Rust test against the real backends, runs the benchmark's smoke (proves it still runs),
# fuzzes the OpenAPI document against a live checkout-local (Schemathesis), runs the README
# walk-through, and stops the backends again whatever happens.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Each step says when it began (UTC), so a slow CI run shows where its time went.
step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

step "tools"
scripts/install-tools.sh

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "template"
.tools/venv/bin/cfn-lint template.yaml
SAM_CLI_TELEMETRY=0 .tools/venv/bin/sam validate --lint --template template.yaml --region us-east-1

step "backends"
trap 'scripts/backends.sh stop' EXIT
scripts/backends.sh start
# shellcheck disable=SC1091
source .tools/run/backends.env

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi

step "bench smoke"
# One cold start and a few warm invocations of each measurement, the Python peer's included, so
# the bench cannot rot: on debug binaries (one build of the bins the tests did not build, no
# release build), against the backends above. Its figures mean nothing; a failure does. The
# peer's venv (.tools/bench-venv) is made once, ~10 s; BENCH_PEER=0 skips it.
cargo build --locked --quiet --bins
BENCH_BIN_DIR="${CARGO_TARGET_DIR:-target}/debug" scripts/bench.sh --smoke

step "schemathesis"
scripts/schemathesis.sh

step "walk-through"
scripts/walkthrough.sh

step "cargo lambda watch"
# The HTTP functions as Lambda runs them, on the backends above: one request through each.
scripts/lambda-watch.sh --check

step "done"
