#!/usr/bin/env bash
# Soak test in one command: the example server (axum + scimkit) on a fresh SQLite file under
# a sustained mix of reads and writes from many connections, then an audit of everything it
# stored, and its memory over the run (issue 10, "Load").
#
#   bench/soak.sh                              # 60 s, 32 connections, SQLite
#   DURATION=300 CONNECTIONS=64 bench/soak.sh
#   STORE=memory bench/soak.sh                 # --database memory instead of SQLite
#   LIVE_CAP=0 bench/soak.sh                   # let the data set grow all run long
#
# Builds the example server in release, starts it on loopback with a known API key on a
# fresh database, and runs wrk with bench/soak.lua: one wrk thread per connection, each
# creating its own users (unique userNames), reading them by id and by
# `filter=userName eq`, PATCHing (replace title, add an email), PUTting, listing pages,
# deleting some, reading deleted ones back (404), and checking every answer (see
# soak.lua). Each connection fills up to LIVE_CAP users, then holds there (a create past
# the cap becomes a delete), so the data set is flat after warm-up and so must memory be.
# The server's memory (VmRSS, and its anonymous and file-backed parts) and the SQLite WAL
# size are sampled every RSS_EVERY seconds. After the run it asks the server for
# totalResults, lists every user with cursor paging (1,000 a page), and checks:
#
#   - no 5xx, no socket errors, no answer other than the expected one (timeouts, answers
#     after TIMEOUT seconds, are reported as a warning);
#   - totalResults == successful creates - successful deletes, within the writes in
#     flight when wrk stopped: wrk stops with up to one request per connection sent and
#     not answered, which the server may have carried out (a stored create, a done
#     delete) without wrk counting its 201/204, so |difference| <= those writes <=
#     CONNECTIONS; then exactly, once each of them is resolved by asking the server;
#   - the stored userNames are exactly the ones the threads created and did not delete:
#     none lost, none extra, no duplicated userName or id, the listing as long as
#     totalResults;
#   - RSS flat after warm-up (the first WARMUP_PCT % of the run): the least-squares slope
#     of VmRSS over the later samples, per request, at most RSS_LEAK_MAX bytes: 32 on the
#     memory store (the smallest glibc allocation: not one allocation a request leaked),
#     64 on SQLite, whose page caches (up to 8 connections x 2 MiB) are still filling in a
#     60 s run (measured 19-31 bytes/request over 60 s, 2 over 180 s; DURATION=180 or
#     more gives a sharper figure). Not checked on the memory store with LIVE_CAP=0, whose
#     RSS grows with the users it holds (the growth per stored user is reported instead).
#
# Prints a summary and PASS or FAIL; the exit code is 0 on PASS, 1 on FAIL, 2 on bad use.
# Everything is bounded: fixed duration and connections, loopback only, the server killed
# on exit, the database in a temporary directory, removed at the end (the journals, samples
# and logs are kept on FAIL; everything with KEEP=1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/common.sh
. bench/common.sh

DURATION="${DURATION:-60}"           # seconds of load
CONNECTIONS="${CONNECTIONS:-32}"     # wrk connections, one wrk thread each
STORE="${STORE:-sqlite}"             # sqlite | memory
RSS_EVERY="${RSS_EVERY:-5}"          # seconds between RSS samples
WARMUP_PCT="${WARMUP_PCT:-20}"       # the warm-up: this share of the run, in %
RSS_LEAK_MAX="${RSS_LEAK_MAX:-}"     # bytes of RSS growth a request after warm-up (64 / 32)
TIMEOUT="${TIMEOUT:-10}"             # wrk's per-request timeout, seconds
LIVE_CAP="${LIVE_CAP:-200}"          # users each connection keeps at most (0: no cap)
KEEP="${KEEP:-0}"                    # 1: keep the work directory (database, journals, logs)
KEY="soak-$$-$RANDOM$RANDOM"
PREFIX="soak$$r$RANDOM"

