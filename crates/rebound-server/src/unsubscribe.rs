//! One-click unsubscribe (RFC 8058).
//!
//! rebound mints, for a recipient and an optional list, the two header values a sender puts
//! on each message: `List-Unsubscribe: <https://…/unsubscribe/TOKEN>` and
//! `List-Unsubscribe-Post: List-Unsubscribe=One-Click` ([`link`]; the API's
//! `POST /api/v1/unsubscribe-links` and `rebound unsubscribe-link`).
//!
//! The token is `BASE64URL(payload) "." BASE64URL(mac)`: the payload is the JSON
//! `{"e": address, "l": list or null, "x": expiry in Unix seconds}`, the MAC an
//! HMAC-SHA256 of the encoded payload under this installation's unsubscribe key (a setting
//! made once, like the erasure key: [`crate::state::installation_key`]). It is checked in
//! constant time before anything of the payload is read.
//!
//! - `GET`/`HEAD /unsubscribe/{token}` show a page with a button and change nothing: mail
//!   security scanners fetch every link of a message.
//! - `POST /unsubscribe/{token}` with `List-Unsubscribe=One-Click` (form or multipart body)
//!   writes the request into the inbox, like a webhook, as an `unsubscribe` event of the
//!   address (the list in its details); the workers apply it through the policy, so the
//!   contact becomes `unsubscribed` and the change is announced like any other. A 2xx means
//!   the inbox row is on disk. The event's dedup key is derived from the token: repeating
//!   the POST records one event. A forged, altered or expired token gets the very same
//!   answer and changes nothing.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rebound_core::signature::{ct_eq, hmac_sha256};
use rebound_core::{Address, Attribution, Event, EventKind, Millis, Recipient};
use rebound_store::{NewInbox, NewLogEntry};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::state::{now_ms, AppState};

/// The settings key of the unsubscribe-link key (64 hex digits).
pub const KEY_SETTING: &str = "unsubscribe_key";

/// The provider name of the inbox rows the one-click POSTs become.
pub const PROVIDER: &str = "unsubscribe";

/// How long a link works: a year (mail is read late; RFC 8058 asks for nothing shorter).
pub const VALIDITY_SECS: i64 = 365 * 24 * 60 * 60;

/// The value of `List-Unsubscribe-Post`, and the body a one-click POST carries.
pub const ONE_CLICK: &str = "List-Unsubscribe=One-Click";

/// The longest list name.
pub const MAX_LIST_LEN: usize = 200;

/// The longest token looked at (an address of 254 characters and the longest list make
/// about 760).
const MAX_TOKEN_LEN: usize = 1024;

/// The largest one-click body read.
const BODY_LIMIT: usize = 4096;

/// Binds the MAC to this use of the key.
const DOMAIN: &[u8] = b"rebound-unsubscribe-v1\0";

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The address.
    #[serde(rename = "e")]
    pub email: String,
    /// The list, if the link is for one.
    #[serde(rename = "l")]
    pub list: Option<String>,
    /// Until when it works (Unix seconds).
    #[serde(rename = "x")]
    pub expires: i64,
}

/// The installation's unsubscribe-link key (made on first use).
pub async fn load_key(store: &rebound_store::DynStore) -> rebound_store::Result<[u8; 32]> {
    crate::state::installation_key(store, KEY_SETTING).await
}

fn mac(key: &[u8; 32], payload_b64: &str) -> [u8; 32] {
    hmac_sha256(key, &[DOMAIN, payload_b64.as_bytes()])
}

/// A token for `addr` and `list`, working until `expires` (Unix seconds).
pub fn token(key: &[u8; 32], addr: &Address, list: Option<&str>, expires: i64) -> String {
    let claims = Claims {
        email: addr.as_str().to_string(),
        list: list.map(str::to_string),
        expires,
    };
    // Serializing strings and a number cannot fail.
    let json = serde_json::to_vec(&claims).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let sig = URL_SAFE_NO_PAD.encode(mac(key, &payload));
    format!("{payload}.{sig}")
}

/// A token that verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// What it says.
    pub claims: Claims,
    /// Its address, parsed.
    pub addr: Address,
    /// Tells the token apart (hex of the first half of its MAC).
    pub id: String,
}

