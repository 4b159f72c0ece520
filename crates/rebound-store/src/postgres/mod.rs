//! The PostgreSQL store: one database shared by any number of rebound nodes.
//!
//! The shape of the SQLite store ([`crate::sqlite`]), on the blocking `postgres` client
//! (tokio-postgres driven by a runtime of its own per connection):
//!
//! - One OS thread per node owns the write connection. Writes are jobs sent to it on a
//!   bounded channel; it takes the first, then up to [`MAX_BATCH`] more that are waiting,
//!   runs them in one transaction and commits once before answering any of them (group
//!   commit: one WAL flush serves every acknowledgement of the batch). Concurrent `ingest`
//!   calls of one group are one statement, a multi-row `INSERT … SELECT … FROM unnest(…)`:
//!   one round trip for the whole group. Other writes run each in a savepoint, so that one
//!   failing does not undo its neighbours. Large writes (pruning, copying) run in a
//!   transaction of their own after the waiting group.
//! - Workers' claims and applies do not go through the writer: each runs in a transaction
//!   of its own on a pooled connection ([`PgStore::transaction`]), beside the group commits,
//!   so applying a batch never holds back acknowledgements (claims commit without waiting
//!   for the WAL flush: a lost lease only frees its row).
//! - Reads use the same small pool of connections, in blocking tasks.
//! - Several nodes coordinate through the database only: inbox rows are leased with
//!   `FOR UPDATE SKIP LOCKED`, events are deduplicated by their unique key
//!   (`ON CONFLICT DO NOTHING`), and [`crate::apply::apply`] first locks every address of
//!   its batch in one global order (advisory locks by address hash), then the contact rows
//!   (`FOR UPDATE`), so that two nodes applying events of one contact serialize, and never
//!   deadlock over contacts they both create.
//! - Embedded migrations are applied at open under an advisory lock, so nodes starting at
//!   the same moment apply each migration once.
//!
//! A `postgres::Client` owns a Tokio runtime and must not be dropped, nor used, on a thread
//! that drives asynchronous tasks: connections live on the writer thread and in blocking
//! tasks only, and the reader pool is emptied on a thread of its own when the store goes.

mod access;
mod copy;
mod erasure;
mod ops;
mod outbound;
mod rows;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ::postgres::types::ToSql;
pub use ::postgres::Config;
use ::postgres::{Client, NoTls, Row, Statement};
use async_trait::async_trait;
use rebound_core::{Millis, Policy};
use tokio::sync::{mpsc, oneshot};

use crate::*;

/// Writes collected into one transaction at most.
pub const MAX_BATCH: usize = 1024;
/// Capacity of the write queue.
const QUEUE: usize = 8192;
/// Pooled connections in use at once at most (reads, workers' claims and applies): more
/// callers wait for one, so a node never opens more than this plus its writer.
const MAX_POOLED: usize = 16;
/// Reader connections kept open between reads: as many as may be in use, so that a burst
/// never closes and reopens them. With 8 of the 16 kept, fifty concurrent suppression checks
/// reconnected on most reads (a new server process each) and their p99 was 652 ms
/// (bench/ui.sh, DB=postgres, BENCHMARKS.md).
const READERS: usize = MAX_POOLED;
/// The advisory lock key that serializes migrations across nodes ("rebound" in ASCII).
const MIGRATION_LOCK: i64 = 0x0072_6562_6f75_6e64;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_named_locks.sql"),
    ),
    (3, include_str!("../../migrations/postgres/0003_access.sql")),
    (4, include_str!("../../migrations/postgres/0004_erased.sql")),
    (
        5,
        include_str!("../../migrations/postgres/0005_events_by_time.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_sending_domain.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_inbox_by_source.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_inbox_by_state.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_outbound.sql"),
    ),
    (
        10,
        include_str!("../../migrations/postgres/0010_subscription_sources.sql"),
    ),
];

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => StoreError::Db(format!("{}: {}", db.code().code(), db.message())),
            None => {
                // The client's own errors (connecting, I/O) say what went wrong in their source.
                let mut msg = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    msg.push_str(&format!(": {s}"));
                    source = s.source();
                }
                StoreError::Db(msg)
            }
        }
    }
}

