//! `/log`: the request log (every inbound request: time, source, outcome, status, error),
//! filtered by outcome, processing, source, HTTP status and time, one page at a time; replaying a request that has an
//! inbox row, as `POST /api/v1/log/{id}/replay` does.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Form;
use serde::Deserialize;

use super::{back, enc, render, when, Chrome, CsrfForm, UiResult};
use crate::api::LogSelection;
use crate::auth::session::UiSession;
use crate::state::AppState;

/// Entries per page.
const PAGE: u32 = 100;

pub(super) struct Row {
    id: i64,
    when: String,
    source: String,
    request: String,
    http_status: u16,
    outcome: String,
    processing: String,
    events: String,
    error: String,
    replay: bool,
}

pub(super) struct SourceOption {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    chrome: Chrome,
    outcome: String,
    processing: String,
    source: String,
    status: String,
    since: String,
    until: String,
    sources: Vec<SourceOption>,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct LogQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// `GET /log?outcome=&processing=&source=&status=&since=&until=&cursor=`.
pub(super) async fn page(
    State(state): State<AppState>,
    s: UiSession,
    Query(sel): Query<LogSelection>,
    Query(q): Query<LogQuery>,
) -> UiResult {
    let all = state.store.list_sources().await?;
    let names: HashMap<i64, String> = all.iter().map(|s| (s.id, s.name.clone())).collect();
    let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_string();
    let mut page = LogPage {
        chrome: Chrome::new(&s, "log", q.done.as_deref()),
        outcome: text(&sel.outcome),
        processing: text(&sel.processing),
        source: text(&sel.source),
        status: text(&sel.status),
        since: text(&sel.since),
        until: text(&sel.until),
        sources: all
            .iter()
            .map(|s| SourceOption {
                id: s.id.to_string(),
                name: format!("{} ({})", s.name, s.provider),
            })
            .collect(),
        rows: Vec::new(),
        next: None,
        error: None,
    };
    let found = match sel.filter(PAGE, q.cursor.filter(|c| !c.is_empty())) {
        Ok(filter) => state.store.list_log(filter).await,
        Err(e) => {
            page.error = Some(e.message);
            return render(&page);
        }
    };
    let found = match found {
        Ok(f) => f,
        Err(rebound_store::StoreError::Invalid(m)) => {
            page.error = Some(m);
            return render(&page);
        }
        Err(e) => return Err(e.into()),
    };
    page.rows = found
        .items
        .into_iter()
        .map(|e| {
            let source = match (e.source_id, &e.provider) {
                (Some(id), _) => names
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| format!("source {id}")),
                (None, Some(p)) => p.clone(),
                (None, None) => String::new(),
            };
            row(&e, source)
        })
        .collect();
    page.next = found
        .next_cursor
        .map(|c| format!("/log?{}&cursor={}", sel.query(), enc(&c)));
    render(&page)
}

/// `POST /log/{id}/replay`: puts the request back in the queue (as the API does).
pub(super) async fn replay(
    State(state): State<AppState>,
    s: UiSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    state.store.replay(id).await?;
    state.wake.notify_one();
    Ok(back("/log?done=replayed"))
}

/// `POST /log/replay-failed`: queues every failed request again, as
/// `POST /api/v1/log/replay-failed` does.
pub(super) async fn replay_failed(
    State(state): State<AppState>,
    s: UiSession,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    state.store.replay_failed().await?;
    state.wake.notify_one();
    Ok(back("/log?done=replayed"))
}

/// A log entry as a row of the list (and the head of its own page).
fn row(e: &rebound_store::LogEntry, source: String) -> Row {
    Row {
        id: e.id,
        when: when(e.received_at),
        source,
        request: format!("{} {}", e.method, e.path),
        http_status: e.http_status,
        outcome: e.outcome.clone(),
        processing: e.processing.clone().unwrap_or_default(),
        events: e.events.map(|n| n.to_string()).unwrap_or_default(),
        error: e
            .error
            .clone()
            .or_else(|| e.processing_error.clone())
            .unwrap_or_default(),
        replay: e.inbox_id.is_some(),
    }
}

#[derive(Deserialize)]
pub(super) struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    chrome: Chrome,
    row: Row,
    headers: Vec<(String, String)>,
    body: String,
    body_bytes: usize,
}

/// `GET /log/{id}`: one request as stored, its headers (never credentials: they are not
/// stored) and body shown as text, as `GET /api/v1/log/{id}` answers it.
pub(super) async fn detail(
    State(state): State<AppState>,
    s: UiSession,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> UiResult {
    let Some(r) = crate::api::stored_request(&state, id).await? else {
        return Err(super::UiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("no request {id} in the log"),
        ));
    };
    let source = match r.entry.source_id {
        Some(sid) => state
            .store
            .list_sources()
            .await?
            .into_iter()
            .find(|x| x.id == sid)
            .map(|x| format!("{} ({})", x.name, x.provider))
            .unwrap_or_else(|| format!("source {sid}")),
        None => r.entry.provider.clone().unwrap_or_default(),
    };
    render(&RequestPage {
        chrome: Chrome::new(&s, "log", q.done.as_deref()),
        row: row(&r.entry, source),
        headers: r.headers,
        body: r.body,
        body_bytes: r.body_bytes,
    })
}
