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
