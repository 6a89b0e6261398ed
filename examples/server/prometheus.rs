//! Metrics in the Prometheus text format at `/metrics` (`--metrics`, or
//! `--metrics-listen ADDR` for an address of their own): scimkit records them through the
//! `metrics` facade (feature `metrics`), `metrics-exporter-prometheus` keeps and renders
//! them.

use std::time::Duration;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use scimkit::metrics::REQUEST_DURATION_SECONDS;

use crate::BoxError;

/// The latency buckets, in seconds: a cached read takes well under a millisecond, a
/// write to a database a few; a request past a second is one to look at.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How often the exporter folds recorded latencies into its histograms between scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// The media type of the Prometheus text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Installs the process's Prometheus recorder (before the SCIM server is built, which
/// describes its metrics to it) and keeps it tidy in the background.
pub(crate) fn install() -> Result<PrometheusHandle, BoxError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(REQUEST_DURATION_SECONDS.into()),
            LATENCY_BUCKETS,
        )?
        .install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(UPKEEP).await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// `GET /metrics`: everything recorded, in the Prometheus text format.
pub(crate) fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let text = handle.render();
            async move { ([(CONTENT_TYPE, TEXT_FORMAT)], text) }
        }),
    )
}
