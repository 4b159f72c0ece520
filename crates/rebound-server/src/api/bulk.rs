//! Contacts as a set: the filtered set exported as CSV (streamed), and a status set by hand
//! on many contacts at once with a required reason, recorded in each timeline with who
//! asked.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use rebound_core::Address;
use rebound_store::{ContactPatch, StoreError};
use serde::Deserialize;
use serde_json::json;

use super::{parse_json, parse_status, ApiResult};
use crate::auth::keys::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::{now_ms, AppState};

/// `GET /api/v1/contacts/export?status=&q=`: the contacts the filter selects, as CSV (the
/// columns `rebound export` writes and `rebound import` reads), streamed.
#[utoipa::path(get, path = "/contacts/export", tag = "contacts", params(super::contacts::ContactSelection),
    responses(
        (status = 200, description = "CSV: `email,status,reason,uuid,attributes,soft_bounce_count,last_event_at,created_at`.", body = String, content_type = "text/csv"),
        (status = 400, description = "Unknown status.", body = ErrorBody),
    ))]
pub(super) async fn export(
    State(state): State<AppState>,
    Query(sel): Query<super::contacts::ContactSelection>,
) -> ApiResult {
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

/// A status set by hand on many contacts.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BulkStatus {
    /// At most 1000 addresses.
    emails: Vec<String>,
    /// The new status.
    status: String,
    /// Why (required; recorded in each timeline).
    reason: String,
}

/// Addresses per bulk change.
pub const MAX_BULK: usize = 1000;

/// What a bulk change did.
#[derive(Debug, Default, serde::Serialize)]
pub struct BulkReport {
    /// Contacts whose status changed.
    pub changed: u64,
    /// Contacts that already had the status.
    pub unchanged: u64,
    /// Addresses with no contact.
    pub not_found: Vec<String>,
    /// Entries that are not addresses, with why.
    pub invalid: Vec<serde_json::Value>,
}

/// Sets `status` on each address by hand, with `reason`, recorded as done `by`.
pub async fn set_status(
    state: &AppState,
    emails: &[String],
    status: &str,
    reason: &str,
    by: String,
) -> Result<BulkReport, ApiError> {
    if emails.len() > MAX_BULK {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BULK} emails per request"
        )));
    }
    let status = parse_status(status)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > 500 {
        return Err(ApiError::bad_request(
            "reason: say why, in 1 to 500 characters (it goes in each timeline)",
        ));
    }
    let mut report = BulkReport::default();
    let now = now_ms();
    for raw in emails {
        let addr = match Address::parse(raw) {
            Ok(a) => a,
            Err(e) => {
                report
                    .invalid
                    .push(json!({ "email": raw, "error": e.to_string() }));
                continue;
            }
        };
        let patch = ContactPatch {
            status: Some(status),
            reason: Some(reason.to_string()),
            attributes: None,
            by: Some(by.clone()),
        };
        let before = state.store.get_contacts(vec![addr.key().into()]).await?;
        match before.into_iter().next().flatten() {
            None => report.not_found.push(addr.as_str().into()),
            Some(c) if c.status == status => report.unchanged += 1,
            Some(_) => match state.store.patch_contact(addr.key(), patch, now).await {
                Ok(_) => report.changed += 1,
                // Deleted in between.
                Err(StoreError::NotFound(_)) => report.not_found.push(addr.as_str().into()),
                Err(e) => return Err(e.into()),
            },
        }
    }
    Ok(report)
}

/// `POST /api/v1/contacts/bulk` `{"emails":[…],"status","reason"}` (≤ 1000 addresses; the
/// reason is required) → `{"changed","unchanged","not_found","invalid"}`.
#[utoipa::path(post, path = "/contacts/bulk", tag = "contacts", request_body = BulkStatus,
    responses(
        (status = 200, description = "`{\"changed\",\"unchanged\",\"not_found\",\"invalid\"}`.", body = Object),
        (status = 400, description = "No reason, unknown status, or over 1000 addresses.", body = ErrorBody),
    ))]
pub(super) async fn bulk(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    body: Bytes,
) -> ApiResult {
    let req: BulkStatus = parse_json(&body)?;
    let by = caller.map_or_else(|| "api".to_string(), |c| c.describe());
    let report = set_status(&state, &req.emails, &req.status, &req.reason, by).await?;
    Ok((StatusCode::OK, Json(report)).into_response())
}
