//! Metrics (feature `metrics`, issue 22): what a server records through the `metrics`
//! facade, read back from a local `DebuggingRecorder` after real requests through
//! `ScimServer::handle`.
//!
//! The behaviour these tests pin down:
//!
//! - a server records nothing unless its builder turns metrics on;
//! - every answered request is counted by operation and status, and timed by operation;
//! - authentication refusals are counted by reason (missing, malformed, invalid key,
//!   forbidden), and no label carries a token;
//! - rate-limit refusals and store failures (user store, credentials) are counted, and a
//!   request whose handling panicked (answered 500 by the tower service) is counted too;
//! - the tenant label is off by default, and when on, capped: the first tenants seen keep
//!   their id, later ones are `other`.
#![cfg(all(feature = "testing", feature = "metrics"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use scimkit::keys::{ApiKeys, MemoryApiKeyStore, MemoryTenantStore, Tenants};
use scimkit::metrics::{
    AUTH_REFUSALS_TOTAL, PANICS_TOTAL, RATE_LIMITED_TOTAL, REQUEST_DURATION_SECONDS,
    REQUESTS_TOTAL, STORE_ERRORS_TOTAL,
};
use scimkit::testing::faults::{Fault, FaultyStore, Op};
use scimkit::{
    AuthError, Authenticator, MemoryUserStore, Principal, RateLimit, ScimServer, ScimServerBuilder,
    StaticKeyAuthenticator,
};

const ACME: &str = "key-acme";
const GLOBEX: &str = "key-globex";
const INITECH: &str = "key-initech";
/// A token whose authenticator cannot check it (its key store fails).
const UNCHECKABLE: &str = "key-uncheckable";

/// Keys of three tenants, and one the authenticator cannot check.
struct TestKeys(StaticKeyAuthenticator);

#[scimkit::async_trait]
impl Authenticator for TestKeys {
    async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if token == UNCHECKABLE {
            return Err(AuthError::Internal);
        }
        self.0.authenticate(token).await
    }
}

fn builder(store: Arc<FaultyStore<MemoryUserStore>>) -> ScimServerBuilder {
    ScimServer::builder()
        .shared_store(store)
        .authenticator(TestKeys(
            StaticKeyAuthenticator::new()
                .with_key(ACME, Principal::new("acme", "k-acme"))
                .with_key(GLOBEX, Principal::new("globex", "k-globex"))
                .with_key(INITECH, Principal::new("initech", "k-initech")),
        ))
}

fn store() -> Arc<FaultyStore<MemoryUserStore>> {
    Arc::new(FaultyStore::new(MemoryUserStore::new()))
}

/// One request: method, path, `Authorization` header (if any), body.
struct Req<'a>(&'a str, &'a str, Option<&'a str>, &'a str);

fn bearer(key: &str) -> Option<String> {
    Some(format!("Bearer {key}"))
}

/// A metric's labels, sorted by key.
type Labels = Vec<(String, String)>;

/// What a recorder received: (name, labels, value).
struct Recorded(Vec<(String, Labels, DebugValue)>);

impl Recorded {
    /// The counter `name` with exactly `labels`, 0 if it was never incremented.
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.find(name, labels) {
            Some(DebugValue::Counter(n)) => *n,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
            None => 0,
        }
    }

    /// How many values the histogram `name` with exactly `labels` received.
    fn histogram_count(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        match self.find(name, labels) {
            Some(DebugValue::Histogram(values)) => values.len(),
            Some(other) => panic!("{name} is not a histogram: {other:?}"),
            None => 0,
        }
    }

    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
        let mut wanted: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        wanted.sort();
        self.0
            .iter()
            .find(|(n, l, _)| n == name && *l == wanted)
            .map(|(_, _, v)| v)
    }

    /// Every label value of every metric named `name`, for `key`.
    fn label_values(&self, name: &str, key: &str) -> Vec<&str> {
        let mut values: Vec<&str> = self
            .0
            .iter()
            .filter(|(n, _, _)| n == name)
            .flat_map(|(_, l, _)| l.iter().filter(|(k, _)| k == key))
            .map(|(_, v)| v.as_str())
            .collect();
        values.sort_unstable();
        values.dedup();
        values
    }
}

