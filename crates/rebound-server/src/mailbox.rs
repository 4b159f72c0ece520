//! Mailbox sources: one scan pass (fetch → durable inbox row → delete / move / keep) and
//! the scheduler that runs passes inside `rebound serve`.
//!
//! Order of effects for each message: the raw bytes are written to the inbox together with
//! the message's id (one transaction, fsync'd) *before* the server is told to delete or move
//! it, so a pass killed at any point loses nothing; a message fetched again is recognised by
//! its id and not stored twice, and its events carry a content-derived dedup key. The bounce
//! parser decides only whether the message is a bounce (deleted or moved per `after=`);
//! human replies and auto-replies are never deleted. The events are made by the workers,
//! from the inbox row, with the source's trust setting ([`rebound_core::bounces::events`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rebound_core::bounces::{self, events, mime, BounceRecord};
use rebound_core::{verp, Address, EventKind};
use rebound_mailbox::{After, MailboxUrl};
use rebound_store::{DynStore, MailItem, NewInbox, NewLogEntry, Source};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::state::now_ms;

/// The provider name of mailbox sources.
pub const PROVIDER: &str = "mailbox";
/// Setting: the default trust for mailbox sources (`verp`, `known-contact`, `any`).
pub const TRUST_KEY: &str = "mailbox_trust";
/// Setting: the VERP signing secret (generated on first use).
pub const VERP_SECRET_KEY: &str = "verp_secret";
/// Setting: the return path VERP addresses are built on (`bounces@example.com`).
pub const VERP_RETURN_PATH_KEY: &str = "verp_return_path";

/// Messages (and bytes) fetched before they are stored together: one durable write each.
const BATCH: rebound_mailbox::Batch = rebound_mailbox::Batch {
    messages: 32,
    bytes: 8 << 20,
};

/// Inbox headers of a stored message (internal: mailbox rows have no HTTP headers).
const H_TRUST: &str = "x-rebound-trust";
const H_VERP: &str = "x-rebound-verp";
const H_UID: &str = "x-rebound-uid";

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ScanReport {
    /// Messages downloaded.
    pub fetched: usize,
    /// Messages stored that were already stored by an earlier pass.
    pub already_stored: usize,
    /// Bounce messages (including delays).
    pub bounces: usize,
    /// Feedback reports.
    pub complaints: usize,
    /// Automatic replies.
    pub auto_replies: usize,
    /// Other messages (human replies, anything that is not a report).
    pub other: usize,
    /// Bounces whose recipient the trust setting does not accept.
    pub unmatched: usize,
    /// Messages left on the server.
    pub kept: usize,
    /// Messages deleted.
    pub deleted: usize,
    /// Messages moved.
    pub moved: usize,
    /// Messages that could not be processed (left on the server).
    pub errors: usize,
    /// What went wrong with them.
    pub error_messages: Vec<String>,
}

impl ScanReport {
    /// The reports found: bounces (and delays), complaints and automatic replies.
    pub fn events(&self) -> usize {
        self.bounces + self.complaints + self.auto_replies
    }
}

/// Keeps what a pass of mailbox source `id` did as the source's status, for the Sources
/// page and the API's listing: `active` with "last scan <time>: N message(s) read, M
/// event(s) found", or `error` with the time and the failure. A pass that did not run
/// (another holds the mailbox) or lost its lock is not the mailbox's doing: the status is
/// left alone.
pub async fn record_scan(
    store: &DynStore,
    id: i64,
    outcome: &Result<ScanReport, ScanError>,
) -> Result<(), rebound_store::StoreError> {
    let at = rebound_core::timestamp::format(now_ms());
    match outcome {
        Ok(r) => {
            let mut msg = format!(
                "last scan {at}: {} message(s) read, {} event(s) found",
                r.fetched,
                r.events()
            );
            if let Some(first) = r.error_messages.first() {
                msg.push_str(&format!(
                    ", {} message(s) could not be processed ({first})",
                    r.errors
                ));
            }
            store.set_source_status(id, "active", Some(&msg)).await
        }
        Err(ScanError::Busy | ScanError::LockLost(_) | ScanError::Store(_)) => Ok(()),
        Err(e) => {
            let msg = format!("last scan {at} failed: {e}");
            store.set_source_status(id, "error", Some(&msg)).await
        }
    }
}

