//! Seeder for `bench/ui.sh`: a data dir whose SQLite database looks like a busy
//! installation, to time the admin UI pages and the suppression check on it (issue #25).
//!
//! It opens the database once with [`SqliteStore::open`], so that the migrations create the
//! schema as `rebound serve` would, then closes the store and writes rows with rusqlite
//! directly, in large transactions with journaling off, dropping the secondary indexes the
//! migrations created and building them again afterwards (the same DDL, read back from
//! `sqlite_master`). The database ends in WAL mode, as the server keeps it.
//!
//! ```text
//! cargo run --release -p rebound --example seed_ui -- DATA_DIR [CONTACTS] [EVENTS] [LOG_ROWS]
//! # defaults: 1000000 contacts, 5 events per contact, 300000 request-log rows
//! ```
//!
//! What it writes (deterministic: the same arguments give the same rows):
//!
//! - 3 sources (`tosend`, `postmark`, `ses`);
//! - `CONTACTS` contacts `user{N}@example{N % 97}.com`, N = 1..=CONTACTS (the id is N):
//!   about 85% subscribed, 10% bounced, 3% unsubscribed, 2% complained, with reasons;
//! - `EVENTS` events spread evenly over the last 60 days (`recorded_at` rising with the id,
//!   `occurred_at` up to 10 minutes before it), each contact getting `EVENTS / CONTACTS` of
//!   them at unrelated times; kinds mixed (deliveries, opens, clicks, soft and hard bounces,
//!   deferrals, complaints, unsubscribes), a contact's last event the one that explains
//!   its status; diagnostics and details JSON; one event in `EVENTS / LOG_ROWS` points to
//!   a request-log row;
//! - `LOG_ROWS` request-log (inbox) rows over the last 29 days (inside the default 30-day
//!   retention, so the server prunes none of them at start): accepted ones `done` with
//!   headers and a JSON body (a few `failed`), about 5% rejected (`logged`, 401, no body).
//!   None is pending, so the server's workers find nothing to do.
//!
//! It prints one line `SEED contacts=… events=… log=… seconds=…` at the end.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use rebound_store::sqlite::SqliteStore;
use rusqlite::{params, Connection};

const DAY_MS: i64 = 86_400_000;
const SPAN_MS: i64 = 60 * DAY_MS;
/// The request log's span: inside the default retention (30 days), so that the server's
/// pruning at start finds nothing to delete while the pages are timed.
const LOG_SPAN_MS: i64 = 29 * DAY_MS;
/// Rows per transaction.
const CHUNK: u64 = 200_000;
/// A prime larger than any contact count used: event `j` goes to contact
/// `(j * SPREAD) % CONTACTS + 1`, so each contact's events are spread over the whole span.
const SPREAD: u64 = 2_654_435_761;

const SOURCES: [(&str, &str); 3] = [
    ("tosend", "ToSend"),
    ("postmark", "Postmark"),
    ("ses", "SES"),
];

const HARD: [(&str, &str, &str); 3] = [
    (
        "5.1.1",
        "smtp; 550 5.1.1 The email account that you tried to reach does not exist",
        "user_unknown",
    ),
    (
        "5.1.2",
        "smtp; 550 5.1.2 Host unknown (Name server: example.invalid: host not found)",
        "host_unknown",
    ),
    (
        "5.7.1",
        "smtp; 550 5.7.1 Message rejected due to local policy",
        "policy",
    ),
];
const SOFT: [(&str, &str, &str); 3] = [
    (
        "4.2.2",
        "smtp; 452 4.2.2 The email account that you tried to reach is over quota",
        "mailbox_full",
    ),
    (
        "4.7.0",
        "smtp; 421 4.7.0 Try again later, closing connection",
        "throttled",
    ),
    (
        "4.3.0",
        "smtp; 451 4.3.0 Temporary local problem - please try later",
        "temporary",
    ),
];

/// splitmix64: a fixed, cheap hash of a row number.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn uuid(n: u64) -> String {
    let (a, b) = (mix(n ^ 0x5555), mix(n ^ 0xaaaa));
    let h = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn email(n: u64) -> String {
    format!("user{n}@example{}.com", n % 97)
}

/// A contact's final status, from its number: 85% / 10% / 3% / 2%.
fn status(n: u64) -> &'static str {
    match mix(n) % 100 {
        0..=84 => "subscribed",
        85..=94 => "bounced",
        95..=97 => "unsubscribed",
        _ => "complained",
    }
}

