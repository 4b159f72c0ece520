//! `/api/v1/suppressions`: the suppression check of the sending path, one address or a batch.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use rebound_core::Address;
use rebound_store::Contact;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_address, parse_json, ApiResult};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

fn suppression_json(email: &str, c: Option<&Contact>, erased: bool) -> Value {
    match c {
        Some(c) if c.suppressed || !erased => json!({
            "email": c.email, "suppressed": c.suppressed, "status": c.status, "reason": c.reason,
        }),
        // Erased (a privacy request): suppressed for good, whatever arrived since.
        _ if erased => {
            json!({ "email": email, "suppressed": true, "status": "unsubscribed", "reason": "erased" })
        }
        _ => json!({ "email": email, "suppressed": false, "status": null, "reason": null }),
    }
}

/// The suppression answers for these addresses, in order: their contacts, and for those
/// not suppressed by a contact, whether the address was erased.
async fn answers(state: &AppState, addrs: &[&Address]) -> ApiResult<Vec<Value>> {
    let keys: Vec<String> = addrs.iter().map(|a| a.key().to_string()).collect();
    let found = state.store.get_contacts(keys).await?;
    let open: Vec<&Address> = addrs
        .iter()
        .zip(&found)
        .filter(|(_, c)| !c.as_ref().is_some_and(|c| c.suppressed))
        .map(|(a, _)| *a)
        .collect();
    let erased = crate::erasure::erased(state, &open).await?;
    Ok(addrs
        .iter()
        .zip(&found)
        .map(|(a, c)| suppression_json(a.as_str(), c.as_ref(), erased.contains(a.key())))
        .collect())
}

/// The answer of `GET /api/v1/suppressions/{email}`, and of each address of a batch check.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct Suppression {
    /// The address (as first spelled, when known).
    email: String,
    /// Whether the sending side must skip this address.
    suppressed: bool,
    /// `subscribed`, `unsubscribed`, `bounced` or `complained`; null for an unknown address.
    status: Option<String>,
    /// Why the status is what it is.
    reason: Option<String>,
}

/// `GET /api/v1/suppressions/{email}`: whether to skip one address.
#[utoipa::path(
    get,
    path = "/suppressions/{email}",
    tag = "suppressions",
    params(("email" = String, Path, description = "The address.")),
    responses(
        (status = 200, description = "The address's suppression (an unknown address: \
         `suppressed: false`, `status: null`).", body = Suppression),
        (status = 400, description = "Not an address.", body = ErrorBody),
    ),
)]
pub(super) async fn get_one(State(state): State<AppState>, Path(email): Path<String>) -> ApiResult {
    let addr = parse_address(&email)?;
    let mut one = answers(&state, &[&addr]).await?;
    Ok(Json(one.pop().unwrap_or(Value::Null)).into_response())
}

/// The body of `POST /api/v1/suppressions/check`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckRequest {
    /// At most 1000 addresses.
    emails: Vec<String>,
}

const MAX_CHECK: usize = 1000;

/// `POST /api/v1/suppressions/check`: a batch of addresses, answered in the same order.
#[utoipa::path(
    post,
    path = "/suppressions/check",
    tag = "suppressions",
    request_body = CheckRequest,
    responses(
        (status = 200, description = "`{\"results\": [...]}` in the order asked: a \
         `Suppression` per address, or `{\"email\", \"error\"}` for one that is not an \
         address.", body = Object),
        (status = 400, description = "Invalid JSON, or over 1000 addresses.", body = ErrorBody),
    ),
)]
pub(super) async fn check(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: CheckRequest = parse_json(&body)?;
    if req.emails.len() > MAX_CHECK {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_CHECK} emails per request"
        )));
    }
    let parsed: Vec<Result<Address, String>> = req
        .emails
        .iter()
        .map(|e| Address::parse(e).map_err(|err| err.to_string()))
        .collect();
    let valid: Vec<&Address> = parsed.iter().filter_map(|p| p.as_ref().ok()).collect();
    let mut found = answers(&state, &valid).await?.into_iter();
    let results: Vec<Value> = parsed
        .iter()
        .zip(&req.emails)
        .map(|(p, raw)| match p {
            Ok(_) => found.next().unwrap_or(Value::Null),
            Err(e) => json!({ "email": raw, "error": e }),
        })
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}
