//! Drain benchmark for `bench/run.sh`: how fast a backlog of inbox rows becomes events
//! applied to contacts.
//!
//! For each requested worker-task count it opens a fresh SQLite store (same code, same
//! pragmas as `rebound serve`: WAL, `synchronous=FULL`, one group-commit writer thread) in a
//! temporary directory, bulk-inserts `ROWS` ToSend payloads into the inbox (a mix of hard
//! bounces, soft bounces and complaints over `ADDRESSES` distinct addresses, so contacts are
//! both created and updated), then times `TASKS` concurrent tasks calling
//! `rebound_server::worker::run_once` in a loop until the inbox is empty. Afterwards it checks
//! that nothing is left pending or failed and that exactly one event was stored per row.
//!
//! ```text
//! cargo run --release -p rebound --example drain -- [ROWS] [ADDRESSES] [TASKS[,TASKS...]]
//! # defaults: 1000000 200000 2
//! ```
//!
//! Environment: `DRAIN_BATCH` overrides the worker batch size (default: `WorkerConfig`'s);
//! `TMPDIR` chooses where the database goes (it must be on the disk you want to measure).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rebound_core::Policy;
use rebound_server::worker::{run_once, WorkerConfig};
use rebound_store::sqlite::SqliteStore;
use rebound_store::DynStore;

/// Rows inserted per `store.write` call (one closure on the writer thread).
const INSERT_CHUNK: u64 = 20_000;

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

async fn fill(store: &SqliteStore, rows: u64, addresses: u64) -> anyhow::Result<()> {
    let base = now_ms() - 60_000;
    let mut start = 0u64;
    while start < rows {
        let end = (start + INSERT_CHUNK).min(rows);
        // Payloads are built off the writer thread; the closure only inserts.
        let bodies: Vec<Vec<u8>> = (start..end).map(|i| payload(i, addresses)).collect();
        store
            .write(move |c| {
                let mut stmt = c.prepare_cached(
                    "INSERT INTO inbox (source_id, provider, received_at, headers, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for (k, body) in bodies.iter().enumerate() {
                    let received_at = base + ((start + k as u64) / 1000) as i64;
                    stmt.execute((
                        1i64,
                        "tosend",
                        received_at,
                        r#"[["content-type","application/json"]]"#,
                        body.as_slice(),
                    ))?;
                }
                Ok(())
            })
            .await?;
        start = end;
    }
    Ok(())
}

#[derive(Default, Debug, Clone, Copy)]
struct Totals {
    claimed: u64,
    done: u64,
    events: u64,
    duplicates: u64,
    retried: u64,
    failed: u64,
    status_changes: u64,
}

async fn drain_with(store: DynStore, tasks: usize, cfg: WorkerConfig) -> anyhow::Result<Totals> {
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
    for _ in 0..tasks {
        let store = store.clone();
        let progress = progress.clone();
        handles.push(tokio::spawn(async move {
            let mut t = Totals::default();
            loop {
                let step = run_once(&store, Policy::default(), &cfg).await?;
                if step.claimed == 0 {
                    return Ok::<_, rebound_store::StoreError>(t);
                }
                let r = step.report;
                t.claimed += step.claimed as u64;
                t.done += r.done;
                t.events += r.events;
                t.duplicates += r.duplicates;
                t.retried += r.retried;
                t.failed += r.failed;
                t.status_changes += r.status_changes;
                progress.fetch_add(step.claimed as u64, Ordering::Relaxed);
            }
        }));
    }
    let mut total = Totals::default();
    for h in handles {
        let t = h.await??;
        total.claimed += t.claimed;
        total.done += t.done;
        total.events += t.events;
        total.duplicates += t.duplicates;
        total.retried += t.retried;
        total.failed += t.failed;
        total.status_changes += t.status_changes;
    }
    monitor.abort();
    Ok(total)
}

async fn one_run(
    rows: u64,
    addresses: u64,
    tasks: usize,
    cfg: WorkerConfig,
) -> anyhow::Result<bool> {
    let dir = tempfile::Builder::new()
        .prefix("rebound-drain-")
        .tempdir()?;
    let path = dir.path().join("rebound.db");
    let sqlite = Arc::new(SqliteStore::open(&path)?);
    if let Ok(pragmas) = std::env::var("DRAIN_EXPERIMENT_PRAGMAS") {
        // Experiment only (not what `rebound serve` does): extra pragmas on the writer
        // connection, to measure a proposed product change. Reported in the output.
        let p = pragmas.clone();
        sqlite
            .write(move |c| {
                c.execute_batch(&p)?;
                Ok(())
            })
            .await?;
        eprintln!("  EXPERIMENT: writer connection ran `{pragmas}`");
    }
    eprintln!(
        "drain: {} tasks, batch {}, database {}",
        tasks,
        cfg.batch,
        path.display()
    );

    let t0 = Instant::now();
    fill(&sqlite, rows, addresses).await?;
    let fill_s = t0.elapsed().as_secs_f64();
    eprintln!(
        "  inserted {rows} inbox rows over {addresses} addresses in {fill_s:.1} s ({:.0} rows/s)",
        rows as f64 / fill_s
    );

    let store: DynStore = sqlite.clone();
    let before = store.inbox_counts().await?;
    let commits_before = sqlite.commits();
    let t1 = Instant::now();
    let total = drain_with(store.clone(), tasks, cfg).await?;
    let secs = t1.elapsed().as_secs_f64();
    let commits = sqlite.commits() - commits_before;

    let after = store.inbox_counts().await?;
    let (events, contacts, statuses) = sqlite
        .read(|c| {
            let events: i64 = c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
            let contacts: i64 = c.query_row("SELECT COUNT(*) FROM contacts", [], |r| r.get(0))?;
            let mut stmt =
                c.prepare("SELECT status, COUNT(*) FROM contacts GROUP BY status ORDER BY status")?;
            let statuses = stmt
                .query_map([], |r| {
                    Ok(format!(
                        "{}={}",
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((events, contacts, statuses.join(" ")))
        })
        .await?;
    let db_mb = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;

    let ok = before.pending == rows
        && after.pending == 0
        && after.failed == 0
        && after.done == rows
        && total.events == rows
        && events as u64 == rows;
    println!(
        "DRAIN tasks={tasks} batch={} rows={rows} seconds={secs:.2} rows_per_s={:.0} events_per_s={:.0} events_applied={} duplicates={} status_changes={} events_in_db={events} contacts={contacts} inbox_pending={} inbox_done={} inbox_failed={} retried={} commits={commits} db_mb={db_mb:.0} check={}",
        cfg.batch,
        total.done as f64 / secs,
        total.events as f64 / secs,
        total.events,
        total.duplicates,
        total.status_changes,
        after.pending,
        after.done,
        after.failed,
        total.retried,
        if ok { "ok" } else { "FAILED" },
    );
    println!("  contacts by status: {statuses}");
    drop(store);
    drop(sqlite);
    // Give the writer thread a moment to close the database before the directory goes.
    tokio::time::sleep(Duration::from_millis(200)).await;
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

    // Same runtime shape as the `rebound` binary.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut all_ok = true;
    for t in tasks {
        all_ok &= runtime.block_on(one_run(rows, addresses, t.max(1), cfg))?;
    }
    anyhow::ensure!(all_ok, "drain check failed (see the DRAIN lines)");
    Ok(())
}
