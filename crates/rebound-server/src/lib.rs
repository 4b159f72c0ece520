//! # rebound-server
//!
//! The HTTP shell and the inbox workers. Handlers are thin: they authenticate, hand raw
//! bytes to a provider adapter from `rebound-core`, and persist through the
//! `rebound_store::Store` trait. No business rule lives here.
//!
//! # Layout
//! - [`state`]: `AppState` (store, source cache, live policy, config) and the source cache
//!   that maps URL keys to sources without timing leaks.
//! - [`error`]: `ApiError`, every error answered as JSON `{"error": "..."}`.
//! - [`ingest`]: `POST /webhooks/{provider}/{key}` and `POST /webhooks/bounce`: key check
//!   (403), body limit (413), signature (401), shape (400), durable inbox write, then 2xx.
//! - [`auth`]: the client's address (through trusted proxies only), the admin token
//!   check and its failed-attempt limiter.
//! - [`api`]: the admin JSON API under `/api/v1` (bearer token), one module per resource.
//! - [`erasure`]: privacy requests: a contact erased, its address kept only as a keyed hash
//!   that stays suppressed.
//! - [`export`]: the contacts CSV (columns, streamed pages) of the CLI and the API.
//! - [`sources`]: creating a source (validation, generated keys and secrets) and showing
//!   it (its webhook URL): one code path for the API and the CLI.
//! - [`rejections`]: rejected webhook requests counted per minute and sampled, so a flood
//!   of forged requests costs bounded space.
//! - [`retention`]: old request-log rows and rejection counts pruned in small batches.
//! - [`sns`]: SNS certificates (validated URL, local dir, guarded fetch, cache) and
//!   subscription confirmation.
//! - [`worker`]: claims inbox rows, normalizes them, applies the policy through the store.
//! - [`metrics`]: `GET /metrics` (admin token), the Prometheus text format: the
//!   process-wide recorder, the metric names, the inbox gauges read at scrape time.
//! - [`listener`]: the accept loop: header, body and idle timeouts, connection cap, backing
//!   off on fd exhaustion, graceful shutdown.
//!
//! [`router`] builds the whole application; tests can drive it without a socket.

pub mod api;
pub mod auth;
pub mod erasure;
pub mod error;
pub mod export;
pub mod ingest;
pub mod listener;
pub mod mailbox;
pub mod metrics;
pub mod rejections;
pub mod retention;
pub mod sns;
pub mod sources;
pub mod state;
pub mod worker;

use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

pub use state::{AppState, ServerConfig};

/// The application: webhooks, API, metrics and health routes. Installs the process-wide
/// metrics recorder the first time (see [`metrics::handle`]).
pub fn router(state: AppState) -> Router {
    metrics::handle();
    Router::new()
        .route("/webhooks/bounce", post(ingest::listmonk_bounce))
        .route(
            "/webhooks/{provider}/{key}",
            post(ingest::webhook)
                .head(ingest::probe)
                .get(ingest::get_probe),
        )
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route(
            "/metrics",
            get(metrics::scrape).route_layer(middleware::from_fn_with_state(
                state.clone(),
                auth::require_key,
            )),
        )
        .nest("/api/v1", api::routes(state.clone()))
        .fallback(error::not_found)
        .with_state(state)
}
