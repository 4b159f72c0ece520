//! # rebound-store
//!
//! Persistence behind one async trait, [`Store`], so that the HTTP layer, the workers and
//! the CLI never see SQL. The SQLite implementation ([`sqlite::SqliteStore`]) is the
//! zero-set-up default; a PostgreSQL implementation can be added beside it without touching
//! `rebound-core` or `rebound-server`.
//!
//! Every method that returns `Ok` after a write has committed it durably (WAL with
//! `synchronous=FULL`, so the commit is fsynced). Concurrent writes share one commit
//! (group commit), which is what lets ingest acknowledge tens of thousands of webhooks per
//! second with one fsync per batch.
//!
//! Decisions are not a backend's: [`apply`] (which contact an event is about, trust,
//! duplicates, the policy, each inbox row's fate) is written once against a small row-level
//! trait, [`apply::ApplyRows`], that each backend implements.
//!
//! Inbox rows are leased through two columns, `locked_until` and `locked_by` (the store
//! instance's [`node id`](sqlite::SqliteStore::node_id)): [`Store::claim`] takes rows that
//! are pending, due, and not leased or whose lease expired, whoever held it; [`Store::apply`]
//! releases them. Nothing is released at start: a row leased by a process that died is
//! taken again once its lease expires, by any process on the same database.
//!
//! # Layout
//! - [`types`]: the records the store reads and writes (sources, inbox rows, contacts,
//!   events, request log entries) and the filters of list queries.
//! - [`access`]: API keys, UI users and their sessions (hashed secrets only).
//! - [`apply`]: applying processed inbox rows, for every backend.
//! - [`copy`]: moving an installation from one store to another (`rebound store copy`).
//! - [`sqlite`]: the SQLite implementation: one writer thread doing group commit, reader
//!   connections for queries, embedded migrations applied at open.
//! - [`postgres`]: the PostgreSQL implementation, for several nodes on one database: the
//!   same shape (one writer thread per node, group commit, reader connections), leases
//!   taken with `FOR UPDATE SKIP LOCKED`, migrations applied under an advisory lock.

use std::sync::Arc;

use async_trait::async_trait;
use rebound_core::{Millis, Policy};

pub mod access;
pub mod apply;
mod common;
pub mod copy;
mod erasure;
pub mod outbound;
pub mod postgres;
pub mod sqlite;
pub mod types;

pub use access::{ApiKey, NewApiKey, NewSession, NewUser, Session, User};
pub use types::*;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error (including a failed commit or fsync).
    #[error("database error: {0}")]
    Db(String),
    /// The store is shutting down or its writer is gone.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was broken (e.g. a contact that already exists).
    #[error("{0}")]
    Conflict(String),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
}

/// The histogram of how long a write transaction's `COMMIT` took, in seconds, labelled
/// `backend` (`sqlite`, `postgres`). Recorded through the `metrics` facade: nothing unless
/// the process installed a recorder (`rebound serve` does, for `GET /metrics`).
pub const COMMIT_SECONDS: &str = "rebound_store_commit_duration_seconds";