/// Why a pass could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The source is not a usable mailbox source.
    #[error("{0}")]
    Config(String),
    /// The mailbox server refused or failed.
    #[error("mailbox: {0}")]
    Mailbox(#[from] rebound_mailbox::Error),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] rebound_store::StoreError),
    /// Another pass over the same mailbox holds its lock (in this process, or on another
    /// process or node on the same database).
    #[error("another pass over this mailbox is running (in this or another process or node on the database; a pass that died holds the lock for {} s at most)", LEASE.length.as_secs())]
    Busy,
    /// The pass could not keep its mailbox's lock (another pass took it after this one's
    /// lease ran out, or the store did not answer): it stopped before deleting or moving
    /// anything more. What it stored stays stored; the next pass does the rest.
    #[error("the pass stopped, its mailbox lock was lost ({0}); what it stored stays stored and the next pass does the rest")]
    LockLost(String),
}

/// Mailboxes (user@host:port/folder) with a pass running in this process: a cheap check
/// before the store's lock ([`exclusive`]), which is the one every node shares.
static RUNNING: std::sync::LazyLock<std::sync::Mutex<HashSet<String>>> =
    std::sync::LazyLock::new(Default::default);

/// Holds a mailbox's place in [`RUNNING`] for the length of a pass.
struct Running(String);

impl Running {
    fn claim(key: &str) -> Option<Running> {
        let mut r = RUNNING.lock().ok()?;
        r.insert(key.to_string()).then(|| Running(key.to_string()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut r) = RUNNING.lock() {
            r.remove(&self.0);
        }
    }
}

/// How long a pass holds its mailbox's lock in the store without renewing it, and how often
/// it renews it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The lock is free for anyone this long after its last renewal (a pass that died
    /// holds its mailbox this long at most).
    pub length: std::time::Duration,
    /// How often a running pass renews it. A pass that has not renewed it for
    /// `length - renew_every` stops (so clocks may differ by `renew_every` between nodes).
    pub renew_every: std::time::Duration,
}

/// The lease of every pass: 30 s, renewed every 10 s.
pub const LEASE: Lease = Lease {
    length: std::time::Duration::from_secs(30),
    renew_every: std::time::Duration::from_secs(10),
};

/// The mailbox itself (user@host:port/folder), not the source: two sources may name one
/// mailbox, and ids repeat across stores.
fn mailbox_key(url: &MailboxUrl) -> String {
    format!(
        "{}@{}:{}/{}",
        url.user,
        url.host.to_ascii_lowercase(),
        url.port,
        url.folder
    )
}

/// The name of a mailbox's lock in the store (`mailbox:user@host:port/folder`), shared by
/// every process and node on the database.
pub fn lock_name(url: &MailboxUrl) -> String {
    format!("mailbox:{}", mailbox_key(url))
}

/// A holder name no other pass has: this process and a random part.
fn new_holder() -> String {
    format!("pid{}-{:016x}", std::process::id(), rand::random::<u64>())
}