/// Builds the server from `builder` and sends `requests` under a recorder of this thread
/// only; returns the statuses and what was recorded.
fn run(builder: ScimServerBuilder, requests: &[Req<'_>]) -> (Vec<u16>, Recorded) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let statuses = metrics::with_local_recorder(&recorder, || {
        let server = builder.build().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        requests
            .iter()
            .map(|Req(method, path, auth, body)| {
                let mut req = http::Request::builder()
                    .method(*method)
                    .uri(*path)
                    .header("Content-Type", "application/scim+json");
                if let Some(auth) = auth {
                    req = req.header("Authorization", *auth);
                }
                let req = req.body(body.as_bytes().to_vec()).unwrap();
                rt.block_on(server.handle(req)).status().as_u16()
            })
            .collect()
    });
    (statuses, recorded(&snapshotter))
}

/// What `snapshotter`'s recorder received since the last snapshot.
fn recorded(snapshotter: &Snapshotter) -> Recorded {
    let recorded = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (name, labels) = key.key().clone().into_parts();
            let mut labels: Labels = labels
                .into_iter()
                .map(|l| {
                    let (k, v) = l.into_parts();
                    (k.to_string(), v.to_string())
                })
                .collect();
            labels.sort();
            (name.as_str().to_owned(), labels, value)
        })
        .collect();
    Recorded(recorded)
}

const BJENSEN: &str =
    r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen"}"#;

#[test]
fn a_server_records_nothing_unless_its_builder_turns_metrics_on() {
    let acme = bearer(ACME);
    let (statuses, recorded) = run(
        builder(store()),
        &[Req("GET", "/scim/v2/Users", acme.as_deref(), "")],
    );
    assert_eq!(statuses, [200]);
    assert!(recorded.0.is_empty(), "{:?}", recorded.0.len());
}

#[test]
fn requests_are_counted_by_operation_and_status_and_timed_by_operation() {
    let acme = bearer(ACME);
    let acme = acme.as_deref();
    let (statuses, recorded) = run(
        builder(store()).metrics(true),
        &[
            Req("POST", "/scim/v2/Users", acme, BJENSEN),
            Req(
                "GET",
                "/scim/v2/Users?filter=userName%20eq%20%22bjensen%22",
                acme,
                "",
            ),
            Req("GET", "/scim/v2/Users/no-such-user", acme, ""),
            Req("GET", "/scim/v2/Users/no-such-user", acme, ""),
            Req("GET", "/scim/v2/Nothing", acme, ""),
        ],
    );
    assert_eq!(statuses, [201, 200, 404, 404, 404]);
    let count = |operation, status| {
        recorded.counter(
            REQUESTS_TOTAL,
            &[("operation", operation), ("status", status)],
        )
    };
    assert_eq!(count("create_user", "201"), 1);
    assert_eq!(count("list_users", "200"), 1);
    assert_eq!(count("get_user", "404"), 2);
    assert_eq!(count("unrouted", "404"), 1);
    let timed =
        |operation| recorded.histogram_count(REQUEST_DURATION_SECONDS, &[("operation", operation)]);
    assert_eq!(
        (timed("create_user"), timed("list_users"), timed("get_user")),
        (1, 1, 2)
    );
    // No tenant label unless asked for.
    assert!(recorded.label_values(REQUESTS_TOTAL, "tenant").is_empty());
}

