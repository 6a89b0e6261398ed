-- scimkit 0014: nothing to do on SQLite (its email index is a B-tree table of its own;
-- PostgreSQL's GIN index no longer keeps a pending list, see there).
SELECT 1;
