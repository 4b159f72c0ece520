//! `/contacts/{email}`: a contact's status, counters, attributes and timeline (each event's
//! details shown as text), the form that sets its status by hand (as the API's `PATCH`), and
//! erasing the address on a privacy request (a confirmation page first; as the API's
//! `POST /api/v1/contacts/{email}/erase`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Form;
use rebound_core::Address;
use rebound_store::EventFilter;
use serde::Deserialize;

use super::{back, enc, render, when, when_opt, Chrome, CsrfForm, UiError, UiResult};
use crate::auth::session::UiSession;
use crate::state::AppState;

/// Events shown on the page (as the API's contact answer).
const EVENTS: u32 = 200;

pub(super) struct EventRow {
    when: String,
    kind: String,
    class: String,
    reason: String,
    code: String,
    diagnostic: String,
    provider: String,
    change: String,
    note: String,
    message_id: String,
    details: String,
    /// The request it came from (`/log/{id}`: the raw payload or bounce message).
    request: Option<i64>,
}

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactPage {
    chrome: Chrome,
    email: String,
    action: String,
    erase: String,
    uuid: String,
    status: &'static str,
    suppressed: bool,
    reason: String,
    soft: u32,
    last_event: String,
    last_delivered: String,
    last_engaged: String,
    created: String,
    updated: String,
    attributes: String,
    statuses: [&'static str; 4],
    events: Vec<EventRow>,
}

#[derive(Deserialize)]
pub(super) struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

fn address(email: &str) -> Result<Address, UiError> {
    Address::parse(email).map_err(|e| UiError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// `GET /contacts/{email}`.
pub(super) async fn page(
    State(state): State<AppState>,
    s: UiSession,
    Path(email): Path<String>,
    Query(q): Query<DoneQuery>,
) -> UiResult {
    let addr = address(&email)?;
    let c = state
        .store
        .get_contacts(vec![addr.key().into()])
        .await?
        .into_iter()
        .next()
        .flatten()
        .ok_or_else(|| UiError::new(StatusCode::NOT_FOUND, format!("no contact {email}")))?;
    let events = state
        .store
        .list_events(EventFilter {
            email_key: Some(addr.key().into()),
            limit: EVENTS,
            ..Default::default()
        })
        .await?
        .items
        .into_iter()
        .map(|e| EventRow {
            when: when(e.occurred_at),
            kind: e.kind,
            class: e.class.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            code: e.status.unwrap_or_default(),
            diagnostic: e.diagnostic.unwrap_or_default(),
            provider: e.provider,
            change: match (e.status_before, e.status_after) {
                (Some(a), Some(b)) if a != b => format!("{a} → {b}"),
                _ => String::new(),
            },
            note: e.note.unwrap_or_default(),
            message_id: e.message_id.unwrap_or_default(),
            details: match &e.details {
                serde_json::Value::Object(m) if m.is_empty() => String::new(),
                serde_json::Value::Null => String::new(),
                d => pretty(d),
            },
            request: e.inbox_id,
        })
        .collect();
    render(&ContactPage {
        chrome: Chrome::new(&s, "contacts", q.done.as_deref()),
        action: format!("/contacts/{}/status", enc(&c.email)),
        erase: format!("/contacts/{}/erase", enc(&c.email)),
        email: c.email,
        uuid: c.uuid,
        status: c.status.as_str(),
        suppressed: c.suppressed,
        reason: c.reason.unwrap_or_default(),
        soft: c.soft_bounce_count,
        last_event: when_opt(c.last_event_at),
        last_delivered: when_opt(c.last_delivered_at),
        last_engaged: when_opt(c.last_engaged_at),
        created: when(c.created_at),
        updated: when(c.updated_at),
        attributes: match &c.attributes {
            serde_json::Value::Object(m) if m.is_empty() => String::new(),
            a => pretty(a),
        },
        statuses: ["subscribed", "unsubscribed", "bounced", "complained"],
        events,
    })
}

#[derive(Deserialize)]
pub(super) struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

/// `POST /contacts/{email}/status`: sets the status by hand, with a reason (required), as
/// `POST /api/v1/contacts/bulk` does for one address; the timeline names the user.
pub(super) async fn set_status(
    State(state): State<AppState>,
    s: UiSession,
    Path(email): Path<String>,
    headers: HeaderMap,
    Form(f): Form<StatusForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let addr = address(&email)?;
    let report = crate::api::set_status(
        &state,
        &[addr.as_str().to_string()],
        &f.status,
        &f.reason,
        format!("user {}", s.user.email),
    )
    .await?;
    if !report.not_found.is_empty() {
        return Err(UiError::new(
            StatusCode::NOT_FOUND,
            format!("no contact {}", addr.as_str()),
        ));
    }
    Ok(back(&format!(
        "/contacts/{}?done=status",
        enc(addr.as_str())
    )))
}

#[derive(Template)]
#[template(path = "contact_erase.html")]
struct ErasePage {
    chrome: Chrome,
    email: String,
    page: String,
    action: String,
}

/// `GET /contacts/{email}/erase`: what erasing does, and the button that does it.
pub(super) async fn confirm_erase(s: UiSession, Path(email): Path<String>) -> UiResult {
    let addr = address(&email)?;
    render(&ErasePage {
        chrome: Chrome::new(&s, "contacts", None),
        page: format!("/contacts/{}", enc(addr.as_str())),
        action: format!("/contacts/{}/erase", enc(addr.as_str())),
        email: addr.as_str().to_string(),
    })
}

/// `POST /contacts/{email}/erase`: deletes the contact, its events and raw bodies; the
/// address stays suppressed as a keyed hash. Back to the contacts with a message.
pub(super) async fn erase(
    State(state): State<AppState>,
    s: UiSession,
    Path(email): Path<String>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> UiResult {
    s.check_change(&state, &headers, &f.csrf)?;
    let addr = address(&email)?;
    let had_contact = crate::erasure::erase(&state, &addr).await?;
    tracing::info!(by = %format!("user {}", s.user.email), had_contact, "address erased");
    Ok(back("/contacts?done=erased"))
}