for n in DURATION CONNECTIONS RSS_EVERY WARMUP_PCT TIMEOUT LIVE_CAP; do
  [[ "${!n}" =~ ^[0-9]+$ ]] || { echo "$n must be a whole number" >&2; exit 2; }
done
for n in DURATION CONNECTIONS RSS_EVERY TIMEOUT; do
  [ "${!n}" -ge 1 ] || { echo "$n must be at least 1" >&2; exit 2; }
done
[ "$WARMUP_PCT" -lt 100 ] || { echo "WARMUP_PCT must be below 100" >&2; exit 2; }
case "$STORE" in
  sqlite | memory) ;;
  *) echo "STORE must be sqlite or memory" >&2; exit 2 ;;
esac
# Memory must be flat once the data set is (LIVE_CAP); the memory store holds every user,
# so without a cap its RSS grows with them, and no slope is imposed.
if [ "$STORE" = sqlite ]; then
  RSS_LEAK_MAX="${RSS_LEAK_MAX:-64}"
elif [ "$LIVE_CAP" -gt 0 ]; then
  RSS_LEAK_MAX="${RSS_LEAK_MAX:-32}"
fi
[ -z "$RSS_LEAK_MAX" ] || [[ "$RSS_LEAK_MAX" =~ ^[0-9]+$ ]] ||
  { echo "RSS_LEAK_MAX must be a whole number of bytes per request" >&2; exit 2; }

load_tools curl jq awk sort

echo "== building the example server (release)"
cargo build --release --quiet --example server
BIN="${CARGO_TARGET_DIR:-target}/release/examples/server"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/scimkit-soak.XXXXXX")"
SERVER_PID=""
SAMPLER_PID=""
FAILED=1             # until the verdict says otherwise
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  if [ -n "$SAMPLER_PID" ]; then
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
  fi
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$KEEP" = 1 ]; then
    echo "work directory kept: $WORK"
  elif [ "$FAILED" = 1 ]; then
    # The journals, samples and logs, for a look; not the database (its WAL can be GBs).
    rm -f "$WORK"/soak.db "$WORK"/soak.db-*
    echo "work directory kept (without the database; KEEP=1 keeps it): $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DATABASE=memory
[ "$STORE" = sqlite ] && DATABASE="$WORK/soak.db"

# The server is exec'd by taskset, so $! is the server's own pid (for /proc/PID/status).
RUST_LOG=warn "${SERVER_PIN[@]}" "$BIN" --listen 127.0.0.1:0 --api-key "$KEY" \
  --database "$DATABASE" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_for_server "$WORK/server.log" "$SERVER_PID"
BASE_PATH="${BASE#"$ORIGIN"}"
AUTH=(-H "Authorization: Bearer $KEY")

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null; }
# "VmRSS RssAnon RssFile WAL" in KiB: the resident set, its anonymous part (the heap),
# its file-backed part (SQLite maps its -shm wal-index, which grows with the WAL), and
# the size of the SQLite WAL file (0 on the memory store).
mem_fields() {
  local wal=0
  [ "$STORE" = sqlite ] && [ -f "$DATABASE-wal" ] && wal="$(du -k "$DATABASE-wal" | cut -f1)"
  awk -v wal="$wal" '/^(VmRSS|RssAnon|RssFile):/ { v[$1] = $2 }
    END { if ("VmRSS:" in v) print v["VmRSS:"], v["RssAnon:"], v["RssFile:"], wal }' \
    "/proc/$SERVER_PID/status" 2>/dev/null
}

# sampler: "seconds-since-start VmRSS RssAnon RssFile WAL" every RSS_EVERY s, from the
# start of the load.
sampler() {
  local start now
  start="$(date +%s.%N)"
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    now="$(date +%s.%N)"
    echo "$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }') $(mem_fields)"
    sleep "$RSS_EVERY"
  done
}

echo "== soak: ${DURATION} s, $CONNECTIONS connections (one wrk thread each), store $STORE" \
  "${LOAD_PIN[*]:+(wrk: ${LOAD_PIN[*]}, server: ${SERVER_PIN[*]})}"
