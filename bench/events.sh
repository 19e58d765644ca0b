#!/usr/bin/env bash
# Identity events (issue 5): what the audit log and webhook delivery cost on
# the paths that cause events, and how fast deliveries go out.
#   bench/events.sh sqlite|postgres       (CONFIGS="off webhooks" for a subset)
# Three runs of the server, each on core 0 with the load on core 1:
#   off       LAMBA_AUDIT_LOG=false, no webhook
#   audit     the audit log on (the default), no webhook
#   webhooks  the audit log on and one webhook hearing every event type,
#             delivering to a local sink (examples/webhook_sink, on core 1)
# Each measures refresh-token rotation (`session.refreshed`), hosted sign-in
# (`user.login`), switch-context (`session.created`) and, as a control with
# no event, client credentials. In the webhooks run the sink's count gives
# the delivery rate during the load and while the backlog drains after it.
# Needs `cargo build --release -p lamba --bins --examples` and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
bin=target/release/lamba
load=target/release/examples/oidc_load
sink_bin=target/release/examples/webhook_sink
key=bench-key-0123456789
port=18284
sink_port=18290
base=http://127.0.0.1:$port
tmp=$(mktemp -d)
server=""
sink=""
db_name=""

stop_server() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=""; fi
  if [ -n "$db_name" ]; then
    psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db_name WITH (FORCE)"
    db_name=""
  fi
}
cleanup() {
  stop_server
  if [ -n "$sink" ]; then kill "$sink" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

api() { curl -sf -X "${3:-POST}" -H "Authorization: $key" -H 'Content-Type: application/json' "$base$1" -d "$2"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
sink_count() { tail -n1 "$tmp/sink.out" | awk '{print $2}'; }
# CPU seconds (user + system) of the server, and of PostgreSQL's processes.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu() {
  local server_ticks pg_ticks=0 p
  server_ticks=$(ticks "$server")
  if [ "$backend" = postgres ]; then
    for p in $(pgrep -u postgres postgres); do pg_ticks=$(( pg_ticks + $(ticks "$p") )); done
  fi
  echo "$server_ticks $pg_ticks"
}
cpu_since() {
  local now
  now=$(cpu)
  python3 - $1 $2 $now "$(getconf CLK_TCK)" <<'PY'
import sys
s0, p0, s1, p1, hz = map(int, sys.argv[1:])
print(f"   CPU: server {(s1 - s0) / hz:.1f} s, postgres {(p1 - p0) / hz:.1f} s")
PY
}

run() {
  local config=$1 audit=true
  [ "$config" = off ] && audit=false
  case $backend in
    sqlite) url="sqlite://$tmp/$config.db" ;;
    postgres)
      db_name=lamba_bench_events_$$_$config
      psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db_name"
      url="postgres://postgres@127.0.0.1:5432/$db_name" ;;
    *) echo "usage: $0 sqlite|postgres" >&2; exit 2 ;;
  esac
  # One user drives the session load: the per-user limits would measure the
  # limiter.
  LAMBA_LISTEN=127.0.0.1:$port LAMBA_DATABASE_URL=$url LAMBA_BOOTSTRAP_API_KEY=$key LAMBA_LOG=warn \
    LAMBA_AUDIT_LOG=$audit LAMBA_RATE_LIMIT_SESSIONS=100000000/min LAMBA_RATE_LIMIT_SIGNIN=100000000/min \
    LAMBA_RATE_LIMIT_SIGNIN_IP=100000000/min \
    taskset -c 0 "$bin" serve >"$tmp/out" 2>"$tmp/err" &
  server=$!
  for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.05; done

  ws=$(api /api/workspace '{"workspace":{"name":"bench"}}' | field 'd["workspace"]["id"]')
  project=$(api "/api/workspace/$ws/project" '{"project":{"name":"bench"}}' | field 'd["project"]["id"]')
  app=$(api /api/application "{\"application\":{\"name\":\"bench\",\"projectId\":\"$project\",\"environment\":\"test\",\"oauthConfiguration\":{\"authorizedRedirectURLs\":[\"https://app.example.com/cb\"],\"enabledGrants\":[\"authorization_code\",\"refresh_token\",\"client_credentials\"]},\"jwtConfiguration\":{\"accessTokenSigningAlgorithm\":\"ES256\"}}}")
  app_id=$(echo "$app" | field 'd["application"]["id"]'); app_secret=$(echo "$app" | field 'd["application"]["oauthConfiguration"]["clientSecret"]')
  user=$(api /api/user '{"user":{"email":"bench@example.com","password":"bench password 123"}}' | field 'd["user"]["id"]')
  api "/api/workspace/$ws/project/$project/member" "{\"member\":{\"userId\":\"$user\",\"roles\":[\"viewer\"]}}" >/dev/null
  if [ "$config" = webhooks ]; then
    api /api/webhook "{\"webhook\":{\"url\":\"http://127.0.0.1:$sink_port/hook\"}}" >/dev/null
  fi
  local before=0
  [ "$config" = webhooks ] && before=$(sink_count)

  echo "== $backend/$config: client_credentials, ES256 (no event)"
  printf 'wrk.method = "POST"\nwrk.body = "grant_type=client_credentials"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\nwrk.headers["Authorization"] = "Basic %s"\n' \
    "$(printf '%s:%s' "$app_id" "$app_secret" | base64 -w0)" > "$tmp/cc.lua"
  mark=$(cpu)
  taskset -c 1 wrk -t1 -c16 -d15s --latency -s "$tmp/cc.lua" "$base/connect/token" | grep -E "requests in|Requests/sec|99%"
  cpu_since $mark
  echo "== $backend/$config: refresh-token rotation (session.refreshed)"
  local started_ms
  started_ms=$(date +%s%3N)
  mark=$(cpu)
  taskset -c 1 "$load" refresh "$base" "$app_id" "$app_secret" bench@example.com "bench password 123" https://app.example.com/cb 15 16
  local ended_ms
  ended_ms=$(date +%s%3N)
  cpu_since $mark
  if [ "$config" = webhooks ]; then
    local at_end
    at_end=$(sink_count)
    # Drained when the count has not moved for two seconds.
    local last=-1 now
    while true; do
      sleep 2
      now=$(sink_count)
      [ "$now" = "$last" ] && break
      last=$now
    done
    local drained_ms=$(( $(date +%s%3N) - 2000 ))
    python3 - "$before" "$at_end" "$now" "$started_ms" "$ended_ms" "$drained_ms" <<'PY'
