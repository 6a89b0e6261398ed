//! [`ScimServer`]: the transport-neutral request handler.
//!
//! One request goes through the stages named by the files of this module:
//!
//! ```text
//! http::Request<B>
//!   → authenticate  Authorization: Bearer … → Principal → RequestContext   (this file)
//!   → route         method + path → Route                                  (route.rs)
//!   → parse         query, headers, body → Operation; pure, no store       (parse.rs)
//!   → execute       Operation + &RequestContext → store calls → Outcome    (execute.rs)
//!   → render        Outcome → http::Response<Vec<u8>>                      (render.rs)
//! ```
//!
//! Route, parse and render are plain functions; execute is the only async stage after
//! authentication (which asks the [`Authenticator`]).
//!
//! [`ScimServer::handle`] never fails: a [`ScimError`] from any stage becomes the
//! response in one place ([`ScimError::to_response`]), and every response carries the
//! request id (`X-Request-Id`), which a 500 also names in its detail.
//!
//! # The contract of a framework integration
//!
//! An integration (see `examples/server/main.rs` for axum, `examples/actix.rs` for
//! actix-web):
//!
//! 1. reads the request body under a size limit, answering 413 (as a SCIM error, e.g.
//!    [`ScimError::PayloadTooLarge`]) when it is larger than [`ScimServer::max_body_bytes`];
//! 2. builds an `http::Request<Bytes>` (or any `B: AsRef<[u8]>`) with the original method,
//!    URI (path *and* query) and headers;
//! 3. calls [`ScimServer::handle`] and copies the status, headers and body back.
//!
//! Everything else (405, 404, 415, auth, content types) is the handler's job.

mod cursor;
mod discovery;
mod execute;
mod execute_group;
mod limit;
mod params;
mod parse;
mod parse_group;
mod render;
mod required;
mod route;

use std::borrow::Cow;
use std::sync::Arc;

use self::route::Route;

use http::{HeaderValue, Request, Response};

use crate::auth::{Authenticator, bearer_token};
use crate::compat::Compatibility;
use crate::context::{Principal, RequestContext};
use crate::error::ScimError;
use crate::filter::ParseLimits;
use crate::group::GroupStore;
use crate::schema::SchemaDef;
use crate::store::UserStore;

pub use limit::RateLimit;

/// The limits and settings of a [`ScimServer`], as set on its [`ScimServerBuilder`]
/// and read through [`ScimServer::config`]. Its `Debug` output redacts the cursor key,
/// which has no getter.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// The path prefix of the SCIM API, e.g. `/scim/v2` (no trailing slash).
    pub(crate) base_path: String,
    /// The public URL of the SCIM API used in `meta.location` and `Location`, e.g.
    /// `https://api.example.com/scim/v2`. When `None`, it is built from the request's
    /// `Host` (and `X-Forwarded-Proto`) and the base path.
    pub(crate) base_url: Option<String>,
    /// The largest request body accepted (bytes); larger bodies get 413.
    pub(crate) max_body_bytes: usize,
    /// The largest page returned by a list; larger `count`s are capped to it.
    pub(crate) max_page_size: usize,
    /// The page size when the client sends no `count`.
    pub(crate) default_page_size: usize,
    /// Limits on filter length and nesting.
    pub(crate) filter_limits: ParseLimits,
    /// How many times a PUT or PATCH without `If-Match` retries after losing a race.
    pub(crate) max_write_retries: usize,
    /// Which client deviations from the RFCs are accepted on input.
    pub(crate) compatibility: Compatibility,
    /// How long an RFC 9865 cursor stays valid (default one hour).
    pub(crate) cursor_timeout: std::time::Duration,
    /// The key that signs cursors. `None` draws a random key at build time, which is
    /// right for one process; replicas behind a load balancer need the same key.
    pub(crate) cursor_key: Option<[u8; 32]>,
    /// Whether `/ServiceProviderConfig` advertises RFC 9865 cursor paging (its
    /// `pagination` object). Off by default: clients that validate the document strictly
    /// against RFC 7643 (Canaille 0.3.6, through scim2-models) refuse the unknown member
    /// and stop provisioning. Cursor paging is served whether advertised or not.
    pub(crate) advertise_cursor_paging: bool,
    /// An optional rate limit per API key (429 with `Retry-After` when exceeded).
    pub(crate) rate_limit: Option<RateLimit>,
    /// Attributes the host requires beyond `userName` (e.g. `name.givenName`, `emails`):
    /// writes that lack one get 400 `invalidValue`, and `/Schemas` marks them required.
    pub(crate) required_attributes: Vec<String>,
    /// Extension schemas of the host's own, beside the Enterprise User extension: their
    /// attributes are accepted, validated, stored, returned, filterable, sortable,
    /// patchable and advertised (see [`ScimServerBuilder::extension`]).
    pub(crate) extensions: Vec<&'static SchemaDef>,
    /// The most elements one multi-valued attribute of a user may hold (default 1,000;
    /// see [`ScimServerBuilder::max_multi_valued_elements`]).
    pub(crate) max_multi_valued_elements: usize,
    /// The largest user, in bytes of compact JSON, a write may produce (default 100 KiB;
    /// see [`ScimServerBuilder::max_user_bytes`]).
    pub(crate) max_user_bytes: usize,
    /// The most bytes of resources one list page carries (default 16 MiB; see
    /// [`ScimServerBuilder::max_list_bytes`]).
    pub(crate) max_list_bytes: usize,
    /// The most operations one PATCH request may hold (default 1,000; see
    /// [`ScimServerBuilder::max_patch_operations`]).
    pub(crate) max_patch_operations: usize,
    /// The level a 4xx answer is logged at (default DEBUG; see
    /// [`ScimServerBuilder::client_errors_logged_at`]).
    pub(crate) client_error_level: tracing::Level,
    /// Whether the Group resource is served (a group store was given; see
    /// [`ScimServerBuilder::groups`]).
    pub(crate) groups: bool,
    /// Whether a group PATCH answers 200 with the group (members excluded) rather than
    /// 204 (see [`ScimServerBuilder::group_patch_returns_group`]).
    pub(crate) group_patch_returns_group: bool,
    /// The most member ids one group write may name (default 10,000; see
    /// [`ScimServerBuilder::max_group_member_changes`]).
    pub(crate) max_group_member_changes: usize,
    /// Whether the server records metrics (see [`ScimServerBuilder::metrics`]).
    #[cfg(feature = "metrics")]
    pub(crate) metrics: bool,
    /// How many tenants get a `tenant` label of their own (0: no tenant label; see
    /// [`ScimServerBuilder::metrics_tenant_labels`]).
    #[cfg(feature = "metrics")]
    pub(crate) metrics_tenant_labels: usize,
}