/// Modular inverse of `a` mod `m` (both coprime).
fn inverse(a: u64, m: u64) -> u64 {
    let (mut t, mut new_t, mut r, mut new_r) = (0i128, 1i128, m as i128, (a % m) as i128);
    while new_r != 0 {
        let q = r / new_r;
        (t, new_t) = (new_t, t - q * new_t);
        (r, new_r) = (new_r, r - q * new_r);
    }
    (if t < 0 { t + m as i128 } else { t }) as u64
}

struct Plan {
    contacts: u64,
    events: u64,
    log_rows: u64,
    start: i64,
    log_start: i64,
}

impl Plan {
    /// When event `j` was recorded: evenly over the span, in id order.
    fn recorded_at(&self, j: u64) -> i64 {
        self.start + (j as i128 * SPAN_MS as i128 / self.events.max(1) as i128) as i64
    }
    fn contact_of(&self, j: u64) -> u64 {
        (j % self.contacts) * (SPREAD % self.contacts) % self.contacts + 1
    }
    /// Whether event `j` is the contact's last one (its final round).
    fn is_last(&self, j: u64) -> bool {
        j + self.contacts >= self.events
    }
    fn log_every(&self) -> u64 {
        (self.events / self.log_rows.max(1)).max(1)
    }
}

/// Drops the migrations' secondary indexes on `table` (not the UNIQUE constraints') and
/// returns their DDL, to build them again after the rows are in.
fn drop_indexes(c: &Connection, table: &str) -> anyhow::Result<Vec<String>> {
    let mut stmt = c.prepare(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL",
    )?;
    let found: Vec<(String, String)> = stmt
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &found {
        c.execute_batch(&format!("DROP INDEX {name}"))?;
    }
    Ok(found.into_iter().map(|(_, sql)| sql).collect())
}

fn seed_sources(c: &Connection, now: i64) -> anyhow::Result<()> {
    for (i, (provider, name)) in SOURCES.iter().enumerate() {
        c.execute(
            "INSERT INTO sources (id, provider, name, url_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                i as i64 + 1,
                provider,
                name,
                format!("bench{:016x}", mix(i as u64 + 77)),
                now - 90 * DAY_MS
            ],
        )?;
    }
    Ok(())
}

fn seed_contacts(c: &mut Connection, p: &Plan) -> anyhow::Result<()> {
    let per = p.events / p.contacts;
    let inv = inverse(SPREAD % p.contacts, p.contacts);
    let mut n = 1;
    while n <= p.contacts {
        let tx = c.transaction()?;
        {
            let mut st = tx.prepare(
                "INSERT INTO contacts (id, email, email_key, uuid, status, reason, soft_bounce_count,
                     last_event_at, last_delivered_at, last_engaged_at, attributes, created_at, updated_at,
                     last_policy_event_at)
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?7)",
            )?;
            let end = (n + CHUNK).min(p.contacts + 1);
            for i in n..end {
                let status = status(i);
                // Contact i's events are j0, j0 + CONTACTS, …; its last is the latest.
                let j0 = (i - 1) * inv % p.contacts;
                let last = (per > 0).then(|| p.recorded_at(j0 + (per - 1) * p.contacts));
                let h = mix(i ^ 0x1234);
                let reason = match status {
                    "bounced" => Some(HARD[(h % 3) as usize].1),
                    "complained" => Some("complaint"),
                    "unsubscribed" => Some("unsubscribe link"),
                    _ => None,
                };
                let attributes = if h.is_multiple_of(4) {
                    format!(
                        r#"{{"plan":"{}","list":"newsletter"}}"#,
                        ["free", "pro", "team"][(h % 3) as usize]
                    )
                } else {
                    "{}".into()
                };
                let created = p.start - (h % (300 * DAY_MS as u64)) as i64;
                let updated = last.unwrap_or(created);
                st.execute(params![
                    i as i64,
                    email(i),
                    uuid(i),
                    status,
                    reason,
                    (status == "subscribed" && h.is_multiple_of(10)) as i64,
                    last,
                    last.filter(|_| status == "subscribed"),
                    last.filter(|_| h.is_multiple_of(3)),
                    attributes,
                    created,
                    updated,
                ])?;
            }
            n = end;
        }
        tx.commit()?;
    }
    Ok(())
}

