#!/usr/bin/env bash
# Runs the README's walk-through verbatim against a freshly started checkout-local and checks
# that it prints exactly what the README says it prints. Keeps the README honest.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The fenced block between the markers `<!-- NAME:FROM -->` and `<!-- NAME:TO -->`, without
# its fences, in whichever of README.md and docs/*.md holds it.
block() {
  awk -v start="<!-- $1:$2 -->" -v end="<!-- $1:$3 -->" '
    $0 == start { inside = 1; next }
    $0 == end { inside = 0 }
    inside && !/^```/ { print }' README.md docs/*.md
}

cargo build -q --locked --bin checkout-local
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PORT="$port" target/debug/checkout-local >"$work/server.log" 2>&1 &
server_pid=$!

deadline=$((SECONDS + 60))
until grep -q '^listening on ' "$work/server.log"; do
  if ! kill -0 "$server_pid" 2>/dev/null || ((SECONDS >= deadline)); then
    echo "walkthrough: checkout-local did not start:" >&2
    tail -20 "$work/server.log" >&2
    exit 1
  fi
  sleep 0.1
done

# The walk-throughs, in order, on the same server: the storefront's, programmatic orders',
# then support's day, then a cart paid through Adyen.
for name in walkthrough programmatic support adyen; do
  block "$name" start end | sed "s#http://127.0.0.1:3000#http://127.0.0.1:$port#" >"$work/$name.sh"
  block "$name" expected expected-end >"$work/$name.expected"
  bash -euo pipefail "$work/$name.sh" >"$work/$name.actual"
  if diff -u "$work/$name.expected" "$work/$name.actual"; then
    echo "walkthrough: README $name prints what it promises ($(wc -l <"$work/$name.sh") lines run)"
  else
    echo "walkthrough: the README $name output differs (above: - README, + actual)" >&2
    exit 1
  fi
done
