-- scimkit 0013: the `present` keys of the Enterprise extension's attributes name it `E`
-- (`E:department`) instead of its 57-character URN, as the store now writes them (smaller
-- rows; SQLite's creates also stop firing triggers in this migration).
UPDATE scimkit_users
SET present = replace(present, ' urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:', ' E:')
WHERE strpos(present, ' urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:') > 0;
