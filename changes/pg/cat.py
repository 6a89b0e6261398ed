import sys, subprocess, collections
data = sys.argv[1]
out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,tid,ip,sym"], capture_output=True, text=True).stdout
rules = [
 ("count trigger (plpgsql)", ["AfterTriggerEndQuery", "plpgsql_exec_trigger", "ExecARInsertTriggers", "ExecARDeleteTriggers", "AfterTriggerSaveEvent"]),
 ("toast compression", ["toast_tuple_try_compression", "pglz_compress", "toast_compress_datum"]),
 ("toast decompression", ["pglz_decompress", "toast_decompress_datum", "detoast_attr"]),
 ("gin insert", ["gininsert", "ginHeapTupleFastInsert", "ginInsertCleanup"]),
 ("btree unique check", ["_bt_check_unique"]),
 ("btree insert", ["btinsert", "_bt_doinsert"]),
 ("index insert other", ["ExecInsertIndexTuples"]),
 ("heap insert/update", ["heap_insert", "heap_update", "heap_multi_insert"]),
 ("json/jsonb parse", ["json_in", "jsonb_in", "pg_parse_json", "pg_parse_json_or_ereport", "json_lex"]),
 ("array parse", ["array_in", "array_recv"]),
 ("advisory lock", ["pg_advisory_xact_lock_shared_int8", "LockAcquireExtended"]),
 ("executor start", ["standard_ExecutorStart", "ExecutorStart"]),
 ("executor end", ["standard_ExecutorEnd", "ExecutorEnd", "FreeExecutorState"]),
 ("plan cache / planning", ["GetCachedPlan", "pg_plan_queries", "planner", "standard_planner", "BuildCachedPlan", "RevalidateCachedQuery"]),
 ("WAL flush at commit", ["XLogFlush", "XLogBackgroundFlush"]),
 ("commit other", ["CommitTransactionCommand", "CommitTransaction"]),
 ("xact start", ["StartTransactionCommand"]),
 ("WAL insert", ["XLogInsert", "XLogInsertRecord"]),
 ("network/protocol io", ["secure_write", "secure_read", "pq_getbyte", "pq_flush", "pq_getmessage", "WaitEventSetWait", "socket_flush", "internal_flush"]),
 ("executor run other", ["standard_ExecutorRun", "ExecutorRun"]),
 ("portal other", ["PortalRun", "PortalStart", "PortalDrop"]),
]
counts = collections.Counter(); total = 0
for block in out.split("\n\n"):
    lines = block.strip().split("\n")
    if len(lines) < 2: continue
    frames = set()
    for l in lines[1:]:
        p = l.split(None, 1)
        if len(p) == 2: frames.add(p[1].replace(" (inlined)", "").strip())
    total += 1
    for name, syms in rules:
        if any(s in frames for s in syms):
            counts[name] += 1; break
    else:
        counts["other"] += 1
us = float(sys.argv[2]) if len(sys.argv) > 2 else 0
for k, v in counts.most_common():
    print(f"{k:28s} {100*v/total:5.1f}%" + (f"  {us*v/total:6.1f} us" if us else ""))
print("samples", total)
