//! Who is asking, for which tenant: [`Principal`] (what an [`Authenticator`] returns) and
//! [`RequestContext`] (what every store call receives).
//!
//! The tenant is held once: a context is made from a principal and scopes every store
//! call to that principal's tenant.
//!
//! [`Authenticator`]: crate::Authenticator

use std::sync::Arc;

use crate::schema::SchemaSet;

/// Who made a request: the tenant (customer account) and the API key used.
///
/// Cheap to clone (shared strings): an authenticator hands out a clone per request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The tenant (customer account) the credentials belong to.
    pub tenant: Arc<str>,
    /// The identifier of the API key used (not the secret).
    pub key_id: Arc<str>,
}

impl Principal {
    /// A principal for `tenant` authenticated by key `key_id`.
    pub fn new(tenant: impl AsRef<str>, key_id: impl AsRef<str>) -> Self {
        Self {
            tenant: Arc::from(tenant.as_ref()),
            key_id: Arc::from(key_id.as_ref()),
        }
    }
}

/// Passed to every store call: the tenant to scope by, the API key that asked, and a
/// request id for logs. Made from a [`Principal`] ([`RequestContext::new`]) or for the
/// host's own work ([`RequestContext::system`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestContext {
    /// The tenant every store operation is scoped to: the principal's.
    pub tenant: Arc<str>,
    /// The identifier of the API key that made the request (`system` for the host's own
    /// work).
    pub key_id: Arc<str>,
    /// A request identifier for correlating logs.
    pub request_id: String,
    /// The schemas of the server the request came to: the stores read extension
    /// attributes through them (filters, sorting, search columns).
    schemas: Arc<SchemaSet>,
}

impl RequestContext {
    /// A context for a request by `principal`, scoped to its tenant.
    pub fn new(principal: Principal, request_id: impl Into<String>) -> Self {
        let Principal { tenant, key_id } = principal;
        Self {
            tenant,
            key_id,
            request_id: request_id.into(),
            schemas: SchemaSet::core_shared(),
        }
    }

    /// A context for work the host does itself on a tenant's behalf (imports, admin tools).
    pub fn system(tenant: impl AsRef<str>) -> Self {
        Self::new(
            Principal::new(tenant, "system"),
            uuid::Uuid::new_v4().to_string(),
        )
    }

    /// The same context for a server with these schemas (a host's tool working on a
    /// server's users passes [`ScimServer::schemas`](crate::ScimServer::schemas)).
    #[must_use]
    pub fn with_schemas(mut self, schemas: Arc<SchemaSet>) -> Self {
        self.schemas = schemas;
        self
    }

    /// The schemas of the server: the core User schema, the Enterprise extension and the
    /// host's extensions. A context made without [`with_schemas`](Self::with_schemas)
    /// has no extensions of the host's.
    pub fn schemas(&self) -> &SchemaSet {
        &self.schemas
    }

    /// The caller: the tenant and the API key.
    pub fn principal(&self) -> Principal {
        Principal {
            tenant: self.tenant.clone(),
            key_id: self.key_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_is_the_principals() {
        let ctx = RequestContext::new(Principal::new("acme", "k1"), "r-1");
        assert_eq!(&*ctx.tenant, "acme");
        assert_eq!(ctx.principal(), Principal::new("acme", "k1"));
        let system = RequestContext::system("globex");
        assert_eq!(system.principal(), Principal::new("globex", "system"));
        assert!(!system.request_id.is_empty());
    }
}