/// Runs `pass` while holding the lock `name` in the store (and `key` in this process):
/// [`ScanError::Busy`] at once if another holder has either. The lock is renewed every
/// `lease.renew_every`; if a renewal fails, is refused (another holder has it) or does not
/// answer before `lease.length - lease.renew_every` has passed since the last one, `pass`
/// is dropped where it stands (before its next delete or move) and the result is
/// [`ScanError::LockLost`]. The lock is given up at the end, whatever the outcome (also
/// when this future is dropped: the renewing task gives it up).
pub async fn exclusive<T, F>(
    store: &DynStore,
    key: &str,
    name: &str,
    lease: Lease,
    pass: F,
) -> Result<T, ScanError>
where
    F: std::future::Future<Output = Result<T, ScanError>>,
{
    let _running = Running::claim(key).ok_or(ScanError::Busy)?;
    let holder = new_holder();
    let taken_at = tokio::time::Instant::now();
    let now = now_ms();
    if !store
        .try_lock(name, &holder, now + lease_ms(lease), now)
        .await?
    {
        return Err(ScanError::Busy);
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (lose, mut lost) = tokio::sync::oneshot::channel::<String>();
    let held = Held {
        store: store.clone(),
        name: name.to_string(),
        holder,
        lease,
    };
    let heartbeat = tokio::spawn(held.keep(taken_at, stopped, lose));
    let outcome = tokio::select! {
        biased;
        // The task ends (dropping its sender) only after a stop or a loss.
        why = &mut lost => Err(ScanError::LockLost(
            why.unwrap_or_else(|_| "the task renewing it ended".to_string()),
        )),
        r = pass => r,
    };
    if let Err(ScanError::LockLost(why)) = &outcome {
        // The store may not answer: the task gives the lock up without being waited for.
        tracing::warn!(lock = name, why = %why, "mailbox pass stopped: its lock was lost");
    } else {
        // Waits for a renewal under way, then for the unlock (both bounded).
        let _ = stop.send(());
        let _ = heartbeat.await;
    }
    outcome
}

fn lease_ms(lease: Lease) -> i64 {
    i64::try_from(lease.length.as_millis()).unwrap_or(i64::MAX / 4)
}

/// A lock held in the store by one pass.
struct Held {
    store: DynStore,
    name: String,
    holder: String,
    lease: Lease,
}

impl Held {
    /// Renews the lock every `renew_every` until told to stop (or the sender is dropped),
    /// then gives it up. Sends why on `lose` once it cannot be kept (and gives it up all the
    /// same: a no-op if another holder has it). A renewal is never cut short by a stop, so
    /// the unlock always comes after the last renewal.
    async fn keep(
        self,
        mut renewed: tokio::time::Instant,
        mut stop: tokio::sync::oneshot::Receiver<()>,
        lose: tokio::sync::oneshot::Sender<String>,
    ) {
        let lease = self.lease;
        // Stop while the lease still has `renew_every` to run, by this node's clock.
        let margin = lease.length.saturating_sub(lease.renew_every);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep_until(renewed + lease.renew_every) => {}
            }
            let attempt = tokio::time::Instant::now();
            let now = now_ms();
            let renewal = self
                .store
                .try_lock(&self.name, &self.holder, now + lease_ms(lease), now);
            let why = match tokio::time::timeout_at(renewed + margin, renewal).await {
                Ok(Ok(true)) => {
                    renewed = attempt;
                    continue;
                }
                Ok(Ok(false)) => "another pass has taken it".to_string(),
                Ok(Err(e)) => format!("renewing it failed: {e}"),
                Err(_) => format!(
                    "the store did not answer a renewal within {:?}",
                    (renewed + margin).saturating_duration_since(attempt)
                ),
            };
            let _ = lose.send(why);
            break;
        }
        let unlock = self.store.unlock(&self.name, &self.holder);
        let error = match tokio::time::timeout(lease.renew_every, unlock).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the store did not answer".to_string(),
        };
        tracing::warn!(lock = %self.name, %error, "mailbox lock not given up: it runs out with its lease");
    }
}

/// Splits a mailbox URL into what a source keeps: the URL with its password masked (shown
/// by the API) and the password (kept as the source's secret, never shown again).
pub fn split_url(input: &str) -> Result<(MailboxUrl, String, String), String> {
    let url = MailboxUrl::parse(input.trim()).map_err(|e| format!("url: {e}"))?;
    Ok((url.clone(), url.to_string(), url.password))
}