impl Config {
    /// The path prefix of the SCIM API, e.g. `/scim/v2` (no trailing slash).
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The public URL of the SCIM API used in `meta.location` and `Location`, e.g.
    /// `https://api.example.com/scim/v2`. When `None`, it is built from the request's
    /// `Host` (and `X-Forwarded-Proto`) and the base path.
    pub fn base_url(&self) -> Option<&str> {
        self.base_url.as_deref()
    }

    /// The largest request body accepted (bytes); larger bodies get 413.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The largest page returned by a list; larger `count`s are capped to it.
    pub fn max_page_size(&self) -> usize {
        self.max_page_size
    }

    /// The page size when the client sends no `count`.
    pub fn default_page_size(&self) -> usize {
        self.default_page_size
    }

    /// Limits on filter length and nesting.
    pub fn filter_limits(&self) -> ParseLimits {
        self.filter_limits
    }

    /// How many times a PUT or PATCH without `If-Match` retries after losing a race.
    pub fn max_write_retries(&self) -> usize {
        self.max_write_retries
    }

    /// Which client deviations from the RFCs are accepted on input.
    pub fn compatibility(&self) -> &Compatibility {
        &self.compatibility
    }

    /// How long an RFC 9865 cursor stays valid (default one hour).
    pub fn cursor_timeout(&self) -> std::time::Duration {
        self.cursor_timeout
    }

    /// Whether `/ServiceProviderConfig` advertises RFC 9865 cursor paging (its
    /// `pagination` object). Off by default: clients that validate the document strictly
    /// against RFC 7643 (Canaille 0.3.6, through scim2-models) refuse the unknown member
    /// and stop provisioning. Cursor paging is served whether advertised or not.
    pub fn advertise_cursor_paging(&self) -> bool {
        self.advertise_cursor_paging
    }

    /// An optional rate limit per API key (429 with `Retry-After` when exceeded).
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// Attributes the host requires beyond `userName` (e.g. `name.givenName`, `emails`):
    /// writes that lack one get 400 `invalidValue`, and `/Schemas` marks them required.
    pub fn required_attributes(&self) -> &[String] {
        &self.required_attributes
    }

    /// Extension schemas of the host's own, beside the Enterprise User extension: their
    /// attributes are accepted, validated, stored, returned, filterable, sortable,
    /// patchable and advertised (see [`ScimServerBuilder::extension`]).
    pub fn extensions(&self) -> &[&'static SchemaDef] {
        &self.extensions
    }

    /// The most elements one multi-valued attribute of a user may hold (default 1,000;
    /// see [`ScimServerBuilder::max_multi_valued_elements`]).
    pub fn max_multi_valued_elements(&self) -> usize {
        self.max_multi_valued_elements
    }

    /// The largest user, in bytes of compact JSON, a write may produce (default 100 KiB;
    /// see [`ScimServerBuilder::max_user_bytes`]).
    pub fn max_user_bytes(&self) -> usize {
        self.max_user_bytes
    }

    /// The most bytes of resources one list page carries (default 16 MiB; see
    /// [`ScimServerBuilder::max_list_bytes`]).
    pub fn max_list_bytes(&self) -> usize {
        self.max_list_bytes
    }

    /// The most operations one PATCH request may hold (default 1,000; see
    /// [`ScimServerBuilder::max_patch_operations`]).
    pub fn max_patch_operations(&self) -> usize {
        self.max_patch_operations
    }

    /// Whether the Group resource is served (see [`ScimServerBuilder::groups`]).
    pub fn groups(&self) -> bool {
        self.groups
    }

    /// Whether a group PATCH answers 200 with the group rather than 204 (see
    /// [`ScimServerBuilder::group_patch_returns_group`]).
    pub fn group_patch_returns_group(&self) -> bool {
        self.group_patch_returns_group
    }

    /// The most member ids one group write may name (see
    /// [`ScimServerBuilder::max_group_member_changes`]).
    pub fn max_group_member_changes(&self) -> usize {
        self.max_group_member_changes
    }