/// A connection and its prepared statements.
pub struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    fn connect(config: &Config) -> Result<Conn> {
        Ok(Conn {
            client: config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    /// The statement for `sql`, prepared once per connection.
    fn prepare(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        if self.statements.len() < 256 {
            self.statements.insert(sql.to_string(), s.clone());
        }
        Ok(s)
    }

    /// Runs a prepared statement; returns the rows changed.
    pub fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let s = self.prepare(sql)?;
        Ok(self.client.execute(&s, params)?)
    }

    /// Runs a prepared query; returns its rows.
    pub fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let s = self.prepare(sql)?;
        Ok(self.client.query(&s, params)?)
    }

    /// Runs a prepared query of at most one row.
    pub fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let s = self.prepare(sql)?;
        Ok(self.client.query_opt(&s, params)?)
    }

    /// Runs a prepared query of exactly one row.
    pub fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let s = self.prepare(sql)?;
        Ok(self.client.query_one(&s, params)?)
    }

    /// Runs statements without parameters (simple protocol).
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.batch_execute(sql)?)
    }
}

type Reply = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;
/// A write: runs on the writer thread, says whether it succeeded, and returns the answer to
/// send once the transaction's fate is known.
type Run = Box<dyn FnOnce(&mut Conn) -> (bool, Reply) + Send>;

/// An accepted request to insert, with its reply.
struct IngestJob {
    item: NewInbox,
    headers: String,
    log: NewLogEntry,
    reply: oneshot::Sender<Result<i64>>,
}

enum Job {
    /// In the group transaction, with every other ingest of the group: one statement.
    Ingest(Box<IngestJob>),
    /// In the group transaction, inside its own savepoint.
    Savepoint(Run),
    /// In a transaction of its own, after the waiting group.
    Exclusive(Run),
}

/// How a [`PgStore::transaction`] commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Flushed to the WAL before it returns (what a 2xx or an applied event needs).
    Durable,
    /// Without waiting for the flush (`synchronous_commit = off`): a crash may lose the
    /// last such commits, never corrupt anything (leases).
    Lazy,
}

/// The PostgreSQL implementation of [`Store`].
pub struct PgStore {
    config: Config,
    node_id: Arc<str>,
    commits: Arc<AtomicU64>,
    jobs: mpsc::Sender<Job>,
    readers: Arc<Pool>,
    /// Permits for [`MAX_POOLED`] connections in use.
    in_use: Arc<tokio::sync::Semaphore>,
}

/// Idle reader connections. Emptied on a thread of its own (see the module doc).
struct Pool(Mutex<Vec<Conn>>);

impl Drop for Pool {
    fn drop(&mut self) {
        let conns = std::mem::take(self.0.get_mut().unwrap_or_else(|e| e.into_inner()));
        if !conns.is_empty() {
            let _ = std::thread::Builder::new()
                .name("rebound-pg-close".into())
                .spawn(move || drop(conns));
        }
    }
}

fn migrate(c: &mut Conn) -> Result<()> {
    c.client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let res = (|| -> Result<()> {
        c.batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )?;
        for (version, sql) in MIGRATIONS {
            let done: bool = c
                .client
                .query_one(
                    "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = $1)",
                    &[version],
                )?
                .try_get(0)?;
            if done {
                continue;
            }
            let mut tx = c.client.transaction()?;
            let applied = tx.batch_execute(sql).and_then(|_| {
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    &[version, &crate::common::now_ms()],
                )
            });
            match applied {
                Ok(_) => tx.commit()?,
                Err(e) => {
                    return Err(StoreError::Db(format!(
                        "migration {version} failed: {}",
                        StoreError::from(e)
                    )))
                }
            }
        }
        Ok(())
    })();
    let unlocked = c
        .client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    res?;
    unlocked?;
    Ok(())
}

