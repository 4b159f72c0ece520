//! `POST /api/v1/unsubscribe-links`: the RFC 8058 header values for one message
//! ([`crate::unsubscribe`]); a `check` key may call it.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::{parse_json, ApiResult};
use crate::error::{ApiError, ErrorBody};
use crate::state::{now_ms, AppState};
use crate::unsubscribe::Link;

/// The body of `POST /api/v1/unsubscribe-links`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkRequest {
    /// The recipient's address.
    email: String,
    /// The list the message belongs to (1 to 200 characters), kept in the unsubscribe
    /// event's details.
    list: Option<String>,
}

/// `POST /api/v1/unsubscribe-links`: the `List-Unsubscribe` and `List-Unsubscribe-Post`
/// values for one recipient (and list), valid for a year.
#[utoipa::path(
    post,
    path = "/unsubscribe-links",
    tag = "unsubscribe",
    request_body = LinkRequest,
    responses(
        (status = 200, description = "The link and the two header values to put on the \
         message (signed by DKIM with it).", body = Link),
        (status = 400, description = "Invalid JSON, address or list.", body = ErrorBody),
    ),
)]
pub(super) async fn create(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let req: LinkRequest = parse_json(&body)?;
    let link = crate::unsubscribe::link(
        &state.unsubscribe_key,
        &state.config.public_url,
        &req.email,
        req.list.as_deref(),
        now_ms(),
    )
    .map_err(ApiError::bad_request)?;
    Ok(Json(link).into_response())
}
