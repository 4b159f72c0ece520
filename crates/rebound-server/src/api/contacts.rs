//! `/api/v1/contacts`: list, create, show (with the timeline), patch and delete contacts.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use rebound_core::Address;
use rebound_store::{Contact, ContactFilter, ContactPatch, EventFilter, NewContact};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_address, parse_json, parse_status, ApiResult};
use crate::error::{ApiError, ErrorBody};
use crate::state::{now_ms, AppState};

/// The body of `POST /api/v1/contacts`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateContact {
    /// The address.
    email: String,
    /// `subscribed` (default), `unsubscribed`, `bounced` or `complained`.
    #[serde(default)]
    status: Option<String>,
    /// Why.
    #[serde(default)]
    reason: Option<String>,
    /// A UUID of the sender's (listmonk's `subscriber_uuid`); else one is made.
    #[serde(default)]
    uuid: Option<String>,
    /// Free JSON attributes (at most 16,384 bytes, 8 levels deep).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    attributes: Option<serde_json::Map<String, Value>>,
}

/// The path parameter of a contact's routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct ContactEmail {
    /// The contact's address.
    email: String,
}

const CONTACT: &str = "The contact: `{\"uuid\", \"email\", \"status\", \"reason\", \
    \"suppressed\", \"soft_bounce_count\", \"attributes\", \"created_at\", \"updated_at\", …}`.";

/// 413 for attributes over the size limit, 400 for too deep a nesting.
fn check_attributes(attrs: &serde_json::Map<String, Value>) -> ApiResult<()> {
    use rebound_core::attributes::{check, Exceeded};
    match check(attrs) {
        Ok(()) => Ok(()),
        Err(e @ Exceeded::Size(_)) => {
            Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))
        }
        Err(e @ Exceeded::Depth) => Err(ApiError::bad_request(e.to_string())),
    }
}

/// `POST /api/v1/contacts`.
#[utoipa::path(
    post,
    path = "/contacts",
    tag = "contacts",
    request_body = CreateContact,
    responses(
        (status = 201, description = CONTACT, body = Contact),
        (status = 400, description = "Invalid JSON, address or status, or attributes nested \
         too deep.", body = ErrorBody),
        (status = 409, description = "The contact exists.", body = ErrorBody),
        (status = 413, description = "Attributes over the size limit.", body = ErrorBody),
    ),
)]
pub(super) async fn create(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CreateContact = parse_json(&body)?;
    if let Some(a) = &req.attributes {
        check_attributes(a)?;
    }
    let addr = parse_address(&req.email)?;
    let status = req.status.as_deref().map(parse_status).transpose()?;
    let new = NewContact {
        email: addr.as_str().into(),
        email_key: addr.key().into(),
        status,
        reason: req.reason,
        uuid: req.uuid,
        attributes: req
            .attributes
            .map(Value::Object)
            .unwrap_or_else(|| json!({})),
        now: now_ms(),
    };
    let report = state.store.upsert_contacts(vec![new], false).await?;
    if report.created == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("contact {} already exists", addr.as_str()),
        ));
    }
    let c = state
        .store
        .get_contacts(vec![addr.key().into()])
        .await?
        .into_iter()
        .next()
        .flatten();
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// A page of `GET /api/v1/contacts`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ContactQuery {
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Which contacts: the filters of the contacts list, its CSV export and the UI's contacts
/// page (empty values select all).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactSelection {
    /// Only contacts with this status.
    #[serde(default)]
    pub status: Option<String>,
    /// Only addresses containing this text.
    #[serde(default)]
    pub q: Option<String>,
    /// Only contacts with this reason (`userunknown`, `feedback`, `manual`…).
    #[serde(default)]
    pub reason: Option<String>,
    /// Only contacts with an event from this source (its id).
    #[serde(default)]
    pub source: Option<String>,
    /// Only contacts whose last event happened at or after this (RFC 3339, or a date
    /// `YYYY-MM-DD`: its start, UTC).
    #[serde(default)]
    pub since: Option<String>,
    /// Only contacts whose last event happened before this (same forms).
    #[serde(default)]
    pub until: Option<String>,
}

