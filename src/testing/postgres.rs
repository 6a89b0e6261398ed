//! A PostgreSQL test fixture (features `testing` and `postgres`): scratch schemas on a
//! test server, one per store, dropped at the end, so tests running in parallel (or a
//! crashed earlier run) never meet.
//!
//! The server is `SCIMKIT_TEST_DATABASE_URL` (or `SCIMKIT_POSTGRES_URL`), by default
//! [`DEFAULT_URL`]. When no URL is set and no server answers at the default,
//! [`Schemas::connect`] says on stderr that the test is skipped and returns `None`; with a
//! URL set, an unreachable server is a panic (a configured test must not pass silently).
//!
//! ```no_run
//! # async fn demo() {
//! use scimkit::testing::postgres::Schemas;
//! let Some(schemas) = Schemas::connect().await else {
//!     return; // no server: skipped
//! };
//! let store = schemas.store().await; // a PostgresUserStore in a new, empty schema
//! scimkit::testing::check_user_store(|| store.clone()).await;
//! schemas.drop_all().await;
//! # }
//! ```

use std::str::FromStr;
use std::sync::Mutex;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::store::PostgresUserStore;

/// The server tests use when no URL is configured.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// How many connections a pool of [`Schemas::pool`] opens at most.
const POOL_SIZE: u32 = 4;

/// A connection to the test server that creates scratch schemas (`scimkit_test_<uuid>`)
/// and drops them all in [`Schemas::drop_all`].
#[derive(Debug)]
pub struct Schemas {
    url: String,
    admin: PgPool,
    made: Mutex<Vec<String>>,
}

impl Schemas {
    /// Connects to the test server, or returns `None` (after saying so on stderr) when no
    /// URL is configured and no server answers at [`DEFAULT_URL`].
    ///
    /// # Panics
    ///
    /// When a URL is configured and the server cannot be reached.
    pub async fn connect() -> Option<Self> {
        let configured = std::env::var("SCIMKIT_TEST_DATABASE_URL")
            .or_else(|_| std::env::var("SCIMKIT_POSTGRES_URL"))
            .ok();
        let url = configured.clone().unwrap_or_else(|| DEFAULT_URL.to_owned());
        match PgPoolOptions::new().max_connections(2).connect(&url).await {
            Ok(admin) => Some(Self {
                url,
                admin,
                made: Mutex::new(Vec::new()),
            }),
            Err(e) if configured.is_none() => {
                eprintln!(
                    "skipped: no PostgreSQL at {DEFAULT_URL} ({e}); set SCIMKIT_TEST_DATABASE_URL"
                );
                None
            }
            Err(e) => panic!("cannot connect to {url}: {e}"),
        }
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A pool on the server outside the scratch schemas (e.g. to count rows of several).
    pub fn admin(&self) -> &PgPool {
        &self.admin
    }

    /// Creates a new, empty schema and returns the server's connect options with that
    /// schema as `search_path` (to change further, e.g. to connect through a proxy).
    pub async fn options(&self) -> PgConnectOptions {
        let name = format!("scimkit_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&self.admin)
            .await
            .expect("the test server creates a schema");
        self.made
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.clone());
        PgConnectOptions::from_str(&self.url)
            .expect("the test server's URL parses")
            .options([("search_path", name.as_str())])
    }

    /// A pool (up to 4 connections) whose `search_path` is a new, empty schema.
    pub async fn pool(&self) -> PgPool {
        let options = self.options().await;
        Self::pool_with(options).await
    }

    /// Another pool on the schema of `pool`, as another process would have.
    pub async fn second_pool(&self, pool: &PgPool) -> PgPool {
        Self::pool_with(pool.connect_options().as_ref().clone()).await
    }

    async fn pool_with(options: PgConnectOptions) -> PgPool {
        PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options)
            .await
            .expect("the test server accepts a pool")
    }

    /// A [`PostgresUserStore`] in a new, empty schema (migrated).
    pub async fn store(&self) -> PostgresUserStore {
        PostgresUserStore::from_pool(self.pool().await)
            .await
            .expect("the migrations run on a new schema")
    }

    /// Drops every schema made by this fixture, with everything in it.
    pub async fn drop_all(self) {
        let made = std::mem::take(&mut *self.made.lock().unwrap_or_else(|e| e.into_inner()));
        for name in made {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .execute(&self.admin)
                .await
                .expect("the test server drops a scratch schema");
        }
    }
}