    /// The level a 4xx answer is logged at (default DEBUG; see
    /// [`ScimServerBuilder::client_errors_logged_at`]).
    pub fn client_error_level(&self) -> tracing::Level {
        self.client_error_level
    }

    /// Whether the server records metrics (default off; see
    /// [`ScimServerBuilder::metrics`]).
    #[cfg(feature = "metrics")]
    pub fn metrics(&self) -> bool {
        self.metrics
    }

    /// How many tenants get a `tenant` label of their own; 0 (the default): metrics carry
    /// no tenant label (see [`ScimServerBuilder::metrics_tenant_labels`]).
    #[cfg(feature = "metrics")]
    pub fn metrics_tenant_labels(&self) -> usize {
        self.metrics_tenant_labels
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base_path: "/scim/v2".into(),
            base_url: None,
            max_body_bytes: 1024 * 1024,
            max_page_size: 1000,
            default_page_size: 100,
            filter_limits: ParseLimits::default(),
            max_write_retries: 32,
            compatibility: Compatibility::default(),
            required_attributes: Vec::new(),
            extensions: Vec::new(),
            cursor_timeout: std::time::Duration::from_secs(3600),
            cursor_key: None,
            advertise_cursor_paging: false,
            rate_limit: None,
            max_multi_valued_elements: limit::DEFAULT_MAX_MULTI_VALUED_ELEMENTS,
            max_user_bytes: limit::DEFAULT_MAX_USER_BYTES,
            max_list_bytes: limit::DEFAULT_MAX_LIST_BYTES,
            max_patch_operations: limit::DEFAULT_MAX_PATCH_OPERATIONS,
            client_error_level: tracing::Level::DEBUG,
            groups: false,
            group_patch_returns_group: false,
            max_group_member_changes: limit::DEFAULT_MAX_GROUP_MEMBER_CHANGES,
            #[cfg(feature = "metrics")]
            metrics: false,
            #[cfg(feature = "metrics")]
            metrics_tenant_labels: 0,
        }
    }
}

impl std::fmt::Debug for Config {
    /// Every setting but the cursor key, shown as `<redacted>` when set. The settings are
    /// destructured, so a new one cannot be left out of this list unnoticed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Config {
            base_path,
            base_url,
            max_body_bytes,
            max_page_size,
            default_page_size,
            filter_limits,
            max_write_retries,
            compatibility,
            cursor_timeout,
            cursor_key,
            advertise_cursor_paging,
            rate_limit,
            required_attributes,
            extensions,
            max_multi_valued_elements,
            max_user_bytes,
            max_list_bytes,
            max_patch_operations,
            client_error_level,
            groups,
            group_patch_returns_group,
            max_group_member_changes,
            #[cfg(feature = "metrics")]
            metrics,
            #[cfg(feature = "metrics")]
            metrics_tenant_labels,
        } = self;
        let mut f = f.debug_struct("Config");
        f.field("base_path", base_path)
            .field("base_url", base_url)
            .field("max_body_bytes", max_body_bytes)
            .field("max_page_size", max_page_size)
            .field("default_page_size", default_page_size)
            .field("filter_limits", filter_limits)
            .field("max_write_retries", max_write_retries)
            .field("compatibility", compatibility)
            .field("cursor_timeout", cursor_timeout)
            .field("cursor_key", &cursor_key.map(|_| "<redacted>"))
            .field("advertise_cursor_paging", advertise_cursor_paging)
            .field("rate_limit", rate_limit)
            .field("required_attributes", required_attributes)
            .field("extensions", extensions)
            .field("max_multi_valued_elements", max_multi_valued_elements)
            .field("max_user_bytes", max_user_bytes)
            .field("max_list_bytes", max_list_bytes)
            .field("max_patch_operations", max_patch_operations)
            .field("client_error_level", client_error_level)
            .field("groups", groups)
            .field("group_patch_returns_group", group_patch_returns_group)
            .field("max_group_member_changes", max_group_member_changes);
        #[cfg(feature = "metrics")]
        f.field("metrics", metrics)
            .field("metrics_tenant_labels", metrics_tenant_labels);
        f.finish()
    }
}

/// Why a [`ScimServer`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No store was configured.
    #[error("a UserStore is required")]
    MissingStore,
    /// No authenticator was configured.
    #[error("an Authenticator is required")]
    MissingAuthenticator,
    /// A setting is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Builds a [`ScimServer`].
#[derive(Default)]
pub struct ScimServerBuilder {
    config: Config,
    store: Option<Arc<dyn UserStore>>,
    groups: Option<Arc<dyn GroupStore>>,
    authenticator: Option<Arc<dyn Authenticator>>,
}

