//! `/api/v1/sources`: create, list, update, reveal and rotate sources; scan a mailbox now;
//! VERP return paths.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_json, ApiResult};
use crate::auth::Client;
use crate::error::ApiError;
use crate::sources::{self, source_json, Audit, CreateSource, UpdateSource};
use crate::state::AppState;

pub(super) async fn scan(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    use crate::mailbox::SourceError;
    let (source, url) = match crate::mailbox::source_by_id(&state.store, id).await {
        Ok(found) => found,
        Err(e @ SourceError::NotFound(_)) => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, e.to_string()))
        }
        Err(SourceError::Invalid(msg)) => return Err(ApiError::bad_request(msg)),
        Err(SourceError::Store(e)) => return Err(e.into()),
    };
    match crate::mailbox::scan(&state.store, Some(&source), &url, None).await {
        Ok(report) => {
            state.store.set_source_status(id, "active", None).await?;
            state.wake.notify_one();
            Ok(Json(json!(report)).into_response())
        }
        Err(crate::mailbox::ScanError::Store(e)) => Err(e.into()),
        Err(e @ crate::mailbox::ScanError::Busy) => {
            Err(ApiError::new(StatusCode::CONFLICT, e.to_string()))
        }
        // Not the mailbox's fault: the source's status is left alone.
        Err(e @ crate::mailbox::ScanError::LockLost(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            e.to_string(),
        )),
        Err(e) => {
            let msg = e.to_string();
            state
                .store
                .set_source_status(id, "error", Some(&msg))
                .await?;
            Err(ApiError::new(StatusCode::BAD_GATEWAY, msg))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerpRequest {
    address: String,
    #[serde(default)]
    return_path: Option<String>,
}

pub(super) async fn verp_encode(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: VerpRequest = parse_json(&body)?;
    let rp = crate::mailbox::verp_encode(&state.store, req.return_path.as_deref(), &req.address)
        .await
        .map_err(ApiError::bad_request)?;
    Ok(Json(json!({ "address": req.address, "return_path": rp })).into_response())
}

pub(super) async fn create(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateSource = parse_json(&body)?;
    let source = sources::create(&state.store, req).await?;
    state.sources.fill(state.store.list_sources().await?);
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

pub(super) async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    client: Client,
    body: Bytes,
) -> ApiResult {
    let req: UpdateSource = parse_json(&body)?;
    let who = audit("PATCH", format!("/api/v1/sources/{id}"), client);
    let source = sources::update(&state.store, id, req, &who).await?;
    state.sources.fill(state.store.list_sources().await?);
    Ok(Json(source_json(&state.config.public_url, &source)).into_response())
}

/// `POST /api/v1/sources/{id}/reveal`: the source with its secrets, once more.
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
pub(super) async fn rotate(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    client: Client,
) -> ApiResult {
    let who = audit("POST", format!("/api/v1/sources/{id}/rotate"), client);
    let source = sources::rotate(&state.store, id, &who).await?;
    state.sources.fill(state.store.list_sources().await?);
    Ok(Json(source_json(&state.config.public_url, &source)).into_response())
}

pub(super) async fn list(State(state): State<AppState>) -> ApiResult {
    let all = state.store.list_sources().await?;
    let items: Vec<Value> = all
        .iter()
        .map(|s| sources::listed_json(&state.config.public_url, s))
        .collect();
    Ok(Json(json!({ "items": items })).into_response())
}
