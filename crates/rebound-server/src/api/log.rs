//! `/api/v1/log`: the request log, rejected requests counted per minute, replay.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use rebound_store::LogFilter;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ApiResult;
use crate::error::{ApiError, ErrorBody};
use crate::state::{now_ms, AppState};

/// The query of `GET /api/v1/log`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LogQuery {
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Which requests: the filters of the request log in the API and the UI's log page (empty
/// values select all).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogSelection {
    /// Only requests with this outcome (`accepted`, `rejected`, …).
    #[serde(default)]
    pub outcome: Option<String>,
    /// Only requests in this processing state (`pending`, `done`, `failed`).
    #[serde(default)]
    pub processing: Option<String>,
    /// Only requests of this source (its id).
    #[serde(default)]
    pub source: Option<String>,
    /// Only requests answered with this HTTP status (`403`) or class (`4xx`).
    #[serde(default)]
    pub status: Option<String>,
    /// Only requests received at or after this (RFC 3339, or a date `YYYY-MM-DD`: its
    /// start, UTC).
    #[serde(default)]
    pub since: Option<String>,
    /// Only requests received before this (same forms).
    #[serde(default)]
    pub until: Option<String>,
}

/// `403` → (403, 403); `4xx` → (400, 499).
fn status_range(v: &str) -> Option<(u16, u16)> {
    let v = v.to_ascii_lowercase();
    if let Some(class) = v.strip_suffix("xx") {
        let c: u16 = class.parse().ok().filter(|c| (1..=5).contains(c))?;
        return Some((c * 100, c * 100 + 99));
    }
    let s: u16 = v.parse().ok().filter(|s| (100..=599).contains(s))?;
    Some((s, s))
}

impl LogSelection {
    /// The store's filter for one page; 400 naming a value that does not parse.
    pub fn filter(&self, limit: u32, cursor: Option<String>) -> ApiResult<LogFilter> {
        use super::contacts::{given, time};
        let source_id = given(&self.source)
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("source: '{s}' is not a source id")))
            })
            .transpose()?;
        let status = given(&self.status)
            .map(|s| {
                status_range(s).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "status: '{s}' is not an HTTP status (403) or class (4xx)"
                    ))
                })
            })
            .transpose()?;
        Ok(LogFilter {
            outcome: given(&self.outcome).map(str::to_string),
            processing: given(&self.processing).map(str::to_string),
            source_id,
            status_min: status.map(|s| s.0),
            status_max: status.map(|s| s.1),
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            limit,
            cursor,
        })
    }

    /// The selection as a query string (for the next page's link).
    pub fn query(&self) -> String {
        super::contacts::query_string(&[
            ("outcome", &self.outcome),
            ("processing", &self.processing),
            ("source", &self.source),
            ("status", &self.status),
            ("since", &self.since),
            ("until", &self.until),
        ])
    }
}

/// `GET /api/v1/log`: the request log, newest first.
#[utoipa::path(
    get,
    path = "/log",
    tag = "log",
    params(LogSelection, LogQuery),
    responses(
        (status = 200, description = "A page of the log, newest first: time, source, remote \
         address, status, outcome, error, processing state.",
         body = rebound_store::Page<rebound_store::LogEntry>),
        (status = 400, description = "Bad query.", body = ErrorBody),
    ),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Query(sel): Query<LogSelection>,
    Query(q): Query<LogQuery>,
) -> ApiResult {
    let filter = sel.filter(q.limit.unwrap_or(100), q.cursor)?;
    Ok(Json(state.store.list_log(filter).await?).into_response())
}

/// The query of `GET /api/v1/log/rejections`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RejectionQuery {
    /// An RFC 3339 time; default 24 hours ago.
    since: Option<String>,
    /// Only rejections of this source id.
    source: Option<i64>,
    /// At most this many (default 1000, at most 10,000).
    limit: Option<u32>,
}