echo "   RSS at start: $(rss_kib) KiB"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "   load average before: $LOAD_BEFORE"

sampler >"$WORK/rss" &
SAMPLER_PID=$!
set +e
SOAK_OUT="$WORK" "${LOAD_PIN[@]}" wrk -t"$CONNECTIONS" -c"$CONNECTIONS" -d"${DURATION}s" \
  --timeout "${TIMEOUT}s" -s bench/soak.lua "$ORIGIN" -- \
  "$BASE_PATH" "$KEY" "$PREFIX" "$CONNECTIONS" "$LIVE_CAP" >"$WORK/wrk.out" 2>&1
WRK_RC=$?
set -e
FINAL_MEM="$(mem_fields || true)"
FINAL_RSS="${FINAL_MEM%% *}"
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$WRK_RC" -ne 0 ] || [ ! -s "$WORK/counts" ]; then
  echo "wrk failed (exit $WRK_RC):" >&2
  cat "$WORK/wrk.out" >&2
  exit 1
fi
# The sample at the end of the load (the sampler may have slept past it).
[ -n "$FINAL_MEM" ] && echo "$DURATION $FINAL_MEM" >>"$WORK/rss"

count() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/counts"; }

# --- the audit -------------------------------------------------------------------------
kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server died:" >&2; tail -n 50 "$WORK/server.log" >&2; exit 1; }
# Requests wrk sent last may still be running in the server; give them time to finish.
sleep 1

total_results() {
  curl -sS --fail-with-body "${AUTH[@]}" "$BASE/Users?count=0" | jq -r '.totalResults'
}
TOTAL="$(total_results)"

# Every user, with cursor paging (RFC 9865), 1,000 a page: "id userName" lines.
: >"$WORK/stored"
cursor=""
pages=0
while :; do
  curl -sS --fail-with-body "${AUTH[@]}" -G "$BASE/Users" --data-urlencode "cursor=$cursor" \
    --data "count=1000&attributes=userName" >"$WORK/page"
  jq -r '.Resources[] | "\(.id) \(.userName)"' "$WORK/page" >>"$WORK/stored"
  pages=$((pages + 1))
  cursor="$(jq -r '.nextCursor // empty' "$WORK/page")"
  [ -n "$cursor" ] || break
  [ "$pages" -lt 100000 ] || { echo "cursor paging does not end" >&2; exit 1; }
done
LISTED="$(wc -l <"$WORK/stored")"
DUP_NAMES="$(awk '{ print $2 }' "$WORK/stored" | sort | uniq -d | wc -l)"
DUP_IDS="$(awk '{ print $1 }' "$WORK/stored" | sort | uniq -d | wc -l)"

# The journals (see soak.lua): "live" (created and not deleted, as the threads saw it),
# and "inflight", the writes sent and never answered: the last request of each connection
# when wrk stopped (and wrk's one extra request() before the run, never sent). Their
# outcome is unknown to wrk; ask the server. A create in flight may have been stored
# (its 201 never read); a delete in flight may have happened (its 204 never read).
cat "$WORK"/journal.* | awk -v live="$WORK/live" -v inflight="$WORK/inflight" '
  $1 == "C" { sent[$2] = 1 }
  $1 == "+" { name[$2] = $3; got[$3] = 1; creates++ }
  $1 == "D" { dsent[$2] = $3 }
  $1 == "-" { gone[$2] = 1; deletes++ }
  END {
    for (id in name) if (!(id in gone) && !(id in dsent)) print name[id] > live
    for (n in sent) if (!(n in got)) print "create", n > inflight
    for (id in dsent) if (!(id in gone)) print "delete", id, dsent[id] > inflight
    print creates + 0, deletes + 0
  }' >"$WORK/journal.counts"
