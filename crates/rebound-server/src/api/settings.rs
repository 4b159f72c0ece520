//! `GET|PUT /api/v1/settings`: policy, mailbox trust, VERP return path, retention.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_json, ApiResult};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The settings key the policy is stored under.
pub const POLICY_KEY: &str = "policy";

/// The settings, as `GET` shows them and `PUT` takes them (each key optional in `PUT`).
/// It describes the document only: `PUT` reads the keys one by one to name a bad one.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct Settings {
    /// The policy: `{"soft_bounce_threshold", "soft_bounce_window_days", …}`; a `PUT`
    /// changes only the keys given.
    #[schema(value_type = Option<Object>)]
    policy: Option<Value>,
    /// Which recipients a mailbox's bounces may change: `verp`, `known-contact` or `any`.
    mailbox_trust: Option<String>,
    /// The return path VERP addresses are signed into, like `bounces@example.com`.
    verp_return_path: Option<String>,
    /// Days the request log is kept (1–3650).
    retention_days: Option<u32>,
}

/// `GET /api/v1/settings`.
#[utoipa::path(
    get,
    path = "/settings",
    tag = "settings",
    responses((status = 200, description = "Every setting.", body = Settings)),
)]
pub(super) async fn get(State(state): State<AppState>) -> ApiResult {
    let mut v = json!({ "policy": state.policy() });
    v[crate::mailbox::TRUST_KEY] =
        json!(crate::mailbox::trust_of(&state.store, None).await.as_str());
    v[crate::mailbox::VERP_RETURN_PATH_KEY] = state
        .store
        .get_setting(crate::mailbox::VERP_RETURN_PATH_KEY)
        .await?
        .unwrap_or(Value::Null);
    v[crate::retention::SETTING] =
        json!(crate::retention::days(&state.store, state.config.retention_days).await?);
    Ok(Json(v).into_response())
}

/// `PUT /api/v1/settings`: change the settings given, keep the others.
#[utoipa::path(
    put,
    path = "/settings",
    tag = "settings",
    request_body = Settings,
    responses(
        (status = 200, description = "Every setting, after the change.", body = Settings),
        (status = 400, description = "Invalid JSON, unknown setting or invalid value.",
         body = ErrorBody),
    ),
)]
pub(super) async fn put(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: Value = parse_json(&body)?;
    let Value::Object(top) = req else {
        return Err(ApiError::bad_request(
            "expected a JSON object like {\"policy\": {...}}",
        ));
    };
    crate::settings::apply(&state, &top).await?;
    get(State(state)).await
}

/// A dry run's request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DryRunRequest {
    /// Policy changes, as in `PUT /api/v1/settings` (merged into the policy in force).
    #[serde(default)]
    #[schema(value_type = Object)]
    policy: Option<Value>,
    /// The window: contacts with events in the last this many days (default 30, at most 365).
    #[serde(default)]
    days: Option<u32>,
}

/// `POST /api/v1/settings/dry-run`: what the policy with these changes would have done to
/// the contacts with events in the last `days` days. Nothing is written.
#[utoipa::path(
    post,
    path = "/settings/dry-run",
    tag = "settings",
    request_body = DryRunRequest,
    responses(
        (status = 200, description = "`{\"days\",\"contacts_examined\",\"would_change\",         \"changes\": [{\"from\",\"to\",\"count\"}],\"examples\": [[email, from, to]],         \"truncated\"}` (at most 10,000 contacts, the most recent, are examined).", body = Object),
        (status = 400, description = "Invalid policy or window.", body = ErrorBody),
    ),
)]
pub(super) async fn dry_run(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: DryRunRequest = parse_json(&body)?;
    let policy = match &req.policy {
        Some(p) => crate::settings::merged_policy(&state, p)?,
        None => state.policy(),
    };
    let days = req.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(ApiError::bad_request("days: 1 to 365"));
    }
    let run = crate::dry_run::run(&state, &policy, days, crate::state::now_ms()).await?;
    Ok(Json(json!(run)).into_response())
}
