//! `GET /api/v1/events`: normalized events, filtered by address, kind and source.

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::Json;
use rebound_store::EventFilter;
use serde::Deserialize;
use serde_json::json;

use super::{parse_address, ApiResult};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct EventQuery {
    email: Option<String>,
    kind: Option<String>,
    source: Option<i64>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub(super) async fn list(State(state): State<AppState>, Query(q): Query<EventQuery>) -> ApiResult {
    let email_key = match q.email.as_deref().filter(|s| !s.is_empty()) {
        Some(e) => Some(parse_address(e)?.key().to_string()),
        None => None,
    };
    if let Some(k) = q
        .kind
        .as_deref()
        .filter(|k| rebound_core::EventKind::parse(k).is_none())
    {
        return Err(ApiError::bad_request(format!("unknown event kind '{k}'")));
    }
    let filter = EventFilter {
        email_key,
        kind: q.kind.filter(|k| !k.is_empty()),
        source_id: q.source,
        limit: q.limit.unwrap_or(100),
        cursor: q.cursor,
    };
    Ok(Json(json!(state.store.list_events(filter).await?)).into_response())
}
