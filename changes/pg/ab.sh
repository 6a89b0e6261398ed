#!/usr/bin/env bash
# ab.sh BIN TAG: the example server BIN on a fresh DB, 1000 seeded users, wrk POST then PATCH
# (16 connections, $D s each); prints req/s and PG client-backend CPU µs per request.
set -euo pipefail
cd /work/wt/pg
. bench/common.sh
BIN=$1 TAG=$2 D=${D:-5}
P="psql -h 127.0.0.1 -U postgres -qAt"
DB=scimkit_pg_ab
KEY=abkey$$
WORK=$(mktemp -d)
$P postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
RUST_LOG=warn taskset -c 1 "$BIN" --database postgres://postgres@127.0.0.1:5432/$DB --listen 127.0.0.1:0 --api-key $KEY --no-events > $WORK/server.log 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null; wait $SP 2>/dev/null; rm -rf $WORK' EXIT
wait_for_server $WORK/server.log $SP
seed_users "$BASE" "$KEY" 1000 "$WORK"
bticks() { local t=0; for p in $($P postgres -c "select pid from pg_stat_activity where datname='$DB' and backend_type='client backend'"); do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null || echo 0))); done; echo $t; }
sticks() { awk '{print $14+$15}' /proc/$SP/stat; }
for mode in post patch; do
  b0=$(bticks); s0=$(sticks)
  out=$(taskset -c 0 wrk -t1 -c16 -d${D}s --timeout 5s -s bench/scim.lua "$ORIGIN" -- $mode /scim/v2 $WORK/ids $KEY "ab-$$-$TAG" 1000)
  b1=$(bticks); s1=$(sticks)
  r=$(sed -n 's/^RESULT //p' <<<"$out")
  awk -v tag="$TAG" -v m=$mode -v r="$r" -v b=$((b1-b0)) -v s=$((s1-s0)) 'BEGIN { split(r,f," "); printf "%-6s %-5s req/s %7.0f  pg-cpu %6.1f us/req  server-cpu %6.1f us/req  non2xx %d\n", tag, m, f[1], b*1e4/f[4], s*1e4/f[4], f[5] }'
done