/// `GET /api/v1/log/rejections`: rejected requests counted per minute, source, status and
/// error (the request log keeps only a sample of them), newest first; those not written
/// yet included. `since` (RFC 3339) defaults to 24 hours ago.
#[utoipa::path(
    get,
    path = "/log/rejections",
    tag = "log",
    params(RejectionQuery),
    responses(
        (status = 200, description = "The counts, newest first, and their sum.",
         body = Rejections),
        (status = 400, description = "`since` is not an RFC 3339 time, or bad query.",
         body = ErrorBody),
    ),
)]
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
    Ok(Json(Rejections { items, total }).into_response())
}

/// The answer of `GET /api/v1/log/rejections`.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Rejections {
    /// Rejected requests per minute, source, provider, status and error.
    items: Vec<rebound_store::RejectionCount>,
    /// The sum of the counts shown.
    total: u64,
}

/// The answer of `POST /api/v1/log/{id}/replay`.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Queued {
    /// Always `queued`.
    #[schema(example = "queued")]
    status: &'static str,
    /// The request's id.
    id: i64,
}

/// `POST /api/v1/log/{id}/replay`: queue an accepted request again.
#[utoipa::path(
    post,
    path = "/log/{id}/replay",
    tag = "log",
    params(("id" = i64, Path, description = "The request log entry's id.")),
    responses(
        (status = 202, description = "Queued (idempotent: duplicates count nothing).",
         body = Queued),
        (status = 404, description = "No such request, or not one that can be replayed.",
         body = ErrorBody),
    ),
)]
pub(super) async fn replay(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    state.store.replay(id).await?;
    state.wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            status: "queued",
            id,
        }),
    )
        .into_response())
}

/// `POST /api/v1/log/replay-failed`: queue every failed request again.
#[utoipa::path(
    post,
    path = "/log/replay-failed",
    tag = "log",
    responses(
        (status = 202, description = "`{\"status\": \"queued\", \"count\"}`: how many failed \
         requests were queued (idempotent: duplicates count nothing).", body = Object),
    ),
)]
pub(super) async fn replay_failed(State(state): State<AppState>) -> ApiResult {
    let count = state.store.replay_failed().await?;
    state.wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "status": "queued", "count": count })),
    )
        .into_response())
}

/// A logged request with what was stored of it: the entry, its headers (credentials are
/// never stored) and its body as text (bytes that are not UTF-8 shown as `U+FFFD`).
#[derive(Debug, Serialize)]
pub struct StoredRequest {
    /// The log entry.
    #[serde(flatten)]
    pub entry: rebound_store::LogEntry,
    /// Header names and values, as received.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
    /// The body's length in bytes.
    pub body_bytes: usize,
}

/// Logged request `id` with its headers and body; `None` if there is none.
pub async fn stored_request(state: &AppState, id: i64) -> Result<Option<StoredRequest>, ApiError> {
    // The log lists newest first below a cursor: the first entry below `id + 1` is `id`'s.
    let page = state
        .store
        .list_log(LogFilter {
            limit: 1,
            cursor: Some(id.saturating_add(1).to_string()),
            ..Default::default()
        })
        .await?;
    let Some(entry) = page.items.into_iter().next().filter(|e| e.id == id) else {
        return Ok(None);
    };
    let raw = state.store.raw_request(id).await?.unwrap_or_default();
    Ok(Some(StoredRequest {
        entry,
        headers: raw.headers,
        body_bytes: raw.body.len(),
        body: String::from_utf8_lossy(&raw.body).into_owned(),
    }))
}

/// `GET /api/v1/log/{id}`: one logged request with its stored headers and body.
#[utoipa::path(
    get,
    path = "/log/{id}",
    tag = "log",
    params(("id" = i64, Path, description = "The log entry's id.")),
    responses(
        (status = 200, description = "The log entry's fields, with `headers` (`[[name, \
         value], …]`, never credentials), `body` (text) and `body_bytes`. Rejected requests \
         and erased bodies have an empty body.", body = Object),
        (status = 404, description = "No such log entry.", body = ErrorBody),
    ),
)]
pub(super) async fn get_one(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult {
    match stored_request(&state, id).await? {
        Some(r) => Ok(Json(r).into_response()),
        None => Err(ApiError::not_found(format!("no log entry {id}"))),
    }
}
