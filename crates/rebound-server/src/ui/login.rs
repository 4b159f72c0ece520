//! `/login` and `/logout`: the login form, checking a password (rate-limited per client by
//! [`session::login`]), and ending a session.

use std::net::IpAddr;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::{render, style_url, UiError, UiResult};
use crate::auth::session::{self, LoginError, UiSession};
use crate::auth::Client;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    style: String,
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct NextQuery {
    #[serde(default)]
    next: Option<String>,
}

/// Where to go after logging in: `next` when it is a path on this site (`/…`, not `//…`
/// nor anything a browser could read as another host), else the dashboard.
pub(crate) fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control())
                && n.len() <= 2048 =>
        {
            n
        }
        _ => "/",
    }
}

/// `GET /login`.
pub(super) async fn form(Query(q): Query<NextQuery>) -> UiResult {
    render(&LoginPage {
        style: style_url(),
        next: safe_next(q.next.as_deref()).to_string(),
        email: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /login`: 303 to `next` with the session cookie; the form again (401) on a wrong
/// address or password, or (429, with `Retry-After`) once the client has failed too often.
pub(super) async fn submit(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> UiResult {
    session::same_origin(&state, &headers)?;
    let next = safe_next(f.next.as_deref()).to_string();
    let client = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let again = |status: StatusCode, error: String| -> UiResult {
        let mut resp = render(&LoginPage {
            style: style_url(),
            next: next.clone(),
            email: f.email.clone(),
            error: Some(error),
        })?;
        *resp.status_mut() = status;
        Ok(resp)
    };
    match session::login(&state, client, f.email.trim(), &f.password).await {
        Ok(cookie) => {
            let mut resp = Redirect::to(&next).into_response();
            resp.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(resp)
        }
        Err(e @ LoginError::Invalid) => again(StatusCode::UNAUTHORIZED, e.to_string()),
        Err(e @ LoginError::TooMany(wait)) => {
            let mut resp = again(StatusCode::TOO_MANY_REQUESTS, e.to_string())?;
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(resp)
        }
        Err(LoginError::Store(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session (viewers too: it needs the token, not the admin role).
pub(super) async fn logout(
    State(state): State<AppState>,
    s: UiSession,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Result<Response, UiError> {
    session::same_origin(&state, &headers)?;
    if !rebound_core::signature::ct_eq(f.csrf.as_bytes(), s.csrf.as_bytes()) {
        return Err(UiError::new(
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token: reload the page and try again",
        ));
    }
    let cookie = s.end(&state).await?;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_followed_only_to_local_paths() {
        for (next, to) in [
            (Some("/contacts?status=bounced"), "/contacts?status=bounced"),
            (Some("//evil.example/x"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("/a\nb"), "/"),
            (Some(""), "/"),
            (None, "/"),
        ] {
            assert_eq!(safe_next(next), to, "{next:?}");
        }
    }
}
