#!/usr/bin/env bash
# Starts/stops the local test backends for the integration tests:
#   - two DynamoDB Locals (in memory, one shared DB each for all credentials/regions):
#     each does its work on one core, and the suite waits on it, so tests are spread
#     over two (CHECKOUT_TEST_DYNAMODB_ENDPOINTS; the harness picks one per test process)
#   - moto server (SQS, SES, ... mocks)
# Usage: scripts/backends.sh start|stop|env
#   start  (re)starts them on free loopback ports, waits until they answer,
#          writes .tools/run/backends.env (source it before running tests)
#   stop   stops them; a no-op if nothing is running
#   env    prints .tools/run/backends.env
# Tools come from scripts/install-tools.sh.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
run="$tools/run"
env_file="$run/backends.env"
ddb_dir="$tools/dynamodb-local"
venv="$tools/venv"

READY_TIMEOUT_S=60 # cold JVM start on a busy 2-core machine can be slow
STOP_TIMEOUT_S=10

# name -> a string its command line must contain; guards against killing
# an unrelated process that reused a stale PID.
declare -A signature=([dynamodb]="DynamoDBLocal.jar" [dynamodb2]="DynamoDBLocal.jar" [moto]="moto_server")

say() { printf 'backends: %s\n' "$*"; }
die() { printf 'backends: error: %s\n' "$*" >&2; exit 1; }

# True while the process runs. A process that has exited but not yet been
# reaped (a zombie: after we exit, our backends are re-parented to PID 1,
# which may reap only every couple of seconds) counts as gone: its ports
# are already closed.
alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ ${stat%% *} != Z ]]
}

# Prints the PID from .tools/run/<name>.pid if that process is still ours.
live_pid() {
  local name=$1 pid_file="$run/$1.pid" pid
  [[ -f $pid_file ]] || return 1
  pid="$(<"$pid_file")"
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "${signature[$name]}" || return 1
  printf '%s\n' "$pid"
}

stop_one() {
  local name=$1 pid deadline
  if pid="$(live_pid "$name")"; then
    # Each backend runs as the leader of its own process group (setsid), so
    # signalling the group also reaches any children it spawned.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT_S))
    while alive "$pid"; do
      if ((SECONDS >= deadline)); then
        say "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_S}s, sending SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
    # Reap stragglers of the group that outlived the leader.
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$run/$name.pid"
}

stop_all() {
  stop_one dynamodb
  stop_one dynamodb2
  stop_one moto
  rm -f "$env_file"
}

# Starts "$@" detached in its own session with output to .tools/run/<name>.log.
launch() {
  local name=$1
  shift
  # Not a process-group leader (no job control in scripts), so setsid execs
  # in place and $! is the backend's own PID (= its process group id).
  (cd "$run" && exec setsid "$@" >"$run/$name.log" 2>&1 </dev/null) &
  printf '%s\n' "$!" >"$run/$name.pid"
}

fail_with_log() {
  local name=$1 why=$2
  printf 'backends: error: %s %s; last lines of %s:\n' "$name" "$why" "${run#"$root"/}/$name.log" >&2
  tail -n 30 "$run/$name.log" >&2 || true
  stop_all
  exit 1
}

# Polls every 0.2 s until the URL answers with an accepted HTTP status, the process
# dies, or the deadline passes.
wait_ready() {
  local name=$1 url=$2 method=$3 want=$4 deadline=$5 pid code
  pid="$(<"$run/$name.pid")"
  while :; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X "$method" "$url" || true)"
    case $want in
      any) [[ $code =~ ^[1-5][0-9][0-9]$ ]] && return 0 ;;
      *) [[ $code == "$want" ]] && return 0 ;;
    esac
    alive "$pid" || fail_with_log "$name" "exited before becoming ready"
    ((SECONDS < deadline)) || fail_with_log "$name" "not ready after ${READY_TIMEOUT_S}s (last HTTP status ${code:-none})"
    sleep 0.2
  done
}

start_all() {
  [[ -f $ddb_dir/DynamoDBLocal.jar && -x $venv/bin/moto_server ]] ||
    die "tools missing; run scripts/install-tools.sh first"
  command -v java >/dev/null || die "java not found; run scripts/install-tools.sh first"

  mkdir -p "$run"
  stop_all # a fresh start each time: in-memory state must not leak between runs

  # Ask the OS for three distinct free loopback ports (all held until printed).
  local ports ddb_port ddb2_port moto_port
  ports="$("$venv/bin/python" -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
')"
  read -r ddb_port ddb2_port moto_port <<<"$ports"

  # DynamoDB Local has no bind-address option (its Jetty listens on all
  # interfaces); clients only ever use 127.0.0.1. -disableTelemetry: it would
  # otherwise try to reach AWS. The whole suite waits on this one JVM (it keeps
  # a core busy for the length of the run), so it gets the optimizing compiler:
  # stopping at the first tier made the suite 2.5x slower. SerialGC: one core's
  # worth of GC threads is enough. DDB_JAVA_OPTS replaces these flags.
  local name port
  for name in dynamodb dynamodb2; do
    port=$ddb_port
    [[ $name == dynamodb2 ]] && port=$ddb2_port
    # shellcheck disable=SC2086 # DDB_JAVA_OPTS is a list of flags
    launch "$name" java ${DDB_JAVA_OPTS:--XX:+UseSerialGC} \
      "-Djava.library.path=$ddb_dir/DynamoDBLocal_lib" \
      -jar "$ddb_dir/DynamoDBLocal.jar" \
      -inMemory -sharedDb -disableTelemetry -port "$port"
  done
  launch moto "$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port"

  # Both boot in parallel; one shared deadline.
  local deadline=$((SECONDS + READY_TIMEOUT_S))
  # DynamoDB Local answers any POST (400 without a target); that means ready.
  wait_ready dynamodb "http://127.0.0.1:$ddb_port/" POST any "$deadline"
  wait_ready dynamodb2 "http://127.0.0.1:$ddb2_port/" POST any "$deadline"
  wait_ready moto "http://127.0.0.1:$moto_port/moto-api/" GET 200 "$deadline"

  # Fake credentials: both backends accept any; real ones must never be used.
  umask 077
  cat >"$env_file.tmp" <<EOF
export CHECKOUT_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$ddb_port
export CHECKOUT_TEST_DYNAMODB_ENDPOINTS=http://127.0.0.1:$ddb_port,http://127.0.0.1:$ddb2_port
export CHECKOUT_TEST_AWS_ENDPOINT=http://127.0.0.1:$moto_port
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
EOF
  mv "$env_file.tmp" "$env_file"
  say "dynamodb-local http://127.0.0.1:$ddb_port (pid $(<"$run/dynamodb.pid")) and http://127.0.0.1:$ddb2_port (pid $(<"$run/dynamodb2.pid")), moto http://127.0.0.1:$moto_port (pid $(<"$run/moto.pid")); env: source ${env_file#"$root"/}"
}

case "${1:-}" in
  start) start_all ;;
  stop) stop_all ;;
  env)
    [[ -f $env_file ]] || die "backends not running (no ${env_file#"$root"/}); run: scripts/backends.sh start"
    cat "$env_file"
    ;;
  *)
    printf 'usage: %s start|stop|env\n' "$0" >&2
    exit 2
    ;;
esac
