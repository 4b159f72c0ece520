//! The admin web UI (`/`): server-rendered pages, one module per page, askama templates
//! (`templates/`, checked at compile time, every value HTML-escaped) and one embedded
//! stylesheet. No JavaScript, no inline styles: the Content-Security-Policy forbids both.
//!
//! Pages need a login session ([`UiSession`]: without one a page redirects to `/login`).
//! Every change is a `POST` form carrying the session's CSRF token, checked with
//! [`UiSession::check_change`] (which also refuses foreign origins and viewers); a change
//! answers 303 back to the page with a fixed message code (`?done=…`), or, when it made a
//! secret that is shown only once (a source's URL, an API key, a password), a page showing
//! it with `Cache-Control: no-store`. Every rule (what a source needs, a key's scope, a
//! password's length, replaying) is the API's: the handlers call the same functions.

mod contact;
mod contacts;
mod dashboard;
mod log;
mod login;
mod outbound;
mod rates;
mod settings;
mod setup;
mod sources;

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::map_response;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rebound_core::Millis;

use crate::auth::session::UiSession;
use crate::error::ApiError;
use crate::state::AppState;

/// The Content-Security-Policy of every UI answer: only this site's stylesheet (and
/// `data:` images); no script, inline style, frame or foreign form target.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The stylesheet, embedded.
const STYLE: &str = include_str!("../../assets/style.css");

/// The UI's routes (pages, forms, assets), with the security headers on every answer.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/contacts", get(contacts::page))
        .route("/contacts/export.csv", get(contacts::export))
        .route("/contacts/bulk", post(contacts::bulk))
        .route("/contacts/{email}", get(contact::page))
        .route(
            "/contacts/{email}/erase",
            get(contact::confirm_erase).post(contact::erase),
        )
        .route("/contacts/{email}/status", post(contact::set_status))
        .route("/sources", get(sources::page).post(sources::create))
        .route(
            "/sources/{id}/rotate",
            get(sources::confirm_rotate).post(sources::rotate),
        )
        .route("/sources/{id}/scan", post(sources::scan))
        .route("/sources/{id}/test", post(sources::test))
        .route("/outbound", get(outbound::page).post(outbound::create))
        .route("/outbound/{id}", get(outbound::deliveries))
        .route("/outbound/{id}/rotate", post(outbound::rotate))
        .route("/outbound/{id}/redeliver", post(outbound::redeliver))
        .route("/outbound/{id}/{action}", post(outbound::enable))
        .route("/log", get(log::page))
        .route("/log/replay-failed", post(log::replay_failed))
        .route("/log/{id}", get(log::detail))
        .route("/log/{id}/replay", post(log::replay))
        .route("/settings", get(settings::page).post(settings::save))
        .route("/settings/keys", post(settings::create_key))
        .route("/settings/keys/{id}/revoke", post(settings::revoke_key))
        .route("/settings/users", post(settings::create_user))
        .route("/settings/users/{id}/delete", post(settings::delete_user))
        .route("/assets/style.css", get(style))
        .layer(map_response(security_headers))
}

/// Adds the security headers; pages (anything without its own `Cache-Control`) are not
/// cached.
pub(crate) async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// `GET /assets/style.css`: cached for a year (the link carries the version).
async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        STYLE,
    )
        .into_response()
}

/// What the frame of every page shows: who is logged in, the navigation, the logout form
/// (with the CSRF token), and a message after a change.
pub(crate) struct Chrome {
    /// The user's address.
    pub user: String,
    /// Whether change forms are shown.
    pub admin: bool,
    /// The token every form sends back.
    pub csrf: String,
    /// The page, to mark in the navigation.
    pub nav: &'static str,
    /// A message about the change just made.
    pub flash: Option<String>,
    /// The stylesheet's URL.
    pub style: String,
}

impl Chrome {
    pub(crate) fn new(s: &UiSession, nav: &'static str, done: Option<&str>) -> Chrome {
        Chrome {
            user: s.user.email.clone(),
            admin: s.is_admin(),
            csrf: s.csrf.clone(),
            nav,
            flash: done.and_then(flash).map(str::to_string),
            style: style_url(),
        }
    }
}

pub(crate) fn style_url() -> String {
    format!("/assets/style.css?v={}", env!("CARGO_PKG_VERSION"))
}

/// The message of a change's `?done=` code; other codes show nothing (so a link cannot put
/// words on the page).
fn flash(code: &str) -> Option<&'static str> {
    Some(match code {
        "status" => "Status changed.",
        "replayed" => "Request queued for replay.",
        "revoked" => "Key revoked.",
        "subscribed" => "Subscription added.",
        "enabled" => "Subscription enabled: deliveries resume.",
        "disabled" => "Subscription disabled: nothing is sent until it is enabled again.",
        "redelivered" => "The messages given up are queued again.",
        "user-deleted" => "User deleted; their sessions have ended.",
        "settings" => "Settings saved.",
        "scanned" => "Mailbox scanned.",
        "tested" => {
            "Test event sent: below is the request it made, and what processing made of it."
        }
        "erased" => {
            "Address erased: its contact, events and raw bodies are deleted; it stays suppressed."
        }
        _ => return None,
    })
}

/// The body of a change that takes nothing but the session's CSRF token (a button).
#[derive(serde::Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// An error shown as a page, with its status code.
#[derive(Debug)]
pub(crate) struct UiError {
    status: StatusCode,
    message: String,
}

impl UiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> UiError {
        UiError {
            status,
            message: message.into(),
        }
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::new(e.status, e.message)
    }
}

impl From<rebound_store::StoreError> for UiError {
    fn from(e: rebound_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    style: String,
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            style: style_url(),
            status: self.status.as_u16(),
            title: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(_) => (self.status, self.message).into_response(),
        }
    }
}

pub(crate) type UiResult = Result<Response, UiError>;

/// A template as an HTML answer.
pub(crate) fn render<T: Template>(t: &T) -> UiResult {
    t.render().map(|h| Html(h).into_response()).map_err(|e| {
        tracing::error!(error = %e, "UI template failed");
        UiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page could not be shown",
        )
    })
}

/// 303 to `to` after a change.
pub(crate) fn back(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Characters left as they are in a query value or path segment.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'@');

/// Percent-encodes a query value or path segment.
pub(crate) fn enc(s: &str) -> String {
    utf8_percent_encode(s, KEEP).collect()
}

/// A time as pages show it: `2026-12-07 09:41:05` (UTC).
pub(crate) fn when(ms: Millis) -> String {
    let s = rebound_core::timestamp::format(ms);
    match s.get(..19) {
        Some(head) if s.len() > 19 => head.replace('T', " "),
        _ => s,
    }
}

/// An optional time, or an empty string.
pub(crate) fn when_opt(ms: Option<Millis>) -> String {
    ms.map(when).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_codes_are_a_fixed_set_and_values_are_encoded() {
        assert_eq!(flash("status"), Some("Status changed."));
        assert_eq!(flash("<b>you were hacked</b>"), None);
        assert_eq!(enc("a+b@x.com/&?"), "a%2Bb@x.com%2F%26%3F");
        assert_eq!(when(0), "1970-01-01 00:00:00");
    }
}
