//! Evaluation against the typed [`User`](crate::User).

use crate::resource::User;

use super::Filter;

impl Filter {
    /// Whether `user` matches this filter (RFC 7644 §3.4.2.2), evaluated with the
    /// attribute characteristics of the User schema (e.g. `userName` case-insensitively).
    pub fn matches(&self, user: &User) -> bool {
        self.matches_value(&user.to_value())
    }
}
