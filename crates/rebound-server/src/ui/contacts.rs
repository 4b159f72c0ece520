//! `/contacts`: search by address, filter by status, one page at a time (keyset cursor);
//! the filtered set exported as CSV (as `GET /api/v1/contacts/export`, viewers too); and,
//! for admins, a status set on the ticked contacts at once with a reason (as
//! `POST /api/v1/contacts/bulk`).

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use rebound_core::Status;
use rebound_store::ContactFilter;
use serde::Deserialize;

use super::{back, enc, render, when_opt, Chrome, UiError, UiResult};
use crate::api::ContactSelection;
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
    reason: String,
    source: String,
    sources: Vec<(String, String)>,
    since: String,
    until: String,
    /// The selection as a query string (links, the bulk form's way back).
    selection: String,
    statuses: [&'static str; 4],
    rows: Vec<Row>,
    next: Option<String>,
    export: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ContactsQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    done: Option<String>,
    // A bulk change's counts (numbers only; anything else shows no message).
    #[serde(default)]
    changed: Option<String>,
    #[serde(default)]
    unchanged: Option<String>,
    #[serde(default)]
    missing: Option<String>,
}

/// The message after a bulk change: fixed words around the counts, which must parse as
/// numbers (so a link cannot put words on the page).
fn bulk_flash(q: &ContactsQuery) -> Option<String> {
    let n = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<u64>().ok());
    let (changed, unchanged, missing) = (n(&q.changed)?, n(&q.unchanged)?, n(&q.missing)?);
    Some(format!(
        "Status set: {changed} changed, {unchanged} already had it, {missing} not found."
    ))
}

/// `GET /contacts?q=&status=&cursor=`.
pub(super) async fn page(
    State(state): State<AppState>,
    s: UiSession,
    Query(query): Query<ContactsQuery>,
    Query(sel): Query<ContactSelection>,
) -> UiResult {
    let mut chrome = Chrome::new(&s, "contacts", query.done.as_deref());
    if query.done.as_deref() == Some("bulk") {
        chrome.flash = bulk_flash(&query);
    }
    let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_string();
    let selection = sel.query();
    let sources = state
        .store
        .list_sources()
        .await?
        .into_iter()
        .map(|src| {
            (
                src.id.to_string(),
                format!("{} ({})", src.name, src.provider),
            )
        })
        .collect();
    let mut page = ContactsPage {
        chrome,
        export: format!("/contacts/export.csv?{selection}"),
        q: text(&sel.q),
        status: Status::parse(text(&sel.status).as_str())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        reason: text(&sel.reason),
        source: text(&sel.source),
        sources,
        since: text(&sel.since),
        until: text(&sel.until),
        selection: selection.clone(),
        statuses: ["subscribed", "unsubscribed", "bounced", "complained"],
        rows: Vec::new(),
        next: None,
        error: None,
    };
    let filter = match sel.filter() {
        Ok(f) => f,
        Err(e) => {
            page.error = Some(e.message);
            return render(&page);
        }
    };
    let found = state
        .store
        .list_contacts(ContactFilter {
            limit: PAGE,
            cursor: query.cursor.filter(|c| !c.is_empty()),
            ..filter
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
    page.next = found
        .next_cursor
        .map(|cursor| format!("/contacts?{selection}&cursor={}", enc(&cursor)));
    render(&page)
}

/// `GET /contacts/export.csv?status=&q=`: the contacts the page's filter selects (all
/// pages), as the API's export streams them.
pub(super) async fn export(
    State(state): State<AppState>,
    _s: UiSession,
    Query(sel): Query<ContactSelection>,
) -> UiResult {
    let filter = sel.filter()?;
    let body = Body::from_stream(crate::export::stream(state.store.clone(), filter));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"rebound-contacts.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// The bulk form: repeated `email` fields (the ticked rows), so read by hand rather than
/// through `Form` (which keeps one value per name).
#[derive(Default)]
struct BulkForm {
    csrf: String,
    emails: Vec<String>,
    action: String,
    reason: String,
    /// The page's selection (a query string), to go back to.
    filter: String,
}

impl BulkForm {
    fn parse(body: &[u8]) -> BulkForm {
        let mut f = BulkForm::default();
        for (k, v) in form_urlencoded::parse(body) {
            let v = v.into_owned();
            match &*k {
                "csrf" => f.csrf = v,
                "email" => f.emails.push(v),
                "action" => f.action = v,
                "reason" => f.reason = v,
                "filter" => f.filter = v,
                _ => {}
            }
        }
        f
    }
}

/// `POST /contacts/bulk` (`email`…, `action` suppress|unsuppress, `reason`): sets
/// `unsubscribed` or `subscribed` on the ticked contacts through the API's bulk change (at
/// most 1000, a reason required, the user named in each timeline); back to the same
/// filter with the counts.
pub(super) async fn bulk(
    State(state): State<AppState>,
    s: UiSession,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult {
    let f = BulkForm::parse(&body);
    s.check_change(&state, &headers, &f.csrf)?;
    let status = match f.action.as_str() {
        "suppress" => "unsubscribed",
        "unsuppress" => "subscribed",
        _ => {
            return Err(UiError::new(
                StatusCode::BAD_REQUEST,
                "choose suppress or unsuppress",
            ))
        }
    };
    if f.emails.is_empty() {
        return Err(UiError::new(
            StatusCode::BAD_REQUEST,
            "tick at least one contact",
        ));
    }
    let report = crate::api::set_status(
        &state,
        &f.emails,
        status,
        &f.reason,
        format!("user {}", s.user.email),
    )
    .await?;
    // Back to the same selection, re-encoded from its fields only.
    let sel = ContactSelection::from_query(&f.filter);
    Ok(back(&format!(
        "/contacts?{}&done=bulk&changed={}&unchanged={}&missing={}",
        sel.query(),
        report.changed,
        report.unchanged,
        report.not_found.len() + report.invalid.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bulk_form_keeps_every_ticked_address_and_counts_are_numbers_only() {
        let f = BulkForm::parse(
            b"csrf=t&email=a%40x.com&email=b%2Bc%40x.com&action=suppress&reason=asked",
        );
        assert_eq!(f.emails, ["a@x.com", "b+c@x.com"]);
        assert_eq!((f.csrf.as_str(), f.action.as_str()), ("t", "suppress"));
        let q = |changed: &str| ContactsQuery {
            cursor: None,
            done: Some("bulk".into()),
            changed: Some(changed.into()),
            unchanged: Some("0".into()),
            missing: Some("1".into()),
        };
        assert_eq!(
            bulk_flash(&q("3")).as_deref(),
            Some("Status set: 3 changed, 0 already had it, 1 not found.")
        );
        assert_eq!(bulk_flash(&q("<b>hacked</b>")), None);
    }
}