import sys
before, at_end, final, started, ended, drained = map(int, sys.argv[1:])
during = (at_end - before) / ((ended - started) / 1000)
print(f"   deliveries: {final - before} in all; {during:.0f}/s during the load; "
      f"{final - at_end} left at its end, drained in {max(drained - ended, 0) / 1000:.1f} s "
      f"({(final - at_end) / max((drained - ended) / 1000, 0.001):.0f}/s with the server otherwise idle)")
PY
    echo "   through the drain:"
    cpu_since $mark
  fi
  echo "== $backend/$config: switch-context (session.created)"
  login=$("$load" access-token "$base" "$app_id" "$app_secret" bench@example.com "bench password 123" https://app.example.com/cb)
  cat > "$tmp/switch.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"workspaceId":"$ws","projectId":"$project","environment":"test"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $login"
LUA
  mark=$(cpu)
  taskset -c 1 wrk -t1 -c16 -d15s --latency -s "$tmp/switch.lua" "$base/v1/sessions/switch-context" | grep -E "requests in|Requests/sec|99%"
  cpu_since $mark
  echo "== $backend/$config: hosted sign-ins (user.login; argon2id m=19 MiB t=2 p=1)"
  mark=$(cpu)
  taskset -c 1 "$load" signin "$base" "$app_id" "$app_secret" bench@example.com "bench password 123" https://app.example.com/cb 15 8
  cpu_since $mark
  if [ "$config" = webhooks ]; then
    sleep 3
    echo "   deliveries over the whole run: $(( $(sink_count) - before ))"
  fi
  stop_server
}

taskset -c 1 "$sink_bin" "$sink_port" >"$tmp/sink.out" &
sink=$!
for _ in $(seq 50); do [ -s "$tmp/sink.out" ] && break; sleep 0.1; done

for config in ${CONFIGS:-off audit webhooks}; do run "$config"; done