/// What a token says, if rebound made it with `key` and it has not expired at `now_secs`.
pub fn verify(key: &[u8; 32], token: &str, now_secs: i64) -> Option<Verified> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let (payload, sig) = token.split_once('.')?;
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    if !ct_eq(&mac(key, payload), &sig) {
        return None;
    }
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    if claims.expires <= now_secs {
        return None;
    }
    let addr = Address::parse(&claims.email).ok()?;
    Some(Verified {
        claims,
        addr,
        id: hex::encode(sig.get(..16)?),
    })
}

/// Checks a list name: 1 to 200 characters, no control characters.
pub fn check_list(list: &str) -> Result<(), String> {
    if list.is_empty() || list.chars().count() > MAX_LIST_LEN {
        return Err(format!("list: 1 to {MAX_LIST_LEN} characters"));
    }
    if list.chars().any(char::is_control) {
        return Err("list: no control characters".into());
    }
    Ok(())
}

/// The URL and the two header values for one message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Link {
    /// `{public_url}/unsubscribe/{token}`.
    pub url: String,
    /// The header values, by header name.
    pub headers: LinkHeaders,
    /// Until when the link works (RFC 3339).
    pub expires_at: String,
}

/// The two headers of RFC 8058.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkHeaders {
    /// `<URL>`.
    #[serde(rename = "List-Unsubscribe")]
    pub list_unsubscribe: String,
    /// `List-Unsubscribe=One-Click`.
    #[serde(rename = "List-Unsubscribe-Post")]
    pub list_unsubscribe_post: String,
}

/// The link for `email` (and `list`), valid for a year from `now`: one code path for the
/// API and the CLI.
pub fn link(
    key: &[u8; 32],
    public_url: &str,
    email: &str,
    list: Option<&str>,
    now: Millis,
) -> Result<Link, String> {
    let addr = Address::parse(email).map_err(|e| e.to_string())?;
    let list = list.map(str::trim).filter(|l| !l.is_empty());
    if let Some(l) = list {
        check_list(l)?;
    }
    let expires = now.div_euclid(1000) + VALIDITY_SECS;
    let url = format!(
        "{}/unsubscribe/{}",
        public_url.trim_end_matches('/'),
        token(key, &addr, list, expires)
    );
    Ok(Link {
        headers: LinkHeaders {
            list_unsubscribe: format!("<{url}>"),
            list_unsubscribe_post: ONE_CLICK.into(),
        },
        url,
        expires_at: rebound_core::timestamp::format(expires.saturating_mul(1000)),
    })
}

/// What the inbox keeps of a one-click POST (its body there).
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    email: String,
    list: Option<String>,
    /// Tells the token apart (hex of the first half of its MAC): the event's dedup key.
    token_id: String,
}

/// The events of an inbox row of a one-click POST (the worker's normalizer).
pub fn normalize(body: &[u8], received_at: Millis) -> Result<Vec<Event>, String> {
    let s: Stored =
        serde_json::from_slice(body).map_err(|e| format!("not an unsubscribe record: {e}"))?;
    let addr = Address::parse(&s.email).map_err(|e| e.to_string())?;
    Ok(vec![Event {
        recipient: Recipient::Email(addr),
        attribution: Attribution::Recipient,
        kind: EventKind::Unsubscribe,
        class: None,
        reason: None,
        status: None,
        diagnostic: None,
        message_id: None,
        sending_domain: None,
        provider_event_id: None,
        occurred_at: received_at,
        dedup_key: rebound_core::event::hashed_dedup_key(PROVIDER, &[&s.token_id]),
        details: serde_json::json!({ "list": s.list, "via": "one-click" }),
    }])
}

/// Whether a one-click body asks to unsubscribe: `List-Unsubscribe=One-Click` as a form
/// field (`application/x-www-form-urlencoded`, spaces and other fields allowed) or as a
/// `multipart/form-data` part (RFC 8058 § 3.1 allows both).
pub fn is_one_click(content_type: Option<&str>, body: &[u8]) -> bool {
    let boundary = content_type
        .filter(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
        .and_then(|ct| {
            ct.split(';').find_map(|p| {
                let (k, v) = p.trim().split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("boundary")
                    .then(|| v.trim().trim_matches('"').to_string())
            })
        })
        .filter(|b| !b.is_empty());
    let wanted = |name: &str, value: &str| {
        name.trim().eq_ignore_ascii_case("List-Unsubscribe")
            && value.trim().eq_ignore_ascii_case("One-Click")
    };
    match boundary {
        Some(b) => {
            let text = String::from_utf8_lossy(body);
            let delim = format!("--{b}");
            text.split(delim.as_str()).any(|part| {
                let Some((head, value)) = part
                    .split_once("\r\n\r\n")
                    .or_else(|| part.split_once("\n\n"))
                else {
                    return false;
                };
                head.lines().any(|h| {
                    let h = h.to_ascii_lowercase();
                    h.starts_with("content-disposition:") && h.contains("name=\"list-unsubscribe\"")
                }) && wanted("List-Unsubscribe", value)
            })
        }
        None => form_urlencoded::parse(body).any(|(k, v)| wanted(&k, &v)),
    }
}

/// The routes, public like the webhooks; the UI's security headers on every answer.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(page, head_page, one_click))
        .layer(axum::middleware::map_response(crate::ui::security_headers))
}

