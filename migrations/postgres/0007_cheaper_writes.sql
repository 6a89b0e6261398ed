-- scimkit 0007: fewer index entries written by each create and update. Sorted pages are
-- asked for by `name.familyName` (its index stays); a page sorted by `name.givenName` or
-- `displayName` now sorts the tenant's matching rows instead of paying an index on
-- every write.
DROP INDEX scimkit_users_given_name;
DROP INDEX scimkit_users_display_name;