/// `name=value&…` of a selection's filters, values encoded (empty when not given).
pub(super) fn query_string(filters: &[(&str, &Option<String>)]) -> String {
    let mut out = String::new();
    for (name, v) in filters {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.extend(percent_encoding::utf8_percent_encode(
            given(v).unwrap_or_default(),
            percent_encoding::NON_ALPHANUMERIC,
        ));
    }
    out
}

pub(super) fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub(super) fn time(name: &str, v: &Option<String>) -> ApiResult<Option<i64>> {
    let Some(v) = given(v) else { return Ok(None) };
    let full = if v.len() == 10 {
        format!("{v}T00:00:00Z")
    } else {
        v.to_string()
    };
    rebound_core::timestamp::parse(&full)
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name}: '{v}' is not an RFC 3339 time or a date YYYY-MM-DD"
            ))
        })
}

impl ContactSelection {
    /// The store's filter; 400 naming a value that does not parse.
    pub fn filter(&self) -> ApiResult<ContactFilter> {
        let source_id = given(&self.source)
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("source: '{s}' is not a source id")))
            })
            .transpose()?;
        Ok(ContactFilter {
            status: given(&self.status).map(parse_status).transpose()?,
            q: given(&self.q).map(str::to_string),
            reason: given(&self.reason).map(str::to_string),
            source_id,
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            ..Default::default()
        })
    }

    /// A selection read back from [`ContactSelection::query`]'s text (unknown names are
    /// ignored).
    pub fn from_query(query: &str) -> ContactSelection {
        let mut sel = ContactSelection::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let v = Some(v.into_owned());
            match &*k {
                "status" => sel.status = v,
                "q" => sel.q = v,
                "reason" => sel.reason = v,
                "source" => sel.source = v,
                "since" => sel.since = v,
                "until" => sel.until = v,
                _ => {}
            }
        }
        sel
    }

    /// The selection as a query string (`status=…&q=…&…`), for links.
    pub fn query(&self) -> String {
        query_string(&[
            ("status", &self.status),
            ("q", &self.q),
            ("reason", &self.reason),
            ("source", &self.source),
            ("since", &self.since),
            ("until", &self.until),
        ])
    }
}

/// `GET /api/v1/contacts`: contacts in creation order, a page at a time.
#[utoipa::path(
    get,
    path = "/contacts",
    tag = "contacts",
    params(ContactSelection, ContactQuery),
    responses(
        (status = 200, description = "A page of contacts, in creation order.",
         body = rebound_store::Page<Contact>),
        (status = 400, description = "Unknown status or bad query.", body = ErrorBody),
    ),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Query(sel): Query<ContactSelection>,
    Query(q): Query<ContactQuery>,
) -> ApiResult {
    let filter = ContactFilter {
        limit: q.limit.unwrap_or(100),
        cursor: q.cursor,
        ..sel.filter()?
    };
    Ok(Json(state.store.list_contacts(filter).await?).into_response())
}

async fn contact_or_404(state: &AppState, email: &str) -> ApiResult<(Address, Contact)> {
    let addr = parse_address(email)?;
    let c = state
        .store
        .get_contacts(vec![addr.key().into()])
        .await?
        .into_iter()
        .next()
        .flatten();
    c.map(|c| (addr, c))
        .ok_or_else(|| ApiError::not_found(format!("no contact {email}")))
}

/// `GET /api/v1/contacts/{email}`: the contact with its `events`, newest first.
#[utoipa::path(
    get,
    path = "/contacts/{email}",
    tag = "contacts",
    params(ContactEmail),
    responses(
        (status = 200, description = "The contact, with an `events` array, newest first.",
         body = ContactWithEvents),
        (status = 400, description = "Not an address.", body = ErrorBody),
        (status = 404, description = "No such contact.", body = ErrorBody),
    ),
)]
pub(super) async fn get_one(State(state): State<AppState>, Path(email): Path<String>) -> ApiResult {
    let (addr, contact) = contact_or_404(&state, &email).await?;
    let events = state
        .store
        .list_events(EventFilter {
            email_key: Some(addr.key().into()),
            limit: 200,
            ..Default::default()
        })
        .await?;
    Ok(Json(ContactWithEvents {
        contact,
        events: events.items,
    })
    .into_response())
}

