//! Delivering the outbox: signed webhooks to the apps that subscribed ([`rebound_store::outbound`]).
//!
//! At least once, in order per contact (the store hands out a contact's next message only
//! once its previous one is delivered or given up), with retries on the Standard Webhooks
//! schedule plus jitter ([`OutboundConfig::schedule`]). A 2xx answered within the timeout
//! (15 s) is success; `410 Gone` disables the subscription; `429`/`503` with `Retry-After`
//! (seconds) wait that long; a subscription whose every attempt failed for
//! [`OutboundConfig::disable_after`] (and over at least [`OutboundConfig::min_failing_spread`])
//! is disabled with a line in the log.
//!
//! Targets: loopback, private, link-local and other non-public addresses are refused unless
//! an allowed network ([`OutboundConfig::allow`], `REBOUND_OUTBOUND_ALLOW`) contains them.
//! The check is made on the addresses the name resolves to when connecting (a resolver of our
//! own), not only on the URL's text, so DNS rebinding cannot reach an internal address; no
//! proxy is used and no redirect followed.

pub mod forward;
pub mod sign;
pub mod subscriptions;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ipnet::IpNet;
use rebound_core::Millis;
use rebound_store::outbound::{AttemptRecord, OutboxItem, OutboxNext};
use rebound_store::DynStore;
use tokio::sync::Notify;

use crate::state::now_ms;

/// Bytes of a response body kept in the delivery log.
pub const EXCERPT_BYTES: usize = 1024;

/// How long to wait after each failed attempt (the 1st failed attempt waits `[0]`…): the
/// Standard Webhooks schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h…),
/// 12 attempts over about 2.8 days.
pub const SCHEDULE: &[Duration] = &[
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How outbound deliveries are made.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Networks that may be targets although not public (`REBOUND_OUTBOUND_ALLOW`).
    pub allow: Vec<IpNet>,
    /// A delivery not answered within this fails (a 2xx within it is success).
    pub timeout: Duration,
    /// The wait after each failed attempt; attempts stop after `schedule.len() + 1`.
    pub schedule: Vec<Duration>,
    /// Random share of each wait added or taken (0.1: ±10 %).
    pub jitter: f64,
    /// A subscription failing continuously this long is disabled.
    pub disable_after: Duration,
    /// …and only once its failures spread over at least this long.
    pub min_failing_spread: Duration,
    /// Messages claimed at once.
    pub batch: usize,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Longest sleep between two looks at the outbox.
    pub idle_poll: Duration,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            allow: Vec::new(),
            timeout: Duration::from_secs(15),
            schedule: SCHEDULE.to_vec(),
            jitter: 0.1,
            disable_after: Duration::from_secs(5 * 24 * 3600),
            min_failing_spread: Duration::from_secs(12 * 3600),
            batch: 64,
            concurrency: 32,
            idle_poll: Duration::from_secs(5),
        }
    }
}

/// Parses a comma-separated list of networks (`127.0.0.0/8, 10.1.2.3`; an address alone is
/// one host).
pub fn parse_allow(s: &str) -> Result<Vec<IpNet>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("not a network (CIDR) or address: '{p}'"))
        })
        .collect()
}

/// Wakes the delivery loops of this process (an apply wrote outbox rows, a redelivery).
static WAKE: Notify = Notify::const_new();

/// Wakes the delivery loops.
pub fn wake() {
    WAKE.notify_waiters();
}

/// Whether an address is on the public internet (the SNS certificate fetch's rule).
pub use crate::sns::is_public;

/// Whether a target address may be connected to: public, or in an allowed network.
pub fn allowed(ip: IpAddr, allow: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    is_public(ip) || allow.iter().any(|n| n.contains(&ip))
}

/// Checks a target URL's text: `http` or `https`, a host, no credentials, and a literal
/// address allowed (a name is checked when connecting).
pub fn check_url(url: &str, allow: &[IpNet]) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("the URL must be http:// or https://".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("credentials in the URL are not supported".into());
    }
    let host = u.host_str().ok_or("the URL has no host")?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) if !allowed(ip, allow) => Err(refused(ip)),
        _ => Ok(u),
    }
}