/// The full URL of a mailbox source (its masked URL plus its secret).
pub fn source_url(source: &Source) -> Result<MailboxUrl, String> {
    let shown = source
        .config
        .get("url")
        .and_then(|u| u.as_str())
        .ok_or("mailbox source without a url")?;
    let mut url = MailboxUrl::parse(shown).map_err(|e| format!("stored url: {e}"))?;
    url.password = source.secret.clone().unwrap_or_default();
    Ok(url)
}

/// Why a source id does not name a usable mailbox source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// No source has this id.
    #[error("no source {0}")]
    NotFound(i64),
    /// The source is not a mailbox, or its URL does not parse.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] rebound_store::StoreError),
}

/// The mailbox source with this id and its full URL.
pub async fn source_by_id(store: &DynStore, id: i64) -> Result<(Source, MailboxUrl), SourceError> {
    let source = store
        .list_sources()
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(SourceError::NotFound(id))?;
    if source.provider != PROVIDER {
        return Err(SourceError::Invalid(format!(
            "source {id} is a {} source, not a mailbox",
            source.provider
        )));
    }
    let url = source_url(&source).map_err(SourceError::Invalid)?;
    Ok((source, url))
}

/// The trust of a source: its own setting, else the global one, else `known-contact`.
pub async fn trust_of(store: &DynStore, source: Option<&Source>) -> events::Trust {
    if let Some(t) = source
        .and_then(|s| s.config.get("trust"))
        .and_then(|t| t.as_str())
        .and_then(events::Trust::parse)
    {
        return t;
    }
    match store.get_setting(TRUST_KEY).await {
        Ok(Some(v)) => v
            .as_str()
            .and_then(events::Trust::parse)
            .unwrap_or_default(),
        _ => events::Trust::default(),
    }
}

/// The VERP secret, generated and stored on first use.
pub async fn verp_secret(store: &DynStore) -> rebound_store::Result<Vec<u8>> {
    let fresh: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    store
        .put_setting_if_absent(VERP_SECRET_KEY, serde_json::Value::String(fresh))
        .await?;
    let v = store.get_setting(VERP_SECRET_KEY).await?;
    Ok(v.and_then(|v| v.as_str().map(|s| s.as_bytes().to_vec()))
        .unwrap_or_default())
}

/// The signed VERP return path for an address, built on the configured return path.
pub async fn verp_encode(
    store: &DynStore,
    return_path: Option<&str>,
    address: &str,
) -> Result<String, String> {
    let address = Address::parse(address).map_err(|e| format!("address: {e}"))?;
    let rp = match return_path {
        Some(r) => r.to_string(),
        None => store
            .get_setting(VERP_RETURN_PATH_KEY)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or("no return path configured: set the verp_return_path setting (e.g. bounces@example.com) or pass one")?,
    };
    let rp = Address::parse(&rp).map_err(|e| format!("return path: {e}"))?;
    let secret = verp_secret(store).await.map_err(|e| e.to_string())?;
    Ok(verp::encode(&secret, &rp, &address))
}

/// Header fields of a bounce that may carry the VERP address it was sent to.
const VERP_FIELDS: &[&str] = &[
    "to",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
    "x-rcpt-to",
];

/// The signed VERP recipient of a fetched message, if it was sent to one.
pub fn verp_recipient(secret: &[u8], raw: &[u8], records: &[BounceRecord]) -> Option<Address> {
    let limits = bounces::Limits::default();
    let norm = mime::normalise(&raw[..raw.len().min(limits.max_input)]);
    let head = mime::parse_headers(mime::split_entity(&norm).0, &limits);
    let mut values: Vec<&str> = VERP_FIELDS
        .iter()
        .flat_map(|f| head.all(f).collect::<Vec<_>>())
        .collect();
    // The returned message's own Return-Path is the envelope sender it was sent with.
    for r in records {
        for (k, v) in &r.original_headers {
            if k == "return-path" {
                values.push(v);
            }
        }
    }
    verp::find(secret, values)
}