fn seed_events(c: &mut Connection, p: &Plan) -> anyhow::Result<()> {
    let every = p.log_every();
    let mut j = 0;
    while j < p.events {
        let tx = c.transaction()?;
        {
            let mut st = tx.prepare(
                "INSERT INTO events (id, dedup_key, contact_id, source_id, inbox_id, provider, kind, class,
                     reason, status_code, diagnostic, message_id, provider_event_id, occurred_at, recorded_at,
                     status_before, status_after, note, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, NULL, ?18)",
            )?;
            let end = (j + CHUNK).min(p.events);
            for k in j..end {
                let contact = p.contact_of(k);
                let h = mix(k ^ 0xbeef);
                let src = (h % 3) as usize;
                let provider = SOURCES[src].0;
                let final_status = status(contact);
                // The last event explains the status; the others are the usual traffic.
                let kind = if p.is_last(k) {
                    match final_status {
                        "bounced" => "bounce",
                        "complained" => "complaint",
                        "unsubscribed" => "unsubscribe",
                        _ => "delivery",
                    }
                } else {
                    match h % 100 {
                        0..=54 => "delivery",
                        55..=74 => "open",
                        75..=81 => "click",
                        82..=91 => "bounce",
                        _ => "deferred",
                    }
                };
                let hard = kind == "bounce" && (p.is_last(k) || h.is_multiple_of(5));
                let (class, code, diagnostic, reason) = match kind {
                    "bounce" | "deferred" => {
                        let (code, diag, reason) =
                            if hard { HARD } else { SOFT }[(h / 7 % 3) as usize];
                        (
                            Some(if hard { "hard" } else { "soft" }),
                            Some(code),
                            Some(diag),
                            Some(reason),
                        )
                    }
                    "complaint" => (None, None, None, Some("abuse")),
                    "unsubscribe" => (None, None, None, Some("list-unsubscribe")),
                    _ => (None, None, None, None),
                };
                let (before, after) = if p.is_last(k) && final_status != "subscribed" {
                    (Some("subscribed"), Some(final_status))
                } else {
                    (None, None)
                };
                let recorded = p.recorded_at(k);
                let occurred = recorded - (h % 600_000) as i64;
                let inbox_id = (k.is_multiple_of(every) && k / every < p.log_rows)
                    .then(|| (k / every + 1) as i64);
                let details = format!(
                    r#"{{"provider_type":"{kind}","tags":["campaign-{}"],"sending_ip":"198.51.100.{}","user_agent":null}}"#,
                    h % 40,
                    h % 250
                );
                st.execute(params![
                    k as i64 + 1,
                    format!("{provider}:{:016x}:{k}", h),
                    contact as i64,
                    src as i64 + 1,
                    inbox_id,
                    provider,
                    kind,
                    class,
                    reason,
                    code,
                    diagnostic,
                    format!("<{:016x}.{k}@mail.example.net>", h),
                    format!("{:032x}", (h as u128) << 64 | k as u128),
                    occurred,
                    recorded,
                    before,
                    after,
                    details,
                ])?;
            }
            j = end;
        }
        tx.commit()?;
    }
    Ok(())
}

