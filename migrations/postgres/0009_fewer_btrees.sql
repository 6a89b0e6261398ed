-- scimkit 0009: nothing to do on PostgreSQL (the SQLite store's email rows and user counts
-- changed; PostgreSQL keeps neither).
SELECT 1;
