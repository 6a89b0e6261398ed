-- scimkit 0012: a create runs no trigger.
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
