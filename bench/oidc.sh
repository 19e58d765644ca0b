#!/usr/bin/env bash
# OpenID Connect endpoint benchmarks: the server pinned to core 0, the load
# generator on core 1.
#   bench/oidc.sh sqlite|postgres
# Needs `cargo build --release -p lamba --bins --examples` and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
bin=target/release/lamba
load=target/release/examples/oidc_load
key=bench-key-0123456789
port=18282
base=http://127.0.0.1:$port
tmp=$(mktemp -d)
db_name=lamba_bench_oidc_$$
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
# The sign-in limits (10/min per email) would stop the load at its first
# sign-ins: lifted, as in events.sh.
LAMBA_LISTEN=127.0.0.1:$port LAMBA_DATABASE_URL=$url LAMBA_BOOTSTRAP_API_KEY=$key LAMBA_LOG=warn \
  LAMBA_RATE_LIMIT_SIGNIN=100000000/min LAMBA_RATE_LIMIT_SIGNIN_IP=100000000/min \
  taskset -c 0 "$bin" serve >"$tmp/out" 2>"$tmp/err" &
server=$!
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.05; done

api() { curl -sf -H "Authorization: $key" -H 'Content-Type: application/json' "$base$1" -d "$2"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
app() {
  api /api/application "{\"application\":{\"name\":\"bench $1\",\"oauthConfiguration\":{\"authorizedRedirectURLs\":[\"https://app.example.com/cb\"],\"enabledGrants\":[\"authorization_code\",\"refresh_token\",\"client_credentials\"]},\"jwtConfiguration\":{\"accessTokenSigningAlgorithm\":\"$1\"}}}"
}
es=$(app ES256); rs=$(app RS256)
es_id=$(echo "$es" | field 'd["application"]["id"]'); es_secret=$(echo "$es" | field 'd["application"]["oauthConfiguration"]["clientSecret"]')
rs_id=$(echo "$rs" | field 'd["application"]["id"]'); rs_secret=$(echo "$rs" | field 'd["application"]["oauthConfiguration"]["clientSecret"]')
api /api/user '{"user":{"email":"bench@example.com","password":"bench password 123"}}' >/dev/null

cc_lua() {
  cat > "$tmp/cc-$1.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$2" "$3" | base64 -w0)"
LUA
}
cc_lua es "$es_id" "$es_secret"; cc_lua rs "$rs_id" "$rs_secret"
echo "== $backend: client_credentials, ES256"
taskset -c 1 wrk -t1 -c16 -d15s --latency -s "$tmp/cc-es.lua" "$base/connect/token"
[ -n "${LAMBA_BENCH_PAUSE:-}" ] && { echo "server pid $server"; sleep "$LAMBA_BENCH_PAUSE"; }
echo "== $backend: client_credentials, RS256"
taskset -c 1 wrk -t1 -c16 -d15s --latency -s "$tmp/cc-rs.lua" "$base/connect/token"

token=$(curl -sf -u "$es_id:$es_secret" -d grant_type=client_credentials "$base/connect/token" | field 'd["access_token"]')
cat > "$tmp/introspect.lua" <<LUA
wrk.method = "POST"
wrk.body = "token=$token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$es_id" "$es_secret" | base64 -w0)"
LUA
echo "== $backend: introspection of an ES256 access token"
taskset -c 1 wrk -t1 -c16 -d15s --latency -s "$tmp/introspect.lua" "$base/connect/introspect"

echo "== $backend: refresh-token rotation (OneTimeUse), access token only"
taskset -c 1 "$load" refresh "$base" "$es_id" "$es_secret" bench@example.com "bench password 123" https://app.example.com/cb 15 16
echo "== $backend: refresh-token rotation (OneTimeUse) with an RS256 ID token"
taskset -c 1 "$load" refresh-oidc "$base" "$es_id" "$es_secret" bench@example.com "bench password 123" https://app.example.com/cb 15 16
echo "== $backend: hosted sign-ins (argon2id m=19 MiB t=2 p=1)"
taskset -c 1 "$load" signin "$base" "$es_id" "$es_secret" bench@example.com "bench password 123" https://app.example.com/cb 15 8
echo "== $backend: server RSS after load: $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$server/status)"
