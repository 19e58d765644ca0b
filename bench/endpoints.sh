#!/usr/bin/env bash
# Endpoint benchmarks: the server pinned to core 0, wrk on core 1.
#   bench/endpoints.sh sqlite|postgres
# Needs a release build (cargo build --release) and wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
bin=target/release/lamba
key=bench-key-0123456789
port=18181
base=http://127.0.0.1:$port
tmp=$(mktemp -d)
db_name=lamba_bench_$$
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
LAMBA_LISTEN=127.0.0.1:$port LAMBA_DATABASE_URL=$url LAMBA_BOOTSTRAP_API_KEY=$key LAMBA_LOG=warn \
  taskset -c 0 "$bin" serve >"$tmp/out" 2>"$tmp/err" &
server=$!
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.05; done

id=$(curl -sf -H "Authorization: $key" "$base/api/lambda" -d '{"lambda":{"name":"Roles into the JWT","type":"JWTPopulate","body":"function populate(jwt, user, registration) { jwt.roles = registration.roles; jwt.email = user.email; }"}}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["lambda"]["id"])')

echo "== $backend: GET /api/lambda/{id}"
taskset -c 1 wrk -t1 -c16 -d15s --latency -H "Authorization: $key" "$base/api/lambda/$id"
idp=$(curl -sf -H "Authorization: $key" "$base/api/identity-provider" -d '{"identityProvider":{"type":"OpenIDConnect","name":"Acme","enabled":true,"buttonText":"Sign in with Acme","domains":["acme.example"],"oauth2":{"client_id":"lamba","client_secret":"bench-secret","issuer":"https://idp.acme.example"}}}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["identityProvider"]["id"])')
echo "== $backend: GET /api/identity-provider/{id}"
taskset -c 1 wrk -t1 -c16 -d15s --latency -H "Authorization: $key" "$base/api/identity-provider/$idp"
echo "== $backend: GET /health"
taskset -c 1 wrk -t1 -c16 -d15s --latency "$base/health"
echo "== $backend: server RSS after load: $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$server/status)"
