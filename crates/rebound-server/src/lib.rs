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
//! - [`dry_run`]: what a candidate policy would have done to recent contacts.
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
//! - [`stats`]: deliverability rates per source (API and dashboard).
//! - [`unsubscribe`]: RFC 8058 one-click unsubscribe: signed links, the confirmation page
//!   (`GET`, changes nothing) and the one-click `POST`, written into the inbox.
//! - [`worker`]: claims inbox rows, normalizes them, applies the policy through the store.
//! - [`metrics`]: `GET /metrics` (admin token), the Prometheus text format: the
//!   process-wide recorder, the metric names, the inbox gauges read at scrape time.
//! - [`listener`]: the accept loop: header, body and idle timeouts, connection cap, backing
//!   off on fd exhaustion, graceful shutdown.
//!
//! [`router`] builds the whole application; tests can drive it without a socket.

pub mod api;
pub mod auth;
pub mod dry_run;
pub mod erasure;
pub mod error;
pub mod export;
pub mod ingest;
pub mod listener;
pub mod mailbox;
pub mod metrics;
pub mod outbound;
pub mod rejections;
pub mod retention;
pub mod settings;
pub mod sns;
pub mod sources;
pub mod state;
pub mod stats;
pub mod tally;
pub mod ui;
pub mod unsubscribe;
pub mod worker;

use axum::{Extension, Router};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use state::{AppState, ServerConfig};

/// The top of the OpenAPI document; the paths come from the routes in [`router`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "rebound",
        description = "Self-hosted email bounce and complaint handling: provider webhooks in, \
                       the admin JSON API under `/api/v1` (bearer token). Every error is \
                       `{\"error\": \"...\"}` with a fitting status code.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    components(schemas(error::ErrorBody)),
    tags(
        (name = "webhooks", description = "Provider webhooks in."),
        (name = "health", description = "Liveness and readiness, no auth."),
        (name = "sources", description = "Webhook and mailbox sources."),
        (name = "suppressions", description = "The sending path's check."),
        (name = "contacts", description = "Contacts and their timelines."),
        (name = "events", description = "Normalized events."),
        (name = "log", description = "The request log."),
        (name = "settings", description = "Policy, mailbox trust, VERP, retention."),
        (name = "keys", description = "Scoped API keys and web UI users."),
        (name = "subscriptions", description = "Outbound webhooks: subscriptions, delivery log, redelivery."),
        (name = "metrics", description = "Prometheus metrics."),
        (name = "stats", description = "Deliverability rates."),
        (name = "unsubscribe", description = "One-click unsubscribe (RFC 8058): public, \
         the token is the credential."),
        (name = "meta", description = "This document."),
    ),
)]
struct ApiDoc;

/// Every route of the application, each registered through `routes!` with its
/// `#[utoipa::path]`, with the OpenAPI document they make. `/api/v1` gets its layers
/// (bearer token, body limit, JSON rejections) in [`api::routes`].
pub fn app(state: AppState) -> OpenApiRouter<AppState> {
    let mut app = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ingest::listmonk_bounce))
        .routes(routes!(ingest::webhook, ingest::probe, ingest::get_probe))
        .routes(routes!(api::healthz))
        .routes(routes!(api::readyz))
        .routes(routes!(metrics::scrape))
        .nest("/unsubscribe", unsubscribe::routes())
        .nest("/api/v1", api::routes(state))
        .fallback(error::not_found);
    let doc = app.get_openapi_mut();
    // Handlers of different resources share names (`list`, `get_one`): operation ids are
    // made unique with the resource's tag, `contacts_list`, `events_list`.
    for item in doc.paths.paths.values_mut() {
        for op in api::operations_mut(item) {
            if let (Some(tag), Some(id)) =
                (op.tags.as_ref().and_then(|t| t.first()), &op.operation_id)
            {
                op.operation_id = Some(format!("{tag}_{id}"));
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        api::BEARER,
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components.add_security_scheme(
        ingest::BASIC,
        SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
    );
    app
}

/// The application: webhooks, API and health routes, and `GET /api/v1/openapi.json`
/// describing them all.
pub fn router(state: AppState) -> Router {
    metrics::handle();
    let (router, doc) = app(state.clone()).split_for_parts();
    router
        .layer(Extension(api::OpenApiJson::new(&doc)))
        // The HTML pages: not API, not in the OpenAPI document.
        .merge(ui::routes())
        .with_state(state)
}
