//! API errors: a status code and a JSON body `{"error": "..."}` naming the problem.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rebound_store::StoreError;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// What went wrong, safe to show to the caller.
    pub message: String,
}

impl ApiError {
    /// An error with a status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

/// The body of every error answer: `{"error": "..."}`. The same type serializes the answers
/// and describes them in the OpenAPI document.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            StoreError::Invalid(m) => ApiError::bad_request(m),
            StoreError::Db(_) | StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "store error");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage unavailable, try again",
                )
            }
        }
    }
}

/// The fallback for unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

impl From<crate::sources::Error> for ApiError {
    fn from(e: crate::sources::Error) -> Self {
        match e {
            crate::sources::Error::Invalid(msg) => ApiError::bad_request(msg),
            crate::sources::Error::Store(e) => e.into(),
        }
    }
}

/// Largest admin API body: a batch suppression check of 1,000 addresses fits with room.
pub const ADMIN_BODY_LIMIT: usize = 1024 * 1024;

/// Turns axum's own plain-text rejections (a body over the limit, a path that does not
/// parse, a wrong content type…) into the JSON error every route answers with.
pub async fn json_rejections(resp: axum::response::Response) -> axum::response::Response {
    use axum::http::header::CONTENT_TYPE;
    let status = resp.status();
    let plain = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return resp;
    }
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("body larger than the limit of {ADMIN_BODY_LIMIT} bytes")
    } else {
        let body = axum::body::to_bytes(resp.into_body(), 4096)
            .await
            .unwrap_or_default();
        String::from_utf8_lossy(&body).trim().to_string()
    };
    ApiError::new(status, message).into_response()
}
