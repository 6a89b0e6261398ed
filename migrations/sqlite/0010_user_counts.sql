-- scimkit 0010: nothing to do on SQLite (its per-tenant user counts are kept by the
-- triggers of 0006 and 0009; PostgreSQL now keeps them too).
SELECT 1;
