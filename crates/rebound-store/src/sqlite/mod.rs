//! The SQLite store.
//!
//! One OS thread owns the write connection. Every write is a closure sent to it on a bounded
//! channel; the thread takes the first closure, then up to [`MAX_BATCH`] more that are
//! already waiting, runs them all inside one transaction (each in its own savepoint, so one
//! failing write does not undo the others), commits once, and only then answers each caller.
//! With WAL and `synchronous=FULL` the commit is fsynced: that is the durability point, and
//! one fsync serves every request of the batch (group commit). A full channel is
//! backpressure: callers wait, and the HTTP layer turns a long wait into 503.
//!
//! Reads use their own connections (WAL lets them run beside the writer).
//!
//! Claiming inbox rows is a write (it sets their lease columns) in the group transaction;
//! applying them runs [`crate::apply::apply`] over [`rows::SqliteRows`] in a transaction of
//! its own.

mod access;
mod copy;
mod erasure;
mod ops;
mod outbound;
mod retention;
mod rows;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rebound_core::{Millis, Policy};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use crate::*;

/// Writes collected into one transaction at most.
pub const MAX_BATCH: usize = 1024;
/// Capacity of the write queue.
const QUEUE: usize = 8192;

/// Reader connections kept open between reads. With 8, fifty concurrent suppression checks
/// opened and dropped a connection on most reads (13,000 opens in 10 s) and their p99 was
/// 24–40 ms; with 64, none and 7.7–7.9 ms (bench/ui.sh A/B, BENCHMARKS.md). An idle reader
/// holds a file handle and its page cache (SQLite's default, about 2 MiB at most).
const MAX_IDLE_READERS: usize = 64;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_mailbox.sql")),
    (
        3,
        include_str!("../../migrations/sqlite/0003_policy_order.sql"),
    ),
    (
        4,
        include_str!("../../migrations/sqlite/0004_rejections.sql"),
    ),
    (5, include_str!("../../migrations/sqlite/0005_leases.sql")),
    (
        6,
        include_str!("../../migrations/sqlite/0006_named_locks.sql"),
    ),
    (7, include_str!("../../migrations/sqlite/0007_access.sql")),
    (8, include_str!("../../migrations/sqlite/0008_erased.sql")),
    (
        9,
        include_str!("../../migrations/sqlite/0009_events_by_time.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_sending_domain.sql"),
    ),
    (
        11,
        include_str!("../../migrations/sqlite/0011_inbox_by_source.sql"),
    ),
    (
        12,
        include_str!("../../migrations/sqlite/0012_inbox_by_state.sql"),
    ),
    (
        13,
        include_str!("../../migrations/sqlite/0013_outbound.sql"),
    ),
    (
        14,
        include_str!("../../migrations/sqlite/0014_subscription_sources.sql"),
    ),
];

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

type Reply = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;
/// A write: runs on the writer thread, says whether it succeeded, and returns the answer to
/// send once the transaction's fate is known.
type Run = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

/// How a write shares the writer's transactions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// In the group transaction, inside its own savepoint: its failure undoes only itself.
    Savepoint,
    /// In the group transaction without a savepoint (cheaper): its failure rolls the whole
    /// group back and every job of the group is answered with an error. For small writes
    /// that do not fail on their own (inbox inserts).
    Plain,
    /// In a transaction of its own, after the waiting group: large writes (applying a
    /// batch of events) that should not hold acknowledgements back for long, and that need
    /// no savepoint because a failure rolls back only themselves.
    Exclusive,
}

struct Job {
    mode: Mode,
    run: Run,
}
/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    /// Written to `locked_by` of the inbox rows this instance leases.
    node_id: Arc<str>,
    commits: Arc<AtomicU64>,
    jobs: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    wal_limit: Arc<AtomicU64>,
}

fn open_conn(path: &Path, write: bool) -> Result<Connection> {
    let flags = if write {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    if write {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A commit that leaves more than this many pages in the WAL copies them back
        // (a passive checkpoint, on the writer, where no other write can append meanwhile:
        // it completes, and the next transaction starts the WAL over). The checkpointer
        // thread copies frames beside the writer, so little is left to copy here. Without
        // it, under steady ingest the WAL only grows until `WalGuard` truncates it, and
        // each truncation stalled every acknowledgement for 100 ms or more (p99 47 ms →
        // BENCHMARKS.md).
        conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The dedup and address indexes are written in random order: a page cache that holds
    // their inner pages keeps the writer off the file system (the default is 2 MiB).
    let cache_kib = if write { 128 * 1024 } else { 16 * 1024 };
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    for (version, sql) in MIGRATIONS {
        let done: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if !done {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let res = conn.execute_batch(sql).and_then(|_| {
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                    rusqlite::params![version, crate::common::now_ms()],
                )
            });
            match res {
                Ok(_) => conn.execute_batch("COMMIT")?,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(StoreError::Db(format!("migration {version} failed: {e}")));
                }
            }
        }
    }
    Ok(())
}

