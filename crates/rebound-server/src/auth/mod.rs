//! Who is asking, and may they: the client's address (through trusted proxies only), the
//! bearer check of the API (admin token or a scoped key, [`keys`]), and the failed-attempt
//! limiter that slows guessing without ever refusing the right credential.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use rebound_core::Millis;

pub mod keys;
pub mod session;
pub mod users;

use crate::error::ApiError;
use crate::state::{digest, now_ms, AppState};

/// The networks whose `X-Forwarded-For` / `Forwarded` headers are believed: the reverse
/// proxies in front of rebound. Empty (the default): the TCP peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses or CIDRs (`127.0.0.1, 10.0.0.0/8`).
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{item}' is not an IP address or CIDR"))?;
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses a request passed through, nearest last, as the proxy headers give them:
/// `X-Forwarded-For` (every occurrence, in order), else `Forwarded`'s `for=` parameters.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let xff: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| parse_node(s.trim()))
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    headers
        .get_all(header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .flat_map(|element| element.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("for")
                .then(|| parse_node(v.trim().trim_matches('"')))?
        })
        .collect()
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:5678`, `::1`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy; then the
/// nearest address in the forwarding headers that is not itself a trusted proxy.
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let chain = forwarded_chain(headers);
    Some(
        chain
            .iter()
            .rev()
            .map(|ip| canonical(*ip))
            .find(|ip| !trusted.contains(*ip))
            .or_else(|| chain.first().copied().map(canonical))
            .unwrap_or(peer),
    )
}

/// The client address of a request (see [`client_ip`]).
pub fn request_client(req: &Request, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    client_ip(peer, req.headers(), trusted)
}

/// Extracts the client address of a request (see [`client_ip`]).
pub struct Client(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Client(client_ip(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

/// Counts failed authentications per client (or per UI account, [`AccountFailures`]) in
/// fixed windows; past the limit, the client's wrong tokens get 429 until its window ends.
/// Per client, a right token is never refused, so nobody can lock anybody else out.
pub struct AuthFailures<K = IpAddr> {
    by_client: std::sync::Mutex<HashMap<K, (Millis, u32)>>,
    limit: u32,
    window_ms: Millis,
}

impl Default for AuthFailures<IpAddr> {
    fn default() -> Self {
        AuthFailures::new(AuthFailures::LIMIT, 60_000)
    }
}

/// Failed UI logins per account (the SHA-256 of its normalized address, known or not):
/// [`AccountFailures::PER_ACCOUNT`] in 15 minutes, whatever the clients. It stops a guesser
/// spread over many addresses, each under the per-client limit; the price is that such a
/// guesser also keeps the account's owner out until the window ends.
pub type AccountFailures = AuthFailures<[u8; 32]>;

impl AuthFailures<IpAddr> {
    /// Failed attempts allowed per client and minute.
    pub const LIMIT: u32 = 10;
}

impl AccountFailures {
    /// Failed logins allowed per account and window.
    pub const PER_ACCOUNT: u32 = 30;

    /// The limiter of UI accounts.
    pub fn accounts() -> AccountFailures {
        AuthFailures::new(Self::PER_ACCOUNT, 15 * 60_000)
    }
}

impl<K: std::hash::Hash + Eq + Copy> AuthFailures<K> {
    /// Clients remembered at most (expired windows are dropped first).
    const MAX_CLIENTS: usize = 100_000;

    /// `limit` failures allowed per window of `window_ms`.
    pub fn new(limit: u32, window_ms: Millis) -> Self {
        AuthFailures {
            by_client: std::sync::Mutex::default(),
            limit,
            window_ms,
        }
    }

    /// Records a failure; returns how long the client must wait (`Some(seconds)`) when
    /// it has now used up its attempts.
    pub fn record(&self, client: K, now: Millis) -> Option<u64> {
        let window = self.window_ms;
        let mut m = self.by_client.lock().ok()?;
        if m.len() >= Self::MAX_CLIENTS {
            m.retain(|_, (start, _)| now - *start < window);
            if m.len() >= Self::MAX_CLIENTS {
                // Still full of live windows: forget the oldest half rather than grow.
                let mut starts: Vec<Millis> = m.values().map(|(s, _)| *s).collect();
                starts.sort_unstable();
                let cut = starts[starts.len() / 2];
                m.retain(|_, (start, _)| *start > cut);
            }
        }
        let e = m.entry(client).or_insert((now, 0));
        if now - e.0 >= window {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
        (e.1 > self.limit).then(|| self.wait_secs(e.0, now))
    }

    /// Seconds until the client's window ends, when it has used up its attempts.
    pub fn blocked(&self, client: K, now: Millis) -> Option<u64> {
        let m = self.by_client.lock().ok()?;
        let (start, n) = m.get(&client).copied()?;
        (now - start < self.window_ms && n >= self.limit).then(|| self.wait_secs(start, now))
    }

    fn wait_secs(&self, start: Millis, now: Millis) -> u64 {
        let left = (start + self.window_ms - now).max(1000);
        u64::try_from((left + 999) / 1000).unwrap_or(60)
    }
}

fn too_many(wait_secs: u64) -> Response {
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many failed authentication attempts; try again in {wait_secs} s"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&wait_secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Middleware of the admin API: see [`authorize`]. The caller goes into the request's
/// extensions ([`keys::Caller`]).
pub async fn require_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match authorize(&state, &parts).await {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(refused) => refused,
    }
}

/// Who sent a request, if they may make it: the admin token, or a live API key whose scope
/// permits the method and path (relative to `/api/v1`). A wrong credential counts against
/// the client, which past the limit gets 429 with `Retry-After`; the right one is never
/// refused.
pub async fn authorize(
    state: &AppState,
    req: &axum::http::request::Parts,
) -> Result<keys::Caller, Response> {
    let token = bearer(&req.headers).map(str::to_string);
    if let Some(t) = &token {
        let caller =
            if rebound_core::signature::ct_eq(&digest(t), state.admin_token_hash.as_slice()) {
                Some(keys::Caller {
                    scope: keys::Scope::Admin,
                    key: None,
                })
            } else {
                match keys::find(&state.store, t).await {
                    Ok(found) => found.map(|(key, scope)| {
                        state.key_uses.touch(&state.store, key.id, now_ms());
                        keys::Caller {
                            scope,
                            key: Some(key),
                        }
                    }),
                    Err(e) => return Err(ApiError::from(e).into_response()),
                }
            };
        if let Some(caller) = caller {
            if !caller.scope.permits(&req.method, req.uri.path()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "this key's scope ({}) does not allow {} {}",
                        caller.scope.as_str(),
                        req.method,
                        req.uri.path()
                    ),
                )
                .into_response());
            }
            return Ok(caller);
        }
    }
    let peer = req
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = client_ip(peer, &req.headers, &state.config.trusted_proxies)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let now = now_ms();
    if let Some(wait) = state.auth_failures.blocked(client, now) {
        return Err(too_many(wait));
    }
    Err(match token {
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing API key (Authorization: Bearer <admin token or key>)",
        )
        .into_response(),
        Some(_) => {
            if let Some(wait) = state.auth_failures.record(client, now) {
                tracing::warn!(%client, "API key guessing: failed attempts over the limit");
                return Err(too_many(wait));
            }
            ApiError::new(StatusCode::UNAUTHORIZED, "invalid API key").into_response()
        }
    })
}

/// When each key was last recorded as used: a key's `last_used_at` is written at most once a
/// minute, in the background, so that a busy sending path costs no write per request.
#[derive(Default)]
pub struct KeyUses {
    last: std::sync::Mutex<HashMap<i64, Millis>>,
}

impl KeyUses {
    const EVERY_MS: Millis = 60_000;

    fn touch(&self, store: &rebound_store::DynStore, id: i64, now: Millis) {
        let Ok(mut m) = self.last.lock() else { return };
        if m.get(&id).is_some_and(|t| now - t < Self::EVERY_MS) {
            return;
        }
        m.insert(id, now);
        let store = store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_api_key(id, now).await {
                tracing::warn!(error = %e, key = id, "could not record a key's use");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").expect("parse");
        let xff = headers(&[("x-forwarded-for", "203.0.113.9, 10.1.2.3")]);
        // From a trusted proxy: the nearest untrusted address in the chain.
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), &xff, &trusted),
            Some(ip("203.0.113.9"))
        );
        // Mapped IPv6 peer is the IPv4 proxy.
        assert_eq!(
            client_ip(Some(ip("::ffff:127.0.0.1")), &xff, &trusted),
            Some(ip("203.0.113.9"))
        );
        // From anyone else: the header is ignored.
        assert_eq!(
            client_ip(Some(ip("198.51.100.7")), &xff, &trusted),
            Some(ip("198.51.100.7"))
        );
        // A spoofed first entry does not win over the address the proxy saw.
        let spoofed = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9")]);
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), &spoofed, &trusted),
            Some(ip("203.0.113.9"))
        );
        // RFC 7239.
        let fwd = headers(&[(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.2",
        )]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &fwd, &trusted),
            Some(ip("2001:db8::1"))
        );
        // Trusted peer without headers: the peer.
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), &HeaderMap::new(), &trusted),
            Some(ip("127.0.0.1"))
        );
        // No trusted proxies configured: always the peer.
        assert_eq!(
            client_ip(Some(ip("127.0.0.1")), &xff, &TrustedProxies::default()),
            Some(ip("127.0.0.1"))
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
    }

    #[test]
    fn the_limiter_counts_per_client_and_window() {
        let f = AuthFailures::default();
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        for i in 0..AuthFailures::LIMIT {
            assert_eq!(f.blocked(a, 1_000), None, "attempt {i}");
            assert_eq!(f.record(a, 1_000), None);
        }
        assert_eq!(f.blocked(a, 1_000), Some(60));
        assert_eq!(
            f.blocked(a, 31_000),
            Some(30),
            "Retry-After says what is left"
        );
        assert_eq!(f.blocked(b, 1_000), None, "other clients are not affected");
        assert_eq!(f.blocked(a, 61_000), None, "a new window");
    }

    #[test]
    fn the_account_limiter_counts_per_account_over_fifteen_minutes() {
        let f = AccountFailures::accounts();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        for i in 0..AccountFailures::PER_ACCOUNT - 1 {
            assert_eq!(f.record(a, 1_000 + i64::from(i)), None, "attempt {i}");
        }
        assert_eq!(f.blocked(a, 2_000), None);
        assert_eq!(f.record(a, 2_000), None, "the last one allowed");
        assert_eq!(f.blocked(a, 2_000), Some(899));
        assert_eq!(f.blocked(b, 2_000), None, "other accounts are not affected");
        assert_eq!(f.blocked(a, 901_000), None, "a new window");
    }
}
