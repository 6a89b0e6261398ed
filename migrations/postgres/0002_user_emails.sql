-- scimkit 0002: an index of email addresses (lower-cased), so that
-- `emails.value eq "..."` is an index lookup (containment on the `search` document).
CREATE INDEX scimkit_users_emails ON scimkit_users USING gin ((search -> 'emails') jsonb_path_ops);