/// A contact and its latest events (at most 200), newest first.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct ContactWithEvents {
    #[serde(flatten)]
    contact: Contact,
    /// The timeline, newest first.
    events: Vec<rebound_store::StoredEvent>,
}

/// The body of `PATCH /api/v1/contacts/{email}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchBody {
    /// A new status (recorded in the timeline).
    #[serde(default)]
    status: Option<String>,
    /// Why.
    #[serde(default)]
    reason: Option<String>,
    /// Attributes merged into the old ones.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    attributes: Option<serde_json::Map<String, Value>>,
}

/// `PATCH /api/v1/contacts/{email}`: change a contact by hand.
#[utoipa::path(
    patch,
    path = "/contacts/{email}",
    tag = "contacts",
    params(ContactEmail),
    request_body = PatchBody,
    responses(
        (status = 200, description = CONTACT, body = Contact),
        (status = 400, description = "Invalid JSON, address or status, or attributes nested \
         too deep.", body = ErrorBody),
        (status = 404, description = "No such contact.", body = ErrorBody),
        (status = 413, description = "The merged attributes are over the size limit.",
         body = ErrorBody),
    ),
)]
pub(super) async fn patch(
    State(state): State<AppState>,
    Path(email): Path<String>,
    caller: Option<axum::Extension<crate::auth::keys::Caller>>,
    body: Bytes,
) -> ApiResult {
    let req: PatchBody = parse_json(&body)?;
    let (addr, old) = contact_or_404(&state, &email).await?;
    let mut patch = ContactPatch {
        attributes: req.attributes,
        by: caller.map(|c| c.describe()),
        ..ContactPatch::default()
    };
    if patch.attributes.is_some() {
        // Patched attributes are merged into the old ones: the merge is what is kept.
        check_attributes(&patch.merged_attributes(&old.attributes))?;
    }
    patch.status = req.status.as_deref().map(parse_status).transpose()?;
    patch.reason = req.reason;
    let c = state
        .store
        .patch_contact(addr.key(), patch, now_ms())
        .await?;
    Ok(Json(c).into_response())
}

/// `DELETE /api/v1/contacts/{email}`.
#[utoipa::path(
    delete,
    path = "/contacts/{email}",
    tag = "contacts",
    params(ContactEmail),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "Not an address.", body = ErrorBody),
        (status = 404, description = "No such contact.", body = ErrorBody),
    ),
)]
pub(super) async fn delete(State(state): State<AppState>, Path(email): Path<String>) -> ApiResult {
    let addr = parse_address(&email)?;
    if state.store.delete_contact(addr.key()).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no contact {email}")))
    }
}

/// `POST /api/v1/contacts/{email}/erase`: a privacy request. The contact, its events and
/// the raw bodies behind them are deleted; the address stays suppressed as a keyed hash.
/// Answered the same whether or not there was a contact (the hash is kept either way).
#[utoipa::path(post, path = "/contacts/{email}/erase", tag = "contacts",
    params(("email" = String, Path, description = "The address.")),
    responses(
        (status = 200, description = "`{\"erased\": true, \"contact_deleted\"}`.", body = Object),
        (status = 400, description = "Not an address.", body = ErrorBody),
    ))]
pub(super) async fn erase(
    State(state): State<AppState>,
    Path(email): Path<String>,
    caller: Option<axum::Extension<crate::auth::keys::Caller>>,
) -> ApiResult {
    let addr = parse_address(&email)?;
    let had_contact = crate::erasure::erase(&state, &addr).await?;
    tracing::info!(
        by = caller.map_or_else(|| "api".into(), |c| c.describe()),
        had_contact,
        "address erased"
    );
    Ok(Json(json!({ "erased": true, "contact_deleted": had_contact })).into_response())
}
