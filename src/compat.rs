//! The compatibility policy: which well-known deviations of real IdP clients from the
//! RFCs the server accepts on input. Output is always strict RFC JSON.
//!
//! Every tolerance is on by default, because real clients send these shapes and a
//! provisioning run that fails on them fails for the customer. [`Compatibility::strict`]
//! turns them all off, for testing a client against the letter of RFC 7643/7644.
//!
//! | field | accepts | sent by |
//! |---|---|---|
//! | `string_booleans` | `"active": "True"` / `"False"` (any case) for boolean attributes | Entra ID, OneLogin, JumpCloud |
//! | `manager_as_string` | `"manager": "26118915-..."`, and `manager` as a one-element array | Entra ID |
//! | `case_insensitive_ops` | PATCH `"op": "Replace"`, `"Add"`, `"Remove"` | Entra ID |
//! | `dotted_pathless_keys` | path-less PATCH values keyed `"name.givenName"` or `"urn:...:User:employeeNumber"` | Entra ID, others |
//! | `unmatched_value_path_creates` | `add`/`replace` on `emails[type eq "work"].value` when no element matches creates it | Entra ID |
//! | `remove_with_value` | `remove` with a `value` on a multi-valued attribute removes the matching elements; on `manager` removes it | Entra ID |
//! | `foreign_if_match_ignored` | an `If-Match` entity tag that cannot be one of this server's versions (see below) is treated as absent | Canaille 0.3.6 (`W/"55ad0845ac64a91a"`, a hash of its own copy) |
//! | `unquoted_filter_values` | `userName Eq bjensen`: a comparison value written without quotes read as a string (see [`crate::filter`]) | WSO2 Identity Server (outbound SCIM 2 connector), authentik (re-link after 409) |
//!
//! An entity tag *cannot be one of this server's versions* when the current version of
//! the resource is a weak tag of decimal digits (`W/"42"`, the shape every built-in
//! store issues and the only one the server treats this way) and the tag is a
//! well-formed entity tag (`W/"..."` or `"..."`) whose opaque part is not a string of
//! decimal digits; every tag of a list must be such a tag. A malformed header
//! (`garbage`, `W/`) is still a precondition nothing matches (412). A stale tag of the server's own shape (`W/"41"`)
//! is still 412: the tolerance never hides a lost update between clients that use this
//! server's tags. With a store that issues versions of another shape, the tolerance does
//! nothing.
//!
//! Refused in every mode, because no known client sends them and the RFCs do not allow
//! them: a `schemas` that is not a list of strings or that names another resource or
//! message (`Group`, `PatchOp` on a User, `Error`, `ListResponse`, `BulkRequest`,
//! `SearchRequest`, ...); a PATCH message whose `schemas` lacks the PatchOp URN; a
//! one-element array for a singular attribute other than `manager` (`"active": [true]`,
//! `"name": [{...}]`); a single object for a multi-valued attribute (`"emails": {...}`).
//! Accepted in every mode: an absent `schemas` (Databricks' SDK, Gluu's client), the SCIM
//! 1.1 core URN `urn:scim:schemas:core:1.0` (OneLogin), unknown extension URNs (Slack).
//!
//! Always accepted, because the RFCs allow or require it: attribute names in any letter
//! case, `null` as "absent", unknown attributes ignored, read-only attributes echoed back
//! by a client ignored in POST and PUT bodies, unknown query parameters ignored.

