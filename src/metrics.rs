//! Metrics (feature `metrics`): what a [`ScimServer`](crate::ScimServer) records through
//! the [`metrics`](https://docs.rs/metrics/0.24) facade, for the exporter the host installs
//! (Prometheus, StatsD, OpenTelemetry, ... : any `metrics` recorder).
//!
//! Off by default, twice: without the feature no metrics code is compiled; with it, a
//! server records only when its builder turns it on
//! ([`ScimServerBuilder::metrics`](crate::ScimServerBuilder::metrics)); off, a request
//! costs it one test of an `Option` at each place it would record. A server with metrics
//! on but no recorder installed records into the facade's no-op recorder: per request, a
//! clock read and the building of two or three metric keys.
//!
//! ```
//! use scimkit::{MemoryUserStore, Principal, ScimServer, StaticKeyAuthenticator};
//!
//! // Install the recorder first (e.g. metrics_exporter_prometheus::PrometheusBuilder::
//! // install_recorder): the descriptions (`# HELP`) are given to it when the server is built.
//! let server = ScimServer::builder()
//!     .store(MemoryUserStore::new())
//!     .authenticator(StaticKeyAuthenticator::new().with_key("s3cret", Principal::new("acme", "k1")))
//!     .metrics(true)
//!     // The first 100 tenants seen get a `tenant` label of their own; the others, "other".
//!     .metrics_tenant_labels(100)
//!     .build()
//!     .unwrap();
//! assert!(server.config().metrics());
//! ```
//!
//! # The metrics
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `scimkit_requests_total` | counter | `operation`, `status` (+ `tenant`) | requests answered, by operation and HTTP status |
//! | `scimkit_request_duration_seconds` | histogram | `operation` | time from receiving a request to its response, in seconds |
//! | `scimkit_auth_refusals_total` | counter | `reason` | requests refused by authentication (401, 403) |
//! | `scimkit_rate_limited_total` | counter | (`tenant`) | requests refused by the rate limit (429) |
//! | `scimkit_store_errors_total` | counter | `operation`, `store` (+ `tenant`) | store failures (answered 500) |
//! | `scimkit_panics_total` | counter | `operation` | requests whose handling panicked, answered 500 by the `tower` or `actix` integration |
//!
//! Label values:
//!
//! - `operation`: `list_users`, `search_users`, `search` (`POST /.search`), `get_user`, `create_user`,
//!   `replace_user`, `patch_user`, `delete_user`, `list_groups`, `search_groups`,
//!   `create_group`, `get_group`, `replace_group`, `patch_group`, `delete_group`, `service_provider_config`, `resource_types`, `schemas`,
//!   `not_implemented`, or `unrouted` for a path that is no SCIM endpoint (the same names
//!   as the `operation` of the request's `scim_request` span);
//! - `status`: the HTTP status code (`200`, `201`, `404`, ...);
//! - `reason`: `missing` (no `Authorization` header), `malformed` (not one bearer
//!   token), `invalid_key` (the authenticator knows no live key for it: unknown, revoked
//!   or expired), `forbidden` (a valid key whose tenant has SCIM switched off). No label
//!   ever carries a token, a secret, a hash or a key id;
//! - `store`: `users` (the [`UserStore`](crate::UserStore)) or `credentials` (the
//!   [`Authenticator`](crate::Authenticator) could not check a key: its key or tenant
//!   store failed);
//! - `tenant`, only with [`metrics_tenant_labels`](crate::ScimServerBuilder::metrics_tenant_labels):
//!   the tenant of the API key; [`OTHER_TENANTS`] for tenants beyond the cap; the empty
//!   string for a request that was not authenticated (or whose handling panicked: its
//!   tenant is not known to the integration that answered it).
//!
//! # Bounded labels
//!
//! Every label but `tenant` takes a fixed, small set of values. The tenant label is off
//! unless the host asks for it, with a cap: a server labels the first `n` distinct tenants
//! it sees with their own id and folds all later ones into [`OTHER_TENANTS`], so a
//! deployment with thousands of tenants still exports at most `n + 2` series per
//! operation and status. The tenants it labels are remembered for the life of the server
//! (`n` ids at most).
//!
//! # Exporting
//!
//! The example server (`examples/server/`) installs `metrics-exporter-prometheus` and
//! serves the text format at `/metrics` with `--metrics` (on its main listener) or
//! `--metrics-listen ADDR` (on an address of its own, e.g. one only the monitoring
//! network reaches). For histograms rather than summaries, give the exporter buckets,
//! e.g. `PrometheusBuilder::new().set_buckets_for_metric(Matcher::Full(
//! REQUEST_DURATION_SECONDS.into()), &[0.001, 0.005, 0.025, 0.1, 0.5, 2.5])`.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use ::metrics::{SharedString, counter, describe_counter, describe_histogram, histogram};