#[test]
fn authentication_refusals_are_counted_by_reason_and_no_label_carries_the_token() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Real API keys: one revoked, one of a tenant whose SCIM is switched off.
    let (keys, revoked, switched_off) = rt.block_on(async {
        let tenants = Tenants::new(MemoryTenantStore::new());
        for tenant in ["acme", "globex"] {
            tenants.set_scim_entitled(tenant, true).await.unwrap();
            tenants.set_scim_enabled(tenant, true).await.unwrap();
        }
        let keys = ApiKeys::new(MemoryApiKeyStore::new(), tenants.clone());
        let revoked = keys.create("acme", "old", None).await.unwrap();
        keys.revoke("acme", &revoked.info.id).await.unwrap();
        let off = keys.create("globex", "Okta", None).await.unwrap();
        tenants.set_scim_enabled("globex", false).await.unwrap();
        (
            keys,
            revoked.secret.expose().to_owned(),
            off.secret.expose().to_owned(),
        )
    });
    let revoked_header = bearer(&revoked);
    let off_header = bearer(&switched_off);
    let (statuses, recorded) = run(
        ScimServer::builder()
            .store(MemoryUserStore::new())
            .authenticator(keys)
            .metrics(true)
            .metrics_tenant_labels(10),
        &[
            Req("GET", "/scim/v2/Users", None, ""),
            Req("GET", "/scim/v2/Users", Some("Basic dXNlcjpwYXNz"), ""),
            Req("GET", "/scim/v2/Users", Some("Bearer not-a-key-at-all"), ""),
            Req("GET", "/scim/v2/Users", revoked_header.as_deref(), ""),
            Req("GET", "/scim/v2/Users", off_header.as_deref(), ""),
        ],
    );
    assert_eq!(statuses, [401, 401, 401, 401, 403]);
    let refused = |reason| recorded.counter(AUTH_REFUSALS_TOTAL, &[("reason", reason)]);
    assert_eq!(
        (
            refused("missing"),
            refused("malformed"),
            refused("invalid_key"),
            refused("forbidden")
        ),
        (1, 1, 2, 1)
    );
    // Every refused request is also an answered one, without a tenant.
    let answered = |status| {
        recorded.counter(
            REQUESTS_TOTAL,
            &[
                ("operation", "list_users"),
                ("status", status),
                ("tenant", ""),
            ],
        )
    };
    assert_eq!((answered("401"), answered("403")), (4, 1));
    for (_, labels, _) in &recorded.0 {
        for (_, value) in labels {
            for secret in ["dXNlcjpwYXNz", "not-a-key-at-all", &revoked, &switched_off] {
                assert!(!value.contains(secret), "a label carries a token: {value}");
            }
        }
    }
}

#[test]
fn rate_limit_refusals_are_counted() {
    let acme = bearer(ACME);
    let (statuses, recorded) = run(
        builder(store())
            .rate_limit(RateLimit::new(0.001, 1))
            .metrics(true),
        &[
            Req("GET", "/scim/v2/Users", acme.as_deref(), ""),
            Req("GET", "/scim/v2/Users", acme.as_deref(), ""),
            Req("GET", "/scim/v2/Users", acme.as_deref(), ""),
        ],
    );
    assert_eq!(statuses, [200, 429, 429]);
    assert_eq!(recorded.counter(RATE_LIMITED_TOTAL, &[]), 2);
    let answered = |status| {
        recorded.counter(
            REQUESTS_TOTAL,
            &[("operation", "list_users"), ("status", status)],
        )
    };
    assert_eq!((answered("200"), answered("429")), (1, 2));
}

#[test]
fn store_failures_are_counted_by_operation_and_store() {
    let users = store();
    users.always(Op::List, Fault::Fail);
    users.once(Op::Create, Fault::FailAfter);
    let acme = bearer(ACME);
    let uncheckable = bearer(UNCHECKABLE);
    let (statuses, recorded) = run(
        builder(users).metrics(true),
        &[
            Req("GET", "/scim/v2/Users", acme.as_deref(), ""),
            Req("POST", "/scim/v2/Users", acme.as_deref(), BJENSEN),
            Req("GET", "/scim/v2/Users/some-id", acme.as_deref(), ""),
            Req("GET", "/scim/v2/Users", uncheckable.as_deref(), ""),
        ],
    );
    assert_eq!(statuses, [500, 500, 404, 500]);
    let failed = |operation, store| {
        recorded.counter(
            STORE_ERRORS_TOTAL,
            &[("operation", operation), ("store", store)],
        )
    };
    assert_eq!(failed("list_users", "users"), 1);
    assert_eq!(failed("create_user", "users"), 1);
    // A 404 is an answer of the store, not a failure.
    assert_eq!(failed("get_user", "users"), 0);
    assert_eq!(failed("list_users", "credentials"), 1);
    // Not an authentication refusal: the key could not be checked.
    assert!(
        recorded
            .label_values(AUTH_REFUSALS_TOTAL, "reason")
            .is_empty()
    );
}