/// The boolean a string spells under `string_booleans`: `"true"` or `"false"` in any
/// letter case, surrounding white space ignored; `None` for any other string. The one
/// reading of string booleans, shared by the general and the fast input paths.
pub(crate) fn string_boolean(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Which client deviations are accepted. See the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Compatibility {
    /// Boolean attributes given as the strings `"true"`/`"false"` in any letter case.
    pub string_booleans: bool,
    /// `manager` given as a plain string (its `value`); one-element arrays for singular
    /// attributes.
    pub manager_as_string: bool,
    /// PATCH `op` names in any letter case.
    pub case_insensitive_ops: bool,
    /// Path-less PATCH values whose keys are dotted or URN-prefixed attribute paths.
    pub dotted_pathless_keys: bool,
    /// `add`/`replace` on a value path that matches no element creates the element from the
    /// filter's `eq` terms.
    pub unmatched_value_path_creates: bool,
    /// `remove` with a `value` removes the matching elements of a multi-valued attribute.
    pub remove_with_value: bool,
    /// An `If-Match` entity tag that cannot be one of this server's versions (a
    /// non-decimal tag where the server issues `W/"<decimal>"`) is treated as absent.
    pub foreign_if_match_ignored: bool,
    /// A filter comparison value written without quotes (`userName eq bjensen`) is read
    /// as a string.
    pub unquoted_filter_values: bool,
}

impl Default for Compatibility {
    /// Accept everything real IdPs are known to send.
    fn default() -> Self {
        Self {
            string_booleans: true,
            manager_as_string: true,
            case_insensitive_ops: true,
            dotted_pathless_keys: true,
            unmatched_value_path_creates: true,
            remove_with_value: true,
            foreign_if_match_ignored: true,
            unquoted_filter_values: true,
        }
    }
}

impl Compatibility {
    /// The letter of the RFCs: every tolerance off.
    pub fn strict() -> Self {
        Self {
            string_booleans: false,
            manager_as_string: false,
            case_insensitive_ops: false,
            dotted_pathless_keys: false,
            unmatched_value_path_creates: false,
            remove_with_value: false,
            foreign_if_match_ignored: false,
            unquoted_filter_values: false,
        }
    }
}

/// Whether the `If-Match` header `header` (one tag or a comma-separated list) names only
/// tags that cannot be one of this server's versions, given the resource's `current`
/// version (see the [module documentation](self)): `current` is `W/"<decimal>"` and no
/// tag's opaque part is a string of decimal digits.
pub(crate) fn foreign_etags(header: &str, current: &str) -> bool {
    /// The opaque part of a well-formed entity tag (`W/"x"` or `"x"`, RFC 9110 §8.8.3).
    fn opaque(tag: &str) -> Option<&str> {
        let tag = tag.trim();
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        let inner = tag.strip_prefix('"')?.strip_suffix('"')?;
        (!inner.contains('"')).then_some(inner)
    }
    fn decimal(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
    }
    let ours = current.starts_with("W/") && opaque(current).is_some_and(decimal);
    // Every listed tag well-formed and not decimal: a malformed header stays a
    // precondition that nothing matches (412).
    ours && header
        .split(',')
        .all(|t| opaque(t).is_some_and(|o| !decimal(o)))
}

#[cfg(test)]
mod tests {
    use super::foreign_etags;

    #[test]
    fn foreign_etags_are_tags_that_cannot_be_a_decimal_version() {
        let ours = "W/\"7\"";
        // Canaille's own tag, and other shapes no built-in store issues.
        for foreign in ["W/\"55ad0845ac64a91a\"", "\"abc\", W/\"x1\"", "\"\""] {
            assert!(foreign_etags(foreign, ours), "{foreign}");
        }
        let own_shape = ["W/\"6\"", "\"7\"", "W/\"abc\", W/\"6\""];
        let empty = ["", " , "];
        let malformed = ["garbage", "*garbage", "W/", "W/\"a", "\"a\"b\"", ","];
        // A tag of the server's own shape is never foreign, stale or not; the empty
        // If-Match and malformed headers (not entity tags at all) stay tags that match
        // nothing (412).
        for header in own_shape.into_iter().chain(empty).chain(malformed) {
            assert!(!foreign_etags(header, ours), "{header}");
        }
        // A store that issues another shape: nothing is foreign.
        assert!(!foreign_etags("W/\"55ad0845ac64a91a\"", "W/\"v-7\""));
        assert!(!foreign_etags("W/\"55ad\"", "\"7\""));
    }
}
