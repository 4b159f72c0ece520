//! `/api/v1/sources`: create, list, update, reveal and rotate sources; scan a mailbox now;
//! VERP return paths.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{parse_json, ApiResult};
use crate::auth::Client;
use crate::error::{ApiError, ErrorBody};
use crate::sources::{self, source_json, Audit, CreateSource, UpdateSource};
use crate::state::AppState;

/// The path parameter of a source's routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct SourceId {
    /// The source's id.
    id: i64,
}

/// `POST /api/v1/sources/{id}/scan`: one pass over a mailbox source now.
#[utoipa::path(
    post,
    path = "/sources/{id}/scan",
    tag = "sources",
    params(SourceId),
    responses(
        (status = 200, description = "The pass's report: `{\"fetched\", \"already_stored\", \
         \"bounces\", \"complaints\", \"auto_replies\", \"other\", \"unmatched\", \"kept\", \
         \"deleted\", \"moved\", \"errors\", \"error_messages\"}`.", body = Object),
        (status = 400, description = "Not a mailbox source, or its URL is invalid.",
         body = ErrorBody),
        (status = 404, description = "No such source.", body = ErrorBody),
        (status = 409, description = "Another pass over the same mailbox runs.",
         body = ErrorBody),
        (status = 502, description = "The mailbox cannot be read (the source's status is \
         set to `error`).", body = ErrorBody),
        (status = 503, description = "The pass lost its lock, or storage is unavailable.",
         body = ErrorBody),
    ),
)]
pub(super) async fn scan(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    let report = crate::sources::scan_now(&state, id).await?;
    Ok(Json(json!(report)).into_response())
}

/// The body of `POST /api/v1/verp`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct VerpRequest {
    /// The recipient.
    address: String,
    /// The return path to sign into (default: the `verp_return_path` setting).
    #[serde(default)]
    return_path: Option<String>,
}

/// The answer of `POST /api/v1/verp`.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct VerpResponse {
    /// The recipient, as given.
    address: String,
    /// The signed VERP return path.
    return_path: String,
}

/// `POST /api/v1/verp`: a signed VERP return path for a recipient.
#[utoipa::path(
    post,
    path = "/verp",
    tag = "sources",
    request_body = VerpRequest,
    responses(
        (status = 200, description = "The signed return path.", body = VerpResponse),
        (status = 400, description = "Invalid JSON, address or return path, or none set.",
         body = ErrorBody),
    ),
)]
pub(super) async fn verp_encode(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: VerpRequest = parse_json(&body)?;
    let rp = crate::mailbox::verp_encode(&state.store, req.return_path.as_deref(), &req.address)
        .await
        .map_err(ApiError::bad_request)?;
    Ok(Json(VerpResponse {
        address: req.address,
        return_path: rp,
    })
    .into_response())
}

const FULL_SOURCE: &str = "The full source: `{\"id\", \"provider\", \"name\", \"key\", \
    \"webhook_url\", \"secret\"?, \"basic_auth\"?, \"status\", \"status_message\", \
    \"created_at\", …}` (a mailbox: `{\"id\", \"url\" (password masked), \"trust\", \
    \"status\", …}`).";

/// `POST /api/v1/sources`: a new source, with its URL key and secrets shown in full.
#[utoipa::path(
    post,
    path = "/sources",
    tag = "sources",
    request_body = CreateSource,
    responses(
        (status = 201, description = FULL_SOURCE, body = Object),
        (status = 400, description = "Invalid JSON, unknown provider or field, or a value \
         the provider does not take.", body = ErrorBody),
    ),
)]
pub(super) async fn create(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateSource = parse_json(&body)?;
    let source = sources::create(&state.store, req).await?;
    state.sources.reload(&state.store).await?;
    Ok((
        StatusCode::CREATED,
        Json(source_json(&state.config.public_url, &source)),
    )
        .into_response())
}

/// Who is calling, for the request log of actions on secrets.
fn audit(method: &str, path: String, client: Client) -> Audit {
    Audit {
        method: method.into(),
        path,
        remote: client.0.map(|ip| ip.to_string()),
    }
}

