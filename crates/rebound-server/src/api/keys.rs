//! `/api/v1/keys` and `/api/v1/users`: scoped API keys (the key shown once) and UI users (a
//! generated password shown once). Admin scope only.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{parse_json, ApiResult};
use crate::auth::keys::{self, KeyError};
use crate::auth::users::{self, UserError};
use crate::error::ApiError;
use crate::state::{now_ms, AppState};

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Invalid(m) => ApiError::bad_request(m),
            KeyError::Store(e) => e.into(),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid(m) => ApiError::bad_request(m),
            UserError::Store(e) => e.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    name: String,
    scope: String,
}

/// `POST /api/v1/keys` `{"name","scope"}` → 201 with the key, shown this once.
pub(super) async fn create(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateKey = parse_json(&body)?;
    let (key, text) = keys::create(&state.store, &req.name, &req.scope, now_ms()).await?;
    let mut v = json!(key);
    v["key"] = json!(text);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `GET /api/v1/keys`: every key (never the key itself), revoked ones included.
pub(super) async fn list(State(state): State<AppState>) -> ApiResult {
    Ok(Json(json!({ "items": state.store.list_api_keys().await? })).into_response())
}

/// `DELETE /api/v1/keys/{id}`: revokes a key at once, on every node.
pub(super) async fn revoke(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    if state.store.revoke_api_key(id, now_ms()).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no live key {id}")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    email: String,
    role: String,
    #[serde(default)]
    password: Option<String>,
}

/// `POST /api/v1/users` `{"email","role","password"?}` → 201; a generated password is in
/// the answer, this once.
pub(super) async fn create_user(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateUser = parse_json(&body)?;
    let (user, generated) =
        users::create(&state.store, &req.email, &req.role, req.password, now_ms()).await?;
    let mut v = json!(user);
    if let Some(p) = generated {
        v["password"] = json!(p);
    }
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// `GET /api/v1/users`.
pub(super) async fn list_users(State(state): State<AppState>) -> ApiResult {
    Ok(Json(json!({ "items": state.store.list_users().await? })).into_response())
}

/// `DELETE /api/v1/users/{id}`: the user and its sessions.
pub(super) async fn delete_user(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    if state.store.delete_user(id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no user {id}")))
    }
}