/// The seen-id scope of a source, or of a one-off URL.
pub fn scope(source: Option<&Source>, url: &MailboxUrl) -> String {
    match source {
        Some(s) => format!("source:{}", s.id),
        None => {
            let h = Sha256::digest(url.to_string().as_bytes());
            format!("url:{}", hex::encode(&h[..12]))
        }
    }
}

/// Runs one pass over a mailbox. `source` is None for a one-off `--url` scan (rows are
/// stored with source id 0). `trust` overrides the source's (or the global) setting.
/// The pass holds its mailbox's lock ([`lock_name`]) in the store, shared by every process
/// and node on the database ([`exclusive`], [`LEASE`]): [`ScanError::Busy`] at once while
/// another pass holds it.
pub async fn scan(
    store: &DynStore,
    source: Option<&Source>,
    url: &MailboxUrl,
    trust: Option<events::Trust>,
) -> Result<ScanReport, ScanError> {
    let started = std::time::Instant::now();
    let pass = scan_locked(store, source, url, trust);
    let outcome = exclusive(store, &mailbox_key(url), &lock_name(url), LEASE, pass).await;
    crate::metrics::mailbox_scan(&outcome, started);
    outcome
}

/// One pass, its mailbox's lock held.
async fn scan_locked(
    store: &DynStore,
    source: Option<&Source>,
    url: &MailboxUrl,
    trust: Option<events::Trust>,
) -> Result<ScanReport, ScanError> {
    let scope = scope(source, url);
    let trust = match trust {
        Some(t) => t,
        None => trust_of(store, source).await,
    };
    let secret = verp_secret(store).await?;
    // `keep` never touches the server: skip what is already stored. Otherwise every
    // message is fetched, so that one stored but not yet deleted (a pass that was cut
    // short) is deleted now; it is recognised by its id and not stored twice.
    let seen = if url.after == After::Keep {
        store.mailbox_seen(&scope).await?
    } else {
        HashSet::new()
    };
    let source_id = source.map_or(0, |s| s.id);
    let shown = url.to_string();
    let report = Arc::new(std::sync::Mutex::new(ScanReport::default()));
    let counted = report.clone();
    let store2 = store.clone();
    // Messages are stored a batch at a time (one durable write for up to BATCH messages),
    // and only then deleted or moved.
    let outcome = rebound_mailbox::scan_batched(url, &seen, BATCH, move |batch| {
        let store = store2.clone();
        let scope = scope.clone();
        let secret = secret.clone();
        let shown = shown.clone();
        let report = counted.clone();
        async move {
            let mut items = Vec::with_capacity(batch.len());
            let mut looked = Vec::with_capacity(batch.len());
            for (id, raw) in batch {
                // A parser panic leaves the message looking like no bounce (kept, counted
                // as other) instead of ending the pass; the worker meets it again guarded.
                let records =
                    crate::worker::guarded("parsing a mailbox message", || bounces::parse(&raw))
                        .unwrap_or_default();
                let is_bounce = events::is_bounce(&records);
                let verp = verp_recipient(&secret, &raw, &records);
                let mut headers = vec![
                    (H_UID.to_string(), id.clone()),
                    (H_TRUST.to_string(), trust.as_str().to_string()),
                ];
                if let Some(v) = &verp {
                    headers.push((H_VERP.to_string(), v.as_str().to_string()));
                }
                let matched = events::to_events(b"", &records, verp.as_ref(), trust, 0);
                let unmatched = count_unmatched(&store, &matched, verp.is_some(), trust).await;
                // Recipients the trust setting rules out now are noted in the log at once;
                // the known-contact check is the store's, at apply time (it notes its own).
                let ruled_out = matched.unmatched;
                let note = (!ruled_out.is_empty()).then(|| {
                    let why = if trust == events::Trust::Verp {
                        "trust is verp and the message was not sent to a signed VERP address"
                    } else {
                        "no recipient named"
                    };
                    format!("unmatched ({why}): {}", ruled_out.join(", "))
                });
                items.push(MailItem {
                    uid: id.clone(),
                    is_bounce,
                    item: NewInbox {
                        source_id,
                        provider: PROVIDER.into(),
                        received_at: now_ms(),
                        headers,
                        body: raw,
                    },
                    log: NewLogEntry {
                        received_at: now_ms(),
                        source_id: (source_id != 0).then_some(source_id),
                        provider: Some(PROVIDER.into()),
                        method: "FETCH".into(),
                        path: format!("{shown}#{id}"),
                        http_status: 200,
                        outcome: "accepted".into(),
                        error: note,
                        ..NewLogEntry::default()
                    },
                });
                looked.push((records, unmatched));
            }
            let stored = store
                .mailbox_store_batch(&scope, items)
                .await
                .map_err(|e| e.to_string())?;
            // Test hook: die like `kill -9` after the batch is durable and before the
            // server is told to delete anything (the crash test sets it on the real binary).
            if std::env::var_os("REBOUND_TEST_ABORT_AFTER_STORE").is_some() {
                std::process::abort();
            }
            if let Ok(mut r) = report.lock() {
                for (s, (records, unmatched)) in stored.iter().zip(&looked) {
                    r.fetched += 1;
                    if !s.new {
                        r.already_stored += 1;
                    } else {
                        tally(&mut r, records, *unmatched);
                    }
                }
            }
            Ok::<_, String>(
                stored
                    .iter()
                    .map(|s| rebound_mailbox::Verdict {
                        is_bounce: s.is_bounce,
                    })
                    .collect(),
            )
        }
    })
    .await?;
    let mut r = report.lock().map(|r| r.clone()).unwrap_or_default();
    r.kept = outcome.summary.kept;
    r.deleted = outcome.summary.deleted;
    r.moved = outcome.summary.moved;
    r.errors = outcome.summary.errors;
    r.error_messages = outcome
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.id, e.error))
        .collect();
    Ok(r)
}

