-- scimkit 0012: nothing to do on PostgreSQL (SQLite's creates no longer fire triggers).
SELECT 1;
