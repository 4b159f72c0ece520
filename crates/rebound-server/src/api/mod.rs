//! The admin JSON API under `/api/v1`, one module per resource. Every route needs
//! `Authorization: Bearer <token>`; every error is `{"error": "..."}` with a fitting status
//! code.

mod bulk;
mod contacts;
mod events;
mod keys;
mod log;
mod settings;
mod sources;
mod suppressions;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use rebound_core::{Address, Status};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;

pub use bulk::{set_status, BulkReport, MAX_BULK};
pub use settings::POLICY_KEY;

type ApiResult<T = Response> = Result<T, ApiError>;

/// The `/api/v1` routes, behind the bearer-token check.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/sources", get(sources::list).post(sources::create))
        .route("/sources/{id}", patch(sources::update))
        .route("/sources/{id}/reveal", post(sources::reveal))
        .route("/sources/{id}/rotate", post(sources::rotate))
        .route("/sources/{id}/scan", post(sources::scan))
        .route("/verp", post(sources::verp_encode))
        .route("/suppressions/check", post(suppressions::check))
        .route("/suppressions/{email}", get(suppressions::get_one))
        .route("/contacts", get(contacts::list).post(contacts::create))
        .route("/contacts/export", get(bulk::export))
        .route("/contacts/bulk", post(bulk::bulk))
        .route("/contacts/{email}/erase", post(contacts::erase))
        .route(
            "/contacts/{email}",
            get(contacts::get_one)
                .patch(contacts::patch)
                .delete(contacts::delete),
        )
        .route("/events", get(events::list))
        .route("/log", get(log::list))
        .route("/log/rejections", get(log::rejections))
        .route("/log/{id}/replay", post(log::replay))
        .route("/settings", get(settings::get).put(settings::put))
        .route("/keys", get(keys::list).post(keys::create))
        .route("/keys/{id}", delete(keys::revoke))
        .route("/users", get(keys::list_users).post(keys::create_user))
        .route("/users/{id}", delete(keys::delete_user))
        .fallback(crate::error::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::error::ADMIN_BODY_LIMIT,
        ))
        .layer(middleware::map_response(crate::error::json_rejections))
        .layer(middleware::from_fn_with_state(
            state,
            crate::auth::require_key,
        ))
}

/// Parses a JSON body into `T`, answering 400 with serde's description of the problem.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

pub(crate) fn parse_address(s: &str) -> ApiResult<Address> {
    Address::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))
}

pub(crate) fn parse_status(s: &str) -> ApiResult<Status> {
    Status::parse(s).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown status '{s}' (expected subscribed, unsubscribed, bounced or complained)"
        ))
    })
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the store answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.inbox_counts().await {
        Ok(c) => Json(json!({ "status": "ready", "inbox": c })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}