#[derive(askama::Template)]
#[template(path = "unsubscribe.html")]
struct Page {
    style: String,
    /// Whether this is the answer to the POST (else the page with the button, whose form
    /// posts to the page's own URL: nothing of the request is echoed).
    done: bool,
}

fn page_response(status: StatusCode, done: bool) -> Response {
    let p = Page {
        style: crate::ui::style_url(),
        done,
    };
    match askama::Template::render(&p) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe template failed");
            (status, "").into_response()
        }
    }
}

/// The path parameter of the unsubscribe routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct TokenPath {
    /// The token of the link (as `POST /api/v1/unsubscribe-links` made it).
    token: String,
}

/// `GET /unsubscribe/{token}`: the confirmation page, with a button that POSTs the
/// one-click body. Never changes anything (link scanners fetch every URL of a message);
/// the same page for any token.
#[utoipa::path(
    get,
    path = "/{token}",
    tag = "unsubscribe",
    params(TokenPath),
    responses((status = 200, description = "An HTML page with an Unsubscribe button; the \
     same for every token, valid or not. Changes nothing.", content_type = "text/html")),
)]
pub async fn page(Path(_token): Path<String>) -> Response {
    page_response(StatusCode::OK, false)
}

/// `HEAD /unsubscribe/{token}`: the page's headers; changes nothing either.
#[utoipa::path(
    head,
    path = "/{token}",
    tag = "unsubscribe",
    params(TokenPath),
    responses((status = 200, description = "The page's headers. Changes nothing.")),
)]
pub async fn head_page(token: Path<String>) -> Response {
    page(token).await
}

/// `POST /unsubscribe/{token}`: RFC 8058's one-click unsubscribe.
#[utoipa::path(
    post,
    path = "/{token}",
    tag = "unsubscribe",
    params(TokenPath),
    request_body(
        description = "`List-Unsubscribe=One-Click`, form-encoded or multipart.",
        content(("application/x-www-form-urlencoded"), ("multipart/form-data")),
    ),
    responses(
        (status = 200, description = "Done, as far as anyone asking can tell: the same page \
         for a valid, forged or expired token. A valid token's unsubscribe event is on disk \
         (processed moments later); any other changes nothing.", content_type = "text/html"),
        (status = 400, description = "The body does not ask for the one-click unsubscribe \
         (whatever the token).", body = ErrorBody),
        (status = 413, description = "The body is over 4 KiB.", body = ErrorBody),
        (status = 503, description = "Storage failed: retry later.", body = ErrorBody),
    ),
)]
pub async fn one_click(
    State(state): State<AppState>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let received_at = now_ms();
    let remote =
        crate::auth::request_client(&req, &state.config.trusted_proxies).map(|ip| ip.to_string());
    let content_type = content_type(req.headers());
    let body = match crate::ingest::read_body(req.into_body(), BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    if !is_one_click(content_type.as_deref(), &body) {
        return ApiError::bad_request(format!("the body must be {ONE_CLICK}")).into_response();
    }
    let Some(v) = verify(&state.unsubscribe_key, &token, received_at.div_euclid(1000)) else {
        tracing::debug!("one-click unsubscribe with an invalid or expired token");
        return page_response(StatusCode::OK, true);
    };
    let stored = Stored {
        email: v.addr.as_str().to_string(),
        list: v.claims.list,
        token_id: v.id,
    };
    let item = NewInbox {
        source_id: 0,
        provider: PROVIDER.into(),
        received_at,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::to_vec(&stored).unwrap_or_default(),
    };
    let log = NewLogEntry {
        received_at,
        source_id: None,
        provider: Some(PROVIDER.into()),
        method: "POST".into(),
        // The token is a credential of the recipient's: not kept.
        path: "/unsubscribe/<token>".into(),
        remote_addr: remote,
        http_status: 200,
        outcome: "accepted".into(),
        error: None,
    };
    match tokio::time::timeout(state.config.ack_timeout, state.store.ingest(item, log)).await {
        Ok(Ok(_)) => {
            state.wake.notify_one();
            page_response(StatusCode::OK, true)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "unsubscribe write failed; answering 503");
            unavailable()
        }
        Err(_) => {
            tracing::error!("unsubscribe write timed out; answering 503");
            unavailable()
        }
    }
}

