#!/usr/bin/env bash
# run.sh NAME SCRIPT DB [pgbench options...]: pgbench -M prepared -c16 -j2 -T $DUR; prints
# tps and the CPU of DB's client backends per transaction, measured between t=2 and t=DUR-1.
set -euo pipefail
cd /tmp/pgw; . ./vars.sh
NAME=$1 SCRIPT=$2 DB=$3; shift 3
DUR=${DUR:-10}
P="psql -h 127.0.0.1 -U postgres -qAt"
A6C='{"{\"type\":\"userCreated\"}"}'
A6U='{"{\"type\":\"userUpdated\",\"changed\":[\"emails\",\"name.familyName\"]}"}'
PGSSLMODE=disable nice -n -10 pgbench -h 127.0.0.1 -U postgres -n -M prepared -c 16 -j 2 -T "$DUR" -f "$SCRIPT" "$@" \
  -D tenant=default -D k=0 -D exp=0 -D "resp=$RES_P" -D "seap=$SEA_P" -D "emap=$EMA_P" \
  -D "resu=$RES_U" -D "seau=$SEA_U" -D "emau=$EMA_U" -D "pres=$PRES" \
  -D e1=default -D e2=key_hunrcno2SgCSsj99 -D e3=9f79a891aae7-0 -D e4=01a25183-2626-75e1-8d0c-e6a7ea4b92a4 -D e5=cap-1-1@example.com -D 'a6c1={"type":"userCreated"}' -D 'a6u1={"type":"userUpdated","changed":["emails","name.familyName"]}' -D e7=1796663879 -D e8=206940236 \
  -D 'a1={default}' -D 'a2={key_hunrcno2SgCSsj99}' -D 'a3={9f79a891aae7-0}' \
  -D 'a4={01a25183-2626-75e1-8d0c-e6a7ea4b92a4}' -D 'a5={cap-1-1@example.com}' \
  -D "a6c=$A6C" -D "a6u=$A6U" -D 'a7={1796663879}' -D 'a8={206940236}' \
  "$DB" > "out.$NAME.txt" 2>&1 &
PB=$!
sample() {
  local pids; pids=$($P postgres -c "select pid from pg_stat_activity where datname='$DB' and backend_type='client backend'")
  local t=0; for p in $pids; do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null || echo 0))); done
  local n; n=$($P "$DB" -c "select last_value from bench_ver")
  echo "$t $n $(date +%s.%N) $(echo $pids | wc -w)"
}
sleep 1; $P postgres -c "select pid from pg_stat_activity where datname='$DB' and backend_type='client backend'" | xargs -r renice -n -10 -p >/dev/null; sleep 1; s1=$(sample); sleep $((DUR - 3)); s2=$(sample)
wait $PB || { cat "out.$NAME.txt"; exit 1; }
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "out.$NAME.txt")
read -r t1 n1 d1 c1 <<<"$s1"; read -r t2 n2 d2 c2 <<<"$s2"
awk -v nm="$NAME" -v tps="$tps" -v t="$((t2 - t1))" -v n="$((n2 - n1))" -v d1="$d1" -v d2="$d2" -v c="$c2" \
  'BEGIN { printf "%-28s tps %7.0f  window-tps %7.0f  pg-cpu %6.1f us/xact  backends %d\n", nm, tps, n/(d2-d1), t*10000/n, c }'