fn writer_loop(
    mut conn: Conn,
    config: Config,
    mut rx: mpsc::Receiver<Job>,
    commits: Arc<AtomicU64>,
) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut exclusive: std::collections::VecDeque<Run> = Default::default();
    fn route(j: Job, group: &mut Vec<Job>, exclusive: &mut std::collections::VecDeque<Run>) {
        match j {
            Job::Exclusive(run) => exclusive.push_back(run),
            j => group.push(j),
        }
    }
    loop {
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
        // A connection the server closed (a restart, a failover) is opened again; until it
        // can be, every write is answered with an error.
        if conn.client.is_closed() {
            match Conn::connect(&config) {
                Ok(c) => {
                    tracing::warn!("PostgreSQL write connection lost: reconnected");
                    conn = c;
                }
                Err(e) => tracing::error!(error = %e, "PostgreSQL write connection lost"),
            }
        }
        if !group.is_empty() {
            run_group(&mut conn, std::mem::take(&mut group), &commits);
        }
        if let Some(run) = exclusive.pop_front() {
            run_exclusive(&mut conn, run, &commits);
        }
        if rx.is_closed() && exclusive.is_empty() && group.is_empty() && rx.is_empty() {
            return;
        }
    }
}

/// Runs a group in one transaction: the savepoint jobs one by one, then every ingest of the
/// group in one statement; answers each once the transaction has committed (or not).
fn run_group(conn: &mut Conn, jobs: Vec<Job>, commits: &AtomicU64) {
    let mut ingests = Vec::new();
    let mut runs = Vec::new();
    for j in jobs {
        match j {
            Job::Ingest(i) => ingests.push(i),
            Job::Savepoint(r) | Job::Exclusive(r) => runs.push(r),
        }
    }
    if let Err(e) = conn.batch("BEGIN") {
        let msg = format!("begin failed: {e}");
        tracing::error!(error = %msg, "store write batch refused");
        for i in ingests {
            let _ = i.reply.send(Err(StoreError::Db(msg.clone())));
        }
        // Each job still gets an answer: an error, never a false success.
        for run in runs {
            let (_, _, reply) = run_one(conn, run, false);
            reply(Err(msg.clone()));
        }
        let _ = conn.batch("ROLLBACK");
        return;
    }
    let mut replies = Vec::with_capacity(runs.len());
    let mut usable = true;
    for run in runs {
        let (_, still_usable, reply) = run_one(conn, run, true);
        usable &= still_usable;
        replies.push(reply);
    }
    let ids = if !usable {
        Err(StoreError::Db("the transaction was aborted".into()))
    } else if ingests.is_empty() {
        Ok(Vec::new())
    } else {
        ops::ingest_many(conn, &ingests)
    };
    let committed = match &ids {
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(format!("a write in the same transaction failed: {e}"))
        }
        Ok(_) => {
            let started = std::time::Instant::now();
            let res = conn.batch("COMMIT");
            crate::record_commit("postgres", started);
            res.map_err(|e| {
                let _ = conn.batch("ROLLBACK");
                tracing::error!(error = %e, "store commit failed");
                format!("commit failed: {e}")
            })
        }
    };
    commits.fetch_add(1, Ordering::Relaxed);
    // A failed insert rolled the group back: `committed` is an error then.
    let answer = match (&committed, ids) {
        (Ok(()), Ok(ids)) => Ok(ids),
        (Err(e), _) => Err(e.clone()),
        (Ok(()), Err(e)) => Err(e.to_string()),
    };
    match answer {
        Ok(ids) => {
            for (i, id) in ingests.into_iter().zip(ids) {
                let _ = i.reply.send(Ok(id));
            }
        }
        Err(e) => {
            for i in ingests {
                let _ = i.reply.send(Err(StoreError::Db(e.clone())));
            }
        }
    }
    for r in replies {
        r(committed.clone());
    }
}