impl ScimServerBuilder {
    /// The path prefix of the SCIM API (default `/scim/v2`).
    pub fn base_path(mut self, path: impl Into<String>) -> Self {
        self.config.base_path = path.into();
        self
    }
    /// The public URL of the SCIM API, for `meta.location` and `Location`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = Some(url.into());
        self
    }
    /// The largest accepted request body in bytes (default 1 MiB).
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.config.max_body_bytes = n;
        self
    }
    /// The largest page (default 1000).
    pub fn max_page_size(mut self, n: usize) -> Self {
        self.config.max_page_size = n;
        self
    }
    /// The page size without `count` (default 100).
    pub fn default_page_size(mut self, n: usize) -> Self {
        self.config.default_page_size = n;
        self
    }
    /// Filter length and nesting limits.
    pub fn filter_limits(mut self, limits: ParseLimits) -> Self {
        self.config.filter_limits = limits;
        self
    }
    /// Which client deviations are accepted (default: everything real IdPs send).
    pub fn compatibility(mut self, compat: Compatibility) -> Self {
        self.config.compatibility = compat;
        self
    }
    /// How many times a write without `If-Match` is retried after losing a race
    /// (default 32).
    pub fn max_write_retries(mut self, n: usize) -> Self {
        self.config.max_write_retries = n;
        self
    }
    /// Attributes every user must have beyond `userName`, as attribute paths
    /// (`name.givenName`, `emails`, `urn:...:enterprise:2.0:User:employeeNumber`).
    pub fn required_attributes<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.required_attributes = paths.into_iter().map(Into::into).collect();
        self
    }
    /// The most elements one multi-valued attribute of a user (`emails`, `roles`, a
    /// multi-valued extension attribute, ...) may hold; a POST, PUT or PATCH that would
    /// store more gets 400 `invalidValue` naming the attribute, before the store is
    /// called.
    ///
    /// The default, 1,000, is far above what identity providers send (a handful of
    /// emails or phone numbers; entitlements and roles in the tens, rarely the low
    /// hundreds) and keeps the work of one write, and the size of a user, bounded.
    pub fn max_multi_valued_elements(mut self, n: usize) -> Self {
        self.config.max_multi_valued_elements = n;
        self
    }
    /// The largest user a write may produce, in bytes of its compact JSON (as returned,
    /// with `id` and `meta`); a POST, PUT or PATCH producing a bigger user gets 400
    /// `invalidValue`, before the store is called.
    ///
    /// The default, 100 KiB, is some 50 times a typical user of an identity provider
    /// (1 to 2 KiB) and leaves room for several X.509 certificates and a few hundred
    /// roles or entitlements; it bounds what one user costs to store and to return, and
    /// so the size of a list page ([`max_page_size`](Self::max_page_size) users at
    /// most).
    pub fn max_user_bytes(mut self, n: usize) -> Self {
        self.config.max_user_bytes = n;
        self
    }
    /// The most bytes of rendered resources one list or search response carries. A page
    /// that would carry more is cut short after the last resource that fits (at least
    /// one is always returned), with `itemsPerPage` saying how many it holds, as RFC 7644
    /// §3.4.2.4 allows; `startIndex` paging and cursors continue from there, so every
    /// user is still reached. The response is never built whole past the budget.
    ///
    /// The default, 16 MiB, holds a full page of 1,000 users of 16 KiB each (typical
    /// users are 1 to 2 KiB), so real pages are not cut; the worst page a client can ask
    /// for (`count` at [`max_page_size`](Self::max_page_size), every user at
    /// [`max_user_bytes`](Self::max_user_bytes), 1,000 × 100 KiB ≈ 100 MiB) is cut to
    /// about 16 MiB.
    pub fn max_list_bytes(mut self, n: usize) -> Self {
        self.config.max_list_bytes = n;
        self
    }
    /// The most operations one PATCH request may hold; more is 400 `invalidValue` before
    /// any is applied. Each operation costs work up to the length of the list it touches
    /// (at most [`max_multi_valued_elements`](Self::max_multi_valued_elements)), so this
    /// bounds a request's work to operations × elements.
    ///
    /// The default, 1,000, is far above what identity providers send to a user (Entra ID
    /// and Okta send one to a few dozen operations) and keeps the worst request at about
    /// a million element visits, where a 1 MiB body of 20,000 operations would be twenty
    /// million.
    pub fn max_patch_operations(mut self, n: usize) -> Self {
        self.config.max_patch_operations = n;
        self
    }

    /// Logs each 4xx answer at `level` (default DEBUG; a 5xx is always logged at ERROR),
    /// in the request's `scim_request` span (see [`ScimServer::handle`]). WARN or INFO
    /// keeps the refusals an identity provider got where an operator looks for them.
    pub fn client_errors_logged_at(mut self, level: tracing::Level) -> Self {
        self.config.client_error_level = level;
        self
    }
    /// Records metrics of the requests this server answers (default off): counts by
    /// operation and status, latencies, authentication and rate-limit refusals, store
    /// failures, through the `metrics` facade to the recorder the host installs. See
    /// [`crate::metrics`] for the names and labels.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, on: bool) -> Self {
        self.config.metrics = on;
        self
    }
    /// Labels request counts, rate-limit refusals and store failures with the tenant, for
    /// the first `max_tenants` distinct tenants the server sees; later tenants share the
    /// label [`OTHER_TENANTS`](crate::metrics::OTHER_TENANTS), so the number of series stays
    /// bounded. Default 0: no tenant label. Takes effect with [`metrics`](Self::metrics).
    #[cfg(feature = "metrics")]
    pub fn metrics_tenant_labels(mut self, max_tenants: usize) -> Self {
        self.config.metrics_tenant_labels = max_tenants;
        self
    }
    /// Limits each API key to `limit` (default: no limit).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.config.rate_limit = Some(limit);
        self
    }
    /// How long RFC 9865 cursors stay valid (default one hour).
    pub fn cursor_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.cursor_timeout = timeout;
        self
    }
    /// Advertise RFC 9865 cursor paging in `/ServiceProviderConfig` (default off; see
    /// [`Config::advertise_cursor_paging`]). Cursor paging works either way.
    pub fn advertise_cursor_paging(mut self, on: bool) -> Self {
        self.config.advertise_cursor_paging = on;
        self
    }
    /// The 32-byte key that signs cursors; give every replica the same one.
    pub fn cursor_key(mut self, key: [u8; 32]) -> Self {
        self.config.cursor_key = Some(key);
        self
    }
    /// The store of users.
    pub fn store(self, store: impl UserStore + 'static) -> Self {
        self.shared_store(Arc::new(store))
    }
    /// The store of users, shared.
    pub fn shared_store(mut self, store: Arc<dyn UserStore>) -> Self {
        self.store = Some(store);
        self
    }
    /// Serves the Group resource (RFC 7643 §4.2) from `store`: `/Groups` (create, get,
    /// replace, delete, PATCH in every form Okta and Entra ID send, list with the filters
    /// of [`GroupFilter`](crate::group::GroupFilter), `.search`), advertised in
    /// `/ResourceTypes`, `/Schemas` and `/ServiceProviderConfig`. Without it (the
    /// default), `GET /Groups` answers an empty list (IdPs' connection tests), writes
    /// answer 501 and discovery shows the User resource only. See [`crate::group`].
    pub fn groups(self, store: impl GroupStore + 'static) -> Self {
        self.shared_groups(Arc::new(store))
    }
    /// [`groups`](Self::groups), with a shared store.
    pub fn shared_groups(mut self, store: Arc<dyn GroupStore>) -> Self {
        self.groups = Some(store);
        self.config.groups = true;
        self
    }
    /// Whether a group PATCH answers 200 with the group, its members excluded (`true`),
    /// or 204 No Content (`false`, the default: a PATCH never sends a group's member list
    /// back). A PATCH whose query names `attributes` gets 200 with those either way.
    pub fn group_patch_returns_group(mut self, on: bool) -> Self {
        self.config.group_patch_returns_group = on;
        self
    }
    /// The most member ids one group write (POST, PUT, PATCH) may name (default 10,000;
    /// Okta sends 100–1,000 changes per PATCH). More is 400 `invalidValue`, before the
    /// store is called: a write's cost stays bounded.
    pub fn max_group_member_changes(mut self, n: usize) -> Self {
        self.config.max_group_member_changes = n.max(1);
        self
    }
    /// The authenticator of bearer tokens.
    pub fn authenticator(self, auth: impl Authenticator + 'static) -> Self {
        self.shared_authenticator(Arc::new(auth))
    }
    /// The authenticator of bearer tokens, shared.
    pub fn shared_authenticator(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.authenticator = Some(auth);
        self
    }

    /// Adds an extension schema of the host's own to the User resource type (RFC 7643
    /// §3.3), e.g. `urn:example:params:scim:schemas:extension:acme:2.0:User` with a
    /// `costCenter`. Its attributes are then accepted on POST, PUT and PATCH (validated
    /// against their types: a wrong type is 400 `invalidValue` naming the attribute),
    /// stored (every store keeps them: they are part of the user's JSON), returned
    /// (honouring `returned`), filterable and sortable (honouring `caseExact`), and
    /// advertised in `/Schemas` and `/ResourceTypes`. Attributes marked `required` are
    /// required on every write, like [`required_attributes`](Self::required_attributes).
    ///
    /// The schema belongs to this server only ([`ScimServer::schemas`]): another server of
    /// the process accepts, returns and advertises only its own extensions.
    /// [`build`](Self::build) fails if it is invalid or clashes with another extension of
    /// this builder ([`SchemaSet::with_extension`](crate::schema::SchemaSet::with_extension)).
    ///
    /// ```
    /// use scimkit::schema::{AttributeDef, SchemaDef};
    /// use scimkit::{Principal, StaticKeyAuthenticator};
    ///
    /// static ACME: SchemaDef = SchemaDef {
    ///     id: "urn:example:params:scim:schemas:extension:acme:2.0:User",
    ///     name: "AcmeUser",
    ///     description: "Acme's own user attributes",
    ///     attributes: &[AttributeDef::string("costCenter", "Cost center.").case_exact()],
    /// };
    ///
    /// let server = scimkit::ScimServer::builder()
    ///     .store(scimkit::MemoryUserStore::new())
    ///     .authenticator(StaticKeyAuthenticator::new().with_key("t0ken", Principal::new("acme", "k1")))
    ///     .extension(&ACME)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(server.config().extensions().len(), 1);
    /// ```
    pub fn extension(mut self, schema: &'static SchemaDef) -> Self {
        if !self
            .config
            .extensions
            .iter()
            .any(|s| std::ptr::eq(*s, schema))
        {
            self.config.extensions.push(schema);
        }
        self
    }

    /// Builds the server.
    pub fn build(self) -> Result<ScimServer, BuildError> {
        let mut config = self.config;
        let trimmed = config.base_path.trim_end_matches('/');
        config.base_path = if trimmed.is_empty() || trimmed.starts_with('/') {
            trimmed.to_owned()
        } else {
            format!("/{trimmed}")
        };
        if let Some(url) = &mut config.base_url {
            *url = url.trim_end_matches('/').to_owned();
        }
        if config.max_page_size == 0 {
            return Err(BuildError::Invalid(
                "max_page_size must be at least 1".into(),
            ));
        }
        config.default_page_size = config.default_page_size.clamp(1, config.max_page_size);
        for schema in &config.extensions {
            crate::schema::validate_extension(schema)
                .map_err(|e| BuildError::Invalid(e.to_string()))?;
        }
        let mut schemas = crate::schema::SchemaSet::default();
        for schema in &config.extensions {
            schemas = schemas
                .with_extension(schema)
                .map_err(|e| BuildError::Invalid(e.to_string()))?;
        }
        let key = match config.cursor_key {
            Some(k) => k,
            None => {
                let mut k = [0u8; 32];
                getrandom::fill(&mut k).map_err(|e| {
                    BuildError::Invalid(format!("no randomness for the cursor key: {e}"))
                })?;
                k
            }
        };
        let required = required::resolve(&config.required_attributes, &schemas)
            .map_err(BuildError::Invalid)?;
        let cursors = cursor::CursorCodec::new(key, config.cursor_timeout);
        let limiter = config.rate_limit.map(limit::Limiter::new);
        #[cfg(feature = "metrics")]
        let meter = config
            .metrics
            .then(|| crate::metrics::Meter::new(config.metrics_tenant_labels));
        Ok(ScimServer {
            inner: Arc::new(Inner {
                #[cfg(feature = "metrics")]
                meter,
                limiter,
                cursors,
                config,
                required,
                schemas: Arc::new(schemas),
                store: self.store.ok_or(BuildError::MissingStore)?,
                groups: self.groups,
                authenticator: self.authenticator.ok_or(BuildError::MissingAuthenticator)?,
            }),
        })
    }
}