touch "$WORK/live" "$WORK/inflight"
read -r J_CREATES J_DELETES <"$WORK/journal.counts"
cp "$WORK/live" "$WORK/expected"
INFLIGHT_CREATES=0
INFLIGHT_DELETES=0
RESOLVED_CREATES=0   # in-flight creates the server did store
RESOLVED_DELETES=0   # in-flight deletes the server did carry out
while read -r kind what name; do
  case "$kind" in
    create)
      INFLIGHT_CREATES=$((INFLIGHT_CREATES + 1))
      n="$(curl -sS --fail-with-body "${AUTH[@]}" -G "$BASE/Users" \
        --data-urlencode "filter=userName eq \"$what\"" --data "count=0" | jq -r '.totalResults')"
      if [ "$n" -ge 1 ]; then
        RESOLVED_CREATES=$((RESOLVED_CREATES + 1))
        echo "$what" >>"$WORK/expected"
      fi
      ;;
    delete)
      INFLIGHT_DELETES=$((INFLIGHT_DELETES + 1))
      code="$(curl -sS -o /dev/null -w '%{http_code}' "${AUTH[@]}" "$BASE/Users/$what")"
      if [ "$code" = 404 ]; then
        RESOLVED_DELETES=$((RESOLVED_DELETES + 1))
      else
        echo "$name" >>"$WORK/expected"
      fi
      ;;
  esac
done <"$WORK/inflight"
INFLIGHT=$((INFLIGHT_CREATES + INFLIGHT_DELETES))

awk '{ print $2 }' "$WORK/stored" | sort >"$WORK/stored.names"
sort "$WORK/expected" >"$WORK/expected.sorted"
LOST="$(comm -23 <(sort -u "$WORK/expected.sorted") <(sort -u "$WORK/stored.names") | wc -l)"
EXTRA="$(comm -13 <(sort -u "$WORK/expected.sorted") <(sort -u "$WORK/stored.names") | wc -l)"

