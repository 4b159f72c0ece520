//! Drain benchmark for `bench/run.sh` and `bench/postgres.sh`: how fast a backlog of inbox
//! rows becomes events applied to contacts.
//!
//! For each requested worker-task count it opens a fresh store with the server's code:
//!
//! - SQLite (the default): a database in a temporary directory, same pragmas as `rebound
//!   serve` (WAL, `synchronous=FULL`, one group-commit writer thread);
//! - PostgreSQL (`DRAIN_DATABASE_URL` set): the database it names, created for the run and
//!   dropped after it, opened by `DRAIN_NODES` separate [`PgStore`] instances, each with its
//!   own writer thread, connections and node id, as separate `rebound serve` processes on
//!   one database would be.
//!
//! It fills the inbox with `ROWS` ToSend payloads through the backend-neutral
//! [`Store::put_rows`] (explicit ids, then [`Store::copy_done`]): a mix of hard bounces, soft
//! bounces and complaints over `ADDRESSES` distinct addresses, so contacts are both created
//! and updated. Then it times `TASKS` concurrent tasks per node calling
//! `rebound_server::worker::run_once` in a loop until no row is left to claim.
//!
//! Afterwards it checks, from the data: nothing is left pending or failed, every row is
//! done, exactly one event was stored per inbox row (`events.inbox_id` distinct and as many
//! as rows), every row ended after one attempt (`inbox.attempts` = 1), and **no row was
//! claimed twice**: the rows the workers claimed add up to the number of rows, and since
//! every row was claimed at least once (it is done), none can have been claimed twice. (The
//! `attempts` column alone would not prove it: a claim does not write it; the apply writes
//! the attempt number read at the claim, so two claims of one row would both write 1.) On
//! PostgreSQL it also reports the deadlocks the server detected in the database during the
//! run (`pg_stat_database`): each stalls the nodes involved for `deadlock_timeout` and makes
//! a worker batch fall back to row-by-row applies (many more commits).
//!
//! ```text
//! cargo run --release -p rebound --example drain -- [ROWS] [ADDRESSES] [TASKS[,TASKS...]]
//! # defaults: 1000000 200000 2
//! ```
//!
//! Environment:
//! - `DRAIN_BATCH` overrides the worker batch size (default: `WorkerConfig`'s);
//! - `TMPDIR` chooses where the SQLite database goes (the disk you want to measure);
//! - `DRAIN_DATABASE_URL=postgres://USER@HOST:PORT/rebound_bench_NAME`: run on PostgreSQL.
//!   The database is created for each run and dropped after it, so its name must start with
//!   `rebound_bench` and it must not exist (a leftover of a killed run is dropped first);
//! - `DRAIN_NODES=N` (PostgreSQL only, default 1): store instances draining the database;
//! - `DRAIN_SIZES=1` (PostgreSQL only): after the drain, print each table's rows and sizes,
//!   run a retention pass (`Store::prune` with `before` = now until nothing is removed: every
//!   processed request-log row goes, events and contacts stay), `VACUUM`, the sizes again,
//!   then `VACUUM FULL` and the sizes once more;
//! - `DRAIN_EXPERIMENT_PRAGMAS` (SQLite only): extra pragmas on the writer connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rebound_core::Policy;
use rebound_server::worker::{run_once, WorkerConfig};
use rebound_store::copy::{self, Cell};
use rebound_store::postgres::{self as pg, PgStore};
use rebound_store::sqlite::SqliteStore;
use rebound_store::{ApplyReport, DynStore};

/// Rows written per `put_rows` call (one write on the writer thread, one statement on
/// PostgreSQL).
const INSERT_CHUNK: u64 = 10_000;
/// Rows removed per `prune` call in the retention pass.
const PRUNE_BATCH: u32 = 10_000;
/// What a PostgreSQL database of this benchmark is called (it is created and dropped).
const PG_PREFIX: &str = "rebound_bench";

const HARD_REASONS: &[&str] = &[
    "smtp; 550 5.1.1 The email account does not exist",
    "smtp; 550 5.1.2 Host unknown",
    "smtp; 553 5.1.3 Invalid recipient address",
];
const SOFT_REASONS: &[&str] = &[
    "smtp; 452 4.2.2 Mailbox full",
    "smtp; 421 4.7.0 Try again later",
    "smtp; 451 4.3.0 Temporary local problem",
];

