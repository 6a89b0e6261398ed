-- scimkit 0013: creates that fire no trigger, and smaller rows.
--
-- The store now does what the two AFTER INSERT triggers on scimkit_users did, in the
-- transaction of each create: the tenant's user count is raised by the statement that
-- takes the create's version (one write of the counter row instead of two), and the email
-- rows are inserted by a statement of their own (the same `json_each` of the `emails`
-- column). A statement that fires triggers writes several B-trees, so SQLite gave every
-- create a statement journal (a copy of each page it changed, besides the copy the
-- write's own savepoint makes in a batch); a plain INSERT of one row needs none.
-- Nothing to rewrite: the rows and counts these triggers kept are as they were.
DROP TRIGGER scimkit_users_emails_insert;
DROP TRIGGER scimkit_users_count_insert;

-- Smaller rows: the `present` keys of the Enterprise extension's attributes name it `E`
-- (`E:department`) instead of its 57-character URN, as the store now writes them. With
-- `search` no longer holding `id`, `userName` and `externalId` (filters read their columns;
-- existing documents keep them, unread), a typical user fits twice in a 4 KiB page, so a
-- create appends half a table page to the log instead of a whole one.
UPDATE scimkit_users
SET present = replace(present, ' urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:', ' E:')
WHERE instr(present, ' urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:') > 0;

-- An update that changes `emails` runs no trigger either: the store reads the row's `seq`
-- and addresses before it, then deletes the rows of the old addresses by their key and
-- inserts those of the new (the trigger's `IN (SELECT ...)` built a temporary index and
-- its statement kept a statement journal, on every such update).
DROP TRIGGER scimkit_users_emails_update;