C2="$(count c2xx)"; C3="$(count c3xx)"; C4="$(count c4xx)"; C5="$(count c5xx)"
COTHER="$(count cother)"
CREATES="$(count creates)"; DELETES="$(count deletes)"
EXPECTED=$((CREATES - DELETES))
EXPECTED_RESOLVED=$((EXPECTED + RESOLVED_CREATES - RESOLVED_DELETES))
DIFF=$((TOTAL - EXPECTED))
ABS_DIFF=${DIFF#-}
UNEXPECTED="$(count unexpected)"
SOCKET_ERRORS="$(count socket_errors)"
TIMEOUTS="$(count timeouts)"
REQUESTS="$(count requests)"

# --- memory ----------------------------------------------------------------------------
# Warm-up RSS: the first sample at or after WARMUP_PCT % of the run; slope: least squares
# over the samples from there on, in KiB per minute.
# after_warmup COLUMN: "warm-up-time value slope samples" for a column of $WORK/rss.
after_warmup() {
  awk -v w="$((DURATION * WARMUP_PCT))" -v c="$1" '
  { t = $1; r = $c; if (r == "") next
    if (t * 100 >= w) { if (n == 0) { wt = t; wr = r }
      n++; sx += t; sy += r; sxx += t * t; sxy += t * r } }
  END { slope = (n >= 2 && n * sxx - sx * sx > 0) ? (n * sxy - sx * sy) / (n * sxx - sx * sx) * 60 : 0
        printf "%s %s %.0f %d\n", (n ? wt : "-"), (n ? wr : "-"), slope, n }' "$WORK/rss"
}
read -r WARM_T WARM_RSS SLOPE NSAMPLES < <(after_warmup 2)
read -r _ WARM_ANON SLOPE_ANON _ < <(after_warmup 3)
read -r _ WARM_FILE SLOPE_FILE _ < <(after_warmup 4)
read -r _ _ FINAL_ANON FINAL_FILE _ < <(tail -n1 "$WORK/rss")
# The resident part of SQLite's wal-index (-shm) mapping, at the end.
SHM_RSS="$(awk '/^[0-9a-f]+-[0-9a-f]+ / { shm = ($NF ~ /-shm$/) }
  /^Rss:/ && shm { s += $2 } END { print s + 0 }' "/proc/$SERVER_PID/smaps" 2>/dev/null || echo "?")"
START_RSS="$(head -n1 "$WORK/rss" | awk '{ print $2 }')"
MAX_RSS="$(awk 'max < $2 { max = $2 } END { print max }' "$WORK/rss")"

# --- verdict ---------------------------------------------------------------------------
FAILS=()
[ "$C5" -eq 0 ] || FAILS+=("$C5 responses were 5xx")
[ "$COTHER" -eq 0 ] || FAILS+=("$COTHER responses had no valid status")
[ "$J_CREATES" -eq "$CREATES" ] && [ "$J_DELETES" -eq "$DELETES" ] ||
  FAILS+=("the journals ($J_CREATES creates, $J_DELETES deletes) disagree with the counts")
[ "$UNEXPECTED" -eq 0 ] || FAILS+=("$UNEXPECTED unexpected answers (first: $(head -n1 "$WORK/first_unexpected"))")
[ "$SOCKET_ERRORS" -eq 0 ] || FAILS+=("$SOCKET_ERRORS socket errors")
[ "$ABS_DIFF" -le "$CONNECTIONS" ] ||
  FAILS+=("totalResults $TOTAL differs from creates - deletes $EXPECTED by more than $CONNECTIONS")
[ "$ABS_DIFF" -le "$INFLIGHT" ] ||
  FAILS+=("totalResults $TOTAL differs from creates - deletes $EXPECTED by more than the $INFLIGHT writes in flight")
[ "$TOTAL" -eq "$EXPECTED_RESOLVED" ] ||
  FAILS+=("totalResults $TOTAL != $EXPECTED_RESOLVED expected once in-flight writes are resolved")
[ "$LISTED" -eq "$TOTAL" ] || FAILS+=("cursor listing gave $LISTED users, totalResults $TOTAL")
[ "$DUP_NAMES" -eq 0 ] || FAILS+=("$DUP_NAMES duplicated userNames")
[ "$DUP_IDS" -eq 0 ] || FAILS+=("$DUP_IDS duplicated ids")
[ "$LOST" -eq 0 ] || FAILS+=("$LOST users lost (created, not deleted, not stored)")
[ "$EXTRA" -eq 0 ] || FAILS+=("$EXTRA users stored that should not be (deleted, or never created)")
# The slope as bytes per request: independent of the machine's speed. 32 bytes is the
# smallest glibc allocation: below it not even one allocation a request is leaking.
PER_REQ="$(awk -v s="$SLOPE" -v r="$(count rps)" 'BEGIN { printf "%.1f", (r > 0 ? s * 1024 / 60 / r : 0) }')"
if [ -n "$RSS_LEAK_MAX" ] && awk -v p="$PER_REQ" -v m="$RSS_LEAK_MAX" 'BEGIN { exit !(p > m) }'; then
  FAILS+=("RSS grows $SLOPE KiB/min after warm-up = $PER_REQ bytes/request (at most $RSS_LEAK_MAX)")
fi
[ "$NSAMPLES" -ge 2 ] || FAILS+=("fewer than 2 RSS samples after warm-up: run longer")
PANICS="$(grep -c 'panic' "$WORK/server.log" || true)"
[ "$PANICS" -eq 0 ] || FAILS+=("$PANICS panics in the server log")

# --- summary ---------------------------------------------------------------------------
echo
awk -v r="$(count rps)" -v n="$REQUESTS" -v a="$(count p50_us)" -v b="$(count p99_us)" \
  -v m="$(count max_us)" \
  'BEGIN { printf "requests      %d, %.0f/s; latency p50 %.2f ms, p99 %.2f ms, max %.1f ms\n",
           n, r, a / 1000, b / 1000, m / 1000 }'