/// The body of inbox row `i`: 50% soft bounces, 30% hard bounces, 20% complaints; the
/// address is spread over `addresses` so each contact sees several events in any order.
fn payload(i: u64, addresses: u64) -> Vec<u8> {
    // A multiplicative permutation so consecutive rows hit unrelated contacts.
    let a = (i.wrapping_mul(2_654_435_761)) % addresses;
    let email = format!("user{a}@example{}.com", a % 97);
    let v = match i % 10 {
        0..=4 => serde_json::json!({
            "type": "bounce",
            "email": email,
            "reason": SOFT_REASONS[(i % 3) as usize],
            "is_hard_bounce": false,
            "message_id": format!("msg_{i}"),
        }),
        5..=7 => serde_json::json!({
            "type": "bounce",
            "email": email,
            "reason": HARD_REASONS[(i % 3) as usize],
            "is_hard_bounce": true,
            "message_id": format!("msg_{i}"),
        }),
        _ => serde_json::json!({
            "type": "complaint",
            "email": email,
            "message_id": format!("msg_{i}"),
        }),
    };
    serde_json::to_vec(&v).expect("json")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The `inbox` table as [`copy::TABLES`] describes it.
fn inbox_table() -> anyhow::Result<&'static copy::Table> {
    copy::TABLES
        .iter()
        .find(|t| t.name == "inbox")
        .context("no inbox table in copy::TABLES")
}

/// Inbox row `i` (id `i + 1`) as `rebound serve` stores an accepted webhook: pending, no
/// attempt yet, with its request-log columns.
fn inbox_row(table: &copy::Table, i: u64, addresses: u64, base: i64) -> Vec<Cell> {
    table
        .columns
        .iter()
        .map(|(column, _)| match *column {
            "id" => Cell::Int(i as i64 + 1),
            "source_id" => Cell::Int(1),
            "provider" => Cell::Text("tosend".into()),
            "received_at" => Cell::Int(base + (i / 1000) as i64),
            "headers" => Cell::Text(r#"[["content-type","application/json"]]"#.into()),
            "body" => Cell::Bytes(payload(i, addresses)),
            "state" => Cell::Text("pending".into()),
            "attempts" | "next_attempt_at" => Cell::Int(0),
            "method" => Cell::Text("POST".into()),
            "path" => Cell::Text("/webhooks/tosend/bench".into()),
            "remote_addr" => Cell::Text("127.0.0.1".into()),
            "http_status" => Cell::Int(200),
            "outcome" => Cell::Text("accepted".into()),
            _ => Cell::Null,
        })
        .collect()
}

/// Fills the inbox with `rows` pending rows, ids 1..=rows, through `put_rows`.
async fn fill(store: &DynStore, rows: u64, addresses: u64) -> anyhow::Result<()> {
    let table = inbox_table()?;
    let base = now_ms() - 60_000;
    let mut start = 0u64;
    while start < rows {
        let end = (start + INSERT_CHUNK).min(rows);
        let batch: Vec<Vec<Cell>> = (start..end)
            .map(|i| inbox_row(table, i, addresses, base))
            .collect();
        store.put_rows(table, batch).await?;
        start = end;
    }
    // New rows (none here, but as after a copy) get ids after the filled ones.
    store.copy_done().await?;
    Ok(())
}

/// What a worker task (or a node's tasks) did: rows claimed and the applies' counts (their
/// lists of status changes are not kept).
#[derive(Default, Debug, Clone)]
struct Totals {
    claimed: u64,
    report: ApplyReport,
}

impl Totals {
    fn add(&mut self, claimed: u64, report: ApplyReport) {
        self.claimed += claimed;
        self.report.absorb(ApplyReport {
            changes: Vec::new(),
            ..report
        });
    }
}

/// Runs `tasks` worker tasks on each store until none finds a row to claim; returns the
/// totals of each store.
async fn drain_with(
    stores: &[DynStore],
    tasks: usize,
    cfg: WorkerConfig,
) -> anyhow::Result<Vec<Totals>> {
    let progress = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let monitor = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut last = 0u64;
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let now = progress.load(Ordering::Relaxed);
                eprintln!(
                    "  … {now} rows applied after {:.0} s ({:.0} rows/s over the last 10 s)",
                    started.elapsed().as_secs_f64(),
                    (now - last) as f64 / 10.0
                );
                last = now;
            }
        })
    };
    let mut handles = Vec::new();
    for (node, store) in stores.iter().enumerate() {
        for _ in 0..tasks {
            let store = store.clone();
            let progress = progress.clone();
            handles.push((
                node,
                tokio::spawn(async move {
                    let mut t = Totals::default();
                    loop {
                        let step = run_once(&store, Policy::default(), &cfg).await?;
                        // Nothing left that is not leased: the rows still leased are being
                        // finished by the tasks holding them.
                        if step.claimed == 0 {
                            return Ok::<_, rebound_store::StoreError>(t);
                        }
                        t.add(step.claimed as u64, step.report);
                        progress.fetch_add(step.claimed as u64, Ordering::Relaxed);
                    }
                }),
            ));
        }
    }
    let mut per_node = vec![Totals::default(); stores.len()];
    for (node, h) in handles {
        let t = h.await??;
        per_node[node].add(t.claimed, t.report);
    }
    monitor.abort();
    Ok(per_node)
}

