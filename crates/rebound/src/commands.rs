//! The small commands: sources, import/export, replay, webhook parse, token.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use rebound_core::{Address, Provider, Status, WebhookRequest};
use rebound_server::sources::{self, source_json, CreateSource};
use rebound_server::state::{digest, now_ms};
use rebound_server::worker::{self, WorkerConfig};
use rebound_store::{ContactFilter, DynStore, NewContact};
use serde_json::{json, Value};

use crate::cli::{
    Cli, Command, ExportArgs, ImportArgs, MailboxCommand, ReplayArgs, ScanArgs, SourceCommand,
    TokenCommand, UnsubscribeLinkArgs, VerpCommand, WebhookCommand,
};
use crate::config::{self, FileConfig};
use crate::serve;

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let file = config::load_file(&cli.global)?;
    if let Command::Webhook(WebhookCommand::Parse {
        provider,
        file: path,
    }) = &cli.command
    {
        return webhook_parse(provider, path);
    }
    if let Command::Store(cmd) = cli.command {
        return crate::store::run(cmd).await;
    }
    let db = config::database(&cli.global, &file)?;
    let store = config::open_store(&db)?;
    match cli.command {
        Command::Serve(args) => {
            let settings = config::serve_settings(&args, &file)?;
            serve::run(store, settings).await?;
        }
        Command::Source(cmd) => source(&store, &file, cmd).await?,
        Command::Import(args) => return import(&store, args).await,
        Command::Export(args) => export(&store, args).await?,
        Command::Replay(args) => replay(&store, &file, args).await?,
        Command::Token(TokenCommand::Rotate) => {
            let token = serve::new_token();
            store
                .put_setting(serve::TOKEN_KEY, json!(hex::encode(digest(&token))))
                .await?;
            println!("{token}");
            eprintln!(
                "New admin token printed above; restart `rebound serve` for it to take effect."
            );
        }
        Command::Mailbox(MailboxCommand::Scan(args)) => {
            return mailbox_scan(&store, &file, args).await;
        }
        Command::Verp(VerpCommand::Encode {
            address,
            return_path,
        }) => {
            let rp = rebound_server::mailbox::verp_encode(&store, return_path.as_deref(), &address)
                .await
                .map_err(anyhow::Error::msg)?;
            println!("{rp}");
        }
        Command::Key(cmd) => return crate::access::key(&store, cmd).await,
        Command::User(cmd) => return crate::access::user(&store, cmd).await,
        Command::Subscription(cmd) => return crate::access::subscription(&store, &file, cmd).await,
        Command::UnsubscribeLink(args) => unsubscribe_link(&store, &file, args).await?,
        Command::Webhook(_) | Command::Parse(_) | Command::Store(_) => {
            unreachable!("handled above")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `rebound unsubscribe-link`: the two header lines (or JSON), as the API makes them.
async fn unsubscribe_link(
    store: &DynStore,
    file: &FileConfig,
    args: UnsubscribeLinkArgs,
) -> anyhow::Result<()> {
    let listen = std::env::var("REBOUND_LISTEN").ok();
    let (_, base) = config::addresses(listen, args.public_url, file);
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        bail!("public URL '{base}' must start with http:// or https://");
    }
    let key = rebound_server::unsubscribe::load_key(store).await?;
    let link =
        rebound_server::unsubscribe::link(&key, &base, &args.email, args.list.as_deref(), now_ms())
            .map_err(anyhow::Error::msg)?;
    if args.json {
        println!("{}", serde_json::to_string(&link)?);
    } else {
        println!("List-Unsubscribe: {}", link.headers.list_unsubscribe);
        println!(
            "List-Unsubscribe-Post: {}",
            link.headers.list_unsubscribe_post
        );
    }
    if base.starts_with("http://") {
        eprintln!("note: RFC 8058 needs an https:// URL; set REBOUND_PUBLIC_URL (or public_url) to the HTTPS address rebound is reached at");
    }
    Ok(())
}

async fn source(store: &DynStore, file: &FileConfig, cmd: SourceCommand) -> anyhow::Result<()> {
    let listen = std::env::var("REBOUND_LISTEN").ok();
    let (_, base) = config::addresses(listen, std::env::var("REBOUND_PUBLIC_URL").ok(), file);
    match cmd {
        SourceCommand::Add {
            provider,
            name,
            secret,
            signature_header,
            username,
            topic_arns,
            trust_first_topic,
            public_key,
            url,
            trust,
            json,
        } => {
            let req = CreateSource {
                url,
                trust,
                provider,
                name,
                secret,
                signature_header,
                username,
                topic_arns: (!topic_arns.is_empty()).then_some(topic_arns),
                public_key,
                trust_first_topic: trust_first_topic.then_some(true),
            };
            let s = sources::create(store, req).await?;
            print_source(&base, &s, "created", json);
        }
        SourceCommand::Update {
            id,
            name,
            secret,
            public_key,
            json,
        } => {
            let req = sources::UpdateSource {
                name,
                secret,
                public_key,
            };
            let audit = sources::Audit::cli(format!("rebound source update {id}"));
            let s = sources::update(store, id, req, &audit).await?;
            print_source(&base, &s, "updated", json);
        }
        SourceCommand::Reveal { id, json } => {
            let audit = sources::Audit::cli(format!("rebound source reveal {id}"));
            let s = sources::reveal(store, id, &audit).await?;
            print_source(&base, &s, "revealed", json);
        }
        SourceCommand::Rotate { id, json } => {
            let audit = sources::Audit::cli(format!("rebound source rotate {id}"));
            let s = sources::rotate(store, id, &audit).await?;
            print_source(&base, &s, "rotated", json);
        }
        SourceCommand::List { json } => {
            for s in store.list_sources().await? {
                let v = sources::listed_json(&base, &s);
                if json {
                    println!("{v}");
                } else {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        s.id,
                        s.provider,
                        s.name,
                        s.status,
                        v["webhook_url"]
                            .as_str()
                            .or_else(|| v["url"].as_str())
                            .unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}

/// Prints a source as `source add` and `source update` show it: its webhook URL and the
/// credentials to paste into the provider, or JSON.
fn print_source(base: &str, s: &rebound_store::Source, verb: &str, json: bool) {
    let v = source_json(base, s);
    if json {
        println!("{v}");
    } else if s.provider == rebound_server::mailbox::PROVIDER {
        println!(
            "Source {} (mailbox) {verb}: {}",
            s.id,
            v["url"].as_str().unwrap_or_default()
        );
        println!("Scan it with: rebound mailbox scan --source {}", s.id);
    } else {
        println!("Source {} ({}) {verb}.", s.id, s.provider);
        println!(
            "Webhook URL: {}",
            v["webhook_url"].as_str().unwrap_or_default()
        );
        if let Some(secret) = &s.secret {
            println!("Signing secret: {secret}");
        }
        if let Some(b) = v.get("basic_auth") {
            println!(
                "Basic auth: username {} password {}",
                b["username"], b["password"]
            );
        }
    }
    if let Some(msg) = &s.status_message {
        if !json {
            println!("Status: {} ({msg})", s.status);
        }
    }
}

fn read_input(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

fn webhook_parse(provider: &str, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let Some(p) = Provider::from_name(provider) else {
        let names: Vec<&str> = Provider::ALL.iter().map(|p| p.name()).collect();
        bail!(
            "unknown provider '{provider}' (known: {})",
            names.join(", ")
        );
    };
    let body = read_input(path)?;
    let req = WebhookRequest {
        headers: vec![],
        body,
        received_at: now_ms(),
    };
    let events = p
        .parse(&req)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.0))?;
    let mut out = std::io::stdout().lock();
    for e in events {
        let mut v = e.to_record();
        v["details"] = e.details;
        writeln!(out, "{v}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on standard error when it is a terminal (hidden otherwise); a counter
/// when the total is unknown.
fn progress(len: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (pb, template) = match len {
        Some(n) => (ProgressBar::new(n), "{bar:40} {pos}/{len} rows"),
        None => (ProgressBar::new_spinner(), "{spinner} {pos} contacts"),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style);
    }
    pb
}

fn contact_from_record(
    headers: &csv::StringRecord,
    rec: &csv::StringRecord,
    now: i64,
) -> Result<NewContact, String> {
    let mut email = None;
    let mut status = None;
    let mut reason = None;
    let mut uuid = None;
    let mut attributes = serde_json::Map::new();
    for (h, v) in headers.iter().zip(rec.iter()) {
        let v = v.trim();
        match h.trim().to_ascii_lowercase().as_str() {
            "email" => email = Some(v),
            "status" if !v.is_empty() => {
                status = Some(Status::parse(v).ok_or_else(|| format!("unknown status '{v}'"))?)
            }
            "reason" if !v.is_empty() => reason = Some(v.to_string()),
            "uuid" if !v.is_empty() => uuid = Some(v.to_string()),
            "attributes" if !v.is_empty() => match serde_json::from_str::<Value>(v) {
                Ok(Value::Object(m)) => attributes.extend(m),
                _ => return Err("attributes must be a JSON object".into()),
            },
            "status" | "reason" | "uuid" | "attributes" => {}
            other if rebound_server::export::COLUMNS.contains(&other) => {}
            _ if v.is_empty() => {}
            _ => {
                attributes.insert(h.trim().to_string(), json!(v));
            }
        }
    }
    let email = email.ok_or("missing email")?;
    let addr = Address::parse(email).map_err(|e| e.to_string())?;
    rebound_core::attributes::check(&attributes).map_err(|e| e.to_string())?;
    Ok(NewContact {
        email: addr.as_str().into(),
        email_key: addr.key().into(),
        status,
        reason,
        uuid,
        attributes: attributes.into(),
        now,
    })
}

async fn import(store: &DynStore, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let data = read_input(&args.file)?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(data.as_slice());
    let headers = rdr
        .headers()
        .context("cannot read the CSV header row")?
        .clone();
    if !headers
        .iter()
        .any(|h| h.trim().eq_ignore_ascii_case("email"))
    {
        bail!("the CSV header row has no 'email' column");
    }
    let now = now_ms();
    let pb = progress(Some(data.iter().filter(|b| **b == b'\n').count() as u64));
    let (mut bad, mut created, mut updated, mut unchanged) = (0u64, 0u64, 0u64, 0u64);
    let mut batch = Vec::new();
    let mut records = rdr.records();
    loop {
        let next = records.next();
        let done = next.is_none();
        if let Some(rec) = next {
            pb.inc(1);
            let parsed = match rec {
                Ok(r) => {
                    let line = r.position().map_or(0, |p| p.line());
                    contact_from_record(&headers, &r, now)
                        .map(|c| (line, c))
                        .map_err(|e| (line, e))
                }
                Err(e) => Err((e.position().map_or(0, |p| p.line()), e.to_string())),
            };
            match parsed {
                Ok(c) => batch.push(c),
                Err((line, e)) => {
                    bad += 1;
                    pb.suspend(|| eprintln!("line {line}: {e}"));
                }
            }
        }
        if batch.len() >= 1000 || (done && !batch.is_empty()) {
            let chunk: Vec<(u64, NewContact)> = std::mem::take(&mut batch);
            let contacts: Vec<NewContact> = chunk.iter().map(|(_, c)| c.clone()).collect();
            match store.upsert_contacts(contacts, args.overwrite).await {
                Ok(r) => {
                    created += r.created;
                    updated += r.updated;
                    unchanged += r.unchanged;
                }
                Err(_) => {
                    // Something in the chunk conflicts: retry row by row to name it.
                    for (line, c) in chunk {
                        match store.upsert_contacts(vec![c], args.overwrite).await {
                            Ok(r) => {
                                created += r.created;
                                updated += r.updated;
                                unchanged += r.unchanged;
                            }
                            Err(e) => {
                                bad += 1;
                                pb.suspend(|| eprintln!("line {line}: {e}"));
                            }
                        }
                    }
                }
            }
        }
        if done {
            break;
        }
    }
    pb.finish_and_clear();
    eprintln!(
        "imported: {created} created, {updated} updated, {unchanged} unchanged, {bad} bad rows"
    );
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn export(store: &DynStore, args: ExportArgs) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let status = match args.status.as_deref() {
        Some(s) => Some(Status::parse(s).ok_or_else(|| anyhow::anyhow!("unknown status '{s}'"))?),
        None => None,
    };
    let filter = ContactFilter {
        status,
        ..Default::default()
    };
    let mut out = std::io::stdout().lock();
    let pb = progress(None);
    let mut chunks = std::pin::pin!(rebound_server::export::stream(store.clone(), filter));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        pb.inc(chunk.iter().filter(|b| **b == b'\n').count() as u64);
        out.write_all(&chunk)?;
    }
    out.flush()?;
    pb.finish_and_clear();
    Ok(())
}

async fn mailbox_scan(
    store: &DynStore,
    file: &FileConfig,
    args: ScanArgs,
) -> anyhow::Result<ExitCode> {
    use rebound_server::mailbox;
    let ScanArgs {
        source,
        url,
        trust,
        no_process,
        json,
        wait,
    } = args;
    let trust = match trust.as_deref() {
        None => None,
        Some(t) => Some(
            rebound_core::bounces::events::Trust::parse(t)
                .ok_or_else(|| anyhow::anyhow!("--trust must be verp, known-contact or any"))?,
        ),
    };
    let wait = std::time::Duration::from_secs(wait);
    let (source, url) = match (source, url) {
        (Some(id), _) => {
            let (s, u) = mailbox::source_by_id(store, id).await?;
            (Some(s), u)
        }
        (None, Some(u)) => (None, mailbox::split_url(&u).map_err(anyhow::Error::msg)?.0),
        (None, None) => bail!("pass --source ID or --url URL"),
    };
    let spinner = progress(None);
    spinner.set_message(format!("scanning {url}"));
    // Another pass holds the mailbox's lock: try again every second until `wait` is up
    // (a wait too long to add to the clock has no end).
    let deadline = std::time::Instant::now().checked_add(wait);
    let mut told = false;
    let report = loop {
        let report = mailbox::scan(store, source.as_ref(), &url, trust).await;
        let waited = deadline.is_some_and(|d| std::time::Instant::now() >= d);
        if !matches!(report, Err(mailbox::ScanError::Busy)) || waited {
            break report;
        }
        if !told {
            spinner.suspend(|| {
                eprintln!(
                    "{url}: another pass over this mailbox holds its lock (a running scan, or one that died less than {} s ago); waiting up to {} s",
                    mailbox::LEASE.length.as_secs(),
                    wait.as_secs()
                )
            });
            told = true;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    spinner.finish_and_clear();
    let report = match report {
        Ok(r) => r,
        Err(e @ mailbox::ScanError::Busy) => {
            if wait.is_zero() {
                bail!("{url}: {e}; --wait SECONDS waits for it");
            }
            bail!("{url}: {e}; still held after {} s", wait.as_secs());
        }
        // Not the mailbox's fault: the source's status is left alone.
        Err(e @ mailbox::ScanError::LockLost(_)) => bail!("{url}: {e}"),
        Err(e) => {
            if let Some(s) = &source {
                store
                    .set_source_status(s.id, "error", Some(&e.to_string()))
                    .await?;
            }
            bail!("{url}: {e}");
        }
    };
    let mut processed = None;
    if !no_process {
        let policy = serve::policy_in_force(store, file.policy.unwrap_or_default()).await?;
        processed = Some(worker::drain(store, policy, &WorkerConfig::default()).await?);
    }
    if json {
        let mut v = json!(report);
        if let Some(p) = &processed {
            v["events"] = json!(p.events);
            v["status_changes"] = json!(p.status_changes);
            v["unmatched_events"] = json!(p.unmatched);
        }
        println!("{v}");
    } else {
        println!(
            "fetched {} (already stored {}), bounces {}, complaints {}, auto-replies {}, other {}, unmatched {}; kept {}, deleted {}, moved {}, errors {}",
            report.fetched, report.already_stored, report.bounces, report.complaints,
            report.auto_replies, report.other, report.unmatched, report.kept, report.deleted,
            report.moved, report.errors
        );
        if let Some(p) = &processed {
            println!(
                "processed: {} new event(s), {} status change(s), {} unmatched",
                p.events, p.status_changes, p.unmatched
            );
        }
        for e in &report.error_messages {
            eprintln!("error: {e}");
        }
    }
    Ok(if report.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn replay(store: &DynStore, file: &FileConfig, args: ReplayArgs) -> anyhow::Result<()> {
    if args.failed {
        let n = store.replay_failed().await?;
        eprintln!("{n} failed request(s) queued again");
    } else if let Some(id) = args.id {
        store.replay(id).await?;
        eprintln!("request {id} queued again");
    }
    if !args.no_process {
        let policy = serve::policy_in_force(store, file.policy.unwrap_or_default()).await?;
        let r = worker::drain(store, policy, &WorkerConfig::default()).await?;
        eprintln!(
            "processed {} request(s): {} new event(s), {} duplicate(s), {} status change(s), {} failed again",
            r.done, r.events, r.duplicates, r.status_changes, r.failed + r.retried
        );
    }
    Ok(())
}
