//! `GET /api/v1/events`: normalized events, filtered by address, kind and source.

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::Json;
use rebound_store::EventFilter;
use serde::Deserialize;

use super::{parse_address, ApiResult};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The query of `GET /api/v1/events`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct EventQuery {
    /// Only events of this address.
    email: Option<String>,
    /// Only events of this kind (`bounced.hard`, `complained`, …).
    kind: Option<String>,
    /// Only events from this source id.
    source: Option<i64>,
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /api/v1/events`: normalized events, newest first.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    params(EventQuery),
    responses(
        (status = 200, description = "A page of events, newest first.",
         body = rebound_store::Page<rebound_store::StoredEvent>),
        (status = 400, description = "Not an address, unknown kind, or bad query.",
         body = ErrorBody),
    ),
)]
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
    Ok(Json(state.store.list_events(filter).await?).into_response())
}