/// WAL pages after which a commit checkpoints (SQLite's default).
const AUTOCHECKPOINT_PAGES: i64 = 1000;

/// How large the WAL may grow before the writer truncates it (see [`SqliteStore::set_wal_limit`]).
pub const WAL_LIMIT: u64 = 64 * 1024 * 1024;

/// Keeps the WAL file near `limit` when the writer's own checkpoints cannot restart it
/// (a reader kept an old snapshot open through them, or one transaction wrote more than the
/// limit): past the limit the writer, between two transactions, checkpoints and truncates
/// the WAL (waiting for readers to finish, never for other writers: it is the only one).
/// This stalls every write for as long as it takes, so it is the exception, not the rule.
struct WalGuard {
    wal: PathBuf,
    limit: Arc<AtomicU64>,
}

impl WalGuard {
    /// After a transaction (one `stat`: cheap beside the commit's fsync).
    fn after_commit(&self, conn: &Connection) {
        let size = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        if size <= self.limit.load(Ordering::Relaxed) {
            return;
        }
        match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(0) => tracing::debug!(bytes = size, "WAL over its limit: truncated"),
            Ok(_) => tracing::debug!(bytes = size, "WAL over its limit: readers kept it"),
            Err(e) => tracing::warn!(error = %e, "WAL truncation failed"),
        }
    }
}

fn writer_loop(
    conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    commits: Arc<AtomicU64>,
    wal: WalGuard,
) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut exclusive: std::collections::VecDeque<Job> = Default::default();
    fn route(j: Job, group: &mut Vec<Job>, exclusive: &mut std::collections::VecDeque<Job>) {
        match j.mode {
            Mode::Exclusive => exclusive.push_back(j),
            _ => group.push(j),
        }
    }
    loop {
        // Block only when there is nothing left to do.
        if exclusive.is_empty() && group.is_empty() {
            match rx.blocking_recv() {
                Some(j) => route(j, &mut group, &mut exclusive),
                None => return,
            }
        }
        while group.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => route(j, &mut group, &mut exclusive),
                Err(_) => break,
            }
        }
        if !group.is_empty() {
            run_group(&conn, std::mem::take(&mut group), &commits);
        }
        // One large write at a time, so acknowledgements never wait behind several.
        if let Some(j) = exclusive.pop_front() {
            run_group(&conn, vec![j], &commits);
        }
        wal.after_commit(&conn);
        if rx.is_closed() && exclusive.is_empty() && group.is_empty() && rx.is_empty() {
            return;
        }
    }
}

/// Copies the WAL back into the database twice a second, beside the writer (a passive
/// checkpoint never blocks it), until the store is dropped.
fn checkpointer(conn: Connection, alive: mpsc::WeakSender<Job>) {
    while alive.upgrade().is_some() {
        std::thread::sleep(Duration::from_millis(500));
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
}

/// Runs jobs in one transaction and answers each once it has committed (or not).
fn run_group(conn: &Connection, jobs: Vec<Job>, commits: &AtomicU64) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let msg = format!("begin failed: {e}");
        tracing::error!(error = %msg, "store write batch refused");
        // Each job still gets an answer: an error, never a false success.
        for job in jobs {
            let (_, reply) = run_one(conn, job);
            reply(Err(msg.clone()));
        }
        let _ = conn.execute_batch("ROLLBACK");
        return;
    }
    let mut replies = Vec::with_capacity(jobs.len());
    let mut poisoned = None;
    for job in jobs {
        let mode = job.mode;
        let (ok, reply) = run_one(conn, job);
        if !ok && mode != Mode::Savepoint {
            poisoned.get_or_insert_with(|| "a write in the same transaction failed".to_string());
        }
        replies.push(reply);
    }
    let committed = match poisoned {
        Some(msg) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(msg)
        }
        None => {
            let started = std::time::Instant::now();
            let res = conn.execute_batch("COMMIT");
            crate::record_commit("sqlite", started);
            res.map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                tracing::error!(error = %e, "store commit failed");
                format!("commit failed: {e}")
            })
        }
    };
    commits.fetch_add(1, Ordering::Relaxed);
    for r in replies {
        r(committed.clone());
    }
}