/// What the database holds after the drain.
#[derive(Debug, Default)]
struct Facts {
    events: u64,
    contacts: u64,
    /// Distinct `events.inbox_id`.
    event_rows: u64,
    /// Inbox rows with more than one event.
    rows_with_several_events: u64,
    /// Inbox rows whose `attempts` is not 1.
    attempts_not_one: u64,
    /// Deadlocks PostgreSQL detected in the database (`pg_stat_database`): each costs
    /// `deadlock_timeout` (1 s by default) and sends a worker batch row by row.
    deadlocks: u64,
    statuses: String,
}

impl Facts {
    /// The answers to [`FACTS_SQL`] in order, [`STATUSES_SQL`]'s rows, the deadlocks.
    fn new(n: [u64; 5], statuses: &[String], deadlocks: u64) -> Facts {
        Facts {
            events: n[0],
            contacts: n[1],
            event_rows: n[2],
            rows_with_several_events: n[3],
            attempts_not_one: n[4],
            deadlocks,
            statuses: statuses.join(" "),
        }
    }
}

const FACTS_SQL: [&str; 5] = [
    "SELECT COUNT(*) FROM events",
    "SELECT COUNT(*) FROM contacts",
    "SELECT COUNT(DISTINCT inbox_id) FROM events",
    "SELECT COUNT(*) FROM (SELECT inbox_id FROM events GROUP BY inbox_id HAVING COUNT(*) > 1) AS t",
    "SELECT COUNT(*) FROM inbox WHERE attempts <> 1",
];
const STATUSES_SQL: &str = "SELECT status, COUNT(*) FROM contacts GROUP BY status ORDER BY status";

