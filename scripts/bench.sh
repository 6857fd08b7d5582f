#!/usr/bin/env bash
# The benchmark, from a fresh clone: builds the functions, checkout-local and the bench driver
# in release, installs DynamoDB Local and moto (scripts/install-tools.sh) and the Python peer's
# venv (.tools/bench-venv: boto3, aws-lambda-powertools, awslambdaric, pinned), starts the
# backends on free loopback ports, runs bench/ (checkout-bench), prints one table and writes
# it as JSON to target/bench/. Stops the backends whatever happens.
#
#   scripts/bench.sh           the full run (a few minutes after the build)
#   scripts/bench.sh --smoke   one cold start and a few warm invocations of each: proves it runs
#   BENCH_BIN_DIR=dir scripts/bench.sh   measures binaries built elsewhere (no build)
#   BENCH_PEER=0 scripts/bench.sh        without the Python peer (no venv, no ratio)
#
# With CHECKOUT_TEST_DYNAMODB_ENDPOINT and CHECKOUT_TEST_AWS_ENDPOINT already set (backends
# started by the caller, as scripts/test.sh does), those are used and left running.
#
# The full run is not part of scripts/test.sh; its smoke is (on the debug binaries).
# All load goes to 127.0.0.1, bounded in count and time.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Pinned: bump deliberately; the marker below forces a reinstall.
PEER_REQUIREMENTS=("boto3==1.44.5" "aws-lambda-powertools==3.37.0" "awslambdaric==4.2.2")

smoke=0
case "${1:-}" in
  "") ;;
  --smoke) smoke=1 ;;
  *)
    printf 'usage: %s [--smoke]\n' "$0" >&2
    exit 2
    ;;
esac

step() { printf '\n== %s\n' "$*" >&2; }
started=$SECONDS

step "tools"
scripts/install-tools.sh
venv=.tools/bench-venv
peer_python=""
if [[ ${BENCH_PEER:-1} == 0 ]]; then
  printf 'bench: BENCH_PEER=0: the Python peer is skipped (no venv, no cold-start ratio)\n' >&2
else
  marker="$venv/.installed-requirements"
  want="${PEER_REQUIREMENTS[*]}"
  if [[ ! -f $marker || "$(cat "$marker")" != "$want" ]] || ! "$venv/bin/python" -c '' 2>/dev/null; then
    printf 'bench: installing the Python peer venv (%s)\n' "$want" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PEER_REQUIREMENTS[@]}"
    printf '%s\n' "$want" >"$marker"
  fi
  peer_python="$root/$venv/bin/python"
fi

target_dir="$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")"
if [[ -n ${BENCH_BIN_DIR:-} ]]; then
  # Binaries built elsewhere (all eight, as below): measured as they are, nothing is built.
  bin_dir="$(realpath -m "$BENCH_BIN_DIR")"
  step "binaries from $bin_dir (BENCH_BIN_DIR; not built)"
else
  bin_dir="$target_dir/release"
  step "release build"
  build_started=$SECONDS
  # One invocation, so the functions and the driver share every dependency's build. Packages
  # named with -p: `--bin` alone selects the whole workspace, whose test crate's features
  # (e.g. serde_dynamo's DynamoDB Streams types) would then be built into everything.
  cargo build --release --locked --bins \
    -p create-order -p payment-webhook -p storefront -p expire-orders \
    -p outbox-relay -p order-created -p checkout-local -p checkout-bench
  printf 'bench: release build %d s\n' "$((SECONDS - build_started))" >&2
fi

if [[ -n ${CHECKOUT_TEST_DYNAMODB_ENDPOINT:-} && -n ${CHECKOUT_TEST_AWS_ENDPOINT:-} ]]; then
  step "backends: the caller's ($CHECKOUT_TEST_DYNAMODB_ENDPOINT, $CHECKOUT_TEST_AWS_ENDPOINT), left running"
else
  step "backends"
  trap 'scripts/backends.sh stop' EXIT
  scripts/backends.sh start
  # shellcheck disable=SC1091
  source .tools/run/backends.env
fi

step "bench"
out_dir="$target_dir/bench"
mkdir -p "$out_dir"
stamp="$(date -u +%Y%m%dT%H%M%S.%3NZ)"
out="$out_dir/bench-$stamp.json"
[[ $smoke -eq 1 ]] && out="$out_dir/smoke-$stamp.json"
logs="$out_dir/logs-$stamp"
BENCH_SMOKE=$smoke \
  BENCH_BIN_DIR="$bin_dir" \
  BENCH_PYTHON="$peer_python" \
  BENCH_PEER_DIR="$root/bench/python" \
  BENCH_DYNAMODB="$CHECKOUT_TEST_DYNAMODB_ENDPOINT" \
  BENCH_SQS="$CHECKOUT_TEST_AWS_ENDPOINT" \
  BENCH_PRICES="$root/bench/aws-prices.json" \
  BENCH_OUT="$out" \
  BENCH_LOG_DIR="$logs" \
  "$bin_dir/checkout-bench"
# A smoke's figures measure nothing: latest.json stays the last full run's.
if [[ $smoke -eq 0 ]]; then
  cp "$out" "$out_dir/latest.json"
fi
printf '\nbench: %s, functions'"'"' logs in %s; %d s in all\n' \
  "$out" "$logs" "$((SECONDS - started))" >&2