#[test]
fn tenant_labels_are_capped_and_tenants_beyond_the_cap_are_other() {
    let [acme, globex, initech] = [ACME, GLOBEX, INITECH].map(bearer);
    let users = store();
    users.always(Op::Get, Fault::Fail);
    let (statuses, recorded) = run(
        builder(users)
            .metrics(true)
            .metrics_tenant_labels(2)
            .rate_limit(RateLimit::new(0.001, 2)),
        &[
            Req("GET", "/scim/v2/Users", globex.as_deref(), ""),
            Req("GET", "/scim/v2/Users", acme.as_deref(), ""),
            Req("GET", "/scim/v2/Users", initech.as_deref(), ""),
            Req("GET", "/scim/v2/Users", initech.as_deref(), ""),
            Req("GET", "/scim/v2/Users", initech.as_deref(), ""),
            Req("GET", "/scim/v2/Users/some-id", globex.as_deref(), ""),
            Req("GET", "/scim/v2/Users", None, ""),
        ],
    );
    assert_eq!(statuses, [200, 200, 200, 200, 429, 500, 401]);
    let answered = |status, tenant| {
        recorded.counter(
            REQUESTS_TOTAL,
            &[
                ("operation", "list_users"),
                ("status", status),
                ("tenant", tenant),
            ],
        )
    };
    // The first two tenants seen keep their id; the third is folded into `other`.
    assert_eq!(answered("200", "globex"), 1);
    assert_eq!(answered("200", "acme"), 1);
    assert_eq!(answered("200", "other"), 2);
    assert_eq!(answered("429", "other"), 1);
    assert_eq!(answered("401", ""), 1);
    assert_eq!(
        recorded.label_values(REQUESTS_TOTAL, "tenant"),
        ["", "acme", "globex", "other"]
    );
    assert_eq!(
        recorded.counter(RATE_LIMITED_TOTAL, &[("tenant", "other")]),
        1
    );
    assert_eq!(
        recorded.counter(
            STORE_ERRORS_TOTAL,
            &[
                ("operation", "get_user"),
                ("store", "users"),
                ("tenant", "globex")
            ]
        ),
        1
    );
    // The latency histogram never carries the tenant.
    assert!(
        recorded
            .label_values(REQUEST_DURATION_SECONDS, "tenant")
            .is_empty()
    );
}

#[cfg(feature = "tower")]
#[test]
fn a_request_that_panicked_is_counted_as_a_500_and_a_panic() {
    let users = store();
    users.once(Op::Create, Fault::Panic);
    let service = builder(users).metrics(true).build().unwrap().into_service();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let statuses: Vec<u16> = metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        (0..2)
            .map(|_| {
                let req = http::Request::post("/scim/v2/Users")
                    .header("Authorization", format!("Bearer {ACME}"))
                    .header("Content-Type", "application/scim+json")
                    .body(axum::body::Body::from(BJENSEN))
                    .unwrap();
                rt.block_on(service.serve(req)).status().as_u16()
            })
            .collect()
    });
    assert_eq!(statuses, [500, 201]);
    let recorded = recorded(&snapshotter);
    assert_eq!(
        recorded.counter(PANICS_TOTAL, &[("operation", "create_user")]),
        1
    );
    let answered = |status| {
        recorded.counter(
            REQUESTS_TOTAL,
            &[("operation", "create_user"), ("status", status)],
        )
    };
    assert_eq!((answered("500"), answered("201")), (1, 1));
    // A panic is not a store failure.
    assert!(
        recorded
            .label_values(STORE_ERRORS_TOTAL, "store")
            .is_empty()
    );
}