async fn sqlite_facts(store: &SqliteStore) -> anyhow::Result<Facts> {
    Ok(store
        .read(|c| {
            let mut n = [0u64; 5];
            for (slot, sql) in n.iter_mut().zip(FACTS_SQL) {
                *slot = c.query_row(sql, [], |r| r.get::<_, i64>(0))?.max(0) as u64;
            }
            let mut stmt = c.prepare(STATUSES_SQL)?;
            let statuses = stmt
                .query_map([], |r| {
                    Ok(format!(
                        "{}={}",
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Facts::new(n, &statuses, 0))
        })
        .await?)
}

async fn pg_facts(store: &PgStore) -> anyhow::Result<Facts> {
    Ok(store
        .read(|c| {
            let mut n = [0u64; 5];
            for (slot, sql) in n.iter_mut().zip(FACTS_SQL) {
                *slot = c.query_one(sql, &[])?.try_get::<_, i64>(0)?.max(0) as u64;
            }
            let mut statuses = Vec::new();
            for r in c.query(STATUSES_SQL, &[])? {
                statuses.push(format!(
                    "{}={}",
                    r.try_get::<_, String>(0)?,
                    r.try_get::<_, i64>(1)?
                ));
            }
            let deadlocks: i64 = c
                .query_one(
                    "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
                    &[],
                )?
                .try_get(0)?;
            Ok(Facts::new(n, &statuses, deadlocks.max(0) as u64))
        })
        .await?)
}

/// Prints every table's rows and sizes (heap, indexes, total with TOAST), in MB.
async fn pg_sizes(store: &PgStore, when: &str) -> anyhow::Result<()> {
    let lines = store
        .read(|c| {
            let tables = c.query(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
                &[],
            )?;
            let mut lines = Vec::new();
            let mut sum = [0i64; 3];
            for t in tables {
                let name: String = t.try_get(0)?;
                let rows: i64 = c
                    .query_one(&format!("SELECT COUNT(*) FROM \"{name}\""), &[])?
                    .try_get(0)?;
                let r = c.query_one(
                    "SELECT pg_relation_size($1::text::regclass), pg_indexes_size($1::text::regclass),
                            pg_total_relation_size($1::text::regclass)",
                    &[&name],
                )?;
                let s: [i64; 3] = [r.try_get(0)?, r.try_get(1)?, r.try_get(2)?];
                for (a, b) in sum.iter_mut().zip(s) {
                    *a += b;
                }
                lines.push(format!(
                    "| {name:<18} | {rows:>9} | {:>9.1} | {:>10.1} | {:>9.1} |",
                    s[0] as f64 / 1e6,
                    s[1] as f64 / 1e6,
                    s[2] as f64 / 1e6
                ));
            }
            let db: i64 = c
                .query_one("SELECT pg_database_size(current_database())", &[])?
                .try_get(0)?;
            lines.push(format!(
                "| {:<18} | {:>9} | {:>9.1} | {:>10.1} | {:>9.1} |",
                "(all tables)",
                "",
                sum[0] as f64 / 1e6,
                sum[1] as f64 / 1e6,
                sum[2] as f64 / 1e6
            ));
            lines.push(format!("database size: {:.1} MB", db as f64 / 1e6));
            Ok(lines)
        })
        .await?;
    println!("SIZES {when}");
    println!(
        "| {:<18} | {:>9} | {:>9} | {:>10} | {:>9} |",
        "table", "rows", "table MB", "indexes MB", "total MB"
    );
    println!(
        "|{:-<20}|{:->11}|{:->11}|{:->12}|{:->11}|",
        "", "", "", "", ""
    );
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

/// Sizes after the drain; a retention pass and `VACUUM`; sizes; `VACUUM FULL`; sizes.
async fn pg_retention(store: &PgStore) -> anyhow::Result<()> {
    pg_sizes(store, "after the drain").await?;
    let t = Instant::now();
    let before = now_ms();
    let (mut requests, mut rejections, mut calls) = (0u64, 0u64, 0u64);
    loop {
        let r = rebound_store::Store::prune(store, before, PRUNE_BATCH).await?;
        calls += 1;
        requests += r.requests;
        rejections += r.rejection_counts;
        if r.requests == 0 && r.rejection_counts == 0 {
            break;
        }
    }
    let prune_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    store.read(|c| c.batch("VACUUM")).await?;
    let vacuum_s = t.elapsed().as_secs_f64();
    println!(
        "RETENTION removed_requests={requests} removed_rejection_counts={rejections} prune_calls={calls} batch={PRUNE_BATCH} prune_seconds={prune_s:.2} vacuum_seconds={vacuum_s:.2}"
    );
    pg_sizes(store, "after the retention pass and VACUUM").await?;
    let t = Instant::now();
    store.read(|c| c.batch("VACUUM FULL")).await?;
    println!("VACUUM_FULL seconds={:.2}", t.elapsed().as_secs_f64());
    pg_sizes(store, "after VACUUM FULL").await?;
    Ok(())
}

/// Where a run's store lives.
#[derive(Clone)]
enum Backend {
    Sqlite,
    Postgres {
        /// The benchmark's database.
        url: Box<pg::Config>,
        /// The server's maintenance database (to create and drop the benchmark's).
        admin: Box<pg::Config>,
        name: String,
        nodes: usize,
        sizes: bool,
    },
}

impl Backend {
    fn from_env() -> anyhow::Result<Backend> {
        let Ok(url) = std::env::var("DRAIN_DATABASE_URL") else {
            return Ok(Backend::Sqlite);
        };
        let url: pg::Config = url
            .parse()
            .with_context(|| "DRAIN_DATABASE_URL is not a PostgreSQL URL")?;
        let name = url
            .get_dbname()
            .context("DRAIN_DATABASE_URL names no database")?
            .to_string();
        anyhow::ensure!(
            name.starts_with(PG_PREFIX),
            "DRAIN_DATABASE_URL: the database is dropped and created again, so its name must start with {PG_PREFIX} (got {name})"
        );
        let mut admin = url.clone();
        admin.dbname("postgres");
        let nodes: usize = std::env::var("DRAIN_NODES").map_or(Ok(1), |s| s.parse())?;
        let sizes = std::env::var("DRAIN_SIZES").is_ok_and(|s| s == "1");
        Ok(Backend::Postgres {
            url: Box::new(url),
            admin: Box::new(admin),
            name,
            nodes: nodes.max(1),
            sizes,
        })
    }
}

/// The stores of one run.
enum Opened {
    Sqlite(Arc<SqliteStore>),
    Postgres(Vec<Arc<PgStore>>),
}

impl Opened {
    fn stores(&self) -> Vec<DynStore> {
        match self {
            Opened::Sqlite(s) => vec![s.clone() as DynStore],
            Opened::Postgres(v) => v.iter().map(|s| s.clone() as DynStore).collect(),
        }
    }

    fn commits(&self) -> u64 {
        match self {
            Opened::Sqlite(s) => s.commits(),
            Opened::Postgres(v) => v.iter().map(|s| s.commits()).sum(),
        }
    }

    async fn facts(&self) -> anyhow::Result<Facts> {
        match self {
            Opened::Sqlite(s) => sqlite_facts(s).await,
            Opened::Postgres(v) => {
                // A backend reports its statistics (the deadlocks) within about a second of
                // going idle.
                tokio::time::sleep(Duration::from_millis(1500)).await;
                pg_facts(&v[0]).await
            }
        }
    }
}

async fn one_run(
    rows: u64,
    addresses: u64,
    tasks: usize,
    cfg: WorkerConfig,
    backend: &Backend,
) -> anyhow::Result<bool> {
    let dir = tempfile::Builder::new()
        .prefix("rebound-drain-")
        .tempdir()?;
    let path = dir.path().join("rebound.db");
    let (opened, label, nodes) = match backend {
        Backend::Sqlite => {
            let sqlite = Arc::new(SqliteStore::open(&path)?);
            if let Ok(pragmas) = std::env::var("DRAIN_EXPERIMENT_PRAGMAS") {
                // Experiment only (not what `rebound serve` does): extra pragmas on the
                // writer connection, to measure a proposed product change.
                let p = pragmas.clone();
                sqlite
                    .write(move |c| {
                        c.execute_batch(&p)?;
                        Ok(())
                    })
                    .await?;
                eprintln!("  EXPERIMENT: writer connection ran `{pragmas}`");
            }
            (Opened::Sqlite(sqlite), path.display().to_string(), 1)
        }
        Backend::Postgres {
            url,
            admin,
            name,
            nodes,
            ..
        } => {
            pg::drop_database(admin, name)?;
            pg::create_database(admin, name)?;
            let mut stores = Vec::with_capacity(*nodes);
            for _ in 0..*nodes {
                stores.push(Arc::new(PgStore::open_config(url.as_ref().clone())?));
            }
            (
                Opened::Postgres(stores),
                format!("PostgreSQL database {name}"),
                *nodes,
            )
        }
    };
    let backend_name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres { .. } => "postgres",
    };
    eprintln!(
        "drain: {backend_name}, {nodes} node(s) x {tasks} tasks, batch {}, {label}",
        cfg.batch,
    );
    let stores = opened.stores();

    let t0 = Instant::now();
    fill(&stores[0], rows, addresses).await?;
    let fill_s = t0.elapsed().as_secs_f64();
    eprintln!(
        "  inserted {rows} inbox rows over {addresses} addresses in {fill_s:.1} s ({:.0} rows/s)",
        rows as f64 / fill_s
    );

    let before = stores[0].inbox_counts().await?;
    let commits_before = opened.commits();
    let t1 = Instant::now();
    let per_node = drain_with(&stores, tasks, cfg).await?;
    let secs = t1.elapsed().as_secs_f64();
    let commits = opened.commits() - commits_before;
    let mut total = Totals::default();
    for t in &per_node {
        total.add(t.claimed, t.report.clone());
    }

    let after = stores[0].inbox_counts().await?;
    let facts = opened.facts().await?;
    let db_mb = match backend {
        Backend::Sqlite => std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
        Backend::Postgres { .. } => 0.0,
    };

    // Every row is done, so each was claimed at least once; the claims add up to the rows,
    // so none was claimed twice.
    let claimed_twice = total.claimed.saturating_sub(rows);
    let ok = before.pending == rows
        && after.pending == 0
        && after.failed == 0
        && after.done == rows
        && total.report.events == rows
        && total.claimed == rows
        && total.report.stale == 0
        && facts.events == rows
        && facts.event_rows == rows
        && facts.rows_with_several_events == 0
        && facts.attempts_not_one == 0;
    println!(
        "DRAIN backend={backend_name} nodes={nodes} tasks={tasks} batch={} rows={rows} seconds={secs:.2} rows_per_s={:.0} events_per_s={:.0} events_applied={} duplicates={} status_changes={} events_in_db={} inbox_rows_with_events={} rows_with_several_events={} attempts_not_1={} claimed={} claimed_twice={claimed_twice} stale={} deadlocks={} contacts={} inbox_pending={} inbox_done={} inbox_failed={} retried={} commits={commits} fill_rows_per_s={:.0} db_mb={db_mb:.0} check={}",
        cfg.batch,
        total.report.done as f64 / secs,
        total.report.events as f64 / secs,
        total.report.events,
        total.report.duplicates,
        total.report.status_changes,
        facts.events,
        facts.event_rows,
        facts.rows_with_several_events,
        facts.attempts_not_one,
        total.claimed,
        total.report.stale,
        facts.deadlocks,
        facts.contacts,
        after.pending,
        after.done,
        after.failed,
        total.report.retried,
        rows as f64 / fill_s,
        if ok { "ok" } else { "FAILED" },
    );
    if nodes > 1 {
        let shares: Vec<String> = per_node
            .iter()
            .enumerate()
            .map(|(i, t)| format!("node{}={}", i + 1, t.claimed))
            .collect();
        println!("  rows claimed per node: {}", shares.join(" "));
    }
    println!("  contacts by status: {}", facts.statuses);

    if let (Backend::Postgres { sizes: true, .. }, Opened::Postgres(v)) = (backend, &opened) {
        pg_retention(&v[0]).await?;
    }
    drop(stores);
    drop(opened);
    // Give the writer threads a moment to close their connections before the database or
    // the directory goes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    if let Backend::Postgres { admin, name, .. } = backend {
        pg::drop_database(admin, name)?;
    }
    drop(dir);
    Ok(ok)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: u64 = args.first().map_or(Ok(1_000_000), |s| s.parse())?;
    let addresses: u64 = args.get(1).map_or(Ok(200_000), |s| s.parse())?;
    let tasks: Vec<usize> = args
        .get(2)
        .map_or("2", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let mut cfg = WorkerConfig::default();
    if let Ok(b) = std::env::var("DRAIN_BATCH") {
        cfg.batch = b.parse()?;
    }
    anyhow::ensure!(
        rows > 0 && addresses > 0,
        "ROWS and ADDRESSES must be positive"
    );
    let backend = Backend::from_env()?;

    // Same runtime shape as the `rebound` binary.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut all_ok = true;
    for t in tasks {
        all_ok &= runtime.block_on(one_run(rows, addresses, t.max(1), cfg, &backend))?;
    }
    anyhow::ensure!(all_ok, "drain check failed (see the DRAIN lines)");
    Ok(())
}