fn seed_log(c: &mut Connection, p: &Plan) -> anyhow::Result<()> {
    let mut i = 0;
    while i < p.log_rows {
        let tx = c.transaction()?;
        {
            let mut st = tx.prepare(
                "INSERT INTO inbox (id, source_id, provider, received_at, headers, body, state, attempts,
                     processed_at, events_created, method, path, remote_addr, http_status, outcome, error, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'POST', ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            let end = (i + CHUNK).min(p.log_rows);
            for k in i..end {
                let h = mix(k ^ 0xfeed);
                let src = (h % 3) as usize;
                let provider = SOURCES[src].0;
                let received =
                    p.log_start + (k as i128 * LOG_SPAN_MS as i128 / p.log_rows as i128) as i64;
                let path = format!("/webhooks/{provider}/bench{:016x}", mix(src as u64 + 77));
                let remote = format!("203.0.113.{}", h % 250);
                let rejected = h % 100 < 5;
                if rejected {
                    st.execute(params![
                        k as i64 + 1,
                        src as i64 + 1,
                        provider,
                        received,
                        "[]",
                        Vec::<u8>::new(),
                        "logged",
                        0,
                        None::<i64>,
                        None::<i64>,
                        path,
                        remote,
                        401,
                        "rejected",
                        Some("signature does not match"),
                        None::<&str>,
                    ])?;
                    continue;
                }
                let failed = h % 1000 < 3;
                let contact = mix(k) % p.contacts + 1;
                let body = format!(
                    r#"{{"type":"bounce","email":"{}","reason":"{}","is_hard_bounce":true,"message_id":"<{:016x}.{k}@mail.example.net>","timestamp":"{}"}}"#,
                    email(contact),
                    HARD[(h % 3) as usize].1,
                    h,
                    received / 1000
                );
                let headers = format!(
                    r#"[["content-type","application/json"],["user-agent","{}-webhooks/2.1"],["content-length","{}"]]"#,
                    provider,
                    body.len()
                );
                st.execute(params![
                    k as i64 + 1,
                    src as i64 + 1,
                    provider,
                    received,
                    headers,
                    body.into_bytes(),
                    if failed { "failed" } else { "done" },
                    if failed { 5 } else { 1 },
                    received + 40,
                    if failed { 0 } else { 1 },
                    path,
                    remote,
                    200,
                    "accepted",
                    None::<&str>,
                    failed.then_some("payload: missing field `email`"),
                ])?;
            }
            i = end;
        }
        tx.commit()?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .context("usage: seed_ui DATA_DIR [CONTACTS] [EVENTS] [LOG_ROWS]")?,
    );
    let contacts: u64 = args.get(1).map_or(Ok(1_000_000), |s| s.parse())?;
    let events: u64 = args.get(2).map_or(Ok(contacts * 5), |s| s.parse())?;
    let log_rows: u64 = args.get(3).map_or(Ok(300_000), |s| s.parse())?;
    anyhow::ensure!(
        contacts > 0 && contacts < SPREAD,
        "CONTACTS must be 1..{SPREAD}"
    );
    let db = dir.join("rebound.db");
    anyhow::ensure!(
        !db.exists(),
        "{} exists: seed a fresh data dir",
        db.display()
    );
    let t0 = Instant::now();
    // The schema, exactly as the server makes it.
    drop(SqliteStore::open(&db)?);
    // The store's threads close their connections as they end; wait for the lock.
    let mut c = Connection::open(&db)?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    // Leaving WAL needs the store's threads gone; they end soon after the store is dropped.
    let mut tries = 0;
    while let Err(e) = c.pragma_update(None, "journal_mode", "OFF") {
        tries += 1;
        anyhow::ensure!(tries < 200, "cannot take the database: {e}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    c.pragma_update(None, "synchronous", "OFF")?;
    c.pragma_update(None, "cache_size", -1_000_000i64)?;
    c.pragma_update(None, "temp_store", "MEMORY")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let plan = Plan {
        contacts,
        events,
        log_rows,
        start: now - SPAN_MS,
        log_start: now - LOG_SPAN_MS,
    };
    seed_sources(&c, now)?;

    let step = Instant::now();
    let idx_contacts = drop_indexes(&c, "contacts")?;
    seed_contacts(&mut c, &plan)?;
    eprintln!(
        "contacts: {contacts} in {:.1} s",
        step.elapsed().as_secs_f64()
    );
    let step = Instant::now();
    let idx_events = drop_indexes(&c, "events")?;
    seed_events(&mut c, &plan)?;
    eprintln!("events: {events} in {:.1} s", step.elapsed().as_secs_f64());
    let step = Instant::now();
    seed_log(&mut c, &plan)?;
    eprintln!(
        "request log: {log_rows} in {:.1} s",
        step.elapsed().as_secs_f64()
    );
    let step = Instant::now();
    for sql in idx_contacts.iter().chain(&idx_events) {
        c.execute_batch(sql)?;
    }
    // No ANALYZE: the server never runs it, so its query plans are made without statistics.
    eprintln!("indexes in {:.1} s", step.elapsed().as_secs_f64());
    c.pragma_update(None, "journal_mode", "WAL")?;
    drop(c);
    let bytes = std::fs::metadata(&db)?.len();
    println!(
        "SEED contacts={contacts} events={events} log={log_rows} db_mib={} seconds={:.1}",
        bytes >> 20,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
