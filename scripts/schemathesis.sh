#!/usr/bin/env bash
# Schemathesis (the OpenAPI fuzzer, pinned in install-tools.sh) against live checkout-local
# servers, with more than one seed and a bounded number of examples per operation, so a run is
# reproducible and takes a few minutes. Zero failures expected: bad input must be a documented
# 4xx problem+json, never a 5xx, and every answer must match the document (status, content
# type, headers, schema).
#
# Seeds: CI's fixed one, 20261124, and one that changes daily, the UTC date. The run prints
# them; `SCHEMATHESIS_SEEDS='<seeds>' scripts/schemathesis.sh` repeats it exactly. The first
# seed runs every phase (examples, coverage, fuzzing, stateful); later seeds run only the
# phases a seed changes (fuzzing, stateful), since examples and coverage generate the same
# cases whatever the seed.
#
# Each seed runs two passes side by side, each against a server of its own (a fresh embedded
# store), with settings from scripts/schemathesis.toml:
# - as a signed-in customer (a dev token without the admin scope, so it cannot rewrite the
#   demo catalog it then orders from): every operation under the first seed (the admin ones
#   answer 403), the others' after that;
# - as an administrator, the `/admin/` operations, whose bodies the customer never gets past
#   the scope check with (programmatic orders and batches, products, codes, configuration).
#
# Two checks are left out, for reasons a schema cannot carry: `positive_data_acceptance`
# (schema-valid requests the business refuses: a country nobody ships to, stock, an
# unconfigured tax category, a stale webhook timestamp) and `ignored_auth` (cart and order
# routes accept a bearer token OR a guest session: with the token still valid, an invalidated
# session is rightly not a 401). Refused tokens and sessions are the identity and guest
# tests' subject.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

SEEDS="${SCHEMATHESIS_SEEDS:-${SCHEMATHESIS_SEED:-20261124} $(date -u +%Y%m%d)}"
SEEDS="$(printf '%s\n' $SEEDS | awk '!seen[$0]++' | xargs)" # each once
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-100}"

cargo build --locked --quiet --bin checkout-local
run="$root/.tools/run"
mkdir -p "$run"

# Stops the processes whose ids are in `children` (each pass's server; the script's passes).
children=()
stop_children() {
  for child in "${children[@]}"; do
    kill "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  done
}
trap stop_children EXIT

# Starts a checkout-local of its own, named $1; sets `port` once it accepts requests.
serve() {
  local log="$run/schemathesis-server-$1.log" server
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  PORT="$port" CHECKOUT_STORE=memory target/debug/checkout-local >"$log" 2>&1 &
  server=$!
  children+=("$server")
  for _ in $(seq 100); do
    grep -q '^listening on' "$log" && return 0
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  echo "checkout-local did not start" >&2
  exit 1
}

customer="$(target/debug/checkout-local token schemathesis-customer)"
admin="$(target/debug/checkout-local token schemathesis-admin admin)"

# One pass, in a background subshell of its own (which stops its server on exit): name, seed,
# phases, token, then extra Schemathesis options; its output to a log.
pass() {
  local name="$1" seed="$2" phases="$3" token="$4"
  shift 4
  children=()
  trap stop_children EXIT
  serve "$name-$seed"
  (
    cd "$run"
    SCHEMATHESIS_TELEMETRY=false "$root/.tools/venv/bin/schemathesis" \
      --config-file "$root/scripts/schemathesis.toml" run "$root/openapi.yaml" \
      --url "http://127.0.0.1:$port" \
      --phases "$phases" \
      --seed "$seed" --max-examples "$EXAMPLES" \
      --checks "${SCHEMATHESIS_CHECKS:-all}" \
      --exclude-checks "${SCHEMATHESIS_EXCLUDE:-positive_data_acceptance,ignored_auth}" \
      --header "Authorization: Bearer $token" \
      --generation-database none --workers 1 --no-color --suppress-health-check all "$@"
  ) >"$run/schemathesis-$name-$seed.log" 2>&1
}

failed=0
phases=examples,coverage,fuzzing,stateful
customer_only=()
echo "schemathesis: seeds $SEEDS (repeat with SCHEMATHESIS_SEEDS='$SEEDS')"
for seed in $SEEDS; do
  echo "schemathesis: seed $seed: $phases"
  pass customer "$seed" "$phases" "$customer" "${customer_only[@]}" &
  customer_pass=$!
  pass admin "$seed" "$phases" "$admin" --include-path-regex '^/admin/' &
  admin_pass=$!
  children=("$customer_pass" "$admin_pass")
  for name in customer admin; do
    pid="${name}_pass"
    if wait "${!pid}"; then result=passed; else result=FAILED; failed=1; fi
    echo "--- $name pass, seed $seed: $result"
    if [[ $result == FAILED ]]; then
      cat "$run/schemathesis-$name-$seed.log"
    else
      grep -E '^(Test cases:|  [0-9]+ generated)|warnings? in|passed in' "$run/schemathesis-$name-$seed.log" || true
    fi
  done
  phases=fuzzing,stateful
  customer_only=(--exclude-path-regex '^/admin/')
done
exit "$failed"
