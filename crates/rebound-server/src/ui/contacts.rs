//! `/contacts`: search by address, filter by status, one page at a time (keyset cursor).

use askama::Template;
use axum::extract::{Query, State};
use rebound_core::Status;
use rebound_store::ContactFilter;
use serde::Deserialize;

use super::{enc, render, when_opt, Chrome, UiResult};
use crate::auth::session::UiSession;
use crate::state::AppState;

/// Contacts per page.
const PAGE: u32 = 50;

pub(super) struct Row {
    href: String,
    email: String,
    status: &'static str,
    reason: String,
    soft: u32,
    last_event: String,
}

#[derive(Template)]
#[template(path = "contacts.html")]
struct ContactsPage {
    chrome: Chrome,
    q: String,
    status: String,
    statuses: [&'static str; 4],
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ContactsQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /contacts?q=&status=&cursor=`.
pub(super) async fn page(
    State(state): State<AppState>,
    s: UiSession,
    Query(query): Query<ContactsQuery>,
) -> UiResult {
    let q = query.q.unwrap_or_default().trim().to_string();
    let status_name = query.status.unwrap_or_default();
    let status = Status::parse(&status_name);
    let mut page = ContactsPage {
        chrome: Chrome::new(&s, "contacts", None),
        q: q.clone(),
        status: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        statuses: ["subscribed", "unsubscribed", "bounced", "complained"],
        rows: Vec::new(),
        next: None,
        error: None,
    };
    if status.is_none() && !status_name.is_empty() {
        page.error = Some(format!("unknown status '{status_name}'"));
        return render(&page);
    }
    let found = state
        .store
        .list_contacts(ContactFilter {
            status,
            q: (!q.is_empty()).then(|| q.clone()),
            limit: PAGE,
            cursor: query.cursor.filter(|c| !c.is_empty()),
        })
        .await;
    let found = match found {
        Ok(f) => f,
        // A cursor that is not one of ours.
        Err(rebound_store::StoreError::Invalid(m)) => {
            page.error = Some(m);
            return render(&page);
        }
        Err(e) => return Err(e.into()),
    };
    page.rows = found
        .items
        .into_iter()
        .map(|c| Row {
            href: format!("/contacts/{}", enc(&c.email)),
            email: c.email,
            status: c.status.as_str(),
            reason: c.reason.unwrap_or_default(),
            soft: c.soft_bounce_count,
            last_event: when_opt(c.last_event_at),
        })
        .collect();
    page.next = found.next_cursor.map(|cursor| {
        format!(
            "/contacts?q={}&status={}&cursor={}",
            enc(&q),
            enc(&page.status),
            enc(&cursor)
        )
    });
    render(&page)
}
