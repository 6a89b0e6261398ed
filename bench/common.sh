# Shared by bench/load.sh and bench/soak.sh (sourced, not run).

# wait_for_server LOG PID: waits for the example server started as PID, logging to LOG,
# to print its SCIM base URL; sets BASE (the base URL) and ORIGIN (its scheme and
# authority). Exits if the server did not start or is not on loopback.
wait_for_server() {
  local log="$1" pid="$2"
  BASE=""
  for _ in $(seq 1 100); do
    BASE="$(sed -n 's/^SCIM base URL: //p' "$log" | head -n1)"
    [ -n "$BASE" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$BASE" ] || { echo "the server did not start:" >&2; cat "$log" >&2; exit 1; }
  ORIGIN="${BASE%/scim/v2}"
  case "$ORIGIN" in
    http://127.0.0.1:*) ;;
    *) echo "refusing a non-loopback server: $ORIGIN" >&2; exit 1 ;;
  esac
}

# seed_users BASE KEY USERS WORK: creates USERS typical users (user0@example.com ...)
# through POST /Users, one keep-alive curl process, and lists their ids in WORK/ids.
seed_users() {
  local BASE="$1" KEY="$2" USERS="$3" WORK="$4" created start i ext fam body SEED_USER
  # The typical user of benches/handle.rs, with family names in no particular order (for
  # sorted pages); one curl process, one keep-alive connection.
  SEED_USER='{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",'
  SEED_USER+='"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],'
  SEED_USER+='"userName":"user@N@@example.com","externalId":"00u@EXT@",'
  SEED_USER+='"name":{"givenName":"Barbara","familyName":"Jensen@FAM@","formatted":"Barbara Jensen"},'
  SEED_USER+='"displayName":"Barbara Jensen",'
  SEED_USER+='"emails":[{"value":"user@N@@example.com","type":"work","primary":true}],'
  SEED_USER+='"phoneNumbers":[{"value":"+1 555 555 5555","type":"work"}],'
  SEED_USER+='"title":"Tour Guide","locale":"en-US","active":true,'
  SEED_USER+='"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":'
  SEED_USER+='{"employeeNumber":"@N@","department":"Tour Operations"}}'
  for ((i = 0; i < USERS; i++)); do
    printf -v ext %08d "$i"
    printf -v fam %07d $(((i * 7919) % 1000003))
    body="${SEED_USER//@N@/$i}"
    body="${body//@FAM@/$fam}"
    body="${body//@EXT@/$ext}"
    # `next` resets the options, so each request carries its own.
    ((i == 0)) || echo next
    printf 'url = "%s/Users"\nrequest = "POST"\noutput = "/dev/null"\n' "$BASE"
    printf 'write-out = "%%{http_code}\\n"\nheader = "Authorization: Bearer %s"\n' "$KEY"
    printf 'header = "Content-Type: application/scim+json"\n'
    printf 'data = "%s"\n' "${body//\"/\\\"}"
  done >"$WORK/seed.curl"
  curl -sS -K "$WORK/seed.curl" >"$WORK/seed.status"
  created="$(grep -c '^201$' "$WORK/seed.status" || true)"
  [ "$created" -eq "$USERS" ] || { echo "seeding created $created of $USERS users" >&2; exit 1; }
  : >"$WORK/ids"
  for ((start = 1; start <= USERS; start += 1000)); do
    curl -sS -H "Authorization: Bearer $KEY" \
      "$BASE/Users?startIndex=$start&count=1000&attributes=id" |
      jq -r '.Resources[].id' >>"$WORK/ids"
  done
  [ "$(wc -l <"$WORK/ids")" -eq "$USERS" ] || { echo "could not list the seeded ids" >&2; exit 1; }
}

# server_bin [EXAMPLE...]: sets BIN to the example server to measure: SERVER_BIN when set
# (another build, say an older commit's, to compare in one period), else this tree's
# release build, built here. Builds the other EXAMPLEs named too (release).
server_bin() {
  local names=("$@") args=() e
  if [ -n "${SERVER_BIN:-}" ]; then
    [ -x "$SERVER_BIN" ] || { echo "SERVER_BIN is not an executable: $SERVER_BIN" >&2; exit 2; }
    echo "== the server is $SERVER_BIN"
    BIN="$SERVER_BIN"
  else
    names=(server "${names[@]}")
    BIN="${CARGO_TARGET_DIR:-target}/release/examples/server"
  fi
  for e in "${names[@]}"; do args+=(--example "$e"); done
  if [ "${#args[@]}" -gt 0 ]; then
    echo "== building the examples ${names[*]} (release)"
    cargo build --release --quiet "${args[@]}"
  fi
}

# load_tools TOOL...: installs wrk (Debian package) if missing, checks that each TOOL is
# there, and sets SERVER_PIN and LOAD_PIN: one core for the server, another for the load
# generator, where there are two (taskset), empty otherwise. With BENCH_NICE=N (say -19,
# as root) both also run at that niceness, so that builds or tests running beside a
# measurement take the cores only when the measured processes leave them idle.
load_tools() {
  if ! command -v wrk >/dev/null; then
    echo "== installing wrk (Debian package)"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  fi
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
  done
  SERVER_PIN=()
  LOAD_PIN=()
  if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SERVER_PIN=(taskset -c 1)
    LOAD_PIN=(taskset -c 0)
  fi
  if [ -n "${BENCH_NICE:-}" ]; then
    [[ "$BENCH_NICE" =~ ^-?[0-9]+$ ]] || { echo "BENCH_NICE must be a whole number" >&2; exit 2; }
    SERVER_PIN=(nice -n "$BENCH_NICE" "${SERVER_PIN[@]}")
    LOAD_PIN=(nice -n "$BENCH_NICE" "${LOAD_PIN[@]}")
  fi
}

# renice_backends PGURL DB: with BENCH_NICE, the PostgreSQL server processes connected to
# database DB (they answer every request of a server on it: measured processes too) at
# that niceness. Connections opened later are not reniced: call it after a warm-up.
renice_backends() {
  [ -n "${BENCH_NICE:-}" ] || return 0
  psql -qAt "$1/postgres" -c "SELECT pid FROM pg_stat_activity WHERE datname = '$2'" |
    xargs -r renice -n "$BENCH_NICE" -p >/dev/null
}