/// Records one `COMMIT`'s duration in [`COMMIT_SECONDS`].
pub(crate) fn record_commit(backend: &'static str, started: std::time::Instant) {
    metrics::histogram!(COMMIT_SECONDS, "backend" => backend)
        .record(started.elapsed().as_secs_f64());
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A shared handle on a store.
pub type DynStore = Arc<dyn Store>;

/// Everything rebound persists. All methods are safe to call concurrently.
#[async_trait]
pub trait Store: Send + Sync {
    // ---- ingest & workers
    /// Writes an accepted request to the inbox and the request log; durable when it returns.
    /// Returns the request log id.
    async fn ingest(&self, item: NewInbox, log: NewLogEntry) -> Result<i64>;
    /// Records a request that is not an inbox row (a rejection, a subscription
    /// confirmation…) in the request log; durable when it returns.
    async fn log_request(&self, log: NewLogEntry) -> Result<i64>;
    /// Message ids already stored from a mailbox (`scope`: `source:ID` or `url:HASH`).
    async fn mailbox_seen(&self, scope: &str) -> Result<std::collections::HashSet<String>>;
    /// Stores messages fetched from a mailbox: their inbox rows and their ids in one
    /// transaction, durable when it returns; the results are in the order given. An id
    /// already stored is not stored again and the verdict it was stored with is returned,
    /// so a message fetched twice counts once.
    async fn mailbox_store_batch(
        &self,
        scope: &str,
        items: Vec<MailItem>,
    ) -> Result<Vec<MailStored>>;
    /// Leases up to `limit` inbox rows, oldest first, until `lease_until`, in one durable
    /// write: rows that are pending, due (`next_attempt_at <= now`), and not leased or whose
    /// lease expired (`locked_until <= now`, whoever held it). Each claim counts as an
    /// attempt ([`InboxRow::attempts`]).
    async fn claim(&self, limit: usize, now: Millis, lease_until: Millis) -> Result<Vec<InboxRow>>;
    /// Applies normalized rows in one transaction ([`apply::apply`]): events
    /// (deduplicated), contact changes, timeline; marks each row done, or schedules its
    /// retry / marks it failed, and releases its lease. A row no longer pending (finished
    /// by another worker after this one's lease expired) is left alone. The report lists
    /// every status change. The rows are shared, not consumed, so that a caller can
    /// re-apply them one by one after a failure without copying every batch.
    async fn apply(
        &self,
        rows: Arc<[Processed]>,
        policy: Policy,
        now: Millis,
    ) -> Result<ApplyReport>;
    /// Puts a logged request back in the queue. Errors if it was rejected (nothing kept).
    async fn replay(&self, log_id: i64) -> Result<()>;
    /// Puts every failed inbox row back in the queue; returns how many.
    async fn replay_failed(&self) -> Result<u64>;
    /// Adds rejection counts (summed with those already stored for the same minute and key).
    async fn add_rejections(&self, counts: Vec<RejectionCount>) -> Result<()>;
    /// Rejection counts since `since`, newest first, at most `limit`.
    async fn list_rejections(&self, since: Millis, limit: u32) -> Result<Vec<RejectionCount>>;
    /// Takes the named lock for `holder` until `until`, unless another holder has it and it
    /// has not expired at `now` (the same holder renews it); returns whether it is taken.
    /// Shared by every process and node on the database (Mailgun's replayed tokens, one
    /// pass per mailbox).
    async fn try_lock(&self, name: &str, holder: &str, until: Millis, now: Millis) -> Result<bool>;
    /// Gives the named lock up, if `holder` has it.
    async fn unlock(&self, name: &str, holder: &str) -> Result<()>;
    /// Removes up to `batch` request-log rows (processed or rejected; pending and failed
    /// ones are kept), rejection counts, and outbound messages delivered or given up with
    /// their delivery attempts (pending ones are kept), older
    /// than `before`, in one short transaction. Events, contacts and their timelines are
    /// never pruned.
    async fn prune(&self, before: Millis, batch: u32) -> Result<PruneReport>;
    /// Counts of inbox rows by state.
    async fn inbox_counts(&self) -> Result<InboxCounts>;
    /// When the pending inbox row first in line (lowest id: the next one claimed, retries
    /// waiting included) was received; `None` when nothing is pending. One indexed read.
    async fn oldest_pending_received_at(&self) -> Result<Option<Millis>>;
    /// Contacts per status (one pass over the `(status, id)` index).
    async fn status_counts(&self) -> Result<StatusCounts>;
    /// Events per UTC hour, source and kind that occurred at or after `since`, among those
    /// with an id above `after_id` (0: all), up to the newest id at the time of the read,
    /// returned as `upto_id` for the next count to start after. The first count reads the
    /// `(occurred_at, kind, source_id)` index range, a later one only the new ids.
    async fn hourly_event_counts(&self, since: Millis, after_id: i64) -> Result<HourlyCounts>;
    /// Each source's accepted and rejected requests since `since`, and its last accepted
    /// request.
    async fn source_traffic(&self, since: Millis) -> Result<Vec<SourceTraffic>>;
    /// Deliveries, bounces and complaints per source that occurred at or after `since`
    /// (through the `(occurred_at, kind, source_id)` index).
    async fn kind_counts_by_source(&self, since: Millis) -> Result<Vec<SourceKindCount>>;
    /// Deliveries, bounces and complaints per sending domain that occurred at or after
    /// `since`; events whose domain is unknown are left out (through the same index, which
    /// ends in `sending_domain`).
    async fn kind_counts_by_sending_domain(&self, since: Millis) -> Result<Vec<DomainKindCount>>;

    // ---- sources
    /// Creates a source.
    async fn create_source(&self, source: NewSource) -> Result<Source>;
    /// All sources.
    async fn list_sources(&self) -> Result<Vec<Source>>;
    /// The id of the newest source (0 when there is none): a cheap check, for a process
    /// that caches sources, that another process (the CLI, another node) added one.
    async fn newest_source_id(&self) -> Result<i64>;
    /// Writes a source's name, URL key, secret, settings and status (by its id); errors if
    /// it does not exist.
    async fn update_source(&self, source: Source) -> Result<()>;
    /// Replaces a source's provider-specific settings.
    async fn set_source_config(&self, id: i64, config: serde_json::Value) -> Result<()>;
    /// Sets a source's status and message (e.g. "no secret configured").
    async fn set_source_status(&self, id: i64, status: &str, message: Option<&str>) -> Result<()>;

    // ---- settings
    /// Reads a setting.
    async fn get_setting(&self, key: &str) -> Result<Option<serde_json::Value>>;
    /// Writes a setting.
    async fn put_setting(&self, key: &str, value: serde_json::Value) -> Result<()>;
    /// Writes a setting only if it is absent; returns whether it was written.
    async fn put_setting_if_absent(&self, key: &str, value: serde_json::Value) -> Result<bool>;

    // ---- contacts
    /// Creates contacts, or with `overwrite` updates existing ones. Invalid entries are
    /// reported by index; the others are kept.
    async fn upsert_contacts(
        &self,
        contacts: Vec<NewContact>,
        overwrite: bool,
    ) -> Result<UpsertReport>;
    /// Changes a contact by hand (status, attributes); recorded in its timeline.
    async fn patch_contact(
        &self,
        email_key: &str,
        patch: ContactPatch,
        now: Millis,
    ) -> Result<Contact>;
    /// Deletes a contact and its events; returns whether it existed.
    async fn delete_contact(&self, email_key: &str) -> Result<bool>;
    /// Looks up contacts by normalized address; the result is in the order asked.
    async fn get_contacts(&self, email_keys: Vec<String>) -> Result<Vec<Option<Contact>>>;
    /// Looks up a contact by UUID.
    async fn contact_by_uuid(&self, uuid: &str) -> Result<Option<Contact>>;
    /// Lists contacts in id order.
    async fn list_contacts(&self, filter: ContactFilter) -> Result<Page<Contact>>;

    // ---- events & log
    /// Lists events, newest first.
    async fn list_events(&self, filter: EventFilter) -> Result<Page<StoredEvent>>;
    /// Lists the request log, newest first.
    async fn list_log(&self, filter: LogFilter) -> Result<Page<LogEntry>>;
    /// The stored headers and body of logged request `id`.
    async fn raw_request(&self, id: i64) -> Result<Option<RawRequest>>;

    // ---- erasure (privacy requests)
    /// Erases a contact: its events, the raw bodies behind them and the contact are deleted,
    /// and `address_hash` (a keyed hash of the address) is recorded as erased; returns
    /// whether there was a contact. The hash is recorded either way.
    async fn erase_contact(&self, email_key: &str, address_hash: &str, now: Millis)
        -> Result<bool>;
    /// Which of these address hashes were erased.
    async fn erased(
        &self,
        address_hashes: Vec<String>,
    ) -> Result<std::collections::HashSet<String>>;

    // ---- access ([`access`])
    /// Stores a new API key (its hash).
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey>;
    /// Every API key, revoked ones included, oldest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>>;
    /// The live (not revoked) key with this hash.
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>>;
    /// Revokes a key; returns whether a live key was revoked.
    async fn revoke_api_key(&self, id: i64, now: Millis) -> Result<bool>;
    /// Records that a key was used.
    async fn touch_api_key(&self, id: i64, now: Millis) -> Result<()>;
    /// Creates a UI user; `Conflict` if the address has one.
    async fn create_user(&self, user: NewUser) -> Result<User>;
    /// Every UI user, oldest first.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// The user with this (lower-case) address.
    async fn user_by_email(&self, email_key: &str) -> Result<Option<User>>;
    /// Deletes a user and its sessions; returns whether it existed.
    async fn delete_user(&self, id: i64) -> Result<bool>;
    /// Stores a login session (and removes a few expired ones); records the login.
    async fn create_session(&self, session: NewSession) -> Result<()>;
    /// The session with this id hash, if it has not expired at `now`, with its user.
    async fn session(&self, id_hash: &str, now: Millis) -> Result<Option<Session>>;
    /// Ends a session.
    async fn delete_session(&self, id_hash: &str) -> Result<()>;

    // ---- moving an installation ([`copy`])
    /// Rows of `table` whose key follows `after` (from the first when `None`), in key order:
    /// at most `limit`, and no more once about [`copy::BATCH_BYTES`] are read.
    async fn copy_rows(
        &self,
        table: &'static copy::Table,
        after: Option<Vec<copy::Cell>>,
        limit: usize,
    ) -> Result<Vec<Vec<copy::Cell>>>;
    /// Writes rows of `table` as they are, replacing any row with the same key; durable
    /// when it returns.
    async fn put_rows(&self, table: &'static copy::Table, rows: Vec<Vec<copy::Cell>>)
        -> Result<()>;
    /// How many rows `table` holds.
    async fn count_rows(&self, table: &'static copy::Table) -> Result<u64>;
    /// After rows were written with their ids: new rows get ids after the copied ones.
    async fn copy_done(&self) -> Result<()>;

    // ---- outbound webhooks ([`outbound`])
    /// Creates a subscription.
    async fn create_subscription(
        &self,
        s: outbound::NewSubscription,
    ) -> Result<outbound::Subscription>;
    /// Every subscription, oldest first (with their secrets: never list them as they are).
    async fn list_subscriptions(&self) -> Result<Vec<outbound::Subscription>>;
    /// Writes a subscription's URL, filter, secrets, enabled flag, description, failing
    /// time and disabled reason (by its id); `NotFound` if it does not exist.
    async fn update_subscription(&self, s: outbound::Subscription) -> Result<()>;
    /// Leases up to `limit` due outbox rows until `lease_until`, oldest first: rows that are
    /// pending, due, of an enabled subscription, not leased (or whose lease expired), and
    /// the first pending row of their subscription and contact (per-contact order: a
    /// contact's next message waits until its previous one is delivered or given up).
    async fn claim_outbox(
        &self,
        limit: usize,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Vec<outbound::OutboxItem>>;
    /// Records delivery attempts: the attempt rows, each outbox row's fate (its lease
    /// released), and each subscription's failing time (and its disabling).
    async fn record_attempts(&self, attempts: Vec<outbound::AttemptRecord>) -> Result<()>;
    /// A subscription's delivery attempts, newest first: at most `limit`, with an id below
    /// `before` when given.
    async fn list_deliveries(
        &self,
        subscription_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<outbound::Delivery>>;
    /// Puts messages of a subscription back in the queue, due at `now` with their attempts
    /// counted from zero; returns how many.
    async fn requeue(
        &self,
        subscription_id: i64,
        what: outbound::Requeue,
        now: Millis,
    ) -> Result<u64>;
    /// When the next outbox row [`Store::claim_outbox`] can take is due or its lease ends
    /// (`None`: none is pending).
    async fn next_outbox_due(&self) -> Result<Option<Millis>>;
}

/// A random (version 4) UUID, as contacts get.
pub(crate) fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A new store instance id, written to `locked_by` of the inbox rows it leases: the process
/// id (to read in the database) and 64 random bits (unique per instance, also across hosts).
pub(crate) fn new_node_id() -> String {
    format!(
        "pid{}-{}",
        std::process::id(),
        hex::encode(rand::random::<[u8; 8]>())
    )
}
