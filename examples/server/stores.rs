//! Which database the example server uses: `--database` (`SCIMKIT_DATABASE_URL`).

use std::sync::Arc;

use scimkit::events::EventOutbox;
use scimkit::keys::{
    ApiKeyStore, ApiKeys, MemoryApiKeyStore, MemoryTenantStore, TenantStore, Tenants,
};
use scimkit::store::{
    PostgresApiKeyStore, PostgresTenantStore, PostgresUserStore, SqliteApiKeyStore,
    SqliteTenantStore, SqliteUserStore,
};
use scimkit::{GroupStore, MemoryUserStore, UserStore};

use crate::BoxError;

/// The three stores of the product, on one database.
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    /// The group store over the same database (served with `--groups`).
    groups: Arc<dyn GroupStore>,
    /// The outbox of the users' store, for the event dispatcher.
    pub outbox: Arc<dyn EventOutbox>,
    pub keys: Arc<dyn ApiKeyStore>,
    pub tenants: Arc<dyn TenantStore>,
    /// What was opened, for the start-up message.
    pub description: String,
}

/// Opens `database`: `memory`, a SQLite file path or `sqlite://PATH`, or a
/// `postgres://` URL. SQL databases are migrated on open. User and group writes record provisioning
/// events in an outbox for the dispatcher to deliver, in this run or a later one; in
/// memory, where no later run will see them, only when `delivered` (otherwise nothing
/// would ever drain the outbox).
pub async fn open(database: &str, delivered: bool) -> Result<Stores, BoxError> {
    if database == "memory" {
        let users = MemoryUserStore::new();
        let users = if delivered {
            users.with_outbox()
        } else {
            users
        };
        let users = Arc::new(users);
        return Ok(Stores {
            groups: Arc::new(users.group_store()),
            users: users.clone(),
            outbox: users,
            keys: Arc::new(MemoryApiKeyStore::new()),
            tenants: Arc::new(MemoryTenantStore::new()),
            description: "in memory (nothing survives a restart)".into(),
        });
    }
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        let users = PostgresUserStore::connect(database).await?.with_outbox();
        let pool = users.pool().clone();
        let groups: Arc<dyn GroupStore> = Arc::new(users.group_store());
        let users = Arc::new(users);
        return Ok(Stores {
            keys: Arc::new(PostgresApiKeyStore::from_pool(pool.clone()).await?),
            tenants: Arc::new(PostgresTenantStore::from_pool(pool).await?),
            groups,
            users: users.clone(),
            outbox: users,
            description: "PostgreSQL".into(),
        });
    }
    let path = database.strip_prefix("sqlite://").unwrap_or(database);
    let users = SqliteUserStore::open(path).await?.with_outbox();
    let db = users.database().clone();
    let groups: Arc<dyn GroupStore> = Arc::new(users.group_store());
    let users = Arc::new(users);
    Ok(Stores {
        keys: Arc::new(SqliteApiKeyStore::new(db.clone())),
        tenants: Arc::new(SqliteTenantStore::new(db)),
        groups,
        users: users.clone(),
        outbox: users,
        description: format!("SQLite file {path}"),
    })
}

impl Stores {
    /// The group store, for `--groups`.
    pub fn groups(&self) -> Arc<dyn GroupStore> {
        self.groups.clone()
    }

    /// The key and tenant administration over these stores.
    pub fn admin(&self, public_url: &str) -> (ApiKeys, Tenants) {
        let tenants = Tenants::shared(self.tenants.clone()).with_public_url(public_url);
        (ApiKeys::shared(self.keys.clone(), tenants.clone()), tenants)
    }
}