fn refused(ip: IpAddr) -> String {
    format!(
        "target address {ip} is not public: refused unless REBOUND_OUTBOUND_ALLOW ([outbound] allow) names its network"
    )
}

/// Resolves names and keeps only the addresses that may be connected to.
struct CheckedResolver {
    allow: Arc<[IpNet]>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| allowed(a.ip(), &allow))
                .collect();
            if ok.is_empty() {
                let why = match addrs.first() {
                    Some(a) => refused(a.ip()),
                    None => format!("{host} resolves to no address"),
                };
                return Err(why.into());
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client of deliveries: addresses checked at connect time, no proxy, no
/// redirects, the timeout.
pub fn client(cfg: &OutboundConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(CheckedResolver {
            allow: cfg.allow.clone().into(),
        }))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout)
        .user_agent(concat!("rebound/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// What one HTTP attempt gave.
struct Answer {
    status: Option<u16>,
    retry_after: Option<Duration>,
    excerpt: Option<String>,
    error: Option<String>,
}

/// Reads at most [`EXCERPT_BYTES`] of a body, as text.
async fn excerpt(mut resp: reqwest::Response) -> Option<String> {
    let mut buf: Vec<u8> = Vec::new();
    while buf.len() < EXCERPT_BYTES {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c[..c.len().min(EXCERPT_BYTES - buf.len())]),
            _ => break,
        }
    }
    if buf.is_empty() {
        return None;
    }
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    while text.len() > EXCERPT_BYTES {
        text.pop();
    }
    Some(text)
}

/// `Retry-After` in seconds (an HTTP date is not honoured: the schedule applies).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    retry_after_value(v, std::time::SystemTime::now())
}

