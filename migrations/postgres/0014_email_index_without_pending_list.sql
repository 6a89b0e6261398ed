-- scimkit 0014: the email index takes each write's entries at once.
--
-- A GIN index collects new entries in a pending list (`fastupdate`, 4 MiB by default)
-- and merges it into the index when it is full, inside the write that fills it. Every
-- create and every update that changes `emails` adds entries, so under a stream of them
-- one write in a few thousand ran that merge: 70-120 ms, with the writes behind it
-- waiting (the load test's PATCH p99 reached 118 ms against 6-8 ms). Without the list,
-- each write updates the index itself: in the load test the same requests per second
-- within noise, and a p99 of 6-8 ms for POST and PATCH.
ALTER INDEX scimkit_users_emails SET (fastupdate = off);
-- Turning the list off does not empty it: merged now, so that no later write does.
SELECT gin_clean_pending_list('scimkit_users_emails'::regclass);