fn tally(r: &mut ScanReport, records: &[BounceRecord], unmatched: usize) {
    let has = |k: EventKind| records.iter().any(|x| x.kind == k);
    if has(EventKind::Bounce) || has(EventKind::Deferred) {
        r.bounces += 1;
    } else if has(EventKind::Complaint) {
        r.complaints += 1;
    } else if has(EventKind::AutoReply) {
        r.auto_replies += 1;
    } else {
        r.other += 1;
    }
    r.unmatched += unmatched;
}

/// How many of a message's records the trust setting will not apply.
async fn count_unmatched(
    store: &DynStore,
    m: &events::Matched,
    by_verp: bool,
    trust: events::Trust,
) -> usize {
    let mut n = m.unmatched.len();
    if trust == events::Trust::KnownContact && !by_verp {
        let keys: Vec<String> = m
            .events
            .iter()
            .filter_map(|e| match &e.recipient {
                rebound_core::Recipient::Email(a) => Some(a.key().to_string()),
                rebound_core::Recipient::ContactUuid(_) => None,
            })
            .collect();
        if let Ok(found) = store.get_contacts(keys).await {
            n += found.iter().filter(|c| c.is_none()).count();
        }
    }
    n
}

/// Normalizes a stored mailbox message into events (called by the workers).
pub fn normalize(
    headers: &[(String, String)],
    body: &[u8],
    received_at: i64,
) -> Vec<rebound_core::Event> {
    let get = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let trust = get(H_TRUST)
        .and_then(events::Trust::parse)
        .unwrap_or_default();
    let verp = get(H_VERP).and_then(|v| Address::parse(v).ok());
    let records = bounces::parse(body);
    events::to_events(body, &records, verp.as_ref(), trust, received_at).events
}