struct Inner {
    /// What the server records metrics with, when they are on.
    #[cfg(feature = "metrics")]
    meter: Option<crate::metrics::Meter>,
    limiter: Option<limit::Limiter>,
    cursors: cursor::CursorCodec,
    config: Config,
    required: Vec<required::Required>,
    schemas: Arc<crate::schema::SchemaSet>,
    store: Arc<dyn UserStore>,
    /// The group store, when the Group resource is served.
    groups: Option<Arc<dyn GroupStore>>,
    authenticator: Arc<dyn Authenticator>,
}

/// A SCIM 2.0 service provider for Users, independent of any web framework. Cheap to
/// clone (an `Arc` inside).
#[derive(Clone)]
pub struct ScimServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ScimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimServer")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl ScimServer {
    /// Starts configuring a server.
    pub fn builder() -> ScimServerBuilder {
        ScimServerBuilder::default()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The schemas of this server's User resource type: core, Enterprise and the
    /// extensions given to its builder. Shared: a host's tool working on the server's
    /// users passes it on ([`RequestContext::with_schemas`]).
    pub fn schemas(&self) -> &Arc<crate::schema::SchemaSet> {
        &self.inner.schemas
    }

    /// The largest request body integrations should read (bytes).
    pub fn max_body_bytes(&self) -> usize {
        self.inner.config.max_body_bytes
    }

    /// Handles one request. Never fails: errors are rendered as SCIM error responses.
    ///
    /// Each request runs in a `tracing` span `scim_request` (INFO) with its `request_id`,
    /// `method` and `path`, then its `tenant`, `key_id`, `operation` and `status` as they
    /// become known. Its outcome is one event: a 5xx at ERROR, a 4xx at the level set by
    /// [`ScimServerBuilder::client_errors_logged_at`] (DEBUG by default), others at
    /// DEBUG; so a failed push an admin reports is found by its request id, tenant or
    /// key. Without a subscriber (or with the span's level off) this costs next to
    /// nothing.
    pub async fn handle<B: AsRef<[u8]>>(&self, req: Request<B>) -> Response<Vec<u8>> {
        let request_id = request_id(req.headers());
        let span = tracing::info_span!(
            "scim_request",
            request_id = %request_id,
            method = %req.method(),
            path = req.uri().path(),
            tenant = tracing::field::Empty,
            key_id = tracing::field::Empty,
            operation = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        tracing::Instrument::instrument(self.handle_in_span(req, request_id), span).await
    }

    async fn handle_in_span<B: AsRef<[u8]>>(
        &self,
        req: Request<B>,
        request_id: String,
    ) -> Response<Vec<u8>> {
        #[cfg(feature = "metrics")]
        let started = self.inner.meter.as_ref().map(|_| std::time::Instant::now());
        let span = tracing::Span::current();
        // Routed first (a pure function of method and path) for the logs; a routing
        // error is answered only after authentication, as before.
        let route = route::route(&self.inner.config.base_path, req.method(), req.uri().path());
        let operation = route.as_ref().map_or("unrouted", Route::operation);
        span.record("operation", operation);
        let mut caller = None;
        let (result, request_id) = match self.authenticate(&req, &request_id).await {
            Ok(principal) => {
                span.record("tenant", &*principal.tenant);
                span.record("key_id", &*principal.key_id);
                caller = Some((principal.tenant.clone(), principal.key_id.clone()));
                let limited = self.check_rate_limit(&principal);
                let ctx = RequestContext::new(principal, request_id)
                    .with_schemas(Arc::clone(&self.inner.schemas));
                let result = match (limited, route) {
                    (Ok(()), Ok(route)) => self.serve(route, &req, &ctx).await,
                    (Err(e), _) | (Ok(()), Err(e)) => Err(e),
                };
                // After authentication, a 500 is a store failure (the one mapping of
                // store errors, `execute::store_error`).
                #[cfg(feature = "metrics")]
                if let (Some(meter), Err(ScimError::Internal { .. })) = (self.meter(), &result) {
                    use crate::metrics::FailedStore;
                    meter.store_error(operation, FailedStore::Users, Some(&ctx.tenant));
                }
                (result, ctx.request_id)
            }
            Err(e) => {
                // A 500 from authentication: the credentials could not be checked.
                #[cfg(feature = "metrics")]
                if let (Some(meter), ScimError::Internal { .. }) = (self.meter(), &e) {
                    use crate::metrics::FailedStore;
                    meter.store_error(operation, FailedStore::Credentials, None);
                }
                (Err(e), request_id)
            }
        };
        // The one place a failed request becomes its response.
        let mut resp = result.unwrap_or_else(|e| e.to_response());
        let status = resp.status().as_u16();
        span.record("status", status);
        let (tenant, key_id) = caller.as_ref().map_or(("-", "-"), |(t, k)| (&**t, &**k));
        let outcome = Outcome {
            status,
            request_id: &request_id,
            tenant,
            key_id,
            operation,
        };
        outcome.log(self.inner.config.client_error_level);
        #[cfg(feature = "metrics")]
        if let (Some(meter), Some(started)) = (self.meter(), started) {
            let tenant = caller.as_ref().map(|(tenant, _)| tenant);
            meter.request(operation, status, tenant, started.elapsed());
        }
        if let Ok(v) = HeaderValue::try_from(request_id) {
            resp.headers_mut().insert(X_REQUEST_ID, v);
        }
        resp
    }

    /// The caller of `req`.
    async fn authenticate<B>(
        &self,
        req: &Request<B>,
        request_id: &str,
    ) -> Result<Principal, ScimError> {
        #[cfg(feature = "metrics")]
        use crate::metrics::AuthRefusal;
        let token = match bearer_token(req.headers()) {
            Ok(token) => token,
            Err(e) => {
                #[cfg(feature = "metrics")]
                if let Some(meter) = self.meter() {
                    let sent = req.headers().contains_key(http::header::AUTHORIZATION);
                    meter.auth_refused(if sent {
                        AuthRefusal::Malformed
                    } else {
                        AuthRefusal::Missing
                    });
                }
                return Err(e);
            }
        };
        let principal = match self.inner.authenticator.authenticate(token).await {
            Ok(principal) => principal,
            Err(e) => {
                #[cfg(feature = "metrics")]
                if let Some(meter) = self.meter() {
                    match e {
                        crate::AuthError::InvalidCredentials => {
                            meter.auth_refused(AuthRefusal::InvalidKey);
                        }
                        crate::AuthError::Forbidden(_) => {
                            meter.auth_refused(AuthRefusal::Forbidden);
                        }
                        // Counted as a store failure by `handle`.
                        crate::AuthError::Internal => {}
                    }
                }
                return Err(e.into_scim_error(request_id));
            }
        };
        Ok(principal)
    }

    /// Takes a request of `principal` from its rate limit, if there is one.
    fn check_rate_limit(&self, principal: &Principal) -> Result<(), ScimError> {
        let Some(limiter) = &self.inner.limiter else {
            return Ok(());
        };
        let checked = limiter.check(principal, std::time::Instant::now());
        #[cfg(feature = "metrics")]
        if let (Some(meter), Err(_)) = (self.meter(), &checked) {
            meter.rate_limited(&principal.tenant);
        }
        checked
    }

    /// The meter, when the server records metrics.
    #[cfg(feature = "metrics")]
    fn meter(&self) -> Option<&crate::metrics::Meter> {
        self.inner.meter.as_ref()
    }

    /// An authenticated, routed request: parse → execute → render.
    async fn serve<B: AsRef<[u8]>>(
        &self,
        route: Route<'_>,
        req: &Request<B>,
        ctx: &RequestContext,
    ) -> Result<Response<Vec<u8>>, ScimError> {
        let op = parse::parse(route, req, &self.inner.config, &self.inner.schemas)?;
        let base = self.base_url(req);
        let outcome = self.execute(op, ctx, &base).await?;
        Ok(render::render(outcome, &base, &self.inner.schemas))
    }

    /// Routes and parses `req` as [`handle`](Self::handle) does, without authenticating
    /// it or reaching the store, and describes the operation it asks for (its `Debug`
    /// form). For the fuzz target `parse_operation`; not part of the stable API.
    #[doc(hidden)]
    pub fn parse_operation<B: AsRef<[u8]>>(&self, req: &Request<B>) -> Result<String, ScimError> {
        let route = route::route(&self.inner.config.base_path, req.method(), req.uri().path())?;
        let op = parse::parse(route, req, &self.inner.config, &self.inner.schemas)?;
        Ok(format!("{op:?}"))
    }

    /// The absolute URL of the SCIM API for this request: the configured one, else built
    /// from `Host` (and `X-Forwarded-Proto`) and the base path.
    fn base_url<B>(&self, req: &Request<B>) -> Cow<'_, str> {
        let config = &self.inner.config;
        if let Some(url) = &config.base_url {
            return Cow::Borrowed(url);
        }
        let header =
            |name: &http::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
        let host =
            header(&http::header::HOST).or_else(|| req.uri().authority().map(|a| a.as_str()));
        let valid_host = host.filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        });
        let Some(host) = valid_host else {
            return Cow::Borrowed(&config.base_path);
        };
        let scheme = match header(&X_FORWARDED_PROTO) {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            Some(_) => "http",
            None => req.uri().scheme_str().unwrap_or("http"),
        };
        let mut url = String::with_capacity(scheme.len() + 3 + host.len() + config.base_path.len());
        url.push_str(scheme);
        url.push_str("://");
        url.push_str(host);
        url.push_str(&config.base_path);
        Cow::Owned(url)
    }
}