/// Runs one job (in a savepoint for `Mode::Savepoint`); a panic is a failure.
fn run_one(conn: &Connection, job: Job) -> (bool, Reply) {
    let savepoint = job.mode == Mode::Savepoint && conn.execute_batch("SAVEPOINT job").is_ok();
    let (ok, reply) =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.run)(conn))) {
            Ok(r) => r,
            Err(_) => {
                // The job's caller sees its reply channel dropped: an error, never a success.
                tracing::error!("store write job panicked; its writes are rolled back");
                (false, Box::new(|_| {}) as Reply)
            }
        };
    if savepoint {
        if !ok {
            let _ = conn.execute_batch("ROLLBACK TO job");
        }
        let _ = conn.execute_batch("RELEASE job");
    }
    (ok, reply)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Db(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = open_conn(&path, true)?;
        migrate(&conn)?;
        // After a checkpoint resets the WAL, the file is cut back to this size.
        conn.pragma_update(None, "journal_size_limit", WAL_LIMIT as i64)?;
        let checkpoint_conn = open_conn(&path, true)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let commits = Arc::new(AtomicU64::new(0));
        let counter = commits.clone();
        let wal_limit = Arc::new(AtomicU64::new(WAL_LIMIT));
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let guard = WalGuard {
            wal: wal.into(),
            limit: wal_limit.clone(),
        };
        std::thread::Builder::new()
            .name("rebound-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, counter, guard))
            .map_err(|e| StoreError::Unavailable(format!("cannot start writer: {e}")))?;
        let alive = tx.downgrade();
        std::thread::Builder::new()
            .name("rebound-sqlite-checkpoint".into())
            .spawn(move || checkpointer(checkpoint_conn, alive))
            .map_err(|e| StoreError::Unavailable(format!("cannot start checkpointer: {e}")))?;
        Ok(SqliteStore {
            path,
            node_id: crate::new_node_id().into(),
            commits,
            jobs: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
            wal_limit,
        })
    }

    /// Sets how large the WAL may grow before the writer truncates it ([`WAL_LIMIT`] by
    /// default).
    pub fn set_wal_limit(&self, bytes: u64) {
        self.wal_limit.store(bytes, Ordering::Relaxed);
    }

    /// Write transactions committed since the store was opened (each one fsync).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This instance's id in the inbox's `locked_by` column: the process id and 64 random
    /// bits, new at every open (two stores open on one file, in one process or two, never
    /// share one).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Runs `f` on the writer thread inside the current group transaction (in a savepoint
    /// of its own); resolves once the transaction has committed durably (or failed).
    pub async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        self.submit(Mode::Savepoint, f).await
    }

    async fn submit<R, F>(&self, mode: Mode, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R>>();
        let run: Run = Box::new(move |conn| {
            let res = f(conn);
            let ok = res.is_ok();
            let reply: Reply = Box::new(move |committed| {
                let out = match (committed, res) {
                    (Ok(()), r) => r,
                    (Err(e), Ok(_)) => Err(StoreError::Db(e)),
                    (Err(_), Err(e)) => Err(e),
                };
                let _ = tx.send(out);
            });
            (ok, reply)
        });
        self.jobs
            .send(Job { mode, run })
            .await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("writer dropped the request".into()))?
    }

    /// Runs `f` on a reader connection in a blocking task.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().map(|mut v| v.pop()).unwrap_or(None);
            let conn = match pooled {
                Some(c) => c,
                None => open_conn(&path, false)?,
            };
            let res = f(&conn);
            if let Ok(mut v) = readers.lock() {
                if v.len() < MAX_IDLE_READERS {
                    v.push(conn);
                }
            }
            res
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("reader task failed: {e}")))?
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(&self, item: NewInbox, log: NewLogEntry) -> Result<i64> {
        // Serialized here, off the writer thread.
        let headers =
            serde_json::to_string(&item.headers).map_err(|e| StoreError::Db(e.to_string()))?;
        self.submit(Mode::Plain, move |c| ops::ingest(c, &item, &headers, &log))
            .await
    }
    async fn log_request(&self, log: NewLogEntry) -> Result<i64> {
        self.write(move |c| ops::insert_log(c, &log)).await
    }
    async fn mailbox_seen(&self, scope: &str) -> Result<std::collections::HashSet<String>> {
        let scope = scope.to_string();
        self.read(move |c| ops::mailbox_seen(c, &scope)).await
    }
    async fn mailbox_store_batch(
        &self,
        scope: &str,
        items: Vec<MailItem>,
    ) -> Result<Vec<MailStored>> {
        let mut prepared = Vec::with_capacity(items.len());
        for m in items {
            let headers = serde_json::to_string(&m.item.headers)
                .map_err(|e| StoreError::Db(e.to_string()))?;
            prepared.push((m, headers));
        }
        let scope = scope.to_string();
        self.write(move |c| {
            prepared
                .iter()
                .map(|(m, headers)| {
                    ops::mailbox_store(c, &scope, &m.uid, m.is_bounce, &m.item, headers, &m.log)
                })
                .collect()
        })
        .await
    }
    async fn claim(&self, limit: usize, now: Millis, lease_until: Millis) -> Result<Vec<InboxRow>> {
        // Writes are serialized on the writer thread: two claims never take the same row.
        let node = self.node_id.clone();
        self.write(move |c| ops::claim(c, limit, now, lease_until, &node))
            .await
    }
    async fn apply(
        &self,
        rows: Arc<[Processed]>,
        policy: Policy,
        now: Millis,
    ) -> Result<ApplyReport> {
        // Applied rows are released (a failed row waits for its retry time). A failed batch
        // is rolled back and stays leased: the worker holding it re-applies it row by row.
        self.submit(Mode::Exclusive, move |c| {
            crate::apply::apply(&mut rows::SqliteRows(c), &rows, &policy, now)
        })
        .await
    }
    async fn replay(&self, log_id: i64) -> Result<()> {
        self.write(move |c| ops::replay(c, log_id)).await
    }
    async fn replay_failed(&self) -> Result<u64> {
        self.write(|c| {
            Ok(c.execute(
                "UPDATE inbox SET state = 'pending', attempts = 0, next_attempt_at = 0 WHERE state = 'failed'",
                [],
            )? as u64)
        })
        .await
    }
    async fn inbox_counts(&self) -> Result<InboxCounts> {
        self.read(ops::inbox_counts).await
    }
    async fn oldest_pending_received_at(&self) -> Result<Option<Millis>> {
        self.read(ops::oldest_pending_received_at).await
    }
    async fn status_counts(&self) -> Result<StatusCounts> {
        self.read(ops::status_counts).await
    }
    async fn hourly_event_counts(&self, since: Millis, after_id: i64) -> Result<HourlyCounts> {
        self.read(move |c| ops::hourly_event_counts(c, since, after_id))
            .await
    }
    async fn source_traffic(&self, since: Millis) -> Result<Vec<SourceTraffic>> {
        self.read(move |c| ops::source_traffic(c, since)).await
    }
    async fn kind_counts_by_source(&self, since: Millis) -> Result<Vec<SourceKindCount>> {
        self.read(move |c| ops::kind_counts_by_source(c, since))
            .await
    }

    async fn kind_counts_by_sending_domain(&self, since: Millis) -> Result<Vec<DomainKindCount>> {
        self.read(move |c| ops::kind_counts_by_sending_domain(c, since))
            .await
    }
    async fn add_rejections(&self, counts: Vec<RejectionCount>) -> Result<()> {
        self.write(move |c| retention::add_rejections(c, &counts))
            .await
    }
    async fn list_rejections(&self, since: Millis, limit: u32) -> Result<Vec<RejectionCount>> {
        self.read(move |c| retention::list_rejections(c, since, limit))
            .await
    }
    async fn try_lock(&self, name: &str, holder: &str, until: Millis, now: Millis) -> Result<bool> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |c| retention::try_lock(c, &name, &holder, until, now))
            .await
    }
    async fn unlock(&self, name: &str, holder: &str) -> Result<()> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |c| {
            c.execute(
                "DELETE FROM named_locks WHERE name = ?1 AND holder = ?2",
                rusqlite::params![name, holder],
            )?;
            Ok(())
        })
        .await
    }
    async fn prune(&self, before: Millis, batch: u32) -> Result<PruneReport> {
        self.submit(Mode::Exclusive, move |c| retention::prune(c, before, batch))
            .await
    }
    async fn create_source(&self, source: NewSource) -> Result<Source> {
        self.write(move |c| ops::create_source(c, &source)).await
    }
    async fn list_sources(&self) -> Result<Vec<Source>> {
        self.read(ops::list_sources).await
    }
    async fn newest_source_id(&self) -> Result<i64> {
        self.read(
            |c| Ok(c.query_row("SELECT COALESCE(MAX(id), 0) FROM sources", [], |r| r.get(0))?),
        )
        .await
    }
    async fn update_source(&self, source: Source) -> Result<()> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE sources SET name = ?1, secret = ?2, config = ?3, status = ?4, status_message = ?5, url_key = ?6 WHERE id = ?7",
                rusqlite::params![
                    source.name,
                    source.secret,
                    source.config.to_string(),
                    source.status,
                    source.status_message,
                    source.key,
                    source.id
                ],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("source {}", source.id)));
            }
            Ok(())
        })
        .await
    }
    async fn set_source_config(&self, id: i64, config: serde_json::Value) -> Result<()> {
        self.write(move |c| {
            c.execute(
                "UPDATE sources SET config = ?1 WHERE id = ?2",
                rusqlite::params![config.to_string(), id],
            )?;
            Ok(())
        })
        .await
    }
    async fn set_source_status(&self, id: i64, status: &str, message: Option<&str>) -> Result<()> {
        let (status, message) = (status.to_string(), message.map(str::to_string));
        self.write(move |c| {
            c.execute(
                "UPDATE sources SET status = ?1, status_message = ?2 WHERE id = ?3",
                rusqlite::params![status, message, id],
            )?;
            Ok(())
        })
        .await
    }
    async fn get_setting(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let key = key.to_string();
        self.read(move |c| ops::get_setting(c, &key)).await
    }
    async fn put_setting(&self, key: &str, value: serde_json::Value) -> Result<()> {
        let key = key.to_string();
        self.write(move |c| ops::put_setting(c, &key, &value, true).map(|_| ()))
            .await
    }
    async fn put_setting_if_absent(&self, key: &str, value: serde_json::Value) -> Result<bool> {
        let key = key.to_string();
        self.write(move |c| ops::put_setting(c, &key, &value, false))
            .await
    }
    async fn upsert_contacts(
        &self,
        contacts: Vec<NewContact>,
        overwrite: bool,
    ) -> Result<UpsertReport> {
        self.write(move |c| ops::upsert_contacts(c, &contacts, overwrite))
            .await
    }
    async fn patch_contact(
        &self,
        email_key: &str,
        patch: ContactPatch,
        now: Millis,
    ) -> Result<Contact> {
        let key = email_key.to_string();
        self.write(move |c| ops::patch_contact(c, &key, &patch, now))
            .await
    }
    async fn delete_contact(&self, email_key: &str) -> Result<bool> {
        let key = email_key.to_string();
        self.write(move |c| ops::delete_contact(c, &key)).await
    }
    async fn get_contacts(&self, email_keys: Vec<String>) -> Result<Vec<Option<Contact>>> {
        self.read(move |c| {
            email_keys
                .iter()
                .map(|k| ops::contact_by(c, "email_key", k))
                .collect()
        })
        .await
    }
    async fn contact_by_uuid(&self, uuid: &str) -> Result<Option<Contact>> {
        let uuid = uuid.to_string();
        self.read(move |c| ops::contact_by(c, "uuid", &uuid)).await
    }
    async fn list_contacts(&self, filter: ContactFilter) -> Result<Page<Contact>> {
        self.read(move |c| ops::list_contacts(c, &filter)).await
    }
    async fn list_events(&self, filter: EventFilter) -> Result<Page<StoredEvent>> {
        self.read(move |c| ops::list_events(c, &filter)).await
    }
    async fn list_log(&self, filter: LogFilter) -> Result<Page<LogEntry>> {
        self.read(move |c| ops::list_log(c, &filter)).await
    }
    async fn raw_request(&self, id: i64) -> Result<Option<RawRequest>> {
        self.read(move |c| ops::raw_request(c, id)).await
    }

    async fn erase_contact(
        &self,
        email_key: &str,
        address_hash: &str,
        now: Millis,
    ) -> Result<bool> {
        let (key, hash) = (email_key.to_string(), address_hash.to_string());
        self.write(move |c| erasure::erase(c, &key, &hash, now))
            .await
    }
    async fn erased(
        &self,
        address_hashes: Vec<String>,
    ) -> Result<std::collections::HashSet<String>> {
        self.read(move |c| erasure::erased(c, &address_hashes))
            .await
    }
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey> {
        self.write(move |c| access::create_api_key(c, &key)).await
    }
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        self.read(access::list_api_keys).await
    }
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>> {
        let hash = key_hash.to_string();
        self.read(move |c| access::api_key_by_hash(c, &hash)).await
    }
    async fn revoke_api_key(&self, id: i64, now: Millis) -> Result<bool> {
        self.write(move |c| access::revoke_api_key(c, id, now))
            .await
    }
    async fn touch_api_key(&self, id: i64, now: Millis) -> Result<()> {
        self.write(move |c| access::touch_api_key(c, id, now)).await
    }
    async fn create_user(&self, user: NewUser) -> Result<User> {
        self.write(move |c| access::create_user(c, &user)).await
    }
    async fn list_users(&self) -> Result<Vec<User>> {
        self.read(access::list_users).await
    }
    async fn user_by_email(&self, email_key: &str) -> Result<Option<User>> {
        let key = email_key.to_string();
        self.read(move |c| access::user_by_email(c, &key)).await
    }
    async fn delete_user(&self, id: i64) -> Result<bool> {
        self.write(move |c| access::delete_user(c, id)).await
    }
    async fn create_session(&self, session: NewSession) -> Result<()> {
        self.write(move |c| access::create_session(c, &session))
            .await
    }
    async fn session(&self, id_hash: &str, now: Millis) -> Result<Option<Session>> {
        let hash = id_hash.to_string();
        self.read(move |c| access::session(c, &hash, now)).await
    }
    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        let hash = id_hash.to_string();
        self.write(move |c| access::delete_session(c, &hash)).await
    }

    async fn copy_rows(
        &self,
        table: &'static crate::copy::Table,
        after: Option<Vec<crate::copy::Cell>>,
        limit: usize,
    ) -> Result<Vec<Vec<crate::copy::Cell>>> {
        self.read(move |c| copy::rows(c, table, after.as_deref(), limit))
            .await
    }
    async fn put_rows(
        &self,
        table: &'static crate::copy::Table,
        rows: Vec<Vec<crate::copy::Cell>>,
    ) -> Result<()> {
        self.submit(Mode::Exclusive, move |c| copy::put(c, table, &rows))
            .await
    }
    async fn count_rows(&self, table: &'static crate::copy::Table) -> Result<u64> {
        self.read(move |c| copy::count(c, table)).await
    }
    async fn copy_done(&self) -> Result<()> {
        // An INTEGER PRIMARY KEY hands out the largest id + 1: nothing to move on.
        Ok(())
    }

    async fn create_subscription(
        &self,
        s: crate::outbound::NewSubscription,
    ) -> Result<crate::outbound::Subscription> {
        self.write(move |c| outbound::create_subscription(c, &s))
            .await
    }
    async fn list_subscriptions(&self) -> Result<Vec<crate::outbound::Subscription>> {
        self.read(outbound::list_subscriptions).await
    }
    async fn update_subscription(&self, s: crate::outbound::Subscription) -> Result<()> {
        self.write(move |c| outbound::update_subscription(c, &s))
            .await
    }
    async fn claim_outbox(
        &self,
        limit: usize,
        now: Millis,
        lease_until: Millis,
    ) -> Result<Vec<crate::outbound::OutboxItem>> {
        let node = self.node_id.clone();
        self.write(move |c| outbound::claim_outbox(c, limit, now, lease_until, &node))
            .await
    }
    async fn record_attempts(&self, attempts: Vec<crate::outbound::AttemptRecord>) -> Result<()> {
        self.write(move |c| {
            attempts
                .iter()
                .try_for_each(|a| outbound::record_attempt(c, a))
        })
        .await
    }
    async fn list_deliveries(
        &self,
        subscription_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<crate::outbound::Delivery>> {
        self.read(move |c| outbound::list_deliveries(c, subscription_id, before, limit))
            .await
    }
    async fn requeue(
        &self,
        subscription_id: i64,
        what: crate::outbound::Requeue,
        now: Millis,
    ) -> Result<u64> {
        self.write(move |c| outbound::requeue(c, subscription_id, what, now))
            .await
    }
    async fn next_outbox_due(&self) -> Result<Option<Millis>> {
        self.read(outbound::next_outbox_due).await
    }
}