/// Runs the passes of every mailbox source that has an `interval`, inside `serve`. Sources
/// are re-read every `tick`, so one added through the API is picked up. An IMAP source whose
/// server offers IDLE is also watched: a new message starts a pass at the next tick instead
/// of waiting for the interval.
pub async fn scheduler(store: DynStore, wake: Arc<tokio::sync::Notify>, tick: std::time::Duration) {
    let due: Arc<std::sync::Mutex<HashMap<i64, i64>>> = Arc::default();
    let running: Arc<std::sync::Mutex<HashSet<i64>>> = Arc::default();
    let mut watched: HashSet<i64> = HashSet::new();
    loop {
        if let Ok(sources) = store.list_sources().await {
            let now = now_ms();
            for s in sources
                .into_iter()
                .filter(|s| s.provider == PROVIDER && s.status != "disabled")
            {
                let Ok(url) = source_url(&s) else { continue };
                let Some(every) = url.interval else { continue };
                if url.protocol == rebound_mailbox::Protocol::Imap && watched.insert(s.id) {
                    tokio::spawn(watch(url.clone(), s.id, due.clone()));
                }
                let next = due
                    .lock()
                    .map(|mut d| *d.entry(s.id).or_insert(now))
                    .unwrap_or(i64::MAX);
                let busy = running.lock().map(|r| r.contains(&s.id)).unwrap_or(true);
                if now < next || busy {
                    continue;
                }
                if let Ok(mut d) = due.lock() {
                    d.insert(s.id, now + every.as_millis() as i64);
                }
                if let Ok(mut r) = running.lock() {
                    r.insert(s.id);
                }
                let (store, wake, running) = (store.clone(), wake.clone(), running.clone());
                tokio::spawn(async move {
                    let outcome = scan(&store, Some(&s), &url, None).await;
                    match &outcome {
                        Ok(r) => {
                            tracing::info!(
                                source = s.id,
                                fetched = r.fetched,
                                bounces = r.bounces,
                                deleted = r.deleted,
                                errors = r.errors,
                                "mailbox scanned"
                            );
                        }
                        // A pass started through the API, the CLI or another node is
                        // running: it does this one's work.
                        Err(ScanError::Busy) => {}
                        Err(e @ ScanError::LockLost(_)) => {
                            tracing::warn!(source = s.id, error = %e, "mailbox scan stopped");
                        }
                        Err(e) => {
                            tracing::warn!(source = s.id, error = %e, "mailbox scan failed");
                        }
                    }
                    let _ = record_scan(&store, s.id, &outcome).await;
                    wake.notify_one();
                    if let Ok(mut r) = running.lock() {
                        r.remove(&s.id);
                    }
                });
            }
        }
        tokio::time::sleep(tick).await;
    }
}

/// Keeps an IMAP connection in IDLE and makes the source due when its folder grows.
/// Returns (leaving the interval alone) when the server does not offer IDLE; reconnects
/// after errors, waiting a minute.
async fn watch(url: MailboxUrl, id: i64, due: Arc<std::sync::Mutex<HashMap<i64, i64>>>) {
    loop {
        let mut imap = match rebound_mailbox::imap::Imap::connect(&url).await {
            Ok(i) => i,
            Err(e) => {
                tracing::debug!(source = id, error = %e, "IDLE watcher cannot connect");
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                continue;
            }
        };
        if !imap.supports_idle() {
            tracing::debug!(source = id, "server offers no IDLE: interval scans only");
            return;
        }
        // What arrived while the watcher was not idling is picked up by a pass now.
        let make_due = || {
            if let Ok(mut d) = due.lock() {
                d.insert(id, 0);
            }
        };
        make_due();
        loop {
            match imap.idle(std::time::Duration::from_secs(25 * 60)).await {
                Ok(true) => make_due(),
                Ok(false) => {}
                Err(e) => {
                    tracing::debug!(source = id, error = %e, "IDLE ended");
                    break;
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
}
