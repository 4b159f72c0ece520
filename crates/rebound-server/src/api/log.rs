//! `/api/v1/log`: the request log, rejected requests counted per minute, replay.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use rebound_store::LogFilter;
use serde::Deserialize;
use serde_json::json;

use super::ApiResult;
use crate::error::ApiError;
use crate::state::{now_ms, AppState};

#[derive(Deserialize)]
pub(super) struct LogQuery {
    outcome: Option<String>,
    processing: Option<String>,
    source: Option<i64>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub(super) async fn list(State(state): State<AppState>, Query(q): Query<LogQuery>) -> ApiResult {
    let filter = LogFilter {
        outcome: q.outcome.filter(|s| !s.is_empty()),
        processing: q.processing.filter(|s| !s.is_empty()),
        source_id: q.source,
        limit: q.limit.unwrap_or(100),
        cursor: q.cursor,
    };
    Ok(Json(json!(state.store.list_log(filter).await?)).into_response())
}

#[derive(Deserialize)]
pub(super) struct RejectionQuery {
    since: Option<String>,
    source: Option<i64>,
    limit: Option<u32>,
}

/// `GET /api/v1/log/rejections`: rejected requests counted per minute, source, status and
/// error (the request log keeps only a sample of them), newest first; those not written
/// yet included. `since` (RFC 3339) defaults to 24 hours ago.
pub(super) async fn rejections(
    State(state): State<AppState>,
    Query(q): Query<RejectionQuery>,
) -> ApiResult {
    let since = match q.since.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => rebound_core::timestamp::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!("since: '{s}' is not an RFC 3339 time"))
        })?,
        None => now_ms() - 24 * 3_600_000,
    };
    let limit = q.limit.unwrap_or(1000).min(10_000);
    let mut items = state.rejections.pending();
    items.extend(state.store.list_rejections(since, limit).await?);
    items.retain(|r| r.minute >= since - 59_999 && q.source.is_none_or(|s| r.source_id == Some(s)));
    // Pending and stored counts of the same kind are shown as one.
    let mut merged: std::collections::BTreeMap<_, rebound_store::RejectionCount> =
        Default::default();
    for r in items {
        let key = (
            std::cmp::Reverse(r.minute),
            r.source_id,
            r.provider.clone(),
            r.http_status,
            r.error.clone(),
        );
        merged
            .entry(key)
            .and_modify(|m| m.count += r.count)
            .or_insert(r);
    }
    let items: Vec<_> = merged.into_values().take(limit as usize).collect();
    let total: u64 = items.iter().map(|r| r.count).sum();
    Ok(Json(json!({ "items": items, "total": total })).into_response())
}

pub(super) async fn replay(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    state.store.replay(id).await?;
    state.wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "status": "queued", "id": id })),
    )
        .into_response())
}
