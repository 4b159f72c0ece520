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
//! - [`sources`]: creating a source (validation, generated keys and secrets) and showing
//!   it (its webhook URL): one code path for the API and the CLI.
//! - [`rejections`]: rejected webhook requests counted per minute and sampled, so a flood
//!   of forged requests costs bounded space.
//! - [`retention`]: old request-log rows and rejection counts pruned in small batches.
//! - [`sns`]: SNS certificates (validated URL, local dir, guarded fetch, cache) and
//!   subscription confirmation.
//! - [`worker`]: claims inbox rows, normalizes them, applies the policy through the store.
//! - [`listener`]: the accept loop: header, body and idle timeouts, connection cap, backing
//!   off on fd exhaustion, graceful shutdown.
//!
//! [`router`] builds the whole application; tests can drive it without a socket.

pub mod api;
pub mod auth;
pub mod error;
pub mod ingest;
pub mod listener;
pub mod mailbox;
pub mod rejections;
pub mod retention;
pub mod settings;
pub mod sns;
pub mod sources;
pub mod state;
pub mod ui;
pub mod worker;

use axum::routing::{get, post};
use axum::Router;

pub use state::{AppState, ServerConfig};

/// The application: webhooks, API and health routes.
pub fn router(state: AppState) -> Router {
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
        .nest("/api/v1", api::routes(state.clone()))
        .merge(ui::routes())
        .fallback(error::not_found)
        .with_state(state)
}
