-- scimkit 0012: nothing to do on SQLite (one writer at a time: its outbox ids increase in
-- commit order as they are inserted; PostgreSQL now stages its events, see there).
SELECT 1;