/// Counter: requests answered, by `operation` and `status` (and `tenant` when on).
pub const REQUESTS_TOTAL: &str = "scimkit_requests_total";
/// Histogram: seconds from receiving a request to its response, by `operation`.
pub const REQUEST_DURATION_SECONDS: &str = "scimkit_request_duration_seconds";
/// Counter: requests refused by authentication, by `reason`.
pub const AUTH_REFUSALS_TOTAL: &str = "scimkit_auth_refusals_total";
/// Counter: requests refused by the rate limit (and by `tenant` when on).
pub const RATE_LIMITED_TOTAL: &str = "scimkit_rate_limited_total";
/// Counter: store failures, by `operation` and `store` (and `tenant` when on).
pub const STORE_ERRORS_TOTAL: &str = "scimkit_store_errors_total";
/// Counter: requests whose handling panicked (answered 500 by an integration), by
/// `operation`.
pub const PANICS_TOTAL: &str = "scimkit_panics_total";
/// The `tenant` label of the tenants beyond the cap of
/// [`metrics_tenant_labels`](crate::ScimServerBuilder::metrics_tenant_labels).
pub const OTHER_TENANTS: &str = "other";

/// Why authentication refused a request: the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthRefusal {
    /// No `Authorization` header.
    Missing,
    /// Not exactly one bearer token.
    Malformed,
    /// The authenticator knows no live key for the token.
    InvalidKey,
    /// A valid key whose tenant may not use SCIM (403).
    Forbidden,
}

impl AuthRefusal {
    fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::InvalidKey => "invalid_key",
            Self::Forbidden => "forbidden",
        }
    }
}

/// Which store failed: the `store` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailedStore {
    /// The user store.
    Users,
    /// The authenticator's key or tenant store.
    Credentials,
}

impl FailedStore {
    fn as_str(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Credentials => "credentials",
        }
    }
}

/// What a server with metrics on records with: the tenant labels it hands out. One per
/// server (no process-wide state: two servers count their tenants apart).
#[derive(Debug)]
pub(crate) struct Meter {
    tenants: Option<TenantLabels>,
}

impl Meter {
    /// A meter labelling at most `max_tenants` tenants (none: no tenant label). Describes
    /// the metrics to the recorder installed now.
    pub(crate) fn new(max_tenants: usize) -> Self {
        describe_counter!(
            REQUESTS_TOTAL,
            "SCIM requests answered, by operation and HTTP status"
        );
        describe_histogram!(
            REQUEST_DURATION_SECONDS,
            ::metrics::Unit::Seconds,
            "Time from receiving a SCIM request to its response"
        );
        describe_counter!(
            AUTH_REFUSALS_TOTAL,
            "SCIM requests refused by authentication, by reason"
        );
        describe_counter!(
            RATE_LIMITED_TOTAL,
            "SCIM requests refused by the per-key rate limit"
        );
        describe_counter!(
            STORE_ERRORS_TOTAL,
            "Store failures answered with a 500, by operation and store"
        );
        describe_counter!(
            PANICS_TOTAL,
            "SCIM requests whose handling panicked, answered with a 500"
        );
        Self {
            tenants: (max_tenants > 0).then(|| TenantLabels::new(max_tenants)),
        }
    }

    /// One answered request: its count and its latency.
    pub(crate) fn request(
        &self,
        operation: &'static str,
        status: u16,
        tenant: Option<&Arc<str>>,
        elapsed: std::time::Duration,
    ) {
        let status = status_label(status);
        match self.tenant_label(tenant) {
            Some(tenant) => counter!(REQUESTS_TOTAL, "operation" => operation, "status" => status, "tenant" => tenant),
            None => counter!(REQUESTS_TOTAL, "operation" => operation, "status" => status),
        }
        .increment(1);
        histogram!(REQUEST_DURATION_SECONDS, "operation" => operation)
            .record(elapsed.as_secs_f64());
    }

