#!/usr/bin/env bash
# variant.sh NAME OP SCRIPT "DDL" [pgbench opts]: fresh DB from the template, DDL, run.
set -euo pipefail
cd /tmp/pgw
NAME=$1 OP=$2 SCRIPT=$3 DDL=$4; shift 4
P="psql -h 127.0.0.1 -U postgres -qAt"
DB=scimkit_pg_run
$P postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB TEMPLATE scimkit_pg_tpl"
[ -z "$DDL" ] || $P $DB -c "$DDL"
./run.sh "$NAME-$OP" "$SCRIPT" $DB "$@" | tee -a results.txt
if [ "$OP" = patch ]; then $P $DB -c "select 'hot', n_tup_upd, n_tup_hot_upd from pg_stat_user_tables where relname='scimkit_users'" >> results.txt; fi