/// A large write in a transaction of its own.
fn run_exclusive(conn: &mut Conn, run: Run, commits: &AtomicU64) {
    if let Err(e) = conn.batch("BEGIN") {
        let (_, _, reply) = run_one(conn, run, false);
        let _ = conn.batch("ROLLBACK");
        reply(Err(format!("begin failed: {e}")));
        return;
    }
    let (ok, _, reply) = run_one(conn, run, false);
    let committed = if ok {
        conn.batch("COMMIT").map_err(|e| {
            let _ = conn.batch("ROLLBACK");
            tracing::error!(error = %e, "store commit failed");
            format!("commit failed: {e}")
        })
    } else {
        let _ = conn.batch("ROLLBACK");
        Err("rolled back".to_string())
    };
    commits.fetch_add(1, Ordering::Relaxed);
    reply(committed);
}

/// Runs one job (in a savepoint if asked); a panic is a failure.
///
/// Also says whether the transaction is still usable: PostgreSQL aborts a transaction at
/// its first failed statement and then answers `COMMIT` with a silent rollback, so a failure
/// not undone by its savepoint must roll the whole group back and be answered as such.
fn run_one(conn: &mut Conn, run: Run, savepoint: bool) -> (bool, bool, Reply) {
    let savepoint = savepoint.then(|| conn.batch("SAVEPOINT job").is_ok());
    let (ok, reply) = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(conn))) {
        Ok(r) => r,
        Err(_) => {
            tracing::error!("store write job panicked; its writes are rolled back");
            (false, Box::new(|_| {}) as Reply)
        }
    };
    let usable = match savepoint {
        Some(true) => {
            let undone = ok || conn.batch("ROLLBACK TO SAVEPOINT job").is_ok();
            conn.batch("RELEASE SAVEPOINT job").is_ok() && undone
        }
        Some(false) => false,
        None => ok,
    };
    (ok, usable, reply)
}

