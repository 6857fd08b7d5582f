#!/usr/bin/env bash
# Schemathesis (the OpenAPI fuzzer, pinned in install-tools.sh) against a live checkout-local:
# every phase (examples, coverage, fuzzing, stateful), a fixed seed and a bounded number of
# examples per operation, so a run is reproducible and takes a minute or two. Zero failures
# expected: bad input must be a documented 4xx problem+json, never a 5xx, and every answer
# must match the document (status, content type, headers, schema).
#
# It calls as a signed-in customer (a dev token without the admin scope, so it cannot rewrite
# the demo catalog it then orders from). Two checks are left out, for reasons a schema cannot
# carry: `positive_data_acceptance` (schema-valid requests the business refuses: a country
# nobody ships to, stock, an unconfigured tax category, a stale webhook timestamp) and
# `ignored_auth` (cart and order routes accept a bearer token OR a guest session: with the
# token still valid, an invalidated session is rightly not a 401). Refused tokens and
# sessions are the identity and guest tests' subject.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

SEED="${SCHEMATHESIS_SEED:-20261124}"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-100}"

cargo build --locked --quiet --bin checkout-local
run="$root/.tools/run"
mkdir -p "$run"
log="$run/schemathesis-server.log"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PORT="$port" CHECKOUT_STORE=memory target/debug/checkout-local >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q '^listening on' "$log" && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
grep -q '^listening on' "$log" || { echo "checkout-local did not start" >&2; exit 1; }

token="$(target/debug/checkout-local token schemathesis-customer)"
cd "$run"
SCHEMATHESIS_TELEMETRY=false "$root/.tools/venv/bin/schemathesis" run "$root/openapi.yaml" \
  --url "http://127.0.0.1:$port" \
  --phases examples,coverage,fuzzing,stateful \
  --seed "$SEED" --max-examples "$EXAMPLES" \
  --checks "${SCHEMATHESIS_CHECKS:-all}" --exclude-checks "${SCHEMATHESIS_EXCLUDE:-positive_data_acceptance,ignored_auth}" \
  --header "Authorization: Bearer $token" \
  --generation-database none --workers 1 --no-color --suppress-health-check all
