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
//! | `manager_as_string` | `"manager": "26118915-..."`, and a one-element array for a singular attribute | Entra ID |
//! | `case_insensitive_ops` | PATCH `"op": "Replace"`, `"Add"`, `"Remove"` | Entra ID |
//! | `dotted_pathless_keys` | path-less PATCH values keyed `"name.givenName"` or `"urn:...:User:employeeNumber"` | Entra ID, others |
//! | `unmatched_value_path_creates` | `add`/`replace` on `emails[type eq "work"].value` when no element matches creates it | Entra ID |
//! | `remove_with_value` | `remove` with a `value` on a multi-valued attribute removes the matching elements; on `manager` removes it | Entra ID |
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
        }
    }
}
