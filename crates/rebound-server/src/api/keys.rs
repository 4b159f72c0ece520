//! `/api/v1/keys` and `/api/v1/users`: scoped API keys (the key shown once) and UI users (a
//! generated password shown once). Admin scope only.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use rebound_store::{ApiKey, User};

use super::{parse_json, ApiResult, Items};
use crate::auth::keys::{self, KeyError};
use crate::auth::users::{self, UserError};
use crate::error::{ApiError, ErrorBody};
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

/// A new key.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateKey {
    /// A name to tell keys apart.
    name: String,
    /// `admin`, `read` or `check`.
    scope: String,
}

/// `POST /api/v1/keys` `{"name","scope"}` → 201 with the key, shown this once.
#[utoipa::path(post, path = "/keys", tag = "keys", request_body = CreateKey,
    responses(
        (status = 201, description = "The key's record and `key`, shown this once.", body = CreatedKey),
        (status = 400, description = "Unknown scope or bad name.", body = ErrorBody),
    ))]
pub(super) async fn create(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateKey = parse_json(&body)?;
    let (key, text) = keys::create(&state.store, &req.name, &req.scope, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            record: key,
            key: text,
        }),
    )
        .into_response())
}

/// `GET /api/v1/keys`: every key (never the key itself), revoked ones included.
#[utoipa::path(get, path = "/keys", tag = "keys",
    responses((status = 200, description = "Every key, revoked ones included.",
        body = Items<ApiKey>)))]
pub(super) async fn list(State(state): State<AppState>) -> ApiResult {
    let items = state.store.list_api_keys().await?;
    Ok(Json(Items { items }).into_response())
}

/// `DELETE /api/v1/keys/{id}`: revokes a key at once, on every node.
#[utoipa::path(delete, path = "/keys/{id}", tag = "keys",
    params(("id" = i64, Path, description = "The key's id.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No live key with this id.", body = ErrorBody),
    ))]
pub(super) async fn revoke(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    if state.store.revoke_api_key(id, now_ms()).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no live key {id}")))
    }
}

/// A new UI user.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateUser {
    /// The login address.
    email: String,
    /// `admin` or `viewer`.
    role: String,
    /// At least 12 characters; generated (and answered once) when absent.
    #[serde(default)]
    password: Option<String>,
}

/// `POST /api/v1/users` `{"email","role","password"?}` → 201; a generated password is in
/// the answer, this once.
#[utoipa::path(post, path = "/users", tag = "keys", request_body = CreateUser,
    responses(
        (status = 201, description = "The user; `password` when it was generated, shown this once.",
         body = CreatedUser),
        (status = 400, description = "Bad address, role or password.", body = ErrorBody),
        (status = 409, description = "The address has a user.", body = ErrorBody),
    ))]
pub(super) async fn create_user(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateUser = parse_json(&body)?;
    let (user, generated) =
        users::create(&state.store, &req.email, &req.role, req.password, now_ms()).await?;
    let created = CreatedUser {
        user,
        password: generated,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `GET /api/v1/users`: every UI user (never a password hash).
#[utoipa::path(get, path = "/users", tag = "keys",
    responses((status = 200, description = "Every UI user (never a password hash).",
        body = Items<User>)))]
pub(super) async fn list_users(State(state): State<AppState>) -> ApiResult {
    let items = state.store.list_users().await?;
    Ok(Json(Items { items }).into_response())
}

/// `DELETE /api/v1/users/{id}`: the user and its sessions.
#[utoipa::path(delete, path = "/users/{id}", tag = "keys",
    params(("id" = i64, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "Deleted; its sessions ended."),
        (status = 404, description = "No such user.", body = ErrorBody),
    ))]
pub(super) async fn delete_user(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    if state.store.delete_user(id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no user {id}")))
    }
}

/// A key just created: its record and the key itself, shown this once.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct CreatedKey {
    #[serde(flatten)]
    record: ApiKey,
    /// The key: send it as `Authorization: Bearer <key>`. Not shown again.
    key: String,
}

/// A user just created, with the password when rebound generated it (shown this once).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct CreatedUser {
    #[serde(flatten)]
    user: User,
    /// The generated password; absent when the request gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}
