#!/usr/bin/env bash
# Scoped-session benchmarks (issue 4): switch-context and
# GET /v1/me/authorization, the server pinned to core 0 and wrk on core 1.
#   bench/scoped.sh sqlite|postgres
# Needs `cargo build --release -p lamba --bins --examples` and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
bin=target/release/lamba
load=target/release/examples/oidc_load
key=bench-key-0123456789
port=18283
base=http://127.0.0.1:$port
tmp=$(mktemp -d)
db_name=lamba_bench_scoped_$$
case $backend in
  sqlite) url="sqlite://$tmp/lamba.db" ;;
  postgres)
    psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db_name"
    url="postgres://postgres@127.0.0.1:5432/$db_name" ;;
  *) echo "usage: $0 sqlite|postgres" >&2; exit 2 ;;
esac
cleanup() {
  kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
  [ "$backend" = postgres ] && psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db_name WITH (FORCE)"
  rm -rf "$tmp"
}
# The per-user limit (60/min by default) would measure the limiter, not the
# endpoint: one user drives all the load here.
LAMBA_LISTEN=127.0.0.1:$port LAMBA_DATABASE_URL=$url LAMBA_BOOTSTRAP_API_KEY=$key LAMBA_LOG=warn \
  LAMBA_RATE_LIMIT_SESSIONS=100000000/min \
  taskset -c 0 "$bin" serve >"$tmp/out" 2>"$tmp/err" &
server=$!
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.05; done

api() { curl -sf -X "${3:-POST}" -H "Authorization: $key" -H 'Content-Type: application/json' "$base$1" -d "$2"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
ws=$(api /api/workspace '{"workspace":{"name":"bench"}}' | field 'd["workspace"]["id"]')
project=$(api "/api/workspace/$ws/project" '{"project":{"name":"bench"}}' | field 'd["project"]["id"]')
api "/api/workspace/$ws/project/$project/role" '{"role":{"name":"admin","permissions":["members:read","members:write","sessions:write"]}}' >/dev/null
app=$(api /api/application "{\"application\":{\"name\":\"bench\",\"projectId\":\"$project\",\"environment\":\"test\",\"oauthConfiguration\":{\"authorizedRedirectURLs\":[\"https://app.example.com/cb\"],\"enabledGrants\":[\"authorization_code\",\"refresh_token\"]}}}")
app_id=$(echo "$app" | field 'd["application"]["id"]'); app_secret=$(echo "$app" | field 'd["application"]["oauthConfiguration"]["clientSecret"]')
user=$(api /api/user '{"user":{"email":"bench@example.com","password":"bench password 123"}}' | field 'd["user"]["id"]')
api "/api/workspace/$ws/project/$project/member" "{\"member\":{\"userId\":\"$user\",\"roles\":[\"admin\",\"viewer\"]}}" >/dev/null
login=$("$load" access-token "$base" "$app_id" "$app_secret" bench@example.com "bench password 123" https://app.example.com/cb)

cat > "$tmp/switch.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"workspaceId":"$ws","projectId":"$project","environment":"test"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $login"
LUA
echo "== $backend: POST /v1/sessions/switch-context (scope + refresh token stored, ES256 access token)"
taskset -c 1 wrk -t1 -c16 -d15s --latency -s "$tmp/switch.lua" "$base/v1/sessions/switch-context"

scoped=$(curl -sf -H "Authorization: Bearer $login" -H 'Content-Type: application/json' \
  -d "{\"workspaceId\":\"$ws\",\"projectId\":\"$project\",\"environment\":\"test\"}" \
  "$base/v1/sessions/switch-context" | field 'd["accessToken"]')
cat > "$tmp/authz.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $scoped"
LUA
echo "== $backend: GET /v1/me/authorization (revocation check on)"
taskset -c 1 wrk -t1 -c16 -d15s --latency -s "$tmp/authz.lua" "$base/v1/me/authorization"
echo "== $backend: server RSS after load: $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$server/status)"