/// What the log line of a request's outcome names: enough to find a failed push an admin
/// reports (by request id, tenant or key) without a span subscriber.
struct Outcome<'a> {
    status: u16,
    request_id: &'a str,
    tenant: &'a str,
    key_id: &'a str,
    operation: &'static str,
}

impl Outcome<'_> {
    /// One event: a 5xx at ERROR, a 4xx at `client_errors`, others at DEBUG.
    fn log(&self, client_errors: tracing::Level) {
        use tracing::Level;
        let Outcome {
            status,
            request_id,
            tenant,
            key_id,
            operation,
        } = *self;
        macro_rules! event {
            ($level:expr, $message:literal) => {
                tracing::event!(
                    $level, status, request_id, tenant, key_id, operation, $message
                )
            };
        }
        if status >= 500 {
            event!(Level::ERROR, "scim request failed");
        } else if status >= 400 {
            match client_errors {
                Level::ERROR => event!(Level::ERROR, "scim request refused"),
                Level::WARN => event!(Level::WARN, "scim request refused"),
                Level::INFO => event!(Level::INFO, "scim request refused"),
                Level::DEBUG => event!(Level::DEBUG, "scim request refused"),
                Level::TRACE => event!(Level::TRACE, "scim request refused"),
            }
        } else {
            event!(Level::DEBUG, "scim request");
        }
    }
}

