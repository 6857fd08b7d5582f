#!/usr/bin/env bash
# Serves the HTTP functions (storefront, create-order, payment-webhook) as Lambda runs them,
# with `cargo lambda watch`, against DynamoDB Local and moto (Secrets Manager):
#
#   scripts/lambda-watch.sh          on 127.0.0.1:9000 until Ctrl-C; each function answers under
#                                    http://127.0.0.1:9000/lambda-url/<function>/<path>
#   scripts/lambda-watch.sh --check  the same on a free port: one request through each function,
#                                    checked, then everything stops (CI runs this)
#
# Installs what it needs (scripts/install-tools.sh: cargo-lambda, moto, boto3), starts the
# backends unless CHECKOUT_TEST_DYNAMODB_ENDPOINT is already set (then uses those and leaves
# them running), makes a table with the demo catalog (`checkout-local create-table`) and the
# functions' secrets. Stripe's API is not reachable from here: starting a payment fails; use
# checkout-local (the README's first command) for the whole flow with simulated providers.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *)
    printf 'usage: %s [--check]\n' "$0" >&2
    exit 2
    ;;
esac

scripts/install-tools.sh >/dev/null
export PATH="$root/.tools/venv/bin:$PATH"

watch_pid=""
tail_pid=""
own_backends=0
cleanup() {
  [[ -n $tail_pid ]] && kill "$tail_pid" 2>/dev/null || true
  [[ -n $watch_pid ]] && kill "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null || true
  ((own_backends)) && scripts/backends.sh stop || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z ${CHECKOUT_TEST_DYNAMODB_ENDPOINT:-} ]]; then
  scripts/backends.sh start
  own_backends=1
fi
# shellcheck disable=SC1091
source .tools/run/backends.env
# The SDKs' own variables: the region, and each service's endpoint (note the underscore in
# SECRETS_MANAGER). Local endpoints take any credentials; backends.env sets dummy ones.
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL_DYNAMODB="$CHECKOUT_TEST_DYNAMODB_ENDPOINT"
export AWS_ENDPOINT_URL_SECRETS_MANAGER="$CHECKOUT_TEST_AWS_ENDPOINT"

run="lambda-watch-$(date +%s)-$$"
cargo build -q --locked --bin checkout-local
target/debug/checkout-local create-table "$run"
secret() {
  python - "$run-$1" "$2" <<'PY'
import sys, boto3
print(boto3.client("secretsmanager").create_secret(Name=sys.argv[1], SecretString=sys.argv[2])["ARN"])
PY
}
webhook_secret="whsec_watch_$RANDOM$RANDOM"
stripe_key_arn="$(secret stripe-key sk_test_watch)"
webhook_secrets_arn="$(secret stripe-webhook "$webhook_secret")"

port=9000
if ((check)); then
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
log="$(mktemp)"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
  --env-var TABLE_NAME="$run" \
  --env-var STRIPE_API_BASE=http://127.0.0.1:9 \
  --env-var STRIPE_SECRET_KEY_ARN="$stripe_key_arn" \
  --env-var STRIPE_WEBHOOK_SECRETS_ARN="$webhook_secrets_arn" \
  --env-var JWT_ISSUER=https://idp.example.com --env-var JWT_AUDIENCE=storefront \
  --env-var JWT_JWKS_URL=https://idp.example.com/.well-known/jwks.json \
  >"$log" 2>&1 &
watch_pid=$!
base="http://127.0.0.1:$port/lambda-url"

# Ready when it answers; a function is built (incrementally) on its first request.
deadline=$((SECONDS + 120))
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
  if ! kill -0 "$watch_pid" 2>/dev/null || ((SECONDS >= deadline)); then
    echo "lambda-watch: cargo lambda watch did not start:" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  sleep 0.2
done

if ((!check)); then
  echo "cargo lambda watch serves the functions at $base/<function>/...; for example:"
  echo "  curl -s -X POST $base/storefront/carts -H 'content-type: application/json' -d '{\"currency\": \"EUR\", \"country\": \"DE\"}'"
  echo "(table $run; Ctrl-C stops it)"
  tail -f "$log" &
  tail_pid=$!
  wait "$watch_pid"
  exit 0
fi

# --- one request through each HTTP function
expect() {
  local what=$1 want=$2 got=$3 body=$4
  if [[ $got != "$want" ]]; then
    echo "lambda-watch: $what answered $got, not $want: $body" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  echo "lambda-watch: $what -> $got"
}
request() { # method function path [body [header]]
  local out
  out="$(curl -s -m 300 -w '\n%{http_code}' -X "$1" "$base/$2$3" -H 'content-type: application/json' \
    ${5:+-H "$5"} ${4:+--data-binary "$4"})"
  status="${out##*$'\n'}"
  body="${out%$'\n'*}"
}

request POST storefront /carts '{"currency": "EUR", "country": "DE"}'
expect "storefront POST /carts" 201 "$status" "$body"
cart="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' <<<"$body")"
session="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["sessionToken"])' <<<"$body")"
request POST storefront "/carts/$cart" '{"version": 1, "actions": [{"action": "addLineItem", "sku": "MUG-BLUE", "quantity": 2}]}' "x-session-id: $session"
expect "storefront POST /carts/{id} (two mugs)" 200 "$status" "$body"

# The cart has no addresses yet: the commit says what is missing (read from the table).
request POST create-order /orders "{\"cartId\": \"$cart\", \"cartVersion\": 2}" "x-session-id: $session"
expect "create-order POST /orders (a cart not ready)" 422 "$status" "$body"
grep -q '"CartNotReady"' <<<"$body" || { echo "lambda-watch: not CartNotReady: $body" >&2; exit 1; }

# A signed Stripe event of a type the webhook ignores: verified with the secret from Secrets
# Manager, acknowledged.
event="{\"id\": \"evt_watch_$RANDOM\", \"object\": \"event\", \"type\": \"customer.created\", \"created\": $(date +%s), \"data\": {\"object\": {\"id\": \"cus_watch\", \"object\": \"customer\"}}}"
signature="$(python3 - "$webhook_secret" "$event" <<'PY'
import hashlib, hmac, sys, time
t = str(int(time.time()))
mac = hmac.new(sys.argv[1].encode(), f"{t}.{sys.argv[2]}".encode(), hashlib.sha256).hexdigest()
print(f"t={t},v1={mac}")
PY
)"
request POST payment-webhook /webhooks/stripe "$event" "stripe-signature: $signature"
expect "payment-webhook POST /webhooks/stripe (signed, ignored type)" 200 "$status" "$body"
echo "lambda-watch: each HTTP function answered through cargo lambda watch"
