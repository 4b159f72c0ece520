//! "Scan now" for a mailbox source: one pass, then the source's status says how it went
//! ([`crate::mailbox::record_scan`]: `active` with what it read and found, or `error` with the mailbox's complaint). The rules of
//! `POST /api/v1/sources/{id}/scan`, for every caller (the admin UI's button goes through
//! [`scan_now`]).

use axum::http::StatusCode;

use crate::error::ApiError;
use crate::mailbox::{ScanError, ScanReport, SourceError};
use crate::state::AppState;

/// Runs one pass over mailbox source `id` now and wakes the workers. 404: no such source;
/// 400: not a usable mailbox source; 409: a pass is running; 503: the pass lost its lock
/// (the source's status left alone); 502: the mailbox failed (the source's status becomes
/// `error` with the message).
pub async fn scan_now(state: &AppState, id: i64) -> Result<ScanReport, ApiError> {
    let (source, url) = match crate::mailbox::source_by_id(&state.store, id).await {
        Ok(found) => found,
        Err(e @ SourceError::NotFound(_)) => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, e.to_string()))
        }
        Err(SourceError::Invalid(msg)) => return Err(ApiError::bad_request(msg)),
        Err(SourceError::Store(e)) => return Err(e.into()),
    };
    let outcome = crate::mailbox::scan(&state.store, Some(&source), &url, None).await;
    crate::mailbox::record_scan(&state.store, id, &outcome).await?;
    match outcome {
        Ok(report) => {
            state.wake.notify_one();
            Ok(report)
        }
        Err(ScanError::Store(e)) => Err(e.into()),
        Err(e @ ScanError::Busy) => Err(ApiError::new(StatusCode::CONFLICT, e.to_string())),
        // Not the mailbox's fault: the source's status is left alone.
        Err(e @ ScanError::LockLost(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            e.to_string(),
        )),
        Err(e) => Err(ApiError::new(StatusCode::BAD_GATEWAY, e.to_string())),
    }
}