/// [`ScimServer::handle`] with a panic caught: it then ends only its request, as a SCIM
/// 500 naming `request_id` (the request's `X-Request-Id`, set by the caller). For the
/// framework integrations.
#[cfg(any(feature = "tower", feature = "actix"))]
impl ScimServer {
    pub(crate) async fn handle_caught<B: AsRef<[u8]>>(
        &self,
        req: Request<B>,
        request_id: &str,
    ) -> Response<Vec<u8>> {
        // A panic skips `handle`'s own recording: its operation and start are kept here.
        #[cfg(feature = "metrics")]
        let metered = self.meter().map(|_| {
            let route = route::route(&self.inner.config.base_path, req.method(), req.uri().path());
            let operation = route.as_ref().map_or("unrouted", Route::operation);
            (operation, std::time::Instant::now())
        });
        // Caught while polled (not in a task of its own: no spawn, wake-up and join per
        // request), pinned in place.
        let mut handling = std::pin::pin!(self.handle(req));
        let outcome = std::future::poll_fn(move |cx| {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                handling.as_mut().poll(cx)
            })) {
                Ok(poll) => poll.map(Ok),
                Err(panic) => std::task::Poll::Ready(Err(panic)),
            }
        })
        .await;
        outcome.unwrap_or_else(|_| {
            tracing::error!(request_id, "a SCIM request panicked; answered 500");
            #[cfg(feature = "metrics")]
            if let (Some(meter), Some((operation, started))) = (self.meter(), metered) {
                meter.panicked(operation);
                meter.request(operation, 500, None, started.elapsed());
            }
            let mut response = ScimError::Internal {
                request_id: request_id.to_owned(),
            }
            .to_response();
            if let Ok(v) = HeaderValue::try_from(request_id) {
                response.headers_mut().insert(X_REQUEST_ID, v);
            }
            response
        })
    }
}

