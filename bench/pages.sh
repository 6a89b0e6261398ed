#!/usr/bin/env bash
# List pages as Okta imports them, one request at a time over HTTP, on every store: a page
# of 100 of USERS users by `startIndex`/`count`, by RFC 9865 cursor, and sorted by
# `name.familyName`.
#
#   bench/pages.sh                         # memory, sqlite and postgres; 1,000 users, 5 s each
#   STORES="memory sqlite" DURATION=3 bench/pages.sh
#   WITH_GROUPS=1 bench/pages.sh           # also a page of 100 of USERS groups (--groups),
#                                          # members excluded, as Entra reads groups
#   SERVER_BIN=/tmp/old/server bench/pages.sh  # another build of the example server (A/B)
#
# For each store: starts the example server (release) on a fresh database, seeds USERS
# users, checks that each page lists 100 users with the exact total, then runs wrk with ONE
# connection for DURATION seconds per page type (so the time per request is the latency of
# one request, not throughput). Prints the mean and p99 milliseconds per page, and each SQL
# store's mean over the memory store's. Loopback only; everything is bounded in time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/common.sh
. bench/common.sh

DURATION="${DURATION:-5}"
USERS="${USERS:-1000}"
STORES="${STORES:-memory sqlite postgres}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
KEY="pages-$$-$RANDOM$RANDOM"
[[ "$USERS" =~ ^[0-9]+$ ]] && [ "$USERS" -ge 500 ] || { echo "USERS must be at least 500" >&2; exit 2; }

load_tools curl jq awk

server_bin
WORK="$(mktemp -d)"
SERVER_PID=""
PGDB="scimkit_pages_$$"
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

printf '\n%-9s %-8s %9s %9s %9s\n' store page "mean ms" "p99 ms" "x memory"
for store in $STORES; do
  case "$store" in
    memory) db=memory ;;
    sqlite) db="$WORK/pages.db" ;;
    postgres)
      psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $PGDB" -c "CREATE DATABASE $PGDB" >/dev/null
      db="$PGURL/$PGDB"
      ;;
    *) echo "unknown store $store" >&2; exit 2 ;;
  esac
  group_args=()
  [ -z "${WITH_GROUPS:-}" ] || group_args=(--groups)
  RUST_LOG=warn "${SERVER_PIN[@]}" "$BIN" --database "$db" --listen 127.0.0.1:0 --api-key "$KEY" \
    --no-events "${group_args[@]}" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  wait_for_server "$WORK/server.log" "$SERVER_PID"
  seed_users "$BASE" "$KEY" "$USERS" "$WORK"
  cursor="$(curl -sS -H "Authorization: Bearer $KEY" "$BASE/Users?count=400&cursor=" |
    jq -r '.nextCursor // empty')"
  [ -n "$cursor" ] || { echo "$store: no nextCursor after a first page of 400" >&2; exit 1; }
  modes="page cursor sorted"
  if [ -n "${WITH_GROUPS:-}" ]; then
    # USERS groups of 10 members each, created as an IdP pushes them.
    seq 0 $((USERS - 1)) | while read -r i; do
      members="$(head -n $(( (i % (USERS / 10)) * 10 + 10 )) "$WORK/ids" | tail -n 10 |
        jq -R '{value: .}' | jq -s -c .)"
      printf '{"displayName":"group %s","members":%s}\n' "$i" "$members"
    done | while read -r body; do
      curl -sS -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/scim+json' -d "$body" "$BASE/Groups"
    done | grep -v '^201$' && { echo "$store: a group create failed" >&2; exit 1; }
    modes="$modes groups"
  fi
  for mode in $modes; do
    case "$mode" in
      page) q="Users?startIndex=401&count=100" ;;
      cursor) q="Users?count=100&cursor=$cursor" ;;
      sorted) q="Users?sortBy=name.familyName&startIndex=401&count=100" ;;
      groups) q="Groups?startIndex=401&count=100&excludedAttributes=members" ;;
    esac
    read -r n total < <(curl -sS -H "Authorization: Bearer $KEY" "$BASE/$q" |
      jq -r '"\(.Resources | length) \(.totalResults)"')
    [ "$n" -eq 100 ] && [ "$total" -eq "$USERS" ] ||
      { echo "$store $mode: $n resources, totalResults $total (want 100, $USERS)" >&2; exit 1; }
    [ "$store" != postgres ] || renice_backends "$PGURL" "$PGDB"
    out="$("${LOAD_PIN[@]}" wrk -t1 -c1 -d"${DURATION}s" --timeout 5s -s bench/scim.lua "$ORIGIN" \
      -- "$mode" /scim/v2 "$WORK/ids" "$KEY" "pages" "$USERS" "$cursor")"
    result="$(sed -n 's/^RESULT //p' <<<"$out")"
    read -r rps _ p99 _ non2xx _ <<<"$result"
    [ "$non2xx" -eq 0 ] || { echo "$store $mode: $non2xx non-2xx answers" >&2; exit 1; }
    mean="$(awk -v r="$rps" 'BEGIN { printf "%.3f", 1000 / r }')"
    echo "$mean" >"$WORK/$store.$mode"
    ratio="-"
    [ -f "$WORK/memory.$mode" ] && ratio="$(awk -v a="$mean" -v b="$(cat "$WORK/memory.$mode")" 'BEGIN { printf "%.2f", a / b }')"
    printf '%-9s %-8s %9s %9.3f %9s\n' "$store" "$mode" "$mean" "$(awk -v p="$p99" 'BEGIN { print p / 1000 }')" "$ratio"
    if [ "$mode" = groups ]; then
      awk -v g="$mean" -v u="$(cat "$WORK/$store.page")" -v s="$store" \
        'BEGIN { printf "%-9s groups page / users page: %.2f\n", s, g / u }'
    fi
  done
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
done
echo "(targets, issue 19: SQLite within 2x of memory, PostgreSQL within 3x)"