/// `Retry-After`'s two forms (RFC 9110 §10.2.3): seconds, or an HTTP date (a date past is
/// "now"); at most [`MAX_RETRY_AFTER`].
fn retry_after_value(v: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = v.trim();
    let wait = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(v).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// An answer made without a request (a refused target, nothing to forward…).
fn no_request(excerpt: Option<String>, error: Option<String>) -> Answer {
    Answer {
        status: None,
        retry_after: None,
        excerpt,
        error,
    }
}

/// The request for an item: the payload signed per Standard Webhooks, or a forwarder's body
/// and authentication ([`forward`]); `Err` is the answer when there is nothing to send.
fn request(
    client: &reqwest::Client,
    url: reqwest::Url,
    item: &OutboxItem,
) -> Result<reqwest::RequestBuilder, Answer> {
    let sub = &item.subscription;
    let req = client.post(url).header("content-type", "application/json");
    if sub.kind == rebound_store::outbound::SubscriptionKind::Webhook {
        let now = now_ms();
        let ts = (now / 1000).to_string();
        let secrets = sign::signing_secrets(sub, now);
        let sig = sign::signature(&secrets, &item.message_id, &ts, item.payload.as_bytes());
        return Ok(req
            .header("webhook-id", &item.message_id)
            .header("webhook-timestamp", &ts)
            .header("webhook-signature", sig)
            .body(item.payload.clone()));
    }
    match forward::request(sub, &item.payload) {
        Ok(Some(f)) => {
            let req = match &f.basic_auth {
                Some((user, password)) => req.basic_auth(user, Some(password)),
                None => req,
            };
            Ok(req.body(f.body))
        }
        Ok(None) => Err(no_request(
            Some(format!(
                "not sent: a {} target takes bounces and complaints only",
                sub.kind.as_str()
            )),
            None,
        )),
        Err(e) => Err(no_request(None, Some(e))),
    }
}

async fn post(client: &reqwest::Client, cfg: &OutboundConfig, item: &OutboxItem) -> Answer {
    let url = match check_url(&item.subscription.url, &cfg.allow) {
        Ok(u) => u,
        Err(e) => return no_request(None, Some(e)),
    };
    let req = match request(client, url, item) {
        Ok(req) => req,
        Err(answer) => return answer,
    };
    let sent = tokio::time::timeout(cfg.timeout, async {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let after = retry_after(resp.headers());
        Ok::<_, reqwest::Error>((status, after, excerpt(resp).await))
    })
    .await;
    match sent {
        Ok(Ok((status, after, excerpt))) => Answer {
            status: Some(status),
            retry_after: after,
            excerpt,
            error: (!(200..300).contains(&status)).then(|| format!("HTTP {status}")),
        },
        Ok(Err(e)) => no_request(None, Some(error_text(&e))),
        Err(_) => no_request(
            None,
            Some(format!("no answer within {} s", cfg.timeout.as_secs())),
        ),
    }
}

/// A reqwest error with its causes (the refusal of a target is a cause of a connect error).
fn error_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

/// The wait before the attempt after failed attempt `attempt` (1-based), with jitter;
/// `None` once the schedule is over.
pub fn retry_delay(cfg: &OutboundConfig, attempt: u32) -> Option<Duration> {
    let base = *cfg
        .schedule
        .get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
    let j = cfg.jitter.clamp(0.0, 1.0);
    let factor = if j > 0.0 {
        1.0 + rand::random::<f64>() * 2.0 * j - j
    } else {
        1.0
    };
    Some(base.mul_f64(factor))
}

/// Decides what an attempt's answer means for the message and its subscription.
fn decide(
    cfg: &OutboundConfig,
    item: &OutboxItem,
    a: &Answer,
    at: Millis,
) -> (OutboxNext, Option<String>) {
    if a.error.is_none() {
        return (OutboxNext::Delivered, None);
    }
    let sub = &item.subscription;
    if a.status == Some(410) {
        tracing::warn!(subscription = sub.id, url = %sub.url, "the target answered 410 Gone: subscription disabled");
        return (
            OutboxNext::GaveUp,
            Some("the target answered 410 Gone".into()),
        );
    }
    let failing =
        Duration::from_millis(u64::try_from(at - sub.failing_since.unwrap_or(at)).unwrap_or(0));
    if failing >= cfg.disable_after && failing >= cfg.min_failing_spread {
        let why = format!("every delivery failed for {} h", failing.as_secs() / 3600);
        tracing::warn!(subscription = sub.id, url = %sub.url, reason = %why, "subscription disabled");
        return (OutboxNext::GaveUp, Some(why));
    }
    let wait = match (a.status, a.retry_after) {
        (Some(429 | 503), Some(after)) if item.attempt <= cfg.schedule.len() as u32 => Some(after),
        _ => retry_delay(cfg, item.attempt),
    };
    match wait {
        Some(w) => (
            OutboxNext::Retry(at + i64::try_from(w.as_millis()).unwrap_or(i64::MAX / 2)),
            None,
        ),
        None => (OutboxNext::GaveUp, None),
    }
}

/// Delivers one message once and says what to record.
pub async fn deliver(
    client: &reqwest::Client,
    cfg: &OutboundConfig,
    item: OutboxItem,
) -> AttemptRecord {
    let at = now_ms();
    let started = Instant::now();
    let answer = post(client, cfg, &item).await;
    let took = started.elapsed();
    let latency_ms = i64::try_from(took.as_millis()).unwrap_or(i64::MAX);
    let (next, disable) = decide(cfg, &item, &answer, at);
    let outcome = match next {
        OutboxNext::Delivered => "delivered",
        OutboxNext::Retry(_) => "retry",
        OutboxNext::GaveUp => "gave_up",
    };
    crate::metrics::outbound_attempt(item.subscription.kind.as_str(), outcome, took.as_secs_f64());
    if let Some(e) = &answer.error {
        tracing::info!(subscription = item.subscription.id, message = %item.message_id, attempt = item.attempt, error = %e, "delivery failed");
    }
    AttemptRecord {
        outbox_id: item.id,
        subscription_id: item.subscription.id,
        attempt: item.attempt,
        at,
        http_status: answer.status,
        latency_ms,
        response: answer.excerpt,
        error: answer.error,
        next,
        disable,
    }
}

/// Claims due messages once and delivers them; returns how many were claimed.
pub async fn run_once(
    store: &DynStore,
    client: &reqwest::Client,
    cfg: &OutboundConfig,
) -> rebound_store::Result<usize> {
    let now = now_ms();
    // A lease outlives every attempt of the batch (each is bounded by the timeout).
    let lease = i64::try_from(cfg.timeout.as_millis()).unwrap_or(15_000) * 2 + 10_000;
    let items = store.claim_outbox(cfg.batch, now, now + lease).await?;
    let n = items.len();
    if n == 0 {
        return Ok(0);
    }
    let records: Vec<AttemptRecord> = futures_util::stream::iter(items)
        .map(|item| deliver(client, cfg, item))
        .buffer_unordered(cfg.concurrency.max(1))
        .collect()
        .await;
    store.record_attempts(records).await?;
    Ok(n)
}

/// The delivery loop: deliver while messages are due, then sleep until the next is due, a
/// wake-up ([`wake`]) or `idle_poll`.
pub async fn run(store: DynStore, cfg: OutboundConfig) {
    let client = match client(&cfg) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the outbound HTTP client: no webhooks are delivered");
            return;
        }
    };
    let mut failures = 0u32;
    loop {
        // Registered before looking, so that a wake-up during the look is not lost.
        let woken = WAKE.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        match run_once(&store, &client, &cfg).await {
            Ok(n) if n > 0 => {
                failures = 0;
                continue;
            }
            Ok(_) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::error!(error = %e, "outbound delivery step failed");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(failures.min(25)))).await;
                continue;
            }
        }
        let wait = match store.next_outbox_due().await {
            Ok(Some(due)) => Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0))
                .clamp(Duration::from_millis(10), cfg.idle_poll),
            _ => cfg.idle_poll,
        };
        let _ = tokio::time::timeout(wait, woken).await;
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            retry_after_value("120", now),
            Some(Duration::from_secs(120))
        );
        // 2015-10-21 07:28:00 UTC is `now`; 07:29:30 is 90 s later.
        assert_eq!(
            retry_after_value("Wed, 21 Oct 2015 07:29:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            retry_after_value("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date past: at once"
        );
        assert_eq!(retry_after_value("soon", now), None);
        assert_eq!(retry_after_value("99999999", now), Some(MAX_RETRY_AFTER));
    }
    use super::*;

    #[test]
    fn only_public_or_allowed_addresses_are_targets() {
        let allow = parse_allow("127.0.0.0/8, 10.1.2.3").expect("allow");
        for (ip, public) in [
            ("93.184.216.34", true),
            ("127.0.0.1", false),
            ("10.0.0.1", false),
            ("172.16.5.4", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("0.0.0.0", false),
            ("::1", false),
            ("fe80::1", false),
            ("fd00::1", false),
            ("::ffff:127.0.0.1", false),
            ("2606:4700::1111", true),
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert_eq!(is_public(ip), public, "{ip}");
        }
        assert!(allowed("127.0.0.1".parse().expect("ip"), &allow));
        assert!(allowed("::ffff:127.0.0.1".parse().expect("ip"), &allow));
        assert!(allowed("10.1.2.3".parse().expect("ip"), &allow));
        assert!(!allowed("10.1.2.4".parse().expect("ip"), &allow));
        assert!(parse_allow("nope").is_err());
        assert!(check_url("http://127.0.0.1:9/x", &[]).is_err());
        assert!(check_url("http://[::1]/x", &[]).is_err());
        assert!(check_url("http://127.0.0.1:9/x", &allow).is_ok());
        assert!(check_url("ftp://example.org/", &[]).is_err());
        assert!(check_url("https://u:p@example.org/", &[]).is_err());
        assert!(check_url("https://example.org/hook", &[]).is_ok());
    }

    #[test]
    fn the_schedule_has_jitter_and_ends() {
        let cfg = OutboundConfig::default();
        assert_eq!(cfg.schedule.len() + 1, 12);
        let total: Duration = cfg.schedule.iter().sum();
        assert!(
            total > Duration::from_secs(2 * 24 * 3600)
                && total < Duration::from_secs(3 * 24 * 3600)
        );
        for _ in 0..50 {
            let d = retry_delay(&cfg, 1).expect("delay");
            assert!(
                d >= Duration::from_millis(4500) && d <= Duration::from_millis(5500),
                "{d:?}"
            );
        }
        assert!(retry_delay(&cfg, 12).is_none());
        assert!(retry_delay(&cfg, 0).is_none());
    }
}