    /// A request refused by authentication.
    pub(crate) fn auth_refused(&self, reason: AuthRefusal) {
        counter!(AUTH_REFUSALS_TOTAL, "reason" => reason.as_str()).increment(1);
    }

    /// A request refused by the rate limit.
    pub(crate) fn rate_limited(&self, tenant: &Arc<str>) {
        match self.tenant_label(Some(tenant)) {
            Some(tenant) => counter!(RATE_LIMITED_TOTAL, "tenant" => tenant),
            None => counter!(RATE_LIMITED_TOTAL),
        }
        .increment(1);
    }

    /// A store failure during `operation`.
    pub(crate) fn store_error(
        &self,
        operation: &'static str,
        store: FailedStore,
        tenant: Option<&Arc<str>>,
    ) {
        let store = store.as_str();
        match self.tenant_label(tenant) {
            Some(tenant) => counter!(STORE_ERRORS_TOTAL, "operation" => operation, "store" => store, "tenant" => tenant),
            None => counter!(STORE_ERRORS_TOTAL, "operation" => operation, "store" => store),
        }
        .increment(1);
    }

    /// A request whose handling panicked during `operation`.
    #[cfg(any(feature = "tower", feature = "actix"))]
    pub(crate) fn panicked(&self, operation: &'static str) {
        counter!(PANICS_TOTAL, "operation" => operation).increment(1);
    }

    /// The `tenant` label for `tenant` (`None`: not authenticated), if tenant labels are on.
    fn tenant_label(&self, tenant: Option<&Arc<str>>) -> Option<SharedString> {
        let labels = self.tenants.as_ref()?;
        Some(match tenant {
            None => SharedString::const_str(""),
            Some(tenant) => labels.label(tenant),
        })
    }
}

/// The tenants that have a label of their own: the first `max` seen.
#[derive(Debug)]
struct TenantLabels {
    max: usize,
    seen: RwLock<HashSet<Arc<str>>>,
}

impl TenantLabels {
    fn new(max: usize) -> Self {
        Self {
            max,
            seen: RwLock::new(HashSet::new()),
        }
    }

    /// `tenant`'s own id while fewer than `max` tenants have one, else [`OTHER_TENANTS`].
    fn label(&self, tenant: &Arc<str>) -> SharedString {
        let own = || SharedString::from_shared(Arc::clone(tenant));
        {
            let seen = self.seen.read().unwrap_or_else(|e| e.into_inner());
            if seen.contains(tenant) {
                return own();
            }
            if seen.len() >= self.max {
                return SharedString::const_str(OTHER_TENANTS);
            }
        }
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        if seen.contains(tenant) || seen.len() < self.max {
            seen.insert(Arc::clone(tenant));
            own()
        } else {
            SharedString::const_str(OTHER_TENANTS)
        }
    }
}

/// The `status` label: the code as text, without allocating for the codes scimkit answers.
fn status_label(status: u16) -> SharedString {
    let known = match status {
        200 => "200",
        201 => "201",
        204 => "204",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        406 => "406",
        409 => "409",
        412 => "412",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        501 => "501",
        503 => "503",
        other => return SharedString::from(other.to_string()),
    };
    SharedString::const_str(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    #[test]
    fn the_first_tenants_up_to_the_cap_keep_their_label_and_later_ones_are_other() {
        let labels = TenantLabels::new(2);
        assert_eq!(&*labels.label(&tenant("acme")), "acme");
        assert_eq!(&*labels.label(&tenant("globex")), "globex");
        assert_eq!(&*labels.label(&tenant("initech")), OTHER_TENANTS);
        // The labelled ones keep their label after the cap is reached.
        assert_eq!(&*labels.label(&tenant("acme")), "acme");
        assert_eq!(&*labels.label(&tenant("initech")), OTHER_TENANTS);
        assert_eq!(labels.seen.read().unwrap().len(), 2);
    }

    #[test]
    fn status_labels_are_the_code_as_text() {
        for code in [200, 201, 204, 404, 429, 500, 503, 418, 599] {
            assert_eq!(&*status_label(code), code.to_string());
        }
    }
}
