//! Checks shared by `tests/sql_sqlite.rs` and `tests/sql_postgres.rs`, which include this
//! file with `#[path]`. Not part of the library.
//!
//! The differential check stores a set of generated users (with LIKE metacharacters,
//! non-ASCII letters whose lower case is not ASCII's, empty strings, absent and empty
//! complex attributes) and compares, for many filters, what the store lists with what
//! [`Filter::matches`] says about the same users.

#![allow(dead_code)]

mod generate;
mod lists;
mod outbox_keys;
mod replicas;
mod writes;

use chrono::Utc;
use scimkit::{Meta, User};

pub use generate::*;
pub use lists::*;
pub use outbox_keys::*;
pub use replicas::*;
pub use writes::*;

/// A new user as the server makes it.
pub fn new_user(user_name: &str) -> User {
    let mut u = User::new(user_name);
    u.id = Some(uuid::Uuid::new_v4().to_string().into());
    u.meta = Some(Meta::new("User", Utc::now()));
    u
}

/// A tenant name no other test run uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