/// `PATCH /api/v1/sources/{id}`: a name, or the secret or key the provider issued.
#[utoipa::path(
    patch,
    path = "/sources/{id}",
    tag = "sources",
    params(SourceId),
    request_body = UpdateSource,
    responses(
        (status = 200, description = FULL_SOURCE, body = Object),
        (status = 400, description = "Invalid JSON, unknown field or invalid value.",
         body = ErrorBody),
        (status = 404, description = "No such source.", body = ErrorBody),
    ),
)]
pub(super) async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    client: Client,
    body: Bytes,
) -> ApiResult {
    let req: UpdateSource = parse_json(&body)?;
    let who = audit("PATCH", format!("/api/v1/sources/{id}"), client);
    let source = sources::update(&state.store, id, req, &who).await?;
    state.sources.reload(&state.store).await?;
    Ok(Json(source_json(&state.config.public_url, &source)).into_response())
}

/// `POST /api/v1/sources/{id}/reveal`: the source with its secrets, once more.
#[utoipa::path(
    post,
    path = "/sources/{id}/reveal",
    tag = "sources",
    params(SourceId),
    responses(
        (status = 200, description = FULL_SOURCE, body = Object),
        (status = 404, description = "No such source.", body = ErrorBody),
    ),
)]
pub(super) async fn reveal(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    client: Client,
) -> ApiResult {
    let who = audit("POST", format!("/api/v1/sources/{id}/reveal"), client);
    let source = sources::reveal(&state.store, id, &who).await?;
    Ok(Json(source_json(&state.config.public_url, &source)).into_response())
}

/// `POST /api/v1/sources/{id}/rotate`: a new URL key (and generated secret); the old ones
/// stop working at once.
#[utoipa::path(
    post,
    path = "/sources/{id}/rotate",
    tag = "sources",
    params(SourceId),
    responses(
        (status = 200, description = FULL_SOURCE, body = Object),
        (status = 400, description = "A mailbox source.", body = ErrorBody),
        (status = 404, description = "No such source.", body = ErrorBody),
    ),
)]
pub(super) async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    client: Client,
) -> ApiResult {
    let who = audit("POST", format!("/api/v1/sources/{id}/rotate"), client);
    let source = sources::rotate(&state.store, id, &who).await?;
    state.sources.reload(&state.store).await?;
    Ok(Json(source_json(&state.config.public_url, &source)).into_response())
}

/// `GET /api/v1/sources`: every source, with hints of its secrets only.
#[utoipa::path(
    get,
    path = "/sources",
    tag = "sources",
    responses(
        (status = 200, description = "`{\"items\": [...]}`: every source without its \
         secrets (`key_hint`, `secret_hint`, the `webhook_url` without key or credentials).",
         body = Object),
    ),
)]
pub(super) async fn list(State(state): State<AppState>) -> ApiResult {
    let all = state.store.list_sources().await?;
    let items: Vec<Value> = all
        .iter()
        .map(|s| sources::listed_json(&state.config.public_url, s))
        .collect();
    Ok(Json(json!({ "items": items })).into_response())
}

/// `POST /api/v1/sources/{id}/test`: a hard bounce for a fresh
/// `rebound-test-…@example.com`, in the provider's shape and signed its way, sent through
/// the source's webhook like the provider's own request; the answer says where it ended up.
#[utoipa::path(
    post,
    path = "/sources/{id}/test",
    tag = "sources",
    params(("id" = i64, Path, description = "The source's id.")),
    responses(
        (status = 200, description = "`{\"provider\",\"email\",\"http_status\",\"answer\",\"log_id\"}`:          the status and answer the provider would have had, and the request log entry.", body = Object),
        (status = 400, description = "A mailbox source, a provider whose requests only it          can sign with its private key (ses, sendgrid, postal: send a test from its          dashboard), or a source still waiting for its provider's secret.", body = ErrorBody),
        (status = 404, description = "No such source.", body = ErrorBody),
    ),
)]
pub(super) async fn test(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    let sent = crate::sources::send_test_event(&state, id).await?;
    Ok(Json(json!(sent)).into_response())
}
