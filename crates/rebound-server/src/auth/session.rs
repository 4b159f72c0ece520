//! UI login sessions: the session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` when the
//! public URL is https), logging in (rate-limited per client, same time whether the user
//! exists or not), the [`UiSession`] extractor of every page, and the CSRF check of every
//! change (the session's token in the form, and no foreign `Origin`).

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rebound_core::Millis;
use rebound_store::{NewSession, StoreError, User};

use super::users::{self, Role};
use crate::error::ApiError;
use crate::state::{digest, now_ms, AppState};

/// The session cookie's name.
pub const COOKIE: &str = "rebound_session";
/// How long a session lasts after login.
pub const TTL_MS: Millis = 12 * 3_600_000;

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong address or password (the same answer for both).
    #[error("wrong email or password")]
    Invalid,
    /// Too many failures from this client: wait this many seconds.
    #[error("too many failed logins; try again in {0} s")]
    TooMany(u64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A logged-in user's session, taken from the cookie.
#[derive(Debug, Clone)]
pub struct UiSession {
    /// Who.
    pub user: User,
    /// What they may do.
    pub role: Role,
    /// The token every form sends back.
    pub csrf: String,
    id_hash: String,
}

impl UiSession {
    /// Whether the user may change things.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Ends the session; the answer's cookie clears the browser's.
    pub async fn end(&self, state: &AppState) -> Result<HeaderValue, StoreError> {
        state.store.delete_session(&self.id_hash).await?;
        Ok(cookie("", 0, secure(state)))
    }

    /// Refuses a change unless it carries this session's CSRF token and, when the browser
    /// names one, comes from this site's origin; and unless the user is an admin.
    pub fn check_change(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        token: &str,
    ) -> Result<(), ApiError> {
        same_origin(state, headers)?;
        if !rebound_core::signature::ct_eq(token.as_bytes(), self.csrf.as_bytes()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token: reload the page and try again",
            ));
        }
        if !self.is_admin() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "a viewer cannot change anything",
            ));
        }
        Ok(())
    }
}

/// Refuses a request whose `Origin` (or, without one, `Sec-Fetch-Site`) says it came from
/// another site.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = || ApiError::new(StatusCode::FORBIDDEN, "cross-origin request refused");
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| refuse())?;
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let own = [
            origin_of(&state.config.public_url),
            format!("http://{host}"),
            format!("https://{host}"),
        ];
        return if !host.is_empty() && own.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
            Ok(())
        } else {
            Err(refuse())
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("same-origin") | Some("none") | None => Ok(()),
        Some(_) => Err(refuse()),
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let host = rest.split('/').next().unwrap_or_default();
    format!("{scheme}://{host}")
}

fn secure(state: &AppState) -> bool {
    state.config.public_url.starts_with("https://")
}

/// A `Set-Cookie` value for the session cookie.
fn cookie(value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("rebound_session=; Path=/; Max-Age=0"))
}

/// Checks a password and opens a session; returns the `Set-Cookie` value.
pub async fn login(
    state: &AppState,
    client: IpAddr,
    email: &str,
    password: &str,
) -> Result<HeaderValue, LoginError> {
    let now = now_ms();
    if let Some(wait) = state.login_failures.blocked(client, now) {
        return Err(LoginError::TooMany(wait));
    }
    let key = users::user_key(email);
    let account = digest(&key);
    if let Some(wait) = state.account_failures.blocked(account, now) {
        tracing::info!(%client, "UI login refused: the account has failed too often");
        return Err(LoginError::TooMany(wait));
    }
    let user = if email.len() > 320 || password.len() > 1024 {
        None
    } else {
        state.store.user_by_email(&key).await?
    };
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| users::decoy_hash().to_string());
    let ok = users::verify_password(hash, password.to_string()).await;
    let Some(user) = user.filter(|_| ok) else {
        tracing::info!(%client, "failed UI login");
        let per_client = state.login_failures.record(client, now);
        let per_account = state.account_failures.record(account, now);
        return Err(match per_client.max(per_account) {
            Some(wait) => LoginError::TooMany(wait),
            None => LoginError::Invalid,
        });
    };
    let token = hex::encode(rand::random::<[u8; 32]>());
    state
        .store
        .create_session(NewSession {
            id_hash: hex::encode(digest(&token)),
            user_id: user.id,
            csrf: hex::encode(rand::random::<[u8; 16]>()),
            created_at: now,
            expires_at: now + TTL_MS,
        })
        .await?;
    tracing::info!(user = user.id, "UI login");
    Ok(cookie(&token, TTL_MS / 1000, secure(state)))
}

/// The session cookie's value, if the request has one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

impl FromRequestParts<AppState> for UiSession {
    type Rejection = Response;

    /// Without a live session: pages go to the login page (coming back afterwards), changes
    /// get 401.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let found = match session_cookie(&parts.headers) {
            Some(token) => {
                let id_hash = hex::encode(digest(token));
                match state.store.session(&id_hash, now_ms()).await {
                    Ok(s) => s.map(|s| (s, id_hash)),
                    Err(e) => return Err(ApiError::from(e).into_response()),
                }
            }
            None => None,
        };
        match found {
            Some((s, id_hash)) => Ok(UiSession {
                role: Role::parse(&s.user.role).unwrap_or(Role::Viewer),
                user: s.user,
                csrf: s.csrf,
                id_hash,
            }),
            None if parts.method == Method::GET || parts.method == Method::HEAD => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let next: String =
                    percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
                        .collect();
                Err(Redirect::to(&format!("/login?next={next}")).into_response())
            }
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "not logged in (or the session ended): log in again",
            )
            .into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_among_others_and_written_strict() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; rebound_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&h), Some("abc"));
        let c = cookie("abc", 60, true);
        let c = c.to_str().expect("ascii");
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Max-Age=60",
            "Path=/",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!cookie("abc", 60, false)
            .to_str()
            .expect("ascii")
            .contains("Secure"));
        assert_eq!(
            origin_of("https://bounces.example.com/x"),
            "https://bounces.example.com"
        );
    }
}
