#!/usr/bin/env bash
# Instructions per request of the example server on a fresh SQLite file, under callgrind
# (valgrind): exact for a binary and its inputs, whatever else the machine is doing, so
# builds can be compared on a busy or different machine.
#
#   bench/callgrind.sh                      # this tree's release build
#   SERVER_BIN=/tmp/old/server bench/callgrind.sh   # another build (A/B)
#   USERS=2000 bench/callgrind.sh
#   KEEP=/tmp/cg bench/callgrind.sh       # keep the callgrind files for callgrind_annotate
#
# Starts the server under callgrind, zeroes the counters once it answers, creates USERS
# users with `POST /Users` (bench/common.sh's seed user, one keep-alive curl, so every
# write is a batch and a commit of its own), dumps, then sends one `PATCH` per user (the
# load test's body: an email, `name.familyName`, `active`) and dumps again, then one
# `GET /Users/{id}` and one `GET /Users?filter=userName eq "…"` per user (reads: the
# writer has nothing to do, `execute` includes the store's read). Prints, per
# request, the user-space instructions of the whole process without the checkpoint
# thread (whose share depends on timing), of `ScimServer::execute` (parse, validate,
# encode, events, response), of the SQLite writer's batches, and the rest (hyper, tokio,
# axum). The listing of the created ids (one request) is left out of the POST figures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/common.sh
. bench/common.sh

USERS="${USERS:-1000}"
[[ "$USERS" =~ ^[0-9]+$ ]] && [ "$USERS" -ge 1 ] || { echo "USERS must be a whole number" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
load_tools curl jq awk python3

server_bin

WORK="$(mktemp -d)"
KEY="cg-$$-$RANDOM$RANDOM"
PID=""
cleanup() {
  [ -z "$PID" ] || kill "$PID" 2>/dev/null || true
  # KEEP=DIR keeps the callgrind files (for callgrind_annotate) in DIR.
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$WORK"/cg.* "$KEEP"/ 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" --dump-instr=no \
  "$BIN" --database "$WORK/db.sqlite" --listen 127.0.0.1:0 --api-key "$KEY" --no-events \
  >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 600); do grep -q "SCIM base URL" "$WORK/server.log" && break; sleep 0.1; done
wait_for_server "$WORK/server.log" "$PID"
curl -sS -H "Authorization: Bearer $KEY" "$BASE/Users?count=1" >/dev/null

echo "== $USERS POST /Users"
callgrind_control -z "$PID" >/dev/null
seed_users "$BASE" "$KEY" "$USERS" "$WORK"
callgrind_control -d post "$PID" >/dev/null

echo "== $USERS PATCH /Users/{id}"
callgrind_control -z "$PID" >/dev/null
i=0
while read -r id; do
  ((i == 0)) || echo next
  word=$([ $((i % 2)) = 0 ] && echo Senior || echo Junior)
  body='{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":['
  body+='{"op":"Replace","path":"emails[type eq \"work\"].value","value":"'$word'@example.com"},'
  body+='{"op":"Replace","path":"name.familyName","value":"'$word'"},'
  body+='{"op":"Replace","path":"active","value":"True"}]}'
  body="${body//\\/\\\\}"
  printf 'url = "%s/Users/%s"\nrequest = "PATCH"\noutput = "/dev/null"\n' "$BASE" "$id"
  printf 'write-out = "%%{http_code}\\n"\nheader = "Authorization: Bearer %s"\n' "$KEY"
  printf 'header = "Content-Type: application/scim+json"\ndata = "%s"\n' "${body//\"/\\\"}"
  i=$((i + 1))
done <"$WORK/ids" >"$WORK/patch.curl"
patched="$(curl -sS -K "$WORK/patch.curl" | grep -c '^200$' || true)"
[ "$patched" -eq "$USERS" ] || { echo "patched $patched of $USERS users" >&2; exit 1; }
callgrind_control -d patch "$PID" >/dev/null

# One keep-alive curl per phase, as above; reads of every user.
reads() {
  local phase="$1" i=0 path
  while read -r id; do
    ((i == 0)) || echo next
    if [ "$phase" = get ]; then
      path="Users/$id"
    else
      path="Users?filter=userName%20eq%20%22user$i%40example.com%22"
    fi
    printf 'url = "%s/%s"\noutput = "/dev/null"\n' "$BASE" "$path"
    printf 'write-out = "%%{http_code}\\n"\nheader = "Authorization: Bearer %s"\n' "$KEY"
    i=$((i + 1))
  done <"$WORK/ids" >"$WORK/$phase.curl"
}
for phase in get filter; do
  echo "== $USERS ${phase^^} ($([ "$phase" = get ] && echo '/Users/{id}' || echo 'userName eq'))"
  reads "$phase"
  callgrind_control -z "$PID" >/dev/null
  read_ok="$(curl -sS -K "$WORK/$phase.curl" | grep -c '^200$' || true)"
  [ "$read_ok" -eq "$USERS" ] || { echo "$phase: $read_ok of $USERS answered 200" >&2; exit 1; }
  callgrind_control -d "$phase" "$PID" >/dev/null
done

printf '\n%-6s %12s %12s %12s %12s\n' request "total" "execute" "writer" "rest"
for f in "$WORK"/cg.*.*; do
  python3 - "$f" "$USERS" <<'PY'
import re, subprocess, sys
f, n = sys.argv[1], int(sys.argv[2])
def annotate(*args):
    return subprocess.run(["callgrind_annotate", *args, f], capture_output=True, text=True).stdout
def num(s):
    return int(s.replace(",", ""))
flat = annotate()
total = num(re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", flat).group(1))
inclusive = annotate("--inclusive=yes")
def fn(pattern):
    for line in inclusive.splitlines():
        if pattern in line:
            return num(line.split()[0])
    return 0
name = re.search(r"Trigger: dump (\w+)", flat).group(1)
# The POST phase ends with a listing of the ids (one request), left out; the filter
# phase is listings.
listing = 0 if name == "filter" else fn("ScimServer>::list_page::{{closure}}")
execute = fn("ScimServer>::execute::{{closure}}") - listing
writer = fn("sqlite_db::run_batch")
checkpoints = fn("sqlite_db::passive_checkpoint")
total -= listing + checkpoints
k = lambda v: f"{v / n / 1000:.1f}K"
print(f"{name:<6} {k(total):>12} {k(execute):>12} {k(writer):>12} {k(total - execute - writer):>12}")
PY
done
