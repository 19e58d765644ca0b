#!/usr/bin/env bash
# The cost of a JWTPopulate lambda on the client_credentials grant: one ES256
# client without a lambda, one with an access-token populate lambda; the
# server pinned to core 0, wrk on core 1, runs alternated.
#   bench/lambda.sh [runs]
# Needs `cargo build --release -p lamba --bins` and wrk. SQLite only: the
# lambda path reads no more from storage than the plain one (the lambda is
# served by the read cache).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
bin=target/release/lamba
key=bench-key-0123456789
port=18283
base=http://127.0.0.1:$port
tmp=$(mktemp -d)
cleanup() {
  kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
  rm -rf "$tmp"
}
LAMBA_LISTEN=127.0.0.1:$port LAMBA_DATABASE_URL="sqlite://$tmp/lamba.db" LAMBA_BOOTSTRAP_API_KEY=$key LAMBA_LOG=warn \
  taskset -c 0 "$bin" serve >"$tmp/out" 2>"$tmp/err" &
server=$!
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.05; done

api() { curl -sf -X "${3:-POST}" -H "Authorization: $key" -H 'Content-Type: application/json' "$base$1" -d "$2"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
app() {
  api /api/application "{\"application\":{\"name\":\"bench $1\",\"oauthConfiguration\":{\"authorizedRedirectURLs\":[\"https://app.example.com/cb\"],\"enabledGrants\":[\"client_credentials\"]}}}"
}
plain=$(app plain); populated=$(app populated)
lambda=$(api /api/lambda '{"lambda":{"name":"bench","type":"JWTPopulate","body":"function populate(jwt, user, registration, context) { jwt.plan = \"gold\"; jwt.app = context.application.name; jwt.features = [\"a\", \"b\"]; }"}}' | field 'd["lambda"]["id"]')
populated_id=$(echo "$populated" | field 'd["application"]["id"]')
api "/api/application/$populated_id" "{\"application\":{\"lambdaConfiguration\":{\"accessTokenPopulateId\":\"$lambda\"}}}" PATCH >/dev/null

cc_lua() {
  local id secret
  id=$(echo "$2" | field 'd["application"]["id"]')
  secret=$(echo "$2" | field 'd["application"]["oauthConfiguration"]["clientSecret"]')
  cat > "$tmp/cc-$1.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)"
LUA
  # Warm up (and check the lambda's claim is there).
  curl -sf -u "$id:$secret" -d grant_type=client_credentials "$base/connect/token" >/dev/null
}
cc_lua plain "$plain"; cc_lua populated "$populated"
for run in $(seq "$runs"); do
  for kind in plain populated; do
    echo "== run $run: client_credentials, ES256, $kind"
    taskset -c 1 wrk -t1 -c16 -d15s --latency -s "$tmp/cc-$kind.lua" "$base/connect/token" \
      | grep -E 'Requests/sec|50%|99%|Non-2xx'
  done
done
