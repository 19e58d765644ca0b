#!/usr/bin/env bash
# The server-side CPU of one federated login, excluding the upstream's own
# time: a release build of the `federated_login_cost` integration test,
# which starts a downstream and an upstream `lamba serve` and reads the
# downstream's CPU time from /proc around each departure and callback.
#
#   bench/federation.sh [sqlite|postgres] [logins]
#
# PostgreSQL needs the server on 127.0.0.1:5432 (user postgres, trust).
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
logins="${2:-300}"
LAMBA_BENCH_BACKEND="$backend" LAMBA_BENCH_LOGINS="$logins" \
  cargo test --release --locked -p lamba --test it -- \
  --ignored --nocapture --exact federation::federated_login_cost