/// Header names looked up on every request, made once (a name given as `&str` is parsed
/// at each lookup).
pub(crate) const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");
const X_FORWARDED_PROTO: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");

/// The request id: the client's `X-Request-Id` when it is short and printable, else a
/// new one: a random per-process prefix (so ids from replicas do not collide) and a
/// counter, which costs no system call per request.
pub(crate) fn request_id(headers: &http::HeaderMap) -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    if let Some(id) = headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
    {
        return id.to_owned();
    }
    let prefix = PREFIX.get_or_init(|| {
        let mut p = uuid::Uuid::new_v4().simple().to_string();
        p.truncate(12);
        p
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Written exactly to length, so that it becomes a header value without copying.
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(n);
    let mut id = String::with_capacity(prefix.len() + 1 + digits.len());
    id.push_str(prefix);
    id.push('-');
    id.push_str(digits);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_redacts_the_cursor_key() {
        let key = [0xab; 32];
        let server = ScimServer::builder()
            .store(crate::MemoryUserStore::new())
            .authenticator(crate::StaticKeyAuthenticator::new())
            .cursor_key(key)
            .build()
            .unwrap();
        for shown in [format!("{:?}", server.config()), format!("{server:?}")] {
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(!shown.contains("171"), "{shown}"); // 0xab in decimal
            assert!(!shown.to_ascii_lowercase().contains("abab"), "{shown}");
            assert!(shown.contains("max_page_size"), "{shown}");
        }
    }

    #[test]
    fn builder_requires_store_and_authenticator() {
        assert_eq!(
            ScimServer::builder().build().unwrap_err(),
            BuildError::MissingStore
        );
        let e = ScimServer::builder()
            .store(crate::MemoryUserStore::new())
            .build()
            .unwrap_err();
        assert_eq!(e, BuildError::MissingAuthenticator);
    }
}