fn content_type(h: &HeaderMap) -> Option<String> {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn unavailable() -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage unavailable, retry later",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn addr(s: &str) -> Address {
        Address::parse(s).expect("address")
    }

    #[test]
    fn tokens_verify_until_they_expire() {
        let t = token(&KEY, &addr("Ann@Example.com"), Some("news"), 1000);
        let v = verify(&KEY, &t, 999).expect("valid");
        assert_eq!(v.claims.list.as_deref(), Some("news"));
        assert_eq!(v.addr.as_str(), "Ann@Example.com");
        assert_eq!(v.id.len(), 32);
        assert!(verify(&KEY, &t, 1000).is_none(), "expired");
        assert!(verify(&[8; 32], &t, 0).is_none(), "another key");
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
    }

    #[test]
    fn altered_tokens_fail() {
        let t = token(&KEY, &addr("a@example.com"), None, i64::MAX);
        let (payload, sig) = t.split_once('.').expect("two parts");
        let other = token(&KEY, &addr("b@example.com"), None, i64::MAX);
        let (other_payload, _) = other.split_once('.').expect("two parts");
        for bad in [
            format!("{other_payload}.{sig}"),
            format!("{payload}.{}", &sig[1..]),
            payload.to_string(),
            String::new(),
            ".".into(),
            format!("{payload}.{sig}x"),
            "a".repeat(5000),
            "\u{1F600}.\u{1F600}".into(),
        ] {
            assert!(verify(&KEY, &bad, 0).is_none(), "{bad}");
        }
    }

    #[test]
    fn one_click_bodies() {
        assert!(is_one_click(None, b"List-Unsubscribe=One-Click"));
        assert!(is_one_click(
            Some("application/x-www-form-urlencoded"),
            b" List-Unsubscribe = One-Click \r\n"
        ));
        assert!(is_one_click(None, b"a=b&List-Unsubscribe=One-Click&c"));
        assert!(is_one_click(None, b"List-Unsubscribe=One%2DClick"));
        assert!(!is_one_click(None, b""));
        assert!(!is_one_click(None, b"List-Unsubscribe=Nope"));
        let mp = b"--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
        assert!(is_one_click(Some("multipart/form-data; boundary=XyZ"), mp));
        assert!(is_one_click(
            Some("multipart/form-data; boundary=\"XyZ\""),
            mp
        ));
        assert!(!is_one_click(
            Some("multipart/form-data; boundary=Other"),
            mp
        ));
        assert!(!is_one_click(
            Some("multipart/form-data; boundary="),
            b"--\r\n"
        ));
    }

    #[test]
    fn links_and_their_events() {
        let l = link(
            &KEY,
            "https://r.example.com/",
            "a@example.com",
            Some(" news "),
            0,
        )
        .expect("link");
        assert!(l.url.starts_with("https://r.example.com/unsubscribe/"));
        assert_eq!(l.headers.list_unsubscribe, format!("<{}>", l.url));
        assert_eq!(l.headers.list_unsubscribe_post, ONE_CLICK);
        assert!(link(&KEY, "https://x", "not an address", None, 0).is_err());
        assert!(link(&KEY, "https://x", "a@example.com", Some("a\nb"), 0).is_err());
        let body = br#"{"email":"a@example.com","list":"news","token_id":"ab"}"#;
        let ev = normalize(body, 5).expect("events");
        assert_eq!(ev[0].kind, EventKind::Unsubscribe);
        assert_eq!(ev[0].details["list"], "news");
        assert_eq!(
            ev[0].dedup_key,
            normalize(body, 9).expect("again")[0].dedup_key
        );
        assert!(normalize(b"[]", 0).is_err());
    }
}