/// Runs `f` on a fresh thread (no Tokio context: the blocking client may run there) and
/// waits for it.
fn off_runtime<R: Send + 'static>(f: impl FnOnce() -> Result<R> + Send + 'static) -> Result<R> {
    std::thread::Builder::new()
        .name("rebound-pg-open".into())
        .spawn(f)
        .map_err(|e| StoreError::Unavailable(format!("cannot start a thread: {e}")))?
        .join()
        .map_err(|_| StoreError::Unavailable("opening the database panicked".into()))?
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB?…`, or
    /// key=value pairs), applies migrations, and starts the writer.
    pub fn open(url: &str) -> Result<PgStore> {
        let config: Config = url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("invalid PostgreSQL URL: {e}")))?;
        PgStore::open_config(config)
    }

    /// [`PgStore::open`] with a parsed configuration.
    pub fn open_config(mut config: Config) -> Result<PgStore> {
        if config.get_application_name().is_none() {
            config.application_name("rebound");
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let commits = Arc::new(AtomicU64::new(0));
        let counter = commits.clone();
        let writer_config = config.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<()>>(1);
        std::thread::Builder::new()
            .name("rebound-pg-writer".into())
            .spawn(move || {
                let conn = Conn::connect(&writer_config).and_then(|mut c| {
                    migrate(&mut c)?;
                    Ok(c)
                });
                match conn {
                    Ok(conn) => {
                        let _ = ready_tx.send(Ok(()));
                        writer_loop(conn, writer_config, rx, counter);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start writer: {e}")))?;
        ready_rx
            .recv()
            .map_err(|_| StoreError::Unavailable("the writer stopped while opening".into()))??;
        Ok(PgStore {
            config,
            node_id: crate::new_node_id().into(),
            commits,
            jobs: tx,
            readers: Arc::new(Pool(Mutex::new(Vec::new()))),
            in_use: Arc::new(tokio::sync::Semaphore::new(MAX_POOLED)),
        })
    }

    /// Write transactions committed since the store was opened.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// This instance's id in the inbox's `locked_by` column (new at every open).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Runs `f` on the writer thread inside the current group transaction (in a savepoint
    /// of its own); resolves once the transaction has committed (or failed).
    pub async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<R> + Send + 'static,
    {
        self.submit(false, f).await
    }

    async fn submit<R, F>(&self, exclusive: bool, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<R> + Send + 'static,
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
        let job = if exclusive {
            Job::Exclusive(run)
        } else {
            Job::Savepoint(run)
        };
        self.send(job).await?;
        rx.await
            .map_err(|_| StoreError::Unavailable("writer dropped the request".into()))?
    }

    async fn send(&self, job: Job) -> Result<()> {
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))
    }

    /// Runs `f` in a transaction of its own on a pooled connection (not the writer's), in a
    /// blocking task: PostgreSQL runs it beside the writer's group commits, so a worker
    /// applying a batch does not hold back acknowledgements. Committed when `f` succeeds,
    /// rolled back otherwise; a connection whose rollback fails is dropped.
    pub async fn transaction<R, F>(&self, commit: Commit, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<R> + Send + 'static,
    {
        let commits = self.commits.clone();
        self.on_pooled(move |conn| {
            let begin = match commit {
                Commit::Durable => "BEGIN",
                Commit::Lazy => "BEGIN; SET LOCAL synchronous_commit = off",
            };
            if let Err(e) = conn.batch(begin) {
                let _ = conn.batch("ROLLBACK");
                return Err(e);
            }
            let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(StoreError::Db("store transaction panicked".into())));
            let end = match &res {
                Ok(_) => {
                    let started = std::time::Instant::now();
                    let end = conn.batch("COMMIT");
                    crate::record_commit("postgres", started);
                    end
                }
                Err(_) => conn.batch("ROLLBACK"),
            };
            commits.fetch_add(1, Ordering::Relaxed);
            match (res, end) {
                (Ok(r), Ok(())) => Ok(r),
                (Ok(_), Err(e)) => Err(e),
                (Err(e), _) => Err(e),
            }
        })
        .await
    }

    /// Runs `f` on a reader connection in a blocking task.
    pub async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<R> + Send + 'static,
    {
        self.on_pooled(f).await
    }

    /// Runs `f` on a pooled connection in a blocking task; the connection goes back to the
    /// pool unless it is closed.
    async fn on_pooled<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<R> + Send + 'static,
    {
        let readers = self.readers.clone();
        let config = self.config.clone();
        let permit = self
            .in_use
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("store closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = readers.0.lock().map(|mut v| v.pop()).unwrap_or(None);
            let mut conn = match pooled {
                Some(c) if !c.client.is_closed() => c,
                _ => Conn::connect(&config)?,
            };
            let res = f(&mut conn);
            if !conn.client.is_closed() {
                if let Ok(mut v) = readers.0.lock() {
                    if v.len() < READERS {
                        v.push(conn);
                    }
                }
            }
            res
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("reader task failed: {e}")))?
    }
}

/// Creates database `name` through the server `config` points at (its own database is the
/// maintenance one, usually `postgres`), unless it exists. For tests and set-up tools.
pub fn create_database(config: &Config, name: &str) -> Result<()> {
    let (config, name) = (config.clone(), name.to_string());
    off_runtime(move || {
        let mut c = config.connect(NoTls)?;
        let exists = c
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
            .is_some();
        if !exists {
            c.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))?;
        }
        Ok(())
    })
}

/// Drops database `name` (closing its connections), if it exists.
pub fn drop_database(config: &Config, name: &str) -> Result<()> {
    let (config, name) = (config.clone(), name.to_string());
    off_runtime(move || {
        let mut c = config.connect(NoTls)?;
        c.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&name)
        ))?;
        Ok(())
    })
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[async_trait]
impl Store for PgStore {
    async fn ingest(&self, item: NewInbox, log: NewLogEntry) -> Result<i64> {
        let headers =
            serde_json::to_string(&item.headers).map_err(|e| StoreError::Db(e.to_string()))?;
        let (reply, rx) = oneshot::channel();
        self.send(Job::Ingest(Box::new(IngestJob {
            item,
            headers,
            log,
            reply,
        })))
        .await?;
        rx.await
            .map_err(|_| StoreError::Unavailable("writer dropped the request".into()))?
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
        // A lease is not worth a flush: lost in a crash, its row is simply free again.
        let node = self.node_id.clone();
        self.transaction(Commit::Lazy, move |c| {
            ops::claim(c, limit, now, lease_until, &node)
        })
        .await
    }
    async fn apply(
        &self,
        rows: Arc<[Processed]>,
        policy: Policy,
        now: Millis,
    ) -> Result<ApplyReport> {
        self.transaction(Commit::Durable, move |c| {
            crate::apply::apply(&mut rows::PgRows(c), &rows, &policy, now)
        })
        .await
    }
    async fn replay(&self, log_id: i64) -> Result<()> {
        self.write(move |c| ops::replay(c, log_id)).await
    }
    async fn replay_failed(&self) -> Result<u64> {
        self.write(|c| {
            c.execute(
                "UPDATE inbox SET state = 'pending', attempts = 0, next_attempt_at = 0 WHERE state = 'failed'",
                &[],
            )
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
        self.write(move |c| ops::add_rejections(c, &counts)).await
    }
    async fn list_rejections(&self, since: Millis, limit: u32) -> Result<Vec<RejectionCount>> {
        self.read(move |c| ops::list_rejections(c, since, limit))
            .await
    }
    async fn prune(&self, before: Millis, batch: u32) -> Result<PruneReport> {
        self.submit(true, move |c| ops::prune(c, before, batch))
            .await
    }
    async fn try_lock(&self, name: &str, holder: &str, until: Millis, now: Millis) -> Result<bool> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |c| ops::try_lock(c, &name, &holder, until, now))
            .await
    }
    async fn unlock(&self, name: &str, holder: &str) -> Result<()> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |c| ops::unlock(c, &name, &holder)).await
    }
    async fn create_source(&self, source: NewSource) -> Result<Source> {
        self.write(move |c| ops::create_source(c, &source)).await
    }
    async fn list_sources(&self) -> Result<Vec<Source>> {
        self.read(ops::list_sources).await
    }
    async fn newest_source_id(&self) -> Result<i64> {
        self.read(|c| {
            Ok(
                c.query_one("SELECT COALESCE(MAX(id), 0)::BIGINT FROM sources", &[])?
                    .try_get(0)?,
            )
        })
        .await
    }
    async fn update_source(&self, source: Source) -> Result<()> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE sources SET name = $1, secret = $2, config = $3, status = $4, status_message = $5, url_key = $6 WHERE id = $7",
                &[
                    &source.name,
                    &source.secret,
                    &source.config.to_string(),
                    &source.status,
                    &source.status_message,
                    &source.key,
                    &source.id,
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
                "UPDATE sources SET config = $1 WHERE id = $2",
                &[&config.to_string(), &id],
            )?;
            Ok(())
        })
        .await
    }
    async fn set_source_status(&self, id: i64, status: &str, message: Option<&str>) -> Result<()> {
        let (status, message) = (status.to_string(), message.map(str::to_string));
        self.write(move |c| {
            c.execute(
                "UPDATE sources SET status = $1, status_message = $2 WHERE id = $3",
                &[&status, &message, &id],
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
        self.read(move |c| ops::contacts_by_keys(c, &email_keys))
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
        self.submit(true, move |c| copy::put(c, table, rows)).await
    }
    async fn count_rows(&self, table: &'static crate::copy::Table) -> Result<u64> {
        self.read(move |c| copy::count(c, table)).await
    }
    async fn copy_done(&self) -> Result<()> {
        self.submit(true, |c| copy::done(c, crate::copy::TABLES))
            .await
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
        // Like inbox claims: beside the group commits, and a lost lease only frees its row.
        let node = self.node_id.clone();
        self.transaction(Commit::Lazy, move |c| {
            outbound::claim_outbox(c, limit, now, lease_until, &node)
        })
        .await
    }
    async fn record_attempts(&self, attempts: Vec<crate::outbound::AttemptRecord>) -> Result<()> {
        self.transaction(Commit::Durable, move |c| {
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