echo "status        2xx $C2, 3xx $C3, 4xx $C4 (expected 404s for GETs of deleted users: $(count expected404)), 5xx $C5, other $COTHER"
echo "errors        socket $SOCKET_ERRORS, timeouts (> ${TIMEOUT} s) $TIMEOUTS, unexpected answers $UNEXPECTED"
printf 'mix           '
for op in post get filter patch put list delete get_deleted; do
  printf '%s %s  ' "$op" "$(count "op_$op")"
done
echo
echo "users         creates $CREATES - deletes $DELETES = $EXPECTED; stored (totalResults) $TOTAL;" \
  "difference $DIFF (allowed: |d| <= in-flight writes $INFLIGHT <= connections $CONNECTIONS)"
echo "in flight     creates $INFLIGHT_CREATES (stored: $RESOLVED_CREATES)," \
  "deletes $INFLIGHT_DELETES (done: $RESOLVED_DELETES) -> expected $EXPECTED_RESOLVED"
echo "listing       $LISTED users in $pages cursor pages; duplicated userNames $DUP_NAMES, ids $DUP_IDS;" \
  "lost $LOST, extra $EXTRA"
if [ "$STORE" = sqlite ]; then
  echo "database      $(du -k "$DATABASE" | cut -f1) KiB + WAL $(du -k "$DATABASE-wal" 2>/dev/null | cut -f1 || echo 0) KiB"
fi
echo "RSS           start $START_RSS KiB, warm-up ($WARM_T s) $WARM_RSS KiB, final $FINAL_RSS KiB," \
  "max $MAX_RSS KiB; slope after warm-up $SLOPE KiB/min over $NSAMPLES samples" \
  "= $PER_REQ bytes/request${RSS_LEAK_MAX:+ (at most $RSS_LEAK_MAX)}"
if [ "$STORE" = memory ] && [ "$LIVE_CAP" = 0 ] && [ "$TOTAL" -gt 0 ]; then
  awk -v a="$START_RSS" -v f="$FINAL_RSS" -v u="$TOTAL" \
    'BEGIN { printf "              memory store: %.0f bytes of RSS growth per stored user\n", (f - a) * 1024 / u }'
fi
echo "              of which anonymous (heap): warm-up $WARM_ANON KiB, final $FINAL_ANON KiB," \
  "slope $SLOPE_ANON KiB/min; file-backed: warm-up $WARM_FILE KiB, final $FINAL_FILE KiB," \
  "slope $SLOPE_FILE KiB/min (SQLite -shm mapping resident: $SHM_RSS KiB)"
echo "RSS samples   $(awk '{ printf "%s%ss:%s", (NR > 1 ? " " : ""), $1, $2 }' "$WORK/rss") (s:KiB)"
if [ "$STORE" = sqlite ]; then
  echo "WAL samples   $(awk '{ printf "%s%ss:%d", (NR > 1 ? " " : ""), $1, $5 / 1024 }' "$WORK/rss") (s:MiB)"
fi
echo "load average  before $LOAD_BEFORE, after $LOAD_AFTER ($(nproc) cores)"
echo
if [ "$TIMEOUTS" -gt 0 ]; then
  echo "WARN: wrk counted $TIMEOUTS timeouts: requests unanswered after ${TIMEOUT} s (answered" \
    "later, or they would be in flight; latency max above excludes them)"
fi
if [ "$STORE" = sqlite ]; then
  db_kib="$(du -k "$DATABASE" | cut -f1)"
  wal_kib="$(du -k "$DATABASE-wal" 2>/dev/null | cut -f1 || echo 0)"
  if [ "${wal_kib:-0}" -gt $((4 * db_kib)) ]; then
    echo "WARN: the SQLite WAL ($((wal_kib / 1024)) MiB) is over 4x the database" \
      "($((db_kib / 1024)) MiB): checkpoints did not keep up (see the WAL samples)"
  fi
fi
if [ "${#FAILS[@]}" -eq 0 ]; then
  echo "PASS"
  FAILED=0
  exit 0
fi
for f in "${FAILS[@]}"; do echo "FAIL: $f"; done
exit 1
